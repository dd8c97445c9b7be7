//! `--sandbox=audit`: every access of every step compared with the graph, per
//! target, and the makefile fragment (`--fix-deps`) that declares what is
//! missing.

use super::violations::{Kind, Violation};
use crate::diag::Loc;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What one step did beyond (or short of) its declaration. Serialised only
/// to hand the audits of the steps that remade makefiles to the hbuild that
/// re-executes after them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TargetAudit {
    /// The rule's first target (the step's name in messages).
    pub target: String,
    #[serde(with = "loc_words")]
    pub loc: Option<Loc>,
    /// Undeclared inputs that no rule makes.
    pub sources: BTreeSet<PathBuf>,
    /// Undeclared inputs made by another rule (named): a missing edge that can
    /// race under `-j`.
    pub generated: BTreeMap<PathBuf, String>,
    /// Those of `generated` whose rule the target's prerequisites lead to
    /// (`out: gen` where gen's recipe also writes `side`): make runs it
    /// first, so they cannot race; they are still undeclared.
    #[serde(default)]
    pub ordered: BTreeSet<PathBuf>,
    /// Directories listed without being declared.
    pub listed: BTreeSet<PathBuf>,
    /// Order-only prerequisites whose content was read: a change to them will
    /// not rebuild the target.
    pub order_only_read: BTreeSet<PathBuf>,
    /// Files written, created, changed or deleted that are not targets.
    pub outputs: BTreeMap<PathBuf, Kind>,
    /// Declared prerequisites never read (informational).
    pub unused: BTreeSet<PathBuf>,
    /// Files read under a directory that is a normal prerequisite, with that
    /// directory (informational): declared, but a change to their content
    /// does not make the directory newer, so it does not rebuild the target.
    #[serde(default)]
    pub under_directory: BTreeMap<PathBuf, PathBuf>,
    /// Its recipe names the prerequisites (`$^`, `$+`, `$?`, `$<`): the
    /// fragment then declares through `.EXTRA_PREREQS`, which stays out of
    /// them, so the recipe's commands do not change.
    pub uses_all_prereqs: bool,
    /// The target is phony: what it writes is not a file of the build
    /// (`install`, `menuconfig`), so it should run outside the sandbox.
    pub phony: bool,
    /// Those undeclared inputs that are themselves made from the target: as
    /// prerequisites they would close a cycle (which make drops, breaking
    /// the build), so the fragment declares them readable instead.
    pub cyclic: BTreeSet<PathBuf>,
}

impl TargetAudit {
    /// Anything undeclared (unused prerequisites do not count).
    pub fn has_findings(&self) -> bool {
        !self.sources.is_empty()
            || !self.generated.is_empty()
            || !self.listed.is_empty()
            || !self.order_only_read.is_empty()
            || !self.outputs.is_empty()
    }
}

/// A location as `(file, line)`.
mod loc_words {
    use crate::diag::Loc;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(loc: &Option<Loc>, s: S) -> Result<S::Ok, S::Error> {
        loc.as_ref()
            .map(|l| (l.file.to_string(), l.line))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Loc>, D::Error> {
        let words = Option::<(String, usize)>::deserialize(d)?;
        Ok(words.map(|(file, line)| Loc::new(&Arc::from(file), line)))
    }
}

/// The declaration of a step, as far as the audit needs it.
pub struct StepFacts<'a> {
    pub target: &'a str,
    pub loc: Option<&'a Loc>,
    /// Normal prerequisites that are files, as paths (one that is no file,
    /// such as a target never made, cannot be read: it is left out).
    pub prereqs: &'a [PathBuf],
    pub order_only: &'a [PathBuf],
    /// Every input the step read (after presets and TMPDIR were dropped),
    /// relative to `root` when inside it, absolute otherwise.
    pub reads: &'a BTreeSet<PathBuf>,
    /// The directory the build runs in: the prerequisites' names (`../x.h`,
    /// `sub/../x.h`) are compared with the reads as paths from there.
    pub root: &'a Path,
    /// What it executed or listed: a prerequisite run as a program (a tool
    /// built by another rule) or a directory listed is used, not read.
    pub used: &'a [&'a BTreeSet<PathBuf>],
    /// The recipe's lines as written.
    pub recipe: &'a [&'a str],
    pub phony: bool,
}

/// Whether recipe text refers to the prerequisites by position or as a list:
/// `$<` too, since a prerequisite the fragment adds may come first (a
/// `MAKEFILES` fragment is read before the makefile).
fn names_all_prereqs(lines: &[&str]) -> bool {
    let refs = [
        "$^", "$+", "$?", "$<", "$(^", "${^", "$(+", "${+", "$(?", "${?", "$(<", "${<",
    ];
    lines.iter().any(|l| refs.iter().any(|r| l.contains(r)))
}

