//! Finding files and rules that the makefiles do not name outright: `vpath` and
//! `VPATH` search for prerequisites, and implicit (pattern) rule search with
//! chains through intermediate files.

use crate::diag::Result;
use crate::graph::disk::FastSet as HashSet;
use crate::graph::disk::StatCache;
use crate::lang::globbing::{file_names, is_file_pattern};
use crate::lang::names::strip_dot_slash;
use crate::lang::text::{words, Pattern};
use crate::lang::vars::{Flavor, Origin, Scope, Var, VarTable};
use crate::lang::Database;

/// The directories of the `VPATH` variable (blank- or colon-separated).
pub fn vpath_dirs(db: &mut Database) -> Vec<String> {
    checked_vpath_dirs(db).unwrap_or_default()
}

/// `vpath_dirs`, or the error expanding `VPATH` gave (make stops on it once
/// the makefiles are read).
pub fn checked_vpath_dirs(db: &mut Database) -> crate::diag::Result<Vec<String>> {
    let v = db.var_value("VPATH", &Scope::global())?;
    Ok(v.split(|c: char| c == ':' || c.is_ascii_whitespace())
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect())
}

/// Where `name` is found: itself if it exists, else the first `vpath`/`VPATH`
/// directory holding it.
pub fn locate(db: &Database, vpath: &[String], disk: &mut StatCache, name: &str) -> Option<String> {
    if disk.exists(name) {
        return Some(name.to_string());
    }
    locate_elsewhere(db, vpath, disk, name)
}

