//! A finished rule recorded in the database: explicit, pattern, static pattern,
//! double-colon and grouped rules, and the default goal.

use super::prereq_words::defers;
use super::prereq_words::split_deps;
use super::rule_lines::check_rule_kind;
use super::rule_lines::expand_file_patterns_in;
use super::rule_lines::repeated_names;
use super::rule_lines::warn_group_overrides;
use super::Colon;
use super::PendingRule;
use crate::diag::message;
use crate::diag::warn;
use crate::diag::Fatal;
use crate::diag::Result;
use crate::lang::database::Database;
use crate::lang::names::strip_dot_slash;
use crate::lang::rules::Dep;
use crate::lang::rules::DoubleColonRule;
use crate::lang::rules::PatternRule;
use crate::lang::rules::Recipe;
use crate::lang::text::words;
use crate::lang::text::Pattern;
use crate::lang::vars::Flavor;
use crate::lang::vars::Origin;
use crate::lang::vars::Var;
use std::collections::HashSet;
use std::sync::Arc;

impl Database {
    pub(super) fn record_rule(&mut self, rule: PendingRule) -> Result<()> {
        if rule.targets.is_empty() {
            return Ok(());
        }
        let recipe = if rule.recipe.is_empty() {
            None
        } else {
            // Kept for the whole run, once per rule: no spare capacity (a
            // one-line recipe would otherwise hold room for four).
            let mut lines = rule.recipe;
            lines.shrink_to_fit();
            Some(Arc::new(Recipe {
                lines,
                loc: rule.loc.clone(),
            }))
        };
        let loc = rule.loc;
        if rule.colon == Colon::Grouped && recipe.is_none() {
            return Err(Fatal::at(
                Some(&loc),
                "grouped targets must provide a recipe",
            ));
        }
        check_rule_kind(&rule.targets, rule.static_pattern.is_some(), &loc)?;
        let patterns = rule
            .targets
            .iter()
            .filter(|t| Pattern::parse(t).is_some())
            .count();
        if rule.static_pattern.is_none() && patterns == rule.targets.len() {
            let (deps, deferred) =
                split_deps(&rule.prereqs, rule.second_expansion, &loc, true, |w| {
                    strip_dot_slash(w).into()
                });
            return self.record_pattern_rule(PatternRule {
                targets: rule.targets,
                deps,
                deferred,
                recipe,
                terminal: rule.colon == Colon::Double,
                loc,
            });
        }
        // Most rules have one target: no table to allocate for them.
        let repeated: std::borrow::Cow<[bool]> = match rule.targets.len() {
            1 => std::borrow::Cow::Borrowed(&[false]),
            _ => std::borrow::Cow::Owned(repeated_names(&rule.targets)),
        };
        let group = if rule.colon == Colon::Grouped && !rule.targets.is_empty() {
            let once = rule
                .targets
                .iter()
                .zip(repeated.iter())
                .filter(|(_, r)| !**r);
            Some(Arc::new(once.map(|(t, _)| t.clone()).collect::<Vec<_>>()))
        } else {
            None
        };
        // Which targets of a grouped rule already belong to a group.
        let grouped_before: Option<Vec<bool>> = group.as_ref().map(|_| {
            let in_group = |t: &String| {
                self.targets
                    .get(t.as_str())
                    .is_some_and(|e| e.group.is_some())
            };
            rule.targets.iter().map(in_group).collect()
        });
        // A static rule's wildcards are expanded before the stem goes in: a
        // name the stem makes is taken as it is.
        let static_prereqs = match &rule.static_pattern {
            Some(_) if !defers(&rule.prereqs, rule.second_expansion) => {
                expand_file_patterns_in(&rule.prereqs)
            }
            _ => std::borrow::Cow::Borrowed(rule.prereqs.as_str()),
        };
        for (i, (t, &again)) in rule.targets.iter().zip(repeated.iter()).enumerate() {
            if i > 0 && Pattern::parse(t).is_some() {
                // After an ordinary first target make only complains, then
                // treats the pattern as a file name.
                crate::engine::output::enter_directory();
                eprintln!(
                    "{}: *** mixed implicit and normal rules: deprecated syntax",
                    loc
                );
            }
            // make notices the repetition only through the recipe the
            // target already got from this very rule.
            if again && rule.colon != Colon::Double && recipe.is_some() {
                message(
                    &loc,
                    &format!("target '{}' given more than once in the same rule", t),
                );
            }
            let (prereqs, stem) = match &rule.static_pattern {
                Some(pat) => {
                    let p = Pattern::parse(pat).expect("checked when read");
                    match p.matches(t) {
                        Some(stem) => {
                            let stem = stem.to_string();
                            (
                                std::borrow::Cow::Owned(fill_patterns(&static_prereqs, &stem)),
                                Some(stem),
                            )
                        }
                        None => {
                            message(
                                &loc,
                                &format!("target '{}' doesn't match the target pattern", t),
                            );
                            (std::borrow::Cow::Borrowed(""), None)
                        }
                    }
                }
                None => (std::borrow::Cow::Borrowed(rule.prereqs.as_str()), None),
            };
            if self.special_target(t, &prereqs, recipe.as_ref())? {
                continue;
            }
            // A static rule's patterns lost their `./` before the stem went
            // in (`fill_patterns`); one the stem brings stays, as in make.
            let filled = rule.static_pattern.is_some();
            let names = &mut self.names;
            let (deps, deferred) =
                split_deps(&prereqs, rule.second_expansion, &loc, !filled, |w| {
                    names.intern(if filled { w } else { strip_dot_slash(w) })
                });
            self.note_default_goal(t);
            let entry = self.target_entry(t);
            entry.is_target = true;
            if entry.loc.is_none() {
                entry.loc = Some(loc.clone());
            }
            if stem.is_some() {
                entry.static_stem = stem.map(String::into_boxed_str);
            }
            let double = rule.colon == Colon::Double;
            if double {
                if entry.single_colon {
                    return Err(Fatal::at(
                        Some(&loc),
                        format!("target file '{}' has both : and :: entries", t),
                    ));
                }
                entry.double_colon.push(DoubleColonRule {
                    deps,
                    deferred,
                    recipe: recipe.clone(),
                    loc: loc.clone(),
                });
                continue;
            }
            entry.single_colon = true;
            if !entry.double_colon.is_empty() {
                return Err(Fatal::at(
                    Some(&loc),
                    format!("target file '{}' has both : and :: entries", t),
                ));
            }
            merge_deps(&mut entry.deps, deps, recipe.is_some());
            entry.deferred.extend(deferred);
            if let Some(r) = &recipe {
                let old = entry.recipe.as_ref().filter(|o| !o.loc.is_builtin());
                // A name given twice in this rule already has this recipe.
                if let Some(old) = old.filter(|_| !again) {
                    // make names the first recipe line of each rule.
                    warn(
                        Some(r.first_line_loc()),
                        &format!("overriding recipe for target '{}'", t),
                    );
                    warn(
                        Some(old.first_line_loc()),
                        &format!("ignoring old recipe for target '{}'", t),
                    );
                }
                entry.recipe = Some(r.clone());
            }
            if group.is_some() {
                entry.group = group.clone();
            }
        }
        if let (Some(in_group), Some(_)) = (grouped_before, &group) {
            let at = recipe.as_ref().map_or(&loc, |r| r.first_line_loc());
            warn_group_overrides(&rule.targets, &in_group, at);
        }
        Ok(())
    }

