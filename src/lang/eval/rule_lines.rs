//! Rule lines: targets, prerequisites, and target- or pattern-specific variables.

use super::assignments::parse_assignment;
use super::find_top_level;
use super::find_unescaped_colon;
use super::first_word;
use super::prereq_words::expand_file_patterns;
use super::prereq_words::name_words;
use super::starts_with_assign_or_colon;
use super::Colon;
use super::FileState;
use super::Indent;
use super::Modifiers;
use super::PendingRule;
use crate::diag::warn;
use crate::diag::Fatal;
use crate::diag::Loc;
use crate::diag::Result;
use crate::graph::archive;
use crate::lang::database::Database;
use crate::lang::globbing::file_names;
use crate::lang::globbing::is_file_pattern;
use crate::lang::names::strip_dot_slash;
use crate::lang::rules::PatternVars;
use crate::lang::rules::RecipeLine;
use crate::lang::rules::Target;
use crate::lang::text::words;
use crate::lang::text::Pattern;
use crate::lang::vars::Export;
use crate::lang::vars::Flavor;
use crate::lang::vars::Origin;
use crate::lang::vars::Var;
use crate::lang::vars::VarTable;
use std::collections::HashSet;
use std::sync::Arc;

impl Database {
    /// A rule line: `targets : prerequisites ; recipe`, a static pattern rule,
    /// or target-specific variables.
    pub(super) fn rule_line(
        &mut self,
        line: &str,
        indent: Indent,
        st: &mut FileState,
        loc: &Loc,
    ) -> Result<()> {
        self.finish_rule(st)?;
        if matches!(indent, Indent::RecipePrefix) {
            // A recipe line where no rule is open: make refuses it before
            // looking at it, unless it was an assignment or a directive.
            return Err(Fatal::at(Some(loc), "recipe commences before first target"));
        }
        let scope = self.reading_scope();
        let (rule_part, inline_recipe) = match find_top_level(line, b';') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        if inline_recipe.is_some() && rule_part.trim().is_empty() {
            return Err(Fatal::at(Some(loc), "missing rule before recipe"));
        }
        let (targets_text, colon, rest) = match find_top_level(rule_part, b':') {
            Some(i) => {
                let targets = self.expand(&rule_part[..i], &scope)?;
                let mut after = &rule_part[i + 1..];
                let mut colon = Colon::Single;
                let mut targets = targets;
                if after.starts_with(':') {
                    colon = Colon::Double;
                    after = &after[1..];
                    // `&::`: make takes the rule as double-colon. (Several
                    // explicit targets each get the recipe here, where make
                    // would also group them.)
                    if let Some(t) = targets.strip_suffix('&') {
                        targets = t.to_string();
                    }
                } else if let Some(t) = targets.strip_suffix('&') {
                    colon = Colon::Grouped;
                    targets = t.to_string();
                }
                (targets, colon, after.to_string())
            }
            None => {
                let expanded = self.expand(rule_part, &scope)?;
                if expanded.trim().is_empty() {
                    // Nothing left of the line (its `; recipe` included):
                    // make ignores it, and no rule is open after it.
                    return Ok(());
                }
                match find_unescaped_colon(&expanded) {
                    Some(i) => {
                        // The colon came from a variable's value.
                        let after = &expanded[i + 1..];
                        let (colon, after) = match after.strip_prefix(':') {
                            Some(a) => (Colon::Double, a),
                            None => (Colon::Single, after),
                        };
                        (expanded[..i].to_string(), colon, escape_dollars(after))
                    }
                    None => {
                        let msg = match indent {
                            Indent::RecipePrefix => "recipe commences before first target",
                            Indent::EightSpaces => {
                                "missing separator (did you mean TAB instead of 8 spaces?)"
                            }
                            Indent::Other => "missing separator",
                        };
                        return Err(Fatal::at(Some(loc), msg));
                    }
                }
            }
        };
        let names = archive::split_groups(name_words(&targets_text));
        let mut targets: Vec<String> = expand_file_patterns(names);
        for t in targets.iter_mut().filter(|t| t.starts_with("./")) {
            *t = strip_dot_slash(t).to_string();
        }
        if targets.is_empty() {
            // make drops a rule without targets whole, unexpanded, and the
            // recipe lines after it with it.
            st.rule = Some(PendingRule::without_targets(loc));
            return Ok(());
        }
        // Target-specific variable assignment?
        let rest_trim = rest.trim_start_matches([' ', '\t']);
        if defines_for_target(rest_trim) {
            return Err(Fatal::at(
                Some(loc),
                "Malformed target-specific variable definition",
            ));
        }
        if target_var_assignment(rest_trim).is_some() {
            // A `;` belongs to the value, not to a recipe (`x: V = a; b`).
            let full = match inline_recipe {
                Some(after) => format!("{rest_trim};{after}"),
                None => rest_trim.to_string(),
            };
            if let Some((mods, assign)) = target_var_assignment(&full) {
                return self.target_vars(&targets, mods, assign, loc);
            }
        }
        // Static pattern rule: a second colon.
        let (static_pattern, prereq_text) = match find_top_level(&rest, b':') {
            Some(i) => {
                let pat = self.expand(&rest[..i], &scope)?;
                let pat = strip_dot_slash(pat.trim()).to_string();
                let wrong = if pat.is_empty() {
                    Some("missing target pattern")
                } else if words(&pat).count() > 1 {
                    Some("multiple target patterns")
                } else if Pattern::parse(&pat).is_none() {
                    Some("target pattern contains no '%'")
                } else {
                    None
                };
                if let Some(msg) = wrong {
                    // make expands the prerequisites before it looks.
                    self.expand(&rest[i + 1..], &scope)?;
                    return Err(Fatal::at(Some(loc), msg));
                }
                (Some(pat), &rest[i + 1..])
            }
            None => (None, &rest[..]),
        };
        let second = self.specials.second_expansion;
        // With `.SECONDEXPANSION` this is only the first expansion; the second
        // happens when the target is considered.
        let prereqs = self.expand(prereq_text, &scope)?;
        let mut recipe = Vec::new();
        if let Some(r) = inline_recipe {
            recipe.push(RecipeLine {
                text: r.trim_start_matches([' ', '\t']).to_string(),
                loc: loc.clone(),
            });
        }
        st.rule = Some(PendingRule {
            targets,
            colon,
            static_pattern,
            prereqs,
            recipe,
            loc: loc.clone(),
            second_expansion: second,
        });
        Ok(())
    }