/// Build one target's audit from its step's violations (`check_step` run
/// without enforcement) and what it read; `producer` names the rule that makes
/// a file, if any, and whether that rule runs before the step anyway.
pub fn audit_step(
    facts: &StepFacts,
    violations: &[Violation],
    producer: &dyn Fn(&Path) -> Option<(String, bool)>,
) -> TargetAudit {
    let mut a = TargetAudit {
        target: facts.target.to_string(),
        loc: facts.loc.cloned(),
        uses_all_prereqs: names_all_prereqs(facts.recipe),
        phony: facts.phony,
        ..Default::default()
    };
    for v in violations {
        match v.kind {
            Kind::Read | Kind::Exec => match producer(&v.path) {
                Some((rule, before)) => {
                    if before {
                        a.ordered.insert(v.path.clone());
                    }
                    a.generated.insert(v.path.clone(), rule);
                }
                None => {
                    a.sources.insert(v.path.clone());
                }
            },
            Kind::List => {
                a.listed.insert(v.path.clone());
            }
            kind => {
                a.outputs.entry(v.path.clone()).or_insert(kind);
                if let Some(to) = &v.to {
                    a.outputs.entry(to.clone()).or_insert(Kind::Create);
                }
            }
        }
    }
    let as_read = |p: &Path| crate::observe::as_recorded(p, facts.root);
    for p in facts.order_only {
        if facts.reads.contains(&as_read(p)) {
            a.order_only_read.insert(p.clone());
        }
    }
    for p in facts.prereqs {
        // A directory prerequisite counts as used when anything beneath it was read.
        let key = as_read(p);
        let touched = |set: &BTreeSet<PathBuf>| set.iter().any(|r| r.starts_with(&key));
        if !touched(facts.reads) && !facts.used.iter().any(|set| touched(set)) {
            a.unused.insert(p.clone());
        }
        // A read beneath it makes it a directory: its files are not declared
        // themselves unless another prerequisite names them.
        let beneath = facts
            .reads
            .iter()
            .filter(|r| **r != key && r.starts_with(&key));
        for r in beneath {
            if !facts.prereqs.iter().any(|q| as_read(q) == *r) {
                a.under_directory.insert(r.clone(), p.clone());
            }
        }
    }
    a
}

/// The audit report printed after the build, and the summary line.
pub fn render(audits: &[TargetAudit], recursive_steps: usize) -> String {
    let mut out = String::new();
    let prog = crate::diag::prog();
    let mut with_findings = 0;
    let (mut inputs, mut outputs, mut races, mut oo, mut unused) = (0, 0, 0, 0, 0);
    for a in audits {
        if !a.has_findings() && a.unused.is_empty() && a.under_directory.is_empty() {
            continue;
        }
        if a.has_findings() {
            with_findings += 1;
        }
        match &a.loc {
            Some(loc) => {
                let _ = writeln!(out, "{}: audit: [{}: {}]", prog, loc, a.target);
            }
            None => {
                let _ = writeln!(out, "{}: audit: [{}]", prog, a.target);
            }
        }
        for p in &a.sources {
            inputs += 1;
            let _ = writeln!(out, "  undeclared input (source file): {}", p.display());
        }
        for (p, rule) in &a.generated {
            let note = if a.ordered.contains(p) {
                inputs += 1;
                "made before it through its prerequisites"
            } else {
                races += 1;
                "can race under -j"
            };
            let _ = writeln!(
                out,
                "  undeclared input made by rule '{}': {} ({})",
                rule,
                p.display(),
                note
            );
        }
        for p in &a.listed {
            inputs += 1;
            let _ = writeln!(out, "  undeclared directory listed: {}", p.display());
        }
        for p in &a.order_only_read {
            oo += 1;
            let _ = writeln!(
                out,
                "  order-only prerequisite read: {} (a change to it will not rebuild the target)",
                p.display()
            );
        }
        for (p, kind) in &a.outputs {
            outputs += 1;
            let _ = writeln!(
                out,
                "  undeclared output ({}): {}",
                kind_word(*kind),
                p.display()
            );
        }
        for p in &a.unused {
            unused += 1;
            let _ = writeln!(out, "  declared prerequisite never read: {}", p.display());
        }
        for (p, dir) in &a.under_directory {
            let _ = writeln!(
                out,
                "  read under directory prerequisite {}: {} (a change to its content does not make {} newer)",
                dir.display(),
                p.display(),
                dir.display()
            );
        }
    }
    // Steps that ran sub-makes are audited by those.
    let recursive = match recursive_steps {
        0 => String::new(),
        1 => " (1 step ran sub-makes, which audit their own steps)".to_string(),
        n => format!(" ({n} steps ran sub-makes, which audit their own steps)"),
    };
    let _ = writeln!(
        out,
        "{}: audit: {} of {} steps not hermetic: {} undeclared inputs, {} inputs made by other rules, {} order-only prerequisites read, {} undeclared outputs; {} declared prerequisites never read{}",
        prog,
        with_findings,
        audits.len(),
        inputs,
        races,
        oo,
        outputs,
        unused,
        recursive
    );
    out
}

