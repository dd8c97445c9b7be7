//! Special targets (`.PHONY`, `.SUFFIXES`, ...) and the end of reading, where
//! suffix rules become pattern rules.

use super::record::same_pattern_rule;
use super::BUILTIN;
use crate::diag::Loc;
use crate::diag::Result;
use crate::lang::database::Database;
use crate::lang::globbing::file_names;
use crate::lang::names::strip_dot_slash;
use crate::lang::rules::Dep;
use crate::lang::rules::PatternRule;
use crate::lang::rules::Recipe;
use crate::lang::text::words;
use crate::lang::vars::Flavor;
use crate::lang::vars::Origin;
use crate::lang::vars::Var;
use std::sync::Arc;

impl Database {
    /// Handle a special target; returns true if `name` is one (it is then not an
    /// ordinary target).
    pub(super) fn special_target(
        &mut self,
        name: &str,
        prereqs: &str,
        recipe: Option<&Arc<Recipe>>,
    ) -> Result<bool> {
        if !name.starts_with('.') {
            return Ok(false);
        }
        let names = || {
            words(prereqs)
                .flat_map(file_names)
                .map(|w| strip_dot_slash(&w).to_string())
        };
        let sp = &mut self.specials;
        match name {
            ".PHONY" => sp.phony.extend(names()),
            ".PRECIOUS" => sp.precious.extend(names()),
            ".INTERMEDIATE" => sp.intermediate.extend(names()),
            ".SECONDARY" => set_or_all(&mut sp.secondary, names()),
            ".IGNORE" => set_or_all(&mut sp.ignore, names()),
            ".SILENT" => set_or_all(&mut sp.silent, names()),
            ".DELETE_ON_ERROR" => sp.delete_on_error = true,
            ".EXPORT_ALL_VARIABLES" => sp.export_all = true,
            ".NOTPARALLEL" => sp.not_parallel = true,
            ".ONESHELL" => sp.one_shell = true,
            ".POSIX" => {
                sp.posix = true;
                let v = Var::new("-ec", Flavor::Simple, Origin::Default);
                if self
                    .globals
                    .get(".SHELLFLAGS")
                    .is_none_or(|v| v.origin == Origin::Default)
                {
                    self.globals.set(".SHELLFLAGS", v);
                }
            }
            ".SECONDEXPANSION" => sp.second_expansion = true,
            ".LOW_RESOLUTION_TIME" => sp.low_resolution_time.extend(names()),
            ".SUFFIXES" => {
                let list: Vec<String> = names().collect();
                if list.is_empty() {
                    sp.suffixes.clear();
                } else {
                    for s in list {
                        if !sp.suffixes.contains(&s) {
                            sp.suffixes.push(s);
                        }
                    }
                }
            }
            ".DEFAULT" => {
                sp.default_recipe = recipe.cloned();
            }
            ".NOTINTERMEDIATE" | ".KEEP_STATE" | ".LIBPATTERNS" => {}
            _ => return Ok(false),
        }
        // Their prerequisites are mentioned in the makefile, as any others:
        // an implicit rule may count on them (`.SECONDARY: x.y`).
        for n in names() {
            self.names.intern(&n);
        }
        Ok(true)
    }

    /// After all makefiles are read: convert suffix rules into pattern rules
    /// and add the built-in pattern rules (unless `-r`).
    pub fn finish_reading(&mut self, builtin_pattern_rules: Option<&str>) -> Result<()> {
        self.convert_suffix_rules();
        if let Some(text) = builtin_pattern_rules {
            self.installing_defaults = true;
            let loc = Loc {
                file: Arc::from(BUILTIN),
                line: 1,
            };
            // Built-in rules use a tab whatever `.RECIPEPREFIX` the makefile set.
            let prefix = self.globals.remove(".RECIPEPREFIX");
            let r = self.eval_text(text, &loc);
            if let Some(p) = prefix {
                self.globals.set(".RECIPEPREFIX", p);
            }
            self.installing_defaults = false;
            r?;
        }
        Ok(())
    }

    /// Old-style suffix rules (`.c.o:`, `.c:`) become pattern rules, for the
    /// suffixes known in `.SUFFIXES` at the end of reading.
    fn convert_suffix_rules(&mut self) {
        let suffixes = self.specials.suffixes.clone();
        // make's order: for each suffix S, the single-suffix rule `.S` first,
        // then each double-suffix rule `.S.T` in `.SUFFIXES` order.
        for s in &suffixes {
            let singles = std::iter::once((s.to_string(), "%".to_string()));
            let doubles = suffixes
                .iter()
                .map(|t| (format!("{}{}", s, t), format!("%{}", t)));
            for (name, target) in singles.chain(doubles) {
                let Some(t) = self.targets.get(name.as_str()) else {
                    continue;
                };
                if !t.deps.is_empty() {
                    continue;
                }
                let Some(recipe) = t.recipe.clone() else {
                    continue;
                };
                let rule = PatternRule {
                    targets: vec![target],
                    deps: vec![Dep {
                        name: format!("%{}", s).into(),
                        order_only: false,
                    }],
                    deferred: Vec::new(),
                    loc: recipe.loc.clone(),
                    recipe: Some(recipe),
                    terminal: false,
                };
                let same = |r: &PatternRule| same_pattern_rule(r, &rule);
                if !self.pattern_rules.iter().any(same) {
                    self.pattern_rules.push(rule);
                }
            }
        }
    }
}

fn set_or_all(set: &mut crate::lang::database::FileSet, names: impl Iterator<Item = String>) {
    let before = set.names.len();
    set.names.extend(names);
    if set.names.len() == before {
        set.all = true;
    }
}