    /// `targets: [modifiers] VAR op value`.
    fn target_vars(
        &mut self,
        targets: &[String],
        mods: Modifiers,
        (name, op, value): (&str, &str, &str),
        loc: &Loc,
    ) -> Result<()> {
        let scope = self.reading_scope();
        let name = self.expand(name, &scope)?.trim().to_string();
        if name.is_empty() {
            return Err(Fatal::at(Some(loc), "empty variable name"));
        }
        self.note_assigned(&name);
        let origin = self.assignment_origin(mods);
        // The value is computed once; each target gets its own copy.
        let (value, flavor) = match op {
            ":=" | "::=" => (self.expand(value, &scope)?, Flavor::Simple),
            "!=" => {
                let cmd = self.expand(value, &scope)?;
                (
                    crate::lang::functions::shell_command::run(self, &cmd, &scope)?,
                    Flavor::Simple,
                )
            }
            _ => (value.to_string(), Flavor::Recursive),
        };
        // `+=` onto an existing simple target-specific value needs the addition
        // expanded; compute it once, only if some target has such a value.
        let appends_to_simple = op == "+="
            && targets.iter().any(|t| {
                self.targets
                    .get(t.as_str())
                    .and_then(|e| e.vars.as_ref())
                    .and_then(|v| v.get(&name))
                    .is_some_and(|v| v.flavor == Flavor::Simple)
            });
        let expanded = if appends_to_simple {
            Some(self.expand(&value, &scope)?)
        } else {
            None
        };
        let global = self.globals.get(&name);
        let globally_defined = global.is_some();
        let command_line = global
            .filter(|g| {
                !mods.override_
                    && matches!(g.origin, Origin::CommandLine | Origin::EnvironmentOverride)
            })
            .cloned();
        for t in targets {
            let is_pattern = Pattern::parse(t).is_some();
            let table: &mut Arc<VarTable> = if is_pattern {
                match self.pattern_vars.iter().position(|p| p.pattern == *t) {
                    Some(i) => &mut self.pattern_vars[i].vars,
                    None => {
                        self.pattern_vars.push(PatternVars {
                            pattern: t.clone(),
                            vars: Arc::new(VarTable::default()),
                        });
                        let last = self.pattern_vars.len() - 1;
                        &mut self.pattern_vars[last].vars
                    }
                }
            } else {
                let target = self.target_entry(t);
                target
                    .vars
                    .get_or_insert_with(|| Arc::new(VarTable::default()))
            };
            let table = Arc::make_mut(table);
            let mut var = match (op, table.get(&name)) {
                ("?=", Some(_)) => continue,
                ("?=", None) if globally_defined => continue,
                ("+=", Some(old)) => {
                    let mut v = old.clone();
                    // Appending to a simple value expands the addition now.
                    let add = match (&expanded, v.flavor) {
                        (Some(e), Flavor::Simple) => e.clone(),
                        _ => value.clone(),
                    };
                    if !v.value.is_empty() && !add.is_empty() {
                        v.value.push(' ');
                    }
                    v.value.push_str(&add);
                    v
                }
                ("+=", None) => {
                    let mut v = Var::new(value.clone(), flavor, origin);
                    v.append = true;
                    v
                }
                _ => Var::new(value.clone(), flavor, origin),
            };
            var.origin = origin;
            if let Some(g) = &command_line {
                // Without `override`, a target's definition does not change
                // a variable given on the command line (or by `-e`): it takes
                // that value. A pattern's `+=` stays an addition, so make
                // shows the value twice.
                var.value = g.value.clone();
                var.flavor = g.flavor;
                var.origin = g.origin;
                var.append &= is_pattern;
            }
            var.private = mods.private;
            if let Some(e) = mods.export {
                var.export = if e { Export::Yes } else { Export::No };
            }
            var.loc = Some(loc.clone());
            table.set(name.clone(), var);
        }
        Ok(())
    }