/// `locate` for a name known not to exist where it is named.
fn locate_elsewhere(
    db: &Database,
    vpath: &[String],
    disk: &mut StatCache,
    name: &str,
) -> Option<String> {
    if name.starts_with('/') || (db.vpaths.is_empty() && vpath.is_empty()) {
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

struct Candidate<'t> {
    rule: usize,
    target_index: usize,
    /// The target's directory when the target pattern has none, else "".
    dir: &'t str,
    stem: &'t str,
    /// The first plain prerequisite the pass without chains found unknown:
    /// the pass with chains need not look those up again.
    first_unknown: std::cell::Cell<Option<usize>>,
}

/// A pattern rule's patterns, parsed once per build: the search runs for
/// most files and would otherwise parse them again each time.
#[derive(Clone, Debug)]
pub struct RulePatterns {
    /// Per target pattern, and whether it has a directory part.
    targets: Vec<(Option<Pattern>, bool)>,
    /// Per prerequisite (not second-expansion text): its pattern, if any.
    deps: Vec<Option<Pattern>>,
    /// Per prerequisite: could any rule make such a file, through a chain?
    /// False only when no rule's target pattern can match a name ending as
    /// the prerequisite pattern does, so the chain search would find nothing.
    chainable: Vec<bool>,
}

fn rule_patterns(db: &Database) -> Vec<RulePatterns> {
    // The target-pattern suffixes a chain can reach (a match-anything rule
    // is only tried there when terminal).
    let mut suffixes: Vec<&str> = Vec::new();
    let mut any_name = false;
    for r in db.pattern_rules.iter().filter(|r| r.recipe.is_some()) {
        for t in &r.targets {
            if t == "%" {
                any_name |= r.terminal;
            } else if let Some(i) = t.find('%') {
                suffixes.push(&t[i + 1..]);
            }
        }
    }
    let chainable = |dep: &Option<Pattern>| match dep {
        Some(p) => {
            any_name
                || suffixes
                    .iter()
                    .any(|s| s.ends_with(p.suffix.as_str()) || p.suffix.ends_with(s))
        }
        None => true,
    };
    db.pattern_rules
        .iter()
        .map(|r| {
            let deps: Vec<Option<Pattern>> =
                r.deps.iter().map(|d| Pattern::parse(&d.name)).collect();
            RulePatterns {
                targets: r
                    .targets
                    .iter()
                    .map(|t| (Pattern::parse(t), t.contains('/')))
                    .collect(),
                chainable: deps.iter().map(chainable).collect(),
                deps,
            }
        })
        .collect()
}

/// Every pattern rule's parsed patterns, and which rules a name can match
/// by its last byte: most of the ~90 built-in rules end in a suffix that a
/// given name cannot have, and the search runs for every file without a rule.
#[derive(Clone, Debug, Default)]
pub struct RuleTable {
    rules: Vec<RulePatterns>,
    /// Per last byte of a name: the rules with a target pattern that can
    /// match it (its suffix ends in that byte, or it ends in `%`), ascending.
    by_last_byte: Vec<Vec<u32>>,
    /// What a chain started by a match-anything rule can reach; `None` when
    /// the rules are too irregular to tell (see [`ChainReach`]).
    reach: Option<ChainReach>,
}

/// The names a chain through a match-anything rule (`%: %.c`) can reach from
/// a file `F`, when every other rule only swaps one suffix for another
/// (`%.o: %.c`) or cannot match a name that starts like `F`.
///
/// Such a chain from `F` only ever looks at names `F` + `x` for the strings
/// `x` in `suffixes`: a rule `%T: %D` turns `F` + `yT` into `F` + `yD`. So
/// when none of those names exists or is mentioned, every chain from `F`
/// fails, and the search need not walk them: for a makefile's ordinary
/// sources and headers, which no rule makes, that walk through make's ~90
/// built-in rules is most of the search.
#[derive(Clone, Debug, Default)]
struct ChainReach {
    suffixes: Vec<String>,
    /// Target-pattern prefixes (`lib%.a`, `build/%.o`) of rules that are not
    /// plain suffix swaps: the reasoning holds only for names they cannot match.
    prefixes: Vec<String>,
}

impl ChainReach {
    /// Computed once per rule table; `None` when a rule defeats the
    /// reasoning (second expansion, a prerequisite pattern elsewhere than the
    /// target's stem, a suffix that could take in part of `F`) or when the
    /// reachable set grows past a small bound.
    fn new(db: &Database) -> Option<ChainReach> {
        const MAX: usize = 256;
        struct Swap<'r> {
            targets: Vec<&'r str>,
            deps: Vec<&'r str>,
            terminal: bool,
        }
        let mut swaps = Vec::new();
        let mut prefixes = Vec::new();
        for r in db.pattern_rules.iter().filter(|r| r.recipe.is_some()) {
            if !r.deferred.is_empty() {
                return None;
            }
            let stem_deps: Vec<&str> = r
                .deps
                .iter()
                .filter(|d| d.name.contains('%'))
                .map(|d| &*d.name)
                .collect();
            let plain =
                |p: &&str| p.starts_with('%') && !p.contains('/') && p.matches('%').count() == 1;
            let is_swap = !stem_deps.is_empty()
                && r.targets.iter().map(String::as_str).all(|t| plain(&t))
                && stem_deps.iter().all(plain);
            if is_swap {
                swaps.push(Swap {
                    targets: r.targets.iter().map(|t| &t[1..]).collect(),
                    deps: stem_deps.iter().map(|d| &d[1..]).collect(),
                    terminal: r.terminal,
                });
                continue;
            }
            for t in &r.targets {
                match t.find('%') {
                    // A rule without a stem prerequisite that can match any
                    // name ending in a suffix: nothing can be said.
                    Some(0) | None => return None,
                    Some(i) => prefixes.push(t[..i].to_string()),
                }
            }
        }
        // Start from what the match-anything rules ask for, then follow swaps.
        let mut suffixes: Vec<String> = Vec::new();
        for sw in swaps.iter().filter(|sw| sw.targets.contains(&"")) {
            suffixes.extend(sw.deps.iter().map(|d| d.to_string()));
        }
        let mut i = 0;
        while i < suffixes.len() {
            let x = suffixes[i].clone();
            for sw in &swaps {
                for t in &sw.targets {
                    if t.len() > x.len() && t.ends_with(x.as_str()) {
                        // `F` + `x` may end in `t` for some `F`: the stem
                        // would take in part of `F`.
                        return None;
                    }
                    if !x.ends_with(t) || (t.is_empty() && !sw.terminal) {
                        continue;
                    }
                    let base = &x[..x.len() - t.len()];
                    for d in &sw.deps {
                        let next = format!("{base}{d}");
                        if !suffixes.contains(&next) {
                            suffixes.push(next);
                        }
                    }
                }
            }
            if suffixes.len() > MAX {
                return None;
            }
            i += 1;
        }
        Some(ChainReach { suffixes, prefixes })
    }
}

impl RuleTable {
    pub fn new(db: &Database) -> RuleTable {
        let rules = rule_patterns(db);
        let mut by_last_byte = vec![Vec::new(); 256];
        for (ri, r) in rules.iter().enumerate() {
            for (p, _) in r.targets.iter().filter_map(|(p, d)| Some((p.as_ref()?, d))) {
                match p.suffix.as_bytes().last() {
                    Some(&b) => by_last_byte[b as usize].push(ri as u32),
                    // Ends in `%`: any name.
                    None => by_last_byte.iter_mut().for_each(|l| l.push(ri as u32)),
                }
            }
        }
        for list in &mut by_last_byte {
            list.dedup();
        }
        RuleTable {
            rules,
            by_last_byte,
            reach: ChainReach::new(db),
        }
    }

