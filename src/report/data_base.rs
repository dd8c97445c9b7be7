//! `-p`: the database read from the makefiles, in make's layout, printed when
//! the build is over (with what the build learnt about each file).
//!
//! Tools parse this text: shell completion for make looks for the
//! `# Make data base` and `# Files` markers, skips `# Not a target:` blocks and
//! takes each block's first `name:` line; IDE plugins do much the same. So
//! the section headers, the block layout (one blank line after each) and the
//! per-file comment lines follow make. Two things differ on purpose:
//! variables and files come in a stable order (make prints its hash
//! tables), and make's hash-table statistics are left out.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use crate::diag::Loc;
use crate::engine::schedule::Outcome;
use crate::lang::database::Database;
use crate::lang::rules::{Dep, Recipe, Target};
use crate::lang::vars::{Flavor, Origin, Var, VarTable};

/// What the build learnt about one file, for its comment lines.
#[derive(Clone, Debug, Default)]
pub struct FileFacts {
    /// The build got to the file (make: "has been updated").
    pub considered: bool,
    /// Implicit rules were searched for it.
    pub searched: bool,
    /// The stem of the pattern or static pattern rule that makes it.
    pub stem: Option<String>,
    /// Made by a chain of implicit rules (or named in `.INTERMEDIATE`).
    pub intermediate: bool,
    /// Its time when the build was over: `None` if never looked at,
    /// `Some(None)` if it does not exist.
    pub mtime: Option<crate::graph::disk::MTime>,
    pub outcome: Option<Outcome>,
    /// Prerequisites and recipe an implicit rule gave it: make then lists
    /// the file as a target with them.
    pub implicit: Option<(Vec<Dep>, std::sync::Arc<Recipe>)>,
}

/// Facts by file name; empty when nothing was built (the database is printed
/// before or instead of a build).
pub type Facts = HashMap<String, FileFacts>;

/// Facts from remaking the makefiles, kept for the database printed at the end.
static EARLIER: std::sync::Mutex<Option<Facts>> = std::sync::Mutex::new(None);

/// Keep what remaking the makefiles learnt (the build's own facts win).
pub fn remember(facts: Facts) {
    let mut earlier = EARLIER.lock().unwrap_or_else(|e| e.into_inner());
    earlier.get_or_insert_with(Facts::default).extend(facts);
}

