//! Finding files and rules that the makefiles do not name outright: `vpath` and
//! `VPATH` search for prerequisites, and implicit (pattern) rule search with
//! chains through intermediate files.

use crate::diag::Result;
use crate::graph::disk::FastSet as HashSet;
use crate::graph::disk::StatCache;
use crate::lang::text::{words, Pattern};
use crate::lang::vars::{Flavor, Origin, Scope, Var, VarTable};
use crate::lang::Database;

/// The directories of the `VPATH` variable (blank- or colon-separated).
pub fn vpath_dirs(db: &mut Database) -> Vec<String> {
    let v = db.var_value("VPATH", &Scope::global()).unwrap_or_default();
    v.split(|c: char| c == ':' || c.is_ascii_whitespace())
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// Where `name` is found: itself if it exists, else the first `vpath`/`VPATH`
/// directory holding it.
pub fn locate(db: &Database, vpath: &[String], disk: &mut StatCache, name: &str) -> Option<String> {
    if disk.exists(name) {
        return Some(name.to_string());
    }
    if name.starts_with('/') {
        return None;
    }
    let join = |d: &str| format!("{}/{}", d.trim_end_matches('/'), name);
    for entry in &db.vpaths {
        let matches = match Pattern::parse(&entry.pattern) {
            Some(p) => p.matches(name).is_some(),
            None => entry.pattern == name,
        };
        if matches {
            for d in &entry.dirs {
                let cand = join(d);
                if disk.exists(&cand) {
                    return Some(cand);
                }
            }
        }
    }
    vpath.iter().map(|d| join(d)).find(|cand| disk.exists(cand))
}

/// Every name the makefiles mention as a prerequisite of an explicit rule.
pub fn mentioned_prerequisites(db: &Database) -> HashSet<String> {
    let mut set = HashSet::default();
    for t in db.targets.values() {
        set.extend(t.deps.iter().map(|d| d.name.clone()));
        for r in &t.double_colon {
            set.extend(r.deps.iter().map(|d| d.name.clone()));
        }
    }
    set
}

/// A pattern rule chosen for a target.
#[derive(Clone, Debug)]
pub struct ImplicitMatch {
    /// Index in `db.pattern_rules`.
    pub rule: usize,
    /// `$*`: the stem, with the target's directory when the pattern has none.
    pub stem: String,
    pub deps: Vec<ImplicitDep>,
    /// The other targets the same recipe run makes (multi-target pattern rules).
    pub also_make: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ImplicitDep {
    pub name: String,
    pub order_only: bool,
    /// Set when the prerequisite is an intermediate file made by this rule.
    pub chain: Option<Box<ImplicitMatch>>,
}

struct Candidate {
    rule: usize,
    target_index: usize,
    dir: String,
    stem: String,
}

/// The target patterns of every pattern rule, parsed once per build (the
/// search runs for most files and would otherwise re-parse them each time).
pub fn rule_patterns(db: &Database) -> Vec<Vec<Option<Pattern>>> {
    db.pattern_rules
        .iter()
        .map(|r| r.targets.iter().map(|t| Pattern::parse(t)).collect())
        .collect()
}

/// Everything the search consults besides the database.
pub struct Searcher<'a> {
    pub disk: &'a mut StatCache,
    pub vpath: &'a [String],
    /// Names the makefiles mention as a prerequisite: they "ought to exist".
    pub mentioned: &'a HashSet<String>,
    failed: HashSet<String>,
    patterns: std::borrow::Cow<'a, [Vec<Option<Pattern>>]>,
}

impl<'a> Searcher<'a> {
    pub fn new(
        disk: &'a mut StatCache,
        vpath: &'a [String],
        mentioned: &'a HashSet<String>,
    ) -> Searcher<'a> {
        Searcher {
            disk,
            vpath,
            mentioned,
            failed: HashSet::default(),
            patterns: std::borrow::Cow::Owned(Vec::new()),
        }
    }

    /// A searcher using patterns parsed beforehand by `rule_patterns`.
    pub fn with_patterns(
        disk: &'a mut StatCache,
        vpath: &'a [String],
        mentioned: &'a HashSet<String>,
        patterns: &'a [Vec<Option<Pattern>>],
    ) -> Searcher<'a> {
        Searcher {
            patterns: std::borrow::Cow::Borrowed(patterns),
            ..Searcher::new(disk, vpath, mentioned)
        }
    }

    /// Find the implicit rule that can make `target`, trying first rules whose
    /// prerequisites exist or are mentioned, then chains through intermediates.
    pub fn search(&mut self, db: &mut Database, target: &str) -> Result<Option<ImplicitMatch>> {
        if self.patterns.len() != db.pattern_rules.len() {
            self.patterns = std::borrow::Cow::Owned(rule_patterns(db));
        }
        let mut in_use = Vec::new();
        self.search_at(db, target, 0, &mut in_use)
    }

    fn search_at(
        &mut self,
        db: &mut Database,
        target: &str,
        depth: usize,
        in_use: &mut Vec<usize>,
    ) -> Result<Option<ImplicitMatch>> {
        if depth > 0 && self.failed.contains(target) {
            return Ok(None);
        }
        let (dir, file) = match target.rfind('/') {
            Some(i) => (&target[..=i], &target[i + 1..]),
            None => ("", target),
        };
        let mut cands = Vec::new();
        for (ri, rule) in db.pattern_rules.iter().enumerate() {
            if rule.recipe.is_none() || in_use.contains(&ri) {
                continue;
            }
            for (ti, tpat) in rule.targets.iter().enumerate() {
                let Some(Some(pat)) = self.patterns[ri].get(ti) else {
                    continue;
                };
                let (subject, d) = if tpat.contains('/') {
                    (target, "")
                } else {
                    (file, dir)
                };
                let Some(stem) = stem_of(pat, subject) else {
                    continue;
                };
                if stem.is_empty() {
                    continue;
                }
                let anything = tpat == "%";
                if anything && !rule.terminal && depth > 0 {
                    continue;
                }
                cands.push(Candidate {
                    rule: ri,
                    target_index: ti,
                    dir: d.to_string(),
                    stem: stem.to_string(),
                });
                break;
            }
        }
        let specific = cands
            .iter()
            .any(|c| db.pattern_rules[c.rule].targets[c.target_index] != "%");
        if specific {
            cands.retain(|c| {
                let r = &db.pattern_rules[c.rule];
                r.terminal || r.targets[c.target_index] != "%"
            });
        }
        cands.sort_by_key(|c| c.stem.len());
        for allow_chain in [false, true] {
            for c in &cands {
                let terminal = db.pattern_rules[c.rule].terminal;
                if allow_chain && terminal {
                    continue;
                }
                if let Some(m) = self.try_rule(db, target, c, allow_chain, depth, in_use)? {
                    return Ok(Some(m));
                }
            }
        }
        if depth > 0 {
            self.failed.insert(target.to_string());
        }
        Ok(None)
    }

    fn try_rule(
        &mut self,
        db: &mut Database,
        target: &str,
        c: &Candidate,
        allow_chain: bool,
        depth: usize,
        in_use: &mut Vec<usize>,
    ) -> Result<Option<ImplicitMatch>> {
        let full_stem = format!("{}{}", c.dir, c.stem);
        let names = rule_deps(db, c.rule, target, &c.dir, &c.stem, &full_stem)?;
        let mut deps = Vec::with_capacity(names.len());
        for (name, order_only) in names {
            if db.targets.contains_key(&name)
                || self.mentioned.contains(&name)
                || locate(db, self.vpath, self.disk, &name).is_some()
            {
                deps.push(ImplicitDep {
                    name,
                    order_only,
                    chain: None,
                });
                continue;
            }
            if !allow_chain || depth >= 8 {
                return Ok(None);
            }
            in_use.push(c.rule);
            let sub = self.search_at(db, &name, depth + 1, in_use);
            in_use.pop();
            match sub? {
                Some(m) => deps.push(ImplicitDep {
                    name,
                    order_only,
                    chain: Some(Box::new(m)),
                }),
                None => return Ok(None),
            }
        }
        let rule = &db.pattern_rules[c.rule];
        let also_make = rule
            .targets
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != c.target_index)
            .filter_map(|(_, t)| Pattern::parse(t).map(|p| with_dir(t, &c.dir, &p.fill(&c.stem))))
            .collect();
        Ok(Some(ImplicitMatch {
            rule: c.rule,
            stem: full_stem,
            deps,
            also_make,
        }))
    }
}