    fn len(&self) -> usize {
        self.rules.len()
    }

    /// The rules that may have a target pattern matching a name ending in
    /// `last`, in rule order, each once.
    fn candidates(&self, last: u8) -> impl Iterator<Item = usize> + '_ {
        // (A default table has no lists.)
        self.by_last_byte
            .get(last as usize)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&i| i as usize)
    }
}

impl std::ops::Index<usize> for RuleTable {
    type Output = RulePatterns;
    fn index(&self, i: usize) -> &RulePatterns {
        &self.rules[i]
    }
}

/// Everything the search consults besides the database.
pub struct Searcher<'a> {
    pub disk: &'a mut StatCache,
    pub vpath: &'a [String],
    failed: HashSet<String>,
    patterns: std::borrow::Cow<'a, RuleTable>,
    /// Scratch space for candidate prerequisite names.
    buf: String,
}

impl<'a> Searcher<'a> {
    pub fn new(disk: &'a mut StatCache, vpath: &'a [String]) -> Searcher<'a> {
        Searcher {
            disk,
            vpath,
            failed: HashSet::default(),
            patterns: std::borrow::Cow::Owned(RuleTable::default()),
            buf: String::new(),
        }
    }

    /// A searcher using patterns parsed beforehand (`RuleTable::new`).
    pub fn with_patterns(
        disk: &'a mut StatCache,
        vpath: &'a [String],
        patterns: &'a RuleTable,
    ) -> Searcher<'a> {
        Searcher {
            patterns: std::borrow::Cow::Borrowed(patterns),
            ..Searcher::new(disk, vpath)
        }
    }

    /// Find the implicit rule that can make `target`, trying first rules whose
    /// prerequisites exist or are mentioned, then chains through intermediates.
    pub fn search(&mut self, db: &mut Database, target: &str) -> Result<Option<ImplicitMatch>> {
        if self.patterns.len() != db.pattern_rules.len() {
            self.patterns = std::borrow::Cow::Owned(RuleTable::new(db));
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
        let last = target.as_bytes().last().copied().unwrap_or(0);
        for ri in self.patterns.candidates(last) {
            let rule = &db.pattern_rules[ri];
            if rule.recipe.is_none() || in_use.contains(&ri) {
                continue;
            }
            for (ti, tpat) in rule.targets.iter().enumerate() {
                let Some((Some(pat), has_dir)) = self.patterns[ri].targets.get(ti) else {
                    continue;
                };
                let (subject, d) = if *has_dir { (target, "") } else { (file, dir) };
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
                    dir: d,
                    stem,
                    first_unknown: std::cell::Cell::new(None),
                });
                break;
            }
        }
        // A name some other pattern matches is of a specific kind: then
        // match-anything rules that are not terminal do not apply. Each
        // suffix of `.SUFFIXES` counts as such a pattern (`%.h`), as in make.
        let specific = || {
            cands
                .iter()
                .any(|c| db.pattern_rules[c.rule].targets[c.target_index] != "%")
                || db.specials.suffix_of(file).is_some()
        };
        let loose = |c: &Candidate| {
            let r = &db.pattern_rules[c.rule];
            !r.terminal && r.targets[c.target_index] == "%"
        };
        if cands.iter().any(loose) && specific() {
            cands.retain(|c| !loose(c));
        }
        // Shortest stem first, the directory counted: `sub/%.o` (stem `u`)
        // comes before `%.o` (stem `sub/u`) for `sub/u.o`, as in make.
        cands.sort_by_key(|c| c.dir.len() + c.stem.len());
        // Whether chains through match-anything rules can be skipped; looked
        // up when the pass with chains first needs it.
        let mut dead_end: Option<bool> = None;
        for allow_chain in [false, true] {
            for c in &cands {
                let terminal = db.pattern_rules[c.rule].terminal;
                if allow_chain && terminal {
                    continue;
                }
                if allow_chain && db.pattern_rules[c.rule].targets[c.target_index] == "%" {
                    let dead = *dead_end.get_or_insert_with(|| self.dead_end(db, dir, file));
                    if dead {
                        continue;
                    }
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

    /// True when no chain through a match-anything rule can make `dir` +
    /// `file`: no name such a chain would look at exists or is mentioned
    /// ([`ChainReach`]).
    fn dead_end(&mut self, db: &Database, dir: &str, file: &str) -> bool {
        let Some(reach) = &self.patterns.reach else {
            return false;
        };
        let full = format!("{dir}{file}");
        let may_match = |p: &str, name: &str| name.starts_with(p) || p.starts_with(name);
        if reach
            .prefixes
            .iter()
            .any(|p| may_match(p, &full) || may_match(p, file))
        {
            return false;
        }
        let mut name = full.clone();
        for x in &reach.suffixes {
            name.truncate(full.len());
            name.push_str(x);
            if known(db, self.vpath, self.disk, &name) {
                return false;
            }
        }
        true
    }

    fn known(&mut self, db: &Database, name: &str) -> bool {
        known(db, self.vpath, self.disk, name)
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
        let rule = &db.pattern_rules[c.rule];
        // Second-expansion text is expanded (with its side effects) before
        // any prerequisite is looked at; plain ones are filled in one by one.
        let expanded = if rule.deferred.is_empty() {
            None
        } else {
            let full_stem = format!("{}{}", c.dir, c.stem);
            Some(rule_deps(db, c.rule, target, c.dir, c.stem, &full_stem)?)
        };
        let count = expanded
            .as_ref()
            .map_or(db.pattern_rules[c.rule].deps.len(), Vec::len);
        // Most rules fail at their first prerequisite: no allocation until one is found.
        let mut deps = Vec::new();
        for i in 0..count {
            let mut name = std::mem::take(&mut self.buf);
            name.clear();
            let order_only = match &expanded {
                Some(names) => {
                    name.push_str(&names[i].0);
                    names[i].1
                }
                None => {
                    let d = &db.pattern_rules[c.rule].deps[i];
                    fill_dep(&mut name, &d.name, &self.patterns[c.rule].deps[i], c);
                    d.order_only
                }
            };
            if is_file_pattern(&name) {
                // Wildcards are expanded once the stem is in; the files found
                // exist, so they need no further search.
                let mut found = file_names(&name);
                if found.len() > 1 {
                    deps.extend(found.into_iter().map(|name| ImplicitDep {
                        name,
                        order_only,
                        chain: None,
                    }));
                    self.buf = name;
                    continue;
                }
                name = found.pop().unwrap_or(name);
            }
            // The pass without chains looked up the prerequisites up to the
            // first unknown one; those after it are still to be looked up.
            let known = match (expanded.is_none(), c.first_unknown.get()) {
                (true, Some(first)) if i <= first => i < first,
                _ => self.known(db, &name),
            };
            if known {
                deps.push(ImplicitDep {
                    name: name.clone(),
                    order_only,
                    chain: None,
                });
                self.buf = name;
                continue;
            }
            if expanded.is_none() {
                c.first_unknown.set(Some(i));
            }
            let hopeless = expanded.is_none() && !self.patterns[c.rule].chainable[i];
            if !allow_chain || depth >= 8 || hopeless {
                self.buf = name;
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
        let also_make = self.patterns[c.rule]
            .targets
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != c.target_index)
            .filter_map(|(_, (p, has_dir))| {
                let p = p.as_ref()?;
                let filled = p.fill(c.stem);
                Some(if *has_dir {
                    filled
                } else {
                    format!("{}{}", c.dir, filled)
                })
            })
            .collect();
        Ok(Some(ImplicitMatch {
            rule: c.rule,
            stem: format!("{}{}", c.dir, c.stem),
            deps,
            also_make,
        }))
    }
}

/// Does `name` exist (here or through vpath), or ought it to exist (the
/// makefiles mention it as a target or as a prerequisite)?
fn known(db: &Database, vpath: &[String], disk: &mut StatCache, name: &str) -> bool {
    db.names.contains(name)
        || disk.exists(name)
        || locate_elsewhere(db, vpath, disk, name).is_some()
}

/// Prerequisite `word` of a pattern rule for candidate `c`, into `out`: the
/// stem put in place of `%`, in the target's directory unless `word` has
/// a directory part of its own; without a leading `./` the stem brought
/// (`%/x.c` for `..o` is `x.c`).
fn fill_dep(out: &mut String, word: &str, pattern: &Option<Pattern>, c: &Candidate) {
    match pattern {
        Some(p) => {
            if !word.contains('/') {
                out.push_str(c.dir);
            }
            out.push_str(&p.prefix);
            out.push_str(c.stem);
            out.push_str(&p.suffix);
            if out.starts_with("./") {
                *out = strip_dot_slash(out).to_string();
            }
        }
        None => out.push_str(word),
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
    // As `fill_dep`; words from the second expansion also lose their own `./`.
    let subst = |w: &str| {
        let w = strip_dot_slash(w);
        match Pattern::parse(w) {
            Some(p) => {
                let filled = p.fill(stem);
                let full = if w.contains('/') || dir.is_empty() {
                    filled
                } else {
                    format!("{}{}", dir, filled)
                };
                strip_dot_slash(&full).to_string()
            }
            None => w.to_string(),
        }
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
            // make places messages of a pattern rule's second expansion nowhere.
            let saved = db.loc.take();
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

    #[test]
    fn rule_table_offers_every_rule_that_can_match_once_in_order() {
        use crate::lang::database::ReadOptions;
        let mut db = Database::new(ReadOptions::default());
        let text = "%.o: %.c\n\t:\n%: %.o\n\t:\n%.c %.x: %.y\n\t:\ns.%: %\n\t:\n";
        db.eval_text(
            text,
            &crate::diag::Loc::new(&std::sync::Arc::from("t.mk"), 1),
        )
        .unwrap();
        let table = RuleTable::new(&db);
        for name in ["a.o", "a.c", "a.x", "s.a", "zzz", "a/b.c"] {
            let offered: Vec<usize> = table.candidates(*name.as_bytes().last().unwrap()).collect();
            assert!(
                offered.windows(2).all(|w| w[0] < w[1]),
                "{name}: {offered:?}"
            );
            // Every rule with a target pattern matching `name` is offered.
            for (ri, rule) in db.pattern_rules.iter().enumerate() {
                let file = name.rsplit('/').next().unwrap();
                let matches = rule
                    .targets
                    .iter()
                    .any(|t| Pattern::parse(t).is_some_and(|p| p.matches(file).is_some()));
                if matches {
                    assert!(
                        offered.contains(&ri),
                        "{name}: rule {ri} ({:?}) missing",
                        rule.targets
                    );
                }
            }
        }
        // `a.c` does not end like `%.o`: that built-in is not offered.
        let o_rule = db
            .pattern_rules
            .iter()
            .position(|r| r.targets.iter().any(|t| t == "%.o"))
            .unwrap();
        assert!(!table.candidates(b'c').any(|ri| ri == o_rule));
    }

    fn table_for(text: &str, builtins: bool) -> RuleTable {
        use crate::lang::builtin;
        use crate::lang::database::ReadOptions;
        let mut db = Database::new(ReadOptions::default());
        let loc = crate::diag::Loc::new(&std::sync::Arc::from("t.mk"), 1);
        if builtins {
            db.eval_text(builtin::SUFFIXES, &loc).unwrap();
            db.eval_text(builtin::SUFFIX_RULES, &loc).unwrap();
        }
        db.eval_text(text, &loc).unwrap();
        db.finish_reading(builtins.then_some(builtin::PATTERN_RULES))
            .unwrap();
        RuleTable::new(&db)
    }

    #[test]
    fn chain_reach_of_the_built_in_rules_is_a_set_of_suffixes() {
        let table = table_for("", true);
        let reach = table.reach.expect("make's built-in rules are suffix swaps");
        // `%: %.o` asks for `F.o`, which `%.o: %.c` asks for as `F.c`, which
        // `%.c: %.y` asks for as `F.y`; `%.c: %.w %.ch` adds `F.ch`.
        for x in [
            ".o", ".c", ".y", ".l", ".w", ".ch", ".sh", ".F", ".r", ".web",
        ] {
            assert!(reach.suffixes.iter().any(|s| s == x), "{x}: {reach:?}");
        }
        assert!(reach.suffixes.len() < 64, "{reach:?}");
        // `(%): %` matches only names that start with `(`.
        assert_eq!(reach.prefixes, vec!["(".to_string()]);
    }

    #[test]
    fn chain_reach_gives_up_on_rules_it_cannot_follow() {
        // A prerequisite in another directory, a target suffix that could
        // take in the end of the file name, second expansion.
        for text in [
            "%.o: src/%.c\n\t:\n",
            "%.tab.c: %.y\n\t:\n%: %.c\n\t:\n",
            ".SECONDEXPANSION:\n%.o: $$*.c\n\t:\n",
        ] {
            assert!(table_for(text, true).reach.is_none(), "{text:?}");
        }
        // A rule with a fixed prefix only limits the names it can be used for.
        let reach = table_for("lib%.a: %.o\n\t:\n", true).reach.unwrap();
        assert!(reach.prefixes.contains(&"lib".to_string()));
    }
}