/// Print the whole database to stdout.
pub fn print(db: &Database, facts: &Facts, goals: &[String], question: bool) {
    let mut merged = EARLIER
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    merged.extend(facts.iter().map(|(k, v)| (k.clone(), v.clone())));
    let facts = &merged;
    let mut out = String::new();
    let now = local_time_now();
    let _ = writeln!(
        out,
        "# {} {}, compatible with GNU Make 4.3",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "\n# Make data base, printed on {}", now);
    variables(&mut out, db);
    pattern_variables(&mut out, db);
    out.push_str("# Directories\n\n");
    implicit_rules(&mut out, db);
    files(&mut out, db, facts, goals, question);
    vpaths(&mut out, db);
    let _ = writeln!(out, "\n# Finished Make data base on {}\n", now);
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// make's words for an origin, as in `# makefile (from 'Makefile', line 3)`.
fn origin_words(var: &Var) -> String {
    let mut s = match var.origin {
        Origin::File => "makefile",
        Origin::Override => "'override' directive",
        other => other.name(),
    }
    .to_string();
    if var.private {
        s.push_str(" private");
    }
    let told = |l: &&Loc| !l.is_builtin() && !l.is_command_line();
    if let Some(loc) = var.loc.as_ref().filter(told) {
        let _ = write!(s, " (from '{}', line {})", loc.file, loc.line);
    }
    s
}

/// `NAME = value`, or a `define` block for a value of several lines.
fn assignment(out: &mut String, prefix: &str, name: &str, var: &Var) {
    let op = match var.flavor {
        Flavor::Simple => ":=",
        Flavor::Recursive => "=",
    };
    if var.value.contains('\n') {
        let kind = if var.flavor == Flavor::Simple {
            " :="
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{}define {}{}\n{}\nendef",
            prefix, name, kind, var.value
        );
    } else {
        let _ = writeln!(out, "{}{} {} {}", prefix, name, op, var.value);
    }
}

fn sorted(table: &VarTable) -> Vec<(&String, &Var)> {
    let mut vars: Vec<_> = table.iter().collect();
    vars.sort_by(|a, b| a.0.cmp(b.0));
    vars
}

fn variables(out: &mut String, db: &Database) {
    out.push_str("\n# Variables\n\n");
    for (name, var) in sorted(&db.globals) {
        let _ = writeln!(out, "# {}", origin_words(var));
        assignment(out, "", name, var);
    }
    out.push('\n');
}

fn pattern_variables(out: &mut String, db: &Database) {
    out.push_str("# Pattern-specific Variable Values\n\n");
    let mut count = 0;
    for pv in &db.pattern_vars {
        let _ = writeln!(out, "{} :", pv.pattern);
        for (name, var) in sorted(&pv.vars) {
            let _ = writeln!(out, "# {}", origin_words(var));
            let op = if var.append {
                "+="
            } else if var.flavor == Flavor::Simple {
                ":="
            } else {
                "="
            };
            let _ = writeln!(out, "# {} {} {}", name, op, var.value);
            count += 1;
        }
        out.push('\n');
    }
    if count == 0 {
        out.push_str("# No pattern-specific variable values.\n\n");
    } else {
        let _ = writeln!(out, "# {} pattern-specific variable values\n", count);
    }
}

fn dep_list(deps: &[Dep]) -> String {
    let mut normal = Vec::new();
    let mut order_only = Vec::new();
    for d in deps {
        if d.order_only {
            order_only.push(&*d.name);
        } else {
            normal.push(&*d.name);
        }
    }
    let mut s = normal.join(" ");
    if !order_only.is_empty() {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str("| ");
        s.push_str(&order_only.join(" "));
    }
    s
}

/// The rule line: `name: deps`, with a space only when there are some.
fn rule_line(out: &mut String, name: &str, colon: &str, deps: &str) {
    if deps.is_empty() {
        let _ = writeln!(out, "{}{}", name, colon);
    } else {
        let _ = writeln!(out, "{}{} {}", name, colon, deps);
    }
}

fn recipe(out: &mut String, r: &Recipe) {
    if r.loc.is_builtin() {
        out.push_str("#  recipe to execute (built-in):\n");
    } else {
        let _ = writeln!(
            out,
            "#  recipe to execute (from '{}', line {}):",
            r.loc.file,
            r.first_line_loc().line
        );
    }
    for l in &r.lines {
        let _ = writeln!(out, "\t{}", l.text);
    }
}

fn implicit_rules(out: &mut String, db: &Database) {
    out.push_str("# Implicit Rules\n\n");
    let mut terminal = 0;
    for rule in &db.pattern_rules {
        let colon = if rule.terminal { "::" } else { ":" };
        rule_line(out, &rule.targets.join(" "), colon, &dep_list(&rule.deps));
        if let Some(r) = &rule.recipe {
            recipe(out, r);
        }
        out.push('\n');
        terminal += usize::from(rule.terminal);
    }
    let n = db.pattern_rules.len();
    if n == 0 {
        out.push_str("# No implicit rules.\n");
    } else {
        let _ = writeln!(
            out,
            "# {} implicit rules, {} ({:.1}%) terminal.",
            n,
            terminal,
            terminal as f64 * 100.0 / n as f64
        );
    }
}

fn files(out: &mut String, db: &Database, facts: &Facts, goals: &[String], question: bool) {
    out.push_str("# Files\n\n");
    let goals: HashSet<&str> = goals.iter().map(String::as_str).collect();
    let none = FileFacts::default();
    for name in &db.target_order {
        let Some(t) = db.targets.get(name) else {
            continue;
        };
        let f = facts.get(&**name).unwrap_or(&none);
        file(out, db, t, f, goals.contains(&**name), question);
    }
    // Files named only as prerequisites, and files the build met that no
    // makefile names (found by implicit rule search): make keeps an entry
    // for each.
    let mut met: Vec<(&str, &FileFacts)> = facts
        .iter()
        .filter(|(name, _)| !db.targets.contains_key(name.as_str()))
        .map(|(name, f)| (name.as_str(), f))
        .collect();
    for t in db.targets.values() {
        let rules = t.double_colon.iter().map(|r| &r.deps);
        for d in std::iter::once(&t.deps).chain(rules).flatten() {
            if !db.targets.contains_key(&*d.name) && !facts.contains_key(&*d.name) {
                met.push((&d.name, &none));
            }
        }
    }
    met.sort_by(|a, b| a.0.cmp(b.0));
    met.dedup_by(|a, b| a.0 == b.0);
    for (name, f) in met {
        let mut t = Target {
            name: name.into(),
            ..Target::default()
        };
        if let Some((deps, recipe)) = &f.implicit {
            t.is_target = true;
            t.deps = deps.clone();
            t.recipe = Some(recipe.clone());
        }
        file(out, db, &t, f, goals.contains(name), question);
    }
    special_targets(out, db);
}

fn file(out: &mut String, db: &Database, t: &Target, f: &FileFacts, goal: bool, question: bool) {
    if t.double_colon.is_empty() {
        file_rule(
            out,
            db,
            t,
            &t.deps,
            t.recipe.as_deref(),
            ":",
            f,
            goal,
            question,
        );
    }
    // make keeps each double-colon rule apart, and prints each so.
    for rule in t.double_colon.iter() {
        let recipe = rule.recipe.as_deref();
        file_rule(out, db, t, &rule.deps, recipe, "::", f, goal, question);
    }
}

#[allow(clippy::too_many_arguments)]
fn file_rule(
    out: &mut String,
    db: &Database,
    t: &Target,
    deps: &[Dep],
    rule_recipe: Option<&Recipe>,
    colon: &str,
    f: &FileFacts,
    goal: bool,
    question: bool,
) {
    let name = &*t.name;
    let builtin = t.loc.as_ref().is_some_and(Loc::is_builtin);
    // Target-specific variables come first, as `name: VAR = value` (shell
    // completion takes such a line for a target, as it does with make's).
    if let Some(vars) = &t.vars {
        for (var_name, var) in sorted(vars) {
            let _ = writeln!(out, "# {}", origin_words(var));
            assignment(out, &format!("{}: ", name), var_name, var);
        }
    }
    if !t.is_target || builtin {
        out.push_str("# Not a target:\n");
    }
    rule_line(out, name, colon, &dep_list(deps));
    if db.specials.phony.contains(name) {
        out.push_str("#  Phony target (prerequisite of .PHONY).\n");
    }
    if goal {
        out.push_str("#  Command line target.\n");
    }
    if db.specials.precious.contains(name) {
        out.push_str("#  Precious file (prerequisite of .PRECIOUS).\n");
    }
    if builtin {
        out.push_str("#  Builtin rule\n");
    }
    out.push_str(if f.searched {
        "#  Implicit rule search has been done.\n"
    } else {
        "#  Implicit rule search has not been done.\n"
    });
    if let Some(stem) = f.stem.as_deref().or(t.static_stem.as_deref()) {
        let _ = writeln!(out, "#  Implicit/static pattern stem: '{}'", stem);
    }
    // `.SECONDARY:` without names makes every file intermediate.
    let sp = &db.specials;
    if f.intermediate || sp.intermediate.contains(name) || sp.secondary.all {
        out.push_str("#  File is an intermediate prerequisite.\n");
    }
    if let Some(group) = &t.group {
        let others: Vec<&str> = group.iter().rev().map(String::as_str).collect();
        let _ = writeln!(out, "#  Also makes: {}", others.join(" "));
    }
    match f.mtime {
        None => out.push_str("#  Modification time never checked.\n"),
        Some(None) => out.push_str("#  File does not exist.\n"),
        Some(Some(t)) => {
            let _ = writeln!(out, "#  Last modified {}", local_time_ns(t));
        }
    }
    out.push_str(if f.considered {
        "#  File has been updated.\n"
    } else {
        "#  File has not been updated.\n"
    });
    match f.outcome {
        Some(Outcome::Failed) => out.push_str("#  Failed to be updated.\n"),
        Some(Outcome::Questioned) => out.push_str("#  Needs to be updated (-q is set).\n"),
        Some(Outcome::Remade) if question => out.push_str("#  Needs to be updated (-q is set).\n"),
        Some(_) => out.push_str("#  Successfully updated.\n"),
        None => {}
    }
    if let Some(r) = rule_recipe {
        recipe(out, r);
    }
    out.push('\n');
}

/// The special targets the makefiles used, as rules with their members.
fn special_targets(out: &mut String, db: &Database) {
    let sp = &db.specials;
    fn sorted_set<'a>(set: impl IntoIterator<Item = &'a String>) -> String {
        let mut v: Vec<&str> = set.into_iter().map(String::as_str).collect();
        v.sort_unstable();
        v.join(" ")
    }
    let mut entries: Vec<(&str, String)> = Vec::new();
    if !sp.phony.is_empty() {
        entries.push((".PHONY", sorted_set(&sp.phony)));
    }
    if !sp.precious.is_empty() {
        entries.push((".PRECIOUS", sorted_set(&sp.precious)));
    }
    if !sp.intermediate.is_empty() {
        entries.push((".INTERMEDIATE", sorted_set(&sp.intermediate)));
    }
    for (name, set) in [
        (".SECONDARY", &sp.secondary),
        (".IGNORE", &sp.ignore),
        (".SILENT", &sp.silent),
    ] {
        if set.all || !set.names.is_empty() {
            entries.push((name, sorted_set(&set.names)));
        }
    }
    if !sp.suffixes.is_empty() {
        entries.push((".SUFFIXES", sp.suffixes.join(" ")));
    }
    for (on, name) in [
        (sp.delete_on_error, ".DELETE_ON_ERROR"),
        (sp.not_parallel, ".NOTPARALLEL"),
        (sp.one_shell, ".ONESHELL"),
        (sp.posix, ".POSIX"),
        (sp.export_all, ".EXPORT_ALL_VARIABLES"),
        (sp.second_expansion, ".SECONDEXPANSION"),
    ] {
        if on {
            entries.push((name, String::new()));
        }
    }
    for (name, deps) in entries {
        rule_line(out, name, ":", &deps);
        out.push_str("#  Implicit rule search has not been done.\n");
        out.push_str("#  Modification time never checked.\n");
        out.push_str("#  File has not been updated.\n\n");
    }
    if let Some(r) = &sp.default_recipe {
        out.push_str(".DEFAULT:\n");
        out.push_str("#  Implicit rule search has not been done.\n");
        out.push_str("#  Modification time never checked.\n");
        out.push_str("#  File has not been updated.\n");
        recipe(out, r);
        out.push('\n');
    }
}