fn kind_word(kind: Kind) -> &'static str {
    match kind {
        Kind::Write | Kind::Truncate | Kind::Modified | Kind::Replaced => "modified",
        Kind::Delete => "deleted",
        Kind::Link => "linked",
        Kind::Mkdir => "directory created",
        Kind::RemoveDir => "directory removed",
        _ => "created",
    }
}

/// Mark, in each audit, the undeclared inputs that `made_from(input,
/// target)` says are made from the target (through any chain of rules,
/// implicit ones included): declaring them would close a cycle. An edge
/// the fragment will add counts: each is reported through `declare`
/// before the next check.
pub fn set_aside_cycles(
    audits: &mut [TargetAudit],
    mut made_from: impl FnMut(&str, &str) -> bool,
    mut declare: impl FnMut(&str, &str),
) {
    for a in audits {
        let target = a.target.clone();
        let inputs: Vec<PathBuf> = a
            .sources
            .iter()
            .chain(&a.order_only_read)
            .chain(a.generated.keys())
            .cloned()
            .collect();
        for p in inputs {
            let name = as_written(&p).to_string_lossy().into_owned();
            if made_from(&name, &target) {
                a.cyclic.insert(p);
            } else {
                declare(&target, &name);
            }
        }
    }
}

/// The `--fix-deps` fragment: stable and sorted. Missing inputs (and order-only
/// prerequisites that are read) become prerequisites; undeclared outputs and
/// listed directories are opened with `.UNVEIL`, with a comment saying what
/// the better fix is.
pub fn fix_fragment<'a>(audits: &'a [TargetAudit]) -> String {
    type Lists<'a> = BTreeMap<&'a str, BTreeSet<String>>;
    let mut deps: Lists = BTreeMap::new();
    let mut extra: Lists = BTreeMap::new();
    let mut side: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut unsandboxed: BTreeSet<&str> = BTreeSet::new();
    let mut unveil: Lists = BTreeMap::new();
    let mut notes: Lists = BTreeMap::new();
    for a in audits {
        let t: &'a str = a.target.as_str();
        let add = |m: &mut Lists<'a>, s: String| {
            m.entry(t).or_default().insert(s);
        };
        let list = if a.uses_all_prereqs {
            &mut extra
        } else {
            &mut deps
        };
        for p in a.sources.iter().chain(&a.order_only_read) {
            if !a.cyclic.contains(p) {
                add(list, make_word(p));
            }
        }
        for (p, rule) in a.generated.iter().filter(|(p, _)| !a.cyclic.contains(*p)) {
            add(list, make_word(p));
            if Path::new(rule) != p.as_path() {
                // Made on the side by another rule's recipe: a rule without
                // a recipe says so, so a clean build knows where it comes
                // from (make's idiom for a second output).
                side.insert(p.clone(), rule.clone());
            }
        }
        for p in &a.listed {
            add(&mut unveil, format!("r:{}", unveil_word(p)));
        }
        for p in &a.cyclic {
            add(&mut unveil, format!("r:{}", unveil_word(p)));
            add(
                &mut notes,
                format!(
                    "reads {}, which is made from it: readable, not a prerequisite (that would be a cycle)",
                    p.display()
                ),
            );
        }
        if a.phony && !a.outputs.is_empty() {
            // Its outputs are not the build's files (an install, a
            // configuration tool's temporary names): let it run free.
            unsandboxed.insert(t);
            continue;
        }
        for (p, kind) in &a.outputs {
            add(&mut unveil, format!("rwc:{}", unveil_word(p)));
            add(
                &mut notes,
                format!(
                    "{} {} (better: make it a target of the rule, e.g. with '&:')",
                    kind_word(*kind),
                    p.display()
                ),
            );
        }
    }
    let mut out = String::from(FRAGMENT_HEADER);
    for (t, ps) in &deps {
        let list: Vec<&str> = ps.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}: {}", make_word_str(t), list.join(" "));
    }
    for (t, ps) in &extra {
        let list: Vec<&str> = ps.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "# {}: its recipe names its prerequisites ($<, $^, $+ or $?), which these stay out of",
            t
        );
        let _ = writeln!(
            out,
            "{}: .EXTRA_PREREQS += {}",
            make_word_str(t),
            list.join(" ")
        );
    }
    for (p, rule) in &side {
        let _ = writeln!(
            out,
            "# {}: made by the recipe of '{}' without being declared",
            p.display(),
            rule
        );
        let _ = writeln!(out, "{}: {} ;", make_word(p), make_word_str(rule));
    }
    for (t, ws) in &unveil {
        for n in notes.get(t).into_iter().flatten() {
            let _ = writeln!(out, "# {}: {}", t, n);
        }
        let list: Vec<&str> = ws.iter().map(String::as_str).collect();
        let _ = writeln!(out, "{}: .UNVEIL += {}", make_word_str(t), list.join(" "));
    }
    for t in &unsandboxed {
        let _ = writeln!(
            out,
            "# {}: phony, and writes files it does not declare: it runs outside the sandbox",
            t
        );
        let _ = writeln!(out, "{}: .UNSANDBOXED = 1", make_word_str(t));
    }
    out.push_str(FRAGMENT_FOOTER);
    out
}