    /// Make the first ordinary target the default goal, unless one is set.
    fn note_default_goal(&mut self, target: &str) {
        if self.reading_makefiles_var || (target.starts_with('.') && !target.contains('/')) {
            return;
        }
        let unset = self
            .globals
            .get(".DEFAULT_GOAL")
            .is_none_or(|v| v.value.is_empty());
        if unset {
            self.default_goal = Some(target.to_string());
            let mut v = Var::new(target, Flavor::Simple, Origin::File);
            if let Some(old) = self.globals.get(".DEFAULT_GOAL") {
                v.export = old.export;
            }
            self.globals.set(".DEFAULT_GOAL", v);
        }
    }

    fn record_pattern_rule(&mut self, rule: PatternRule) -> Result<()> {
        let same = |r: &PatternRule| same_pattern_rule(r, &rule);
        if self.installing_defaults {
            if !self.pattern_rules.iter().any(same) {
                self.pattern_rules.push(rule);
            }
            return Ok(());
        }
        // A rule without a recipe cancels the one it names; it stays in the
        // list (the graph skips it) so no built-in rule replaces it later.
        self.pattern_rules.retain(|r| !same(r));
        self.pattern_rules.push(rule);
        Ok(())
    }
}

/// True if two pattern rules have the same target and prerequisite patterns
/// (the later one then replaces the earlier); prerequisites left for the
/// second expansion count by their words.
pub(super) fn same_pattern_rule(a: &PatternRule, b: &PatternRule) -> bool {
    pub(super) fn deferred(r: &PatternRule) -> impl Iterator<Item = &str> + '_ {
        r.deferred.iter().flat_map(|d| words(&d.text))
    }
    a.targets == b.targets && a.deps == b.deps && deferred(a).eq(deferred(b))
}

/// Replace `%` by `stem` in each word of a static pattern rule's
/// prerequisites, each without its leading `./` first.
fn fill_patterns(prereqs: &str, stem: &str) -> String {
    words(prereqs)
        .map(strip_dot_slash)
        .map(|w| match Pattern::parse(w) {
            Some(p) => p.fill(stem),
            None => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Add the prerequisites of another rule for the same target. Those of the
/// rule with the recipe come first (as in make's `$^`); duplicates are kept for
/// `$+`, and a name that is a normal prerequisite is not also order-only.
fn merge_deps(existing: &mut Vec<Dep>, new: Vec<Dep>, has_recipe: bool) {
    if existing.is_empty() {
        *existing = new;
        // Most targets get their one list here and keep it: exact size.
        existing.shrink_to_fit();
    } else if has_recipe {
        let old = std::mem::replace(existing, new);
        existing.extend(old);
    } else {
        existing.extend(new);
    }
    if existing.iter().any(|d| d.order_only) {
        let normal: HashSet<crate::lang::names::Name> = existing
            .iter()
            .filter(|d| !d.order_only)
            .map(|d| d.name.clone())
            .collect();
        let mut seen_oo = HashSet::new();
        existing.retain(|d| {
            !d.order_only || (!normal.contains(&d.name) && seen_oo.insert(d.name.clone()))
        });
    }
}