fn vpaths(out: &mut String, db: &Database) {
    out.push_str("# VPATH Search Paths\n\n");
    for v in &db.vpaths {
        let _ = writeln!(out, "vpath {} {}\n", v.pattern, v.dirs.join(":"));
    }
    if db.vpaths.is_empty() {
        out.push_str("# No 'vpath' search paths.\n\n");
    } else {
        let _ = writeln!(out, "# {} 'vpath' search paths.\n", db.vpaths.len());
    }
    match db.globals.get("VPATH").map(|v| v.value.trim()) {
        Some(v) if !v.is_empty() => {
            let dirs: Vec<&str> = v
                .split(|c: char| c == ':' || c.is_whitespace())
                .filter(|d| !d.is_empty())
                .collect();
            let _ = writeln!(
                out,
                "# General ('VPATH' variable) search path:\n# {}",
                dirs.join(":")
            );
        }
        _ => out.push_str("# No general ('VPATH' variable) search path.\n"),
    }
}

/// `Mon Nov 23 02:34:18 2026`, local time, as make prints the database's date.
fn local_time_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format_local(now, "%a %b %e %H:%M:%S %Y").unwrap_or_default()
}

/// `2026-11-23 02:34:38.093838195`, local time, from nanoseconds since the epoch.
fn local_time_ns(t: i128) -> String {
    let secs = t.div_euclid(1_000_000_000) as i64;
    let nanos = t.rem_euclid(1_000_000_000);
    match format_local(secs, "%Y-%m-%d %H:%M:%S") {
        Some(s) => format!("{}.{:09}", s, nanos),
        None => t.to_string(),
    }
}

fn format_local(secs: i64, format: &str) -> Option<String> {
    let format = std::ffi::CString::new(format).ok()?;
    let t: libc::time_t = secs as libc::time_t;
    // SAFETY: `tm` is filled by localtime_r; strftime writes at most the
    // buffer's length and returns how much it wrote.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), &tm);
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}