/// The first lines of every `--fix-deps` fragment. Its rules must not
/// become the default goal where it is included before the makefile's first
/// rule: it keeps `.DEFAULT_GOAL` as it found it (empty there, which lets
/// the makefile's next rule be the default, as without the fragment).
const FRAGMENT_HEADER: &str = "# Written by hbuild --sandbox=audit --fix-deps: the prerequisites and\n# outputs these rules use without declaring them. Include it from the makefile.\nhbuild_fix_deps_goal := $(.DEFAULT_GOAL)\n";

/// The last line of every `--fix-deps` fragment.
const FRAGMENT_FOOTER: &str = ".DEFAULT_GOAL := $(hbuild_fix_deps_goal)\n";

/// `old` and `new` fragments as one (two makes of a recursive build wrote
/// the same file): every declaration of both, with its comment lines, once,
/// sorted, under one header.
pub fn merge_fragments(old: &str, new: &str) -> String {
    let mut blocks: BTreeSet<String> = BTreeSet::new();
    for text in [old, new] {
        let body = text.strip_prefix(FRAGMENT_HEADER).unwrap_or(text);
        let body = body.strip_suffix(FRAGMENT_FOOTER).unwrap_or(body);
        let mut block = String::new();
        for l in body.lines() {
            block.push_str(l);
            block.push('\n');
            if !l.starts_with('#') {
                blocks.insert(std::mem::take(&mut block));
            }
        }
    }
    FRAGMENT_HEADER.to_string() + &blocks.into_iter().collect::<String>() + FRAGMENT_FOOTER
}

/// A path as a makefile word: blanks, `#`, `:` and `$` escaped.
fn make_word(p: &Path) -> String {
    make_word_str(&as_written(p).to_string_lossy())
}

/// A path in a `.UNVEIL` value: as written, `$` doubled, blanks escaped
/// with a backslash (a `:` stays, the first one of the word ends its rights).
fn unveil_word(p: &Path) -> String {
    as_written(p)
        .to_string_lossy()
        .replace('$', "$$")
        .replace(' ', "\\ ")
        .replace('\t', "\\\t")
}