/// `pat.matches(word)` for the search's hot loop: pattern parts are a few
/// bytes, compared inline from the end (where rules differ) without calls.
fn stem_of<'w>(pat: &Pattern, word: &'w str) -> Option<&'w str> {
    let (p, s, w) = (
        pat.prefix.as_bytes(),
        pat.suffix.as_bytes(),
        word.as_bytes(),
    );
    if w.len() < p.len() + s.len() {
        return None;
    }
    let tail = &w[w.len() - s.len()..];
    if s.iter().rev().zip(tail.iter().rev()).any(|(a, b)| a != b) {
        return None;
    }
    if p.iter().zip(w).any(|(a, b)| a != b) {
        return None;
    }
    Some(&word[p.len()..word.len() - s.len()])
}

/// `dir` + `name` unless the pattern had its own directory part.
fn with_dir(pattern: &str, dir: &str, name: &str) -> String {
    if pattern.contains('/') {
        name.to_string()
    } else {
        format!("{}{}", dir, name)
    }
}

/// The prerequisites of pattern rule `ri` for `target` with this stem, the
/// second-expansion texts expanded with `$@` and `$*` known.
fn rule_deps(
    db: &mut Database,
    ri: usize,
    target: &str,
    dir: &str,
    stem: &str,
    full_stem: &str,
) -> Result<Vec<(String, bool)>> {
    let subst = |w: &str| match Pattern::parse(w) {
        Some(p) => {
            let filled = p.fill(stem);
            if w.contains('/') || dir.is_empty() {
                filled
            } else {
                format!("{}{}", dir, filled)
            }
        }
        None => w.to_string(),
    };
    let rule = &db.pattern_rules[ri];
    let mut out: Vec<(String, bool)> = rule
        .deps
        .iter()
        .map(|d| (subst(&d.name), d.order_only))
        .collect();
    if !rule.deferred.is_empty() {
        // Only second-expansion text needs the database mutably.
        let deferred = rule.deferred.clone();
        let mut autos = VarTable::default();
        let auto = |v: &str| Var::new(v, Flavor::Simple, Origin::Automatic);
        autos.set("@", auto(target));
        autos.set("*", auto(full_stem));
        let scope = Scope::global().inner(autos);
        for d in &deferred {
            let saved = db.loc.replace(d.loc.clone());
            let text = db.expand(&d.text, &scope);
            db.loc = saved;
            let mut order_only = false;
            for w in words(&text?) {
                if w == "|" {
                    order_only = true;
                } else {
                    out.push((subst(w), order_only));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stem_of_agrees_with_pattern_matches() {
        let cases = [
            ("%.c", "a.c"),
            ("s.%", "s.x"),
            ("%", "abc"),
            ("a%b", "ab"),
            ("a%b", "b"),
            ("%.o", "x.c"),
            ("lib%.a", "libz.a"),
        ];
        for (pat, word) in cases {
            let p = Pattern::parse(pat).unwrap();
            assert_eq!(stem_of(&p, word), p.matches(word), "{} {}", pat, word);
        }
    }
}