    /// The entry for `name`, created if needed.
    pub fn target_entry(&mut self, name: &str) -> &mut Target {
        use std::collections::hash_map::Entry;
        // One hash lookup whether or not the entry exists.
        let name = self.names.intern(name);
        match self.targets.entry(name.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => {
                self.target_order.push(name.clone());
                v.insert(Target {
                    name,
                    ..Default::default()
                })
            }
        }
    }

    /// Record the pending rule, if any, now that its recipe is complete.
    pub(super) fn finish_rule(&mut self, st: &mut FileState) -> Result<()> {
        let Some(rule) = st.rule.take() else {
            return Ok(());
        };
        self.record_rule(rule)
    }
}

/// True if the text after a rule's colon is `define` or `undefine`, after any
/// modifiers: make refuses those for a target.
fn defines_for_target(rest: &str) -> bool {
    let mut s = rest;
    loop {
        let w = first_word(s);
        let after = s[w.len()..].trim_start_matches([' ', '\t']);
        match w {
            "override" | "export" | "unexport" | "private" if !after.is_empty() => s = after,
            "define" | "undefine" => return !starts_with_assign_or_colon(after),
            _ => return false,
        }
    }
}

/// The text after a rule's colon, if it is a target-specific assignment.
fn target_var_assignment(rest: &str) -> Option<(Modifiers, (&str, &str, &str))> {
    let mut mods = Modifiers::default();
    let mut s = rest;
    loop {
        let w = first_word(s);
        let after = s[w.len()..].trim_start_matches([' ', '\t']);
        let modifier: Option<fn(&mut Modifiers)> = match w {
            "override" => Some(|m: &mut Modifiers| m.override_ = true),
            "export" => Some(|m: &mut Modifiers| m.export = Some(true)),
            "unexport" => Some(|m: &mut Modifiers| m.export = Some(false)),
            "private" => Some(|m: &mut Modifiers| m.private = true),
            _ => None,
        };
        match modifier {
            Some(f) if !starts_with_assign_or_colon(after) && parse_assignment(after).is_some() => {
                f(&mut mods);
                s = after;
            }
            _ => break,
        }
    }
    // An empty name is make's "empty variable name" error, in `target_vars`.
    Some((mods, parse_assignment(s)?))
}

/// A rule whose first target is a pattern is an implicit rule: every target
/// must then be a pattern, and it cannot be a static pattern rule.
pub(super) fn check_rule_kind(targets: &[String], static_pattern: bool, loc: &Loc) -> Result<()> {
    let implicit = targets.first().is_some_and(|t| Pattern::parse(t).is_some());
    if !implicit {
        return Ok(());
    }
    if static_pattern {
        return Err(Fatal::at(
            Some(loc),
            "mixed implicit and static pattern rules",
        ));
    }
    if targets.iter().any(|t| Pattern::parse(t).is_none()) {
        return Err(Fatal::at(Some(loc), "mixed implicit and normal rules"));
    }
    Ok(())
}

/// For each name, whether it came earlier in the list.
pub(super) fn repeated_names(names: &[String]) -> Vec<bool> {
    if names.len() < 2 {
        return vec![false; names.len()];
    }
    let mut seen: HashSet<&str> = HashSet::with_capacity(names.len());
    names.iter().map(|n| !seen.insert(n.as_str())).collect()
}

/// make's warning for each target of a grouped rule that was in a group
/// already: in an earlier rule (`in_group`) or given again in this one.
/// make takes the names from the last.
pub(super) fn warn_group_overrides(targets: &[String], in_group: &[bool], at: &Loc) {
    let mut seen: HashSet<&str> = HashSet::with_capacity(targets.len());
    for (t, &before) in targets.iter().zip(in_group).rev() {
        if !seen.insert(t.as_str()) || before {
            warn(
                Some(at),
                &format!("overriding group membership for target '{}'", t),
            );
        }
    }
}

/// Prerequisite text with `~` and wildcards expanded word by word.
pub(super) fn expand_file_patterns_in(text: &str) -> std::borrow::Cow<'_, str> {
    if !words(text).any(is_file_pattern) {
        return std::borrow::Cow::Borrowed(text);
    }
    let names: Vec<String> = words(text).flat_map(file_names).collect();
    std::borrow::Cow::Owned(names.join(" "))
}

/// Quote `$` so that text that is already expanded survives another expansion.
fn escape_dollars(s: &str) -> String {
    s.replace('$', "$$")
}