/// A path as the makefile including the fragment would write it: a file of
/// the project outside this make's directory (a sub-make's `../include/x.h`)
/// relative to it, so the fragment survives a move or another checkout.
/// Files outside every project directory stay absolute.
fn as_written(p: &Path) -> PathBuf {
    if !p.is_absolute() {
        return p.to_path_buf();
    }
    let Ok(cwd) = std::env::current_dir() else {
        return p.to_path_buf();
    };
    let in_project = crate::driver::project_roots()
        .iter()
        .any(|r| p.starts_with(r) && cwd.starts_with(r));
    if !in_project {
        return p.to_path_buf();
    }
    let common = p
        .components()
        .zip(cwd.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut rel = PathBuf::new();
    for _ in cwd.components().skip(common) {
        rel.push("..");
    }
    rel.extend(p.components().skip(common));
    rel
}

fn make_word_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            ' ' | '\t' | '#' | ':' => {
                out.push('\\');
                out.push(c);
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(kind: Kind, p: &str) -> Violation {
        Violation {
            kind,
            path: p.into(),
            to: None,
            denied: false,
        }
    }

    #[test]
    fn inputs_are_split_by_producer_and_order_only_reads_found() {
        let reads: BTreeSet<PathBuf> = [
            "src/a.c",
            "src/a.h",
            "gen/cfg.h",
            "gen/ver.h",
            "/outside/x.h",
            "src/b.c",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        // Named with `..`, as the project does: the same files as read.
        let prereqs = vec![
            PathBuf::from("src/a.c"),
            PathBuf::from("src/unused.h"),
            PathBuf::from("tools/gen"),
            PathBuf::from("../outside/x.h"),
            PathBuf::from("gen/../src/b.c"),
        ];
        let oo = vec![PathBuf::from("gen/ver.h")];
        let execs: BTreeSet<PathBuf> = [PathBuf::from("tools/gen")].into();
        let facts = StepFacts {
            target: "out/a.o",
            loc: None,
            prereqs: &prereqs,
            order_only: &oo,
            reads: &reads,
            root: Path::new("/project"),
            used: &[&execs],
            recipe: &[],
            phony: false,
        };
        let vs = vec![
            v(Kind::Read, "src/a.h"),
            v(Kind::Read, "gen/cfg.h"),
            v(Kind::Create, "out/a.d"),
        ];
        let producer =
            |p: &Path| (p == Path::new("gen/cfg.h")).then(|| ("gen/cfg.h".to_string(), false));
        let a = audit_step(&facts, &vs, &producer);
        assert!(a.sources.contains(Path::new("src/a.h")));
        assert!(render(std::slice::from_ref(&a), 0).contains("gen/cfg.h (can race under -j)"));
        // The same input from a rule that runs first anyway: no race.
        let before = |p: &Path| producer(p).map(|(rule, _)| (rule, true));
        let ordered = audit_step(&facts, &vs, &before);
        let text = render(&[ordered], 0);
        assert!(
            text.contains("gen/cfg.h (made before it through its prerequisites)"),
            "{text}"
        );
        assert!(text.contains("0 inputs made by other rules"), "{text}");
        assert_eq!(
            a.generated.get(Path::new("gen/cfg.h")).map(String::as_str),
            Some("gen/cfg.h")
        );
        assert!(a.order_only_read.contains(Path::new("gen/ver.h")));
        assert!(a.outputs.contains_key(Path::new("out/a.d")));
        assert!(a.unused.contains(Path::new("src/unused.h")));
        assert_eq!(a.unused.len(), 1, "{:?}", a.unused);
        assert!(!a.unused.contains(Path::new("tools/gen")), "run, so used");
        assert!(a.has_findings());
        let frag = fix_fragment(&[a]);
        assert!(
            frag.contains("out/a.o: gen/cfg.h gen/ver.h src/a.h\n"),
            "{}",
            frag
        );
        assert!(
            frag.contains("out/a.o: .UNVEIL += rwc:out/a.d\n"),
            "{}",
            frag
        );
        let text = render(&[], 0);
        assert!(text.contains("0 of 0 steps not hermetic"));
    }

    #[test]
    fn fragments_of_two_makes_merge_once_and_sorted() {
        let a = fix_fragment(&[TargetAudit {
            target: "b.o".into(),
            sources: [PathBuf::from("b.h")].into(),
            outputs: [(PathBuf::from("b.d"), Kind::Create)].into(),
            ..Default::default()
        }]);
        let b = fix_fragment(&[TargetAudit {
            target: "a.o".into(),
            sources: [PathBuf::from("a.h")].into(),
            ..Default::default()
        }]);
        let merged = merge_fragments(&a, &b);
        assert_eq!(
            merged,
            merge_fragments(&merged, &b),
            "merging again adds nothing"
        );
        assert_eq!(merged.matches("# Written by").count(), 1);
        assert!(merged.ends_with(FRAGMENT_FOOTER), "{merged}");
        assert_eq!(merged.matches(".DEFAULT_GOAL :=").count(), 1, "{merged}");
        let body: Vec<&str> = merged.lines().skip(3).collect();
        assert_eq!(
            body[0],
            "# b.o: created b.d (better: make it a target of the rule, e.g. with '&:')"
        );
        assert!(
            body.contains(&"a.o: a.h") && body.contains(&"b.o: b.h"),
            "{merged}"
        );
        assert!(
            body.iter().position(|l| *l == "a.o: a.h") < body.iter().position(|l| *l == "b.o: b.h")
        );
    }

    #[test]
    fn words_are_escaped_for_make() {
        assert_eq!(make_word(Path::new("a b:c$d")), "a\\ b\\:c$$d");
    }
}
