//! The built-in functions of GNU Make 4.3.
//!
//! `lookup` gives `expand.rs` each function's argument limits; the functions
//! themselves are grouped below by kind: text, file names, control flow,
//! variables, and the ones that talk to the outside world (shell, files, output).

use crate::diag::{Fatal, Loc, Result};
use crate::lang::database::Database;
use crate::lang::globbing;
use crate::lang::text::{self, Pattern};
use crate::lang::vars::{Flavor, Frame, Origin, Scope, Var, VarTable};
use std::io::Write;
use std::sync::Arc;

/// A function's implementation: receives its arguments (expanded unless the spec
/// says `expand_args: false`) and returns its result text.
pub type FuncImpl = fn(&mut Database, &[String], &Scope) -> Result<String>;

pub struct FuncSpec {
    pub name: &'static str,
    pub min_args: usize,
    /// Arguments beyond this stay in the last one, commas included (0 = no limit).
    pub max_args: usize,
    /// False for functions that expand their arguments themselves, lazily
    /// (`if`, `or`, `and`, `foreach`).
    pub expand_args: bool,
    pub run: FuncImpl,
}

const fn spec(name: &'static str, min: usize, max: usize, run: FuncImpl) -> FuncSpec {
    FuncSpec {
        name,
        min_args: min,
        max_args: max,
        expand_args: true,
        run,
    }
}

const fn lazy(name: &'static str, min: usize, max: usize, run: FuncImpl) -> FuncSpec {
    FuncSpec {
        name,
        min_args: min,
        max_args: max,
        expand_args: false,
        run,
    }
}

/// Argument limits as make 4.3 has them: a minimum of 0 matters only for
/// `$(call fn)`, which passes no arguments at all.
static FUNCTIONS: &[FuncSpec] = &[
    spec("subst", 3, 3, subst),
    spec("patsubst", 3, 3, patsubst),
    spec("strip", 0, 1, strip),
    spec("findstring", 2, 2, findstring),
    spec("filter", 2, 2, filter),
    spec("filter-out", 2, 2, filter_out),
    spec("sort", 0, 1, sort),
    spec("word", 2, 2, word),
    spec("wordlist", 3, 3, wordlist),
    spec("words", 0, 1, words),
    spec("firstword", 0, 1, firstword),
    spec("lastword", 0, 1, lastword),
    spec("dir", 0, 1, dir),
    spec("notdir", 0, 1, notdir),
    spec("suffix", 0, 1, suffix),
    spec("basename", 0, 1, basename),
    spec("addsuffix", 2, 2, addsuffix),
    spec("addprefix", 2, 2, addprefix),
    spec("join", 2, 2, join),
    spec("wildcard", 0, 1, wildcard),
    spec("realpath", 0, 1, realpath),
    spec("abspath", 0, 1, abspath),
    lazy("if", 2, 3, if_),
    lazy("or", 1, 0, or),
    lazy("and", 1, 0, and),
    lazy("foreach", 3, 3, foreach),
    spec("file", 1, 2, file),
    spec("call", 1, 0, call),
    spec("value", 0, 1, value),
    spec("eval", 0, 1, eval),
    spec("origin", 0, 1, origin),
    spec("flavor", 0, 1, flavor),
    spec("shell", 0, 1, shell),
    spec("error", 0, 1, error),
    spec("warning", 0, 1, warning),
    spec("info", 0, 1, info),
];

/// The built-in function called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static FuncSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

// ---------------------------------------------------------------------------
// Whitespace, as make's functions see it.

/// C `isspace`: what separates words in function arguments.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// The words of `s`, split at any `isspace` character.
fn fields(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|w| !w.is_empty())
}

fn trim_space(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `if`, `or` and `and` strip only blanks (spaces and tabs) from a condition.
fn trim_blank(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// `f` applied to each word, results joined with single spaces (empty results
/// included, as make does).
fn map_words(s: &str, f: impl Fn(&str) -> String) -> String {
    fields(s).map(f).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------
// Text functions.

fn subst(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let (from, to, text) = (&args[0], &args[1], &args[2]);
    if from.is_empty() {
        // make appends the replacement when asked to replace the empty string.
        return Ok(format!("{}{}", text, to));
    }
    Ok(text.replace(from.as_str(), to))
}

fn patsubst(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(text::patsubst(&args[0], &args[1], &args[2]))
}

fn strip(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(fields(&args[0]).collect::<Vec<_>>().join(" "))
}

fn findstring(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(if args[1].contains(args[0].as_str()) {
        args[0].clone()
    } else {
        String::new()
    })
}

/// One word of a `filter` pattern list: a `%` pattern or a literal word.
enum WordMatcher {
    Pattern(Pattern),
    Literal(String),
}

impl WordMatcher {
    fn new(pat: &str) -> WordMatcher {
        match Pattern::parse(pat) {
            Some(p) => WordMatcher::Pattern(p),
            None => WordMatcher::Literal(unquote_percent(pat)),
        }
    }
    fn matches(&self, word: &str) -> bool {
        match self {
            WordMatcher::Pattern(p) => p.matches(word).is_some(),
            WordMatcher::Literal(l) => l == word,
        }
    }
}

/// A pattern with no unquoted `%`: each `\%` (after halving the backslashes
/// that precede it) stands for a plain `%`.
fn unquote_percent(pat: &str) -> String {
    let mut out = String::with_capacity(pat.len());
    let mut rest = pat;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let run = rest[i..].len() - rest[i..].trim_start_matches('\\').len();
        let after = &rest[i + run..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push_str(&"\\".repeat(run / 2));
            out.push('%');
            rest = tail;
        } else {
            out.push_str(&rest[i..i + run]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn filter_words(args: &[String], keep_matching: bool) -> String {
    let matchers: Vec<WordMatcher> = fields(&args[0]).map(WordMatcher::new).collect();
    fields(&args[1])
        .filter(|w| matchers.iter().any(|m| m.matches(w)) == keep_matching)
        .collect::<Vec<_>>()
        .join(" ")
}

fn filter(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(filter_words(args, true))
}

fn filter_out(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(filter_words(args, false))
}

fn sort(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let mut w: Vec<&str> = fields(&args[0]).collect();
    w.sort_unstable();
    w.dedup();
    Ok(w.join(" "))
}

/// A numeric argument of `word`/`wordlist`: surrounding whitespace allowed,
/// then digits only; the value wraps like C's `atoi` on glibc (a huge number
/// saturates to `LONG_MAX`, then truncates to `int`).
fn number_arg(db: &Database, arg: &str, which: &str, func: &str) -> Result<i32> {
    let t = trim_space(arg);
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fatal::at(
            db.loc.as_ref(),
            format!("non-numeric {which} argument to '{func}' function: '{arg}'"),
        ));
    }
    let wide = t.bytes().fold(0i64, |n, b| {
        n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Ok(wide as i32)
}

fn word(db: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let n = number_arg(db, &args[0], "first", "word")?;
    if n == 0 {
        return Err(Fatal::at(
            db.loc.as_ref(),
            "first argument to 'word' function must be greater than 0",
        ));
    }
    if n < 0 {
        return Ok(String::new());
    }
    Ok(fields(&args[1])
        .nth(n as usize - 1)
        .unwrap_or("")
        .to_string())
}

fn wordlist(db: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let start = number_arg(db, &args[0], "first", "wordlist")?;
    let end = number_arg(db, &args[1], "second", "wordlist")?;
    if start < 1 {
        return Err(Fatal::at(
            db.loc.as_ref(),
            format!("invalid first argument to 'wordlist' function: '{start}'"),
        ));
    }
    if end < start {
        return Ok(String::new());
    }
    let (skip, take) = (start as usize - 1, (end - start) as usize + 1);
    Ok(fields(&args[2])
        .skip(skip)
        .take(take)
        .collect::<Vec<_>>()
        .join(" "))
}

fn words(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(fields(&args[0]).count().to_string())
}

fn firstword(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(fields(&args[0]).next().unwrap_or("").to_string())
}

fn lastword(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(fields(&args[0]).last().unwrap_or("").to_string())
}

// ---------------------------------------------------------------------------
// File-name functions.

fn dir(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(map_words(&args[0], |w| match w.rfind('/') {
        Some(i) => w[..=i].to_string(),
        None => "./".to_string(),
    }))
}

fn notdir(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(map_words(&args[0], |w| match w.rfind('/') {
        Some(i) => w[i + 1..].to_string(),
        None => w.to_string(),
    }))
}

/// Where the suffix of `w` starts: its last `.` after the last `/`.
fn suffix_start(w: &str) -> Option<usize> {
    let dot = w.rfind('.')?;
    match w.rfind('/') {
        Some(slash) if slash > dot => None,
        _ => Some(dot),
    }
}

fn suffix(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    // Words without a suffix contribute nothing, not even an empty word.
    Ok(fields(&args[0])
        .filter_map(|w| suffix_start(w).map(|i| &w[i..]))
        .collect::<Vec<_>>()
        .join(" "))
}

fn basename(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(map_words(&args[0], |w| match suffix_start(w) {
        Some(i) => w[..i].to_string(),
        None => w.to_string(),
    }))
}

fn addsuffix(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(map_words(&args[1], |w| format!("{}{}", w, args[0])))
}

fn addprefix(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(map_words(&args[1], |w| format!("{}{}", args[0], w)))
}

fn join(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let mut left = fields(&args[0]);
    let mut right = fields(&args[1]);
    let mut out = Vec::new();
    loop {
        match (left.next(), right.next()) {
            (None, None) => break,
            (a, b) => out.push(format!("{}{}", a.unwrap_or(""), b.unwrap_or(""))),
        }
    }
    Ok(out.join(" "))
}

fn wildcard(db: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let mut out: Vec<String> = Vec::new();
    for pat in fields(&args[0]) {
        out.extend(globbing::glob(&globbing::expand_tilde(pat)));
    }
    out.retain(|p| !unmade(db, std::path::Path::new(p)));
    Ok(out.join(" "))
}

/// Whether `path` is (or is in) a directory hbuild made for the step whose
/// recipe is being expanded (see `Database::unmade_dirs`).
fn unmade(db: &Database, path: &std::path::Path) -> bool {
    if db.unmade_dirs.is_empty() {
        return false;
    }
    let path = crate::observe::normalize(&std::path::absolute(path).unwrap_or_default());
    db.unmade_dirs.iter().any(|d| path.starts_with(d))
}

fn realpath(db: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(fields(&args[0])
        .filter(|w| !unmade(db, std::path::Path::new(w)))
        .filter_map(|w| std::fs::canonicalize(w).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" "))
}

fn abspath(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".to_string());
    Ok(map_words(&args[0], |w| absolute_path(&cwd, w)))
}

/// `w` made absolute against `cwd` and normalised without touching the disk:
/// `.` and empty components dropped, `..` removes the previous one.
fn absolute_path(cwd: &str, w: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let full = if w.starts_with('/') {
        w.to_string()
    } else {
        format!("{}/{}", cwd, w)
    };
    for part in full.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

// ---------------------------------------------------------------------------
// Control flow: these receive their arguments unexpanded.

fn if_(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    let cond = db.expand(&args[0], scope)?;
    if !trim_blank(&cond).is_empty() {
        db.expand(&args[1], scope)
    } else if let Some(otherwise) = args.get(2) {
        db.expand(otherwise, scope)
    } else {
        Ok(String::new())
    }
}

fn or(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    for arg in args {
        let v = db.expand(arg, scope)?;
        let v = trim_blank(&v);
        if !v.is_empty() {
            return Ok(v.to_string());
        }
    }
    Ok(String::new())
}

fn and(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    let mut last = String::new();
    for arg in args {
        let v = db.expand(arg, scope)?;
        let v = trim_blank(&v);
        if v.is_empty() {
            return Ok(String::new());
        }
        last = v.to_string();
    }
    Ok(last)
}

fn foreach(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    let name = db.expand(&args[0], scope)?;
    let name = trim_space(&name).to_string();
    let list = db.expand(&args[1], scope)?;
    let mut out = Vec::new();
    for w in fields(&list) {
        let mut table = VarTable::default();
        table.set(name.clone(), Var::new(w, Flavor::Simple, Origin::Automatic));
        out.push(db.expand(&args[2], &scope.inner(table))?);
    }
    Ok(out.join(" "))
}

// ---------------------------------------------------------------------------
// Variables.

/// How deep `$(call)`s may nest before we stop instead of overflowing the stack
/// (make itself crashes on endless recursion). A level takes about 1 KB of
/// stack optimised, 5 KB not: the interpreter needs a thread with a big stack.
const MAX_CALL_DEPTH: usize = 10_000;

thread_local! {
    static CALL_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn call(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    let name = trim_space(&args[0]);
    let params = &args[1..];
    if name.is_empty() {
        return Ok(String::new());
    }
    if let Some(f) = lookup(name) {
        return call_builtin(db, f, params, scope);
    }
    let Some(var) = find_var(db, name, scope) else {
        if db.opts.warn_undefined {
            db.warn_if_undefined(name, scope);
        }
        return Ok(String::new());
    };
    let inner = call_scope(scope, call_frame(name, params, scope));
    let depth = CALL_DEPTH.with(|d| d.get());
    if depth >= MAX_CALL_DEPTH {
        return Err(Fatal::at(
            db.loc.as_ref(),
            format!("function 'call' nested too deeply ({MAX_CALL_DEPTH} levels) in '{name}'"),
        ));
    }
    CALL_DEPTH.with(|d| d.set(depth + 1));
    let result = match var.flavor {
        // A simple variable's value is used as it is, like a plain reference.
        Flavor::Simple if !var.append => Ok(var.value.clone()),
        // Expanded directly rather than through the self-reference check:
        // make lets a function call itself.
        Flavor::Recursive if !var.append => db.expand(&var.value, &inner),
        _ => db.var_value(name, &inner),
    };
    CALL_DEPTH.with(|d| d.set(depth));
    result
}

/// `$(call fn,...)` naming a built-in: the arguments are already expanded and
/// split at every comma; extra ones are ignored.
fn call_builtin(
    db: &mut Database,
    f: &FuncSpec,
    params: &[String],
    scope: &Scope,
) -> Result<String> {
    if params.is_empty() {
        return Ok(String::new());
    }
    if params.len() < f.min_args {
        return Err(Fatal::at(
            db.loc.as_ref(),
            format!(
                "insufficient number of arguments ({}) to function '{}'",
                params.len(),
                f.name
            ),
        ));
    }
    let n = if f.max_args == 0 || matches!(f.name, "error" | "warning" | "info") {
        params.len()
    } else {
        params.len().min(f.max_args)
    };
    (f.run)(db, &params[..n], scope)
}

/// `$(0)` .. `$(N)` for a call, plus empty values hiding any higher-numbered
/// arguments of enclosing calls.
fn call_frame(name: &str, params: &[String], scope: &Scope) -> VarTable {
    let mut table = VarTable::default();
    let arg = |v: &str| Var::new(v, Flavor::Simple, Origin::Automatic);
    table.set("0", arg(name));
    for (i, p) in params.iter().enumerate() {
        table.set((i + 1).to_string(), arg(p));
    }
    // The innermost enclosing call's frame already hides those of the calls
    // around it, so the search can stop there.
    for frame in &scope.frames {
        for (k, _) in frame.vars.iter() {
            if k.parse::<usize>().is_ok_and(|n| n > params.len()) {
                table.set(k.clone(), arg(""));
            }
        }
        if frame.vars.get("0").is_some() {
            break;
        }
    }
    table
}

/// `scope` with the call's arguments searched first. Frames that the new one
/// hides completely (those of the calls around it) are left out, so that
/// recursion does not make every lookup slower.
fn call_scope(scope: &Scope, args: VarTable) -> Scope {
    let hidden =
        |f: &Frame| f.vars.len() <= args.len() && f.vars.iter().all(|(k, _)| args.get(k).is_some());
    let kept: Vec<Frame> = scope
        .frames
        .iter()
        .skip_while(|f| hidden(f))
        .cloned()
        .collect();
    let mut frames = vec![Frame {
        vars: Arc::new(args),
        inherited: false,
    }];
    frames.extend(kept);
    Scope {
        frames,
        for_target: scope.for_target,
    }
}

/// The definition of `name` visible in `scope`, else the global one.
fn find_var(db: &Database, name: &str, scope: &Scope) -> Option<Var> {
    match scope.find(name, 0) {
        Some((_, v)) => Some(v.clone()),
        None => db.globals.get(name).cloned(),
    }
}

fn value(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    if args[0] == ".VARIABLES" && find_var(db, &args[0], scope).is_none() {
        return db.var_value(&args[0], scope);
    }
    Ok(find_var(db, &args[0], scope)
        .map(|v| v.value)
        .unwrap_or_default())
}

fn eval(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    let loc = db
        .loc
        .clone()
        .unwrap_or_else(|| Loc::new(&Arc::from("<eval>"), 1));
    db.eval_call(&args[0], &loc, scope).map(|()| String::new())
}

fn origin(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    Ok(match find_var(db, &args[0], scope) {
        Some(v) => v.origin.name(),
        None if args[0] == ".VARIABLES" => "default",
        None => "undefined",
    }
    .to_string())
}

fn flavor(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    Ok(match find_var(db, &args[0], scope) {
        Some(v) if v.flavor == Flavor::Simple => "simple",
        Some(_) => "recursive",
        None if args[0] == ".VARIABLES" => "simple",
        None => "undefined",
    }
    .to_string())
}

// ---------------------------------------------------------------------------
// The outside world: commands, files and messages.

fn shell(db: &mut Database, args: &[String], scope: &Scope) -> Result<String> {
    shell_command::run(db, &args[0], scope)
}

/// `$(shell)` as make 4.3 runs it.
pub mod shell_command {
    use super::{io_text, is_space};
    use crate::diag::{Result, PROG};
    use crate::lang::database::Database;
    use crate::lang::vars::{Flavor, Origin, Scope, Var};
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// Run `cmd` and return its output with trailing newlines removed and the
    /// others turned into spaces; sets `.SHELLSTATUS`. The command gets make's
    /// own environment (4.3 does not pass exported variables to it).
    pub fn run(db: &mut Database, cmd: &str, scope: &Scope) -> Result<String> {
        // A blank command is not run at all, whatever the shell.
        if cmd.trim_matches(is_space).is_empty() {
            return Ok(String::new());
        }
        db.side_effects = true;
        let shell = db.var_value("SHELL", scope)?;
        let shell = match shell.trim_matches(is_space) {
            "" => "/bin/sh".to_string(),
            s => s.to_string(),
        };
        let flags = db.var_value(".SHELLFLAGS", scope)?;
        let flags = match flags.trim_matches(is_space) {
            "" => "-c".to_string(),
            s => s.to_string(),
        };
        let argv = match direct_argv(&shell, &flags, cmd) {
            Some(argv) if argv.is_empty() => return Ok(String::new()),
            Some(argv) => argv,
            None => {
                // make splits `$(SHELL)` into words too (`SHELL = /bin/sh -e`).
                let mut v: Vec<String> = shell
                    .split(is_space)
                    .filter(|w| !w.is_empty())
                    .map(String::from)
                    .collect();
                v.extend(
                    flags
                        .split(is_space)
                        .filter(|f| !f.is_empty())
                        .map(String::from),
                );
                v.push(cmd.to_string());
                v
            }
        };
        crate::engine::output::enter_directory();
        let _ = std::io::stdout().flush();
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .stdin(Stdio::inherit())
            .stderr(Stdio::inherit())
            .stdout(Stdio::piped());
        // Reads are free; writes only go to a private temporary directory.
        let watch = crate::sandbox::parse_shell::install(&mut command);
        let (status, out) = match command.output() {
            Ok(o) => (exit_code(&o.status), o.stdout),
            Err(e) => {
                eprintln!("{}: {}: {}", PROG, argv[0], io_text(&e));
                (127, Vec::new())
            }
        };
        // Never silently: a probe that could not write its test file
        // changes what the makefile concludes.
        if let Some(watch) = watch {
            let at = match &db.loc {
                Some(loc) => loc.to_string(),
                None => PROG.to_string(),
            };
            let enforced = watch.enforced;
            for what in watch.refused() {
                if enforced {
                    eprintln!(
                        "{}: warning: $(shell) could not {} (denied by sandbox: $(shell) may write only under $TMPDIR)",
                        at, what
                    );
                } else {
                    eprintln!(
                        "{}: warning: $(shell) may not {} under --sandbox=enforce (it may write only under $TMPDIR)",
                        at, what
                    );
                }
            }
        }
        db.shell_status = Some(status);
        db.globals.set(
            ".SHELLSTATUS",
            Var::new(status.to_string(), Flavor::Simple, Origin::Override),
        );
        Ok(fold_output(&String::from_utf8_lossy(&out)))
    }

    fn exit_code(status: &std::process::ExitStatus) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => c,
            (None, Some(sig)) => 128 + sig,
            (None, None) => 127,
        }
    }

    /// Command output as one line: `\r\n` counts as a newline, trailing
    /// newlines go, the rest become spaces (a lone `\r` stays).
    pub fn fold_output(out: &str) -> String {
        let text = out.replace("\r\n", "\n");
        text.trim_end_matches('\n').replace('\n', " ")
    }

    pub fn direct_argv(shell: &str, flags: &str, cmd: &str) -> Option<Vec<String>> {
        if shell != "/bin/sh" || (flags != "-c" && flags != "-ec") {
            return None;
        }
        if cmd.trim_matches(is_space).is_empty() {
            // Nothing to run at all.
            return Some(Vec::new());
        }
        crate::lang::command_words::direct_argv(cmd)
    }
}

/// An I/O error as `strerror` words it, without Rust's `(os error N)`.
use crate::lang::eval::io_message as io_text;

fn file(db: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    let fail = |db: &Database, msg: String| Fatal::at(db.loc.as_ref(), msg);
    let op = args[0].trim_start_matches(is_space);
    let (mode, rest) = if let Some(r) = op.strip_prefix(">>") {
        (FileMode::Append, r)
    } else if let Some(r) = op.strip_prefix('>') {
        (FileMode::Write, r)
    } else if let Some(r) = op.strip_prefix('<') {
        (FileMode::Read, r)
    } else {
        return Err(fail(db, format!("file: invalid file operation: {op}")));
    };
    // Only leading whitespace goes: `$(file >x ,t)` writes to "x ".
    let name = rest.trim_start_matches(is_space);
    if name.is_empty() {
        return Err(fail(db, "file: missing filename".to_string()));
    }
    match mode {
        FileMode::Read => {
            if args.len() > 1 {
                return Err(fail(db, "file: too many arguments".to_string()));
            }
            read_file(name).map_err(|m| fail(db, m))
        }
        _ => {
            db.side_effects = true;
            write_file(name, mode, args.get(1).map(String::as_str)).map_err(|m| fail(db, m))?;
            Ok(String::new())
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileMode {
    Read,
    Write,
    Append,
}

/// A file's contents with one trailing newline (or `\r\n`) removed; a missing
/// file reads as empty.
fn read_file(name: &str) -> std::result::Result<String, String> {
    use std::io::Read;
    let mut f = match std::fs::File::open(name) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(format!("open: {}: {}", name, io_text(&e))),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| format!("read: {}: {}", name, io_text(&e)))?;
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// Write (or append) `text` and a newline unless it ends with one; with no text
/// at all the file is only created or truncated.
fn write_file(name: &str, mode: FileMode, text: Option<&str>) -> std::result::Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(mode == FileMode::Append)
        .truncate(mode == FileMode::Write)
        .open(name)
        .map_err(|e| format!("open: {}: {}", name, io_text(&e)))?;
    if let Some(text) = text {
        let mut data = text.to_string();
        if !data.ends_with('\n') {
            data.push('\n');
        }
        f.write_all(data.as_bytes())
            .map_err(|e| format!("write: {}: {}", name, io_text(&e)))?;
    }
    Ok(())
}

/// The message of `error`/`warning`/`info`: reached through `$(call)` they get
/// several arguments, which make joins with `, `.
fn message(args: &[String]) -> String {
    args.join(", ")
}

fn error(db: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Err(Fatal::at(db.loc.as_ref(), message(args)))
}

fn warning(db: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    // A block of its own under output sync, as in make.
    crate::engine::output::in_block(|| {
        let _ = std::io::stdout().flush();
        match &db.loc {
            Some(loc) => eprintln!("{}: {}", loc, message(args)),
            None => eprintln!("{}: {}", crate::diag::PROG, message(args)),
        }
    });
    Ok(String::new())
}

fn info(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    crate::engine::output::in_block(|| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", message(args));
        let _ = out.flush();
    });
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    //! Expected values were checked against GNU make 4.3.
    use super::*;

    fn db() -> Database {
        let mut db = Database::new(Default::default());
        db.loc = Some(Loc::new(&Arc::from("Makefile"), 1));
        db
    }

    fn set(db: &mut Database, name: &str, value: &str, flavor: Flavor) {
        db.globals.set(name, Var::new(value, flavor, Origin::File));
    }

    fn ex(db: &mut Database, text: &str) -> String {
        db.expand(text, &Scope::global())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(db: &mut Database, text: &str) -> String {
        match db.expand(text, &Scope::global()) {
            Ok(v) => panic!("{text}: expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn subst_and_patsubst() {
        let d = &mut db();
        assert_eq!(ex(d, "$(subst a,x,a,b,a)"), "x,b,x");
        assert_eq!(ex(d, "$(subst ,x,abc)"), "abcx");
        assert_eq!(ex(d, "$(subst ,x,)"), "x");
        assert_eq!(ex(d, "$(subst a,,abca)"), "bc");
        assert_eq!(ex(d, "$(subst aa,b,aaa)"), "ba");
        assert_eq!(ex(d, "$(patsubst %.c,%.o,a.c b.c,x.c)"), "a.o b.c,x.o");
        assert_eq!(ex(d, "$(patsubst %,%%,a b)"), "a% b%");
        assert_eq!(ex(d, "$(patsubst  a%, x% ,a1 b)"), " x1  b");
        assert_eq!(
            err(d, "$(subst a,b)"),
            "Makefile:1: *** insufficient number of arguments (2) to function 'subst'.  Stop."
        );
    }

    #[test]
    fn strip_findstring_sort() {
        let d = &mut db();
        assert_eq!(ex(d, "[$(strip  a \n b\x0bc )]"), "[a b c]");
        assert_eq!(ex(d, "$(strip a, b )"), "a, b");
        assert_eq!(
            ex(
                d,
                "[$(findstring a,b a c)][$(findstring ,x)][$(findstring x,a)]"
            ),
            "[a][][]"
        );
        assert_eq!(ex(d, "$(findstring a c,b a  c)"), "");
        assert_eq!(ex(d, "$(sort b a  c a B _ 10 9)"), "10 9 B _ a b c");
        assert_eq!(ex(d, "$(sort a,b a)"), "a a,b");
        assert_eq!(ex(d, "[$(sort )]"), "[]");
    }

    #[test]
    fn filters() {
        let d = &mut db();
        assert_eq!(ex(d, "$(filter %.c %.h,a.c b.h c.o a.c)"), "a.c b.h a.c");
        assert_eq!(ex(d, "$(filter-out %.c a,a.c b.h c.o a.c a)"), "b.h c.o");
        assert_eq!(
            ex(d, "[$(filter %,a b)][$(filter ,a b)][$(filter-out ,a b)]"),
            "[a b][][a b]"
        );
        assert_eq!(ex(d, "$(filter a\\%b,a%b ab)"), "a%b");
        assert_eq!(ex(d, "$(filter a%b%,a%b% ab% axb% b)"), "a%b% ab% axb%");
        assert_eq!(ex(d, "$(filter a b,a, b)"), "b");
        assert_eq!(unquote_percent("a\\\\\\%b\\c"), "a\\%b\\c");
    }

    #[test]
    fn word_functions() {
        let d = &mut db();
        assert_eq!(
            ex(d, "[$(word  2 ,a b)][$(word 3,a b)][$(word 02,a b)]"),
            "[b][][b]"
        );
        assert_eq!(
            ex(
                d,
                "[$(word 1,a,b c)][$(word 4294967297,a b)][$(word 2147483648,a)]"
            ),
            "[a,b][a][]"
        );
        assert_eq!(ex(d, "[$(word 99999999999999999999,a b)]"), "[]");
        assert_eq!(
            err(d, "$(word 0,a)"),
            "Makefile:1: *** first argument to 'word' function must be greater than 0.  Stop."
        );
        assert_eq!(
            err(d, "$(word x ,a)"),
            "Makefile:1: *** non-numeric first argument to 'word' function: 'x '.  Stop."
        );
        for bad in ["-1", "+2", "", "2 3"] {
            assert_eq!(
                err(d, &format!("$(word {bad},a)")),
                format!("Makefile:1: *** non-numeric first argument to 'word' function: '{bad}'.  Stop.")
            );
        }
        assert_eq!(
            err(d, "$(word 1)"),
            "Makefile:1: *** insufficient number of arguments (1) to function 'word'.  Stop."
        );
        assert_eq!(
            ex(
                d,
                "[$(wordlist 2,9,a b c)][$(wordlist 1,0,a b)][$(wordlist 3,1,a b c)]"
            ),
            "[b c][][]"
        );
        assert_eq!(
            ex(d, "[$(wordlist 4,9,a b c)][$(wordlist 1,2,a b c,d e)]"),
            "[][a b]"
        );
        assert_eq!(
            ex(
                d,
                "[$(wordlist 1,4294967297,a b)][$(wordlist 1,99999999999999999999,a)]"
            ),
            "[a][]"
        );
        assert_eq!(
            err(d, "$(wordlist 00 ,1,a)"),
            "Makefile:1: *** invalid first argument to 'wordlist' function: '0'.  Stop."
        );
        assert_eq!(
            err(d, "$(wordlist 99999999999999999999,3,a)"),
            "Makefile:1: *** invalid first argument to 'wordlist' function: '-1'.  Stop."
        );
        assert_eq!(
            err(d, "$(wordlist 0,x,a)"),
            "Makefile:1: *** non-numeric second argument to 'wordlist' function: 'x'.  Stop."
        );
        assert_eq!(
            err(d, "$(wordlist 1,-1,a)"),
            "Makefile:1: *** non-numeric second argument to 'wordlist' function: '-1'.  Stop."
        );
        assert_eq!(
            ex(
                d,
                "[$(words   a  b c )][$(words )][$(words a\rb\x0cc\x0bd)]"
            ),
            "[3][0][4]"
        );
        assert_eq!(
            ex(
                d,
                "[$(firstword  )][$(firstword b a)][$(lastword a b c )][$(lastword a,b c)]"
            ),
            "[][b][c][c]"
        );
    }

    #[test]
    fn file_name_functions() {
        let d = &mut db();
        assert_eq!(
            ex(d, "$(dir a/b/c a /x ./ a/ . .. /)"),
            "a/b/ ./ / ./ a/ ./ ./ /"
        );
        assert_eq!(
            ex(d, "[$(notdir a/b/c a /x ./ a/ . .. / a/.b)]"),
            "[c a x   . ..  .b]"
        );
        assert_eq!(
            ex(d, "[$(suffix a.c b a/b.c.d a.b/c .x a. a/.c x.y/)]"),
            "[.c .d .x . .c]"
        );
        assert_eq!(
            ex(
                d,
                "[$(basename a.c b a/b.c.d a.b/c .x a. a/.c x.y/ a.b/c.)]"
            ),
            "[a b a/b.c a.b/c  a a/ x.y/ a.b/c]"
        );
        assert_eq!(
            ex(
                d,
                "[$(addsuffix .c,a b  )][$(addsuffix .c,)][$(addsuffix  s , a )]"
            ),
            "[a.c b.c][][as ]"
        );
        assert_eq!(
            ex(
                d,
                "[$(addprefix x/,a b)][$(addprefix ,a b)][$(addprefix  p , a )]"
            ),
            "[x/a x/b][a b][p a]"
        );
        assert_eq!(
            ex(d, "[$(join a b c,1 2)][$(join a,1 2 3)][$(join , 1 2)]"),
            "[a1 b2 c][a1 2 3][1 2]"
        );
        assert_eq!(ex(d, "[$(join a b,1,2 3)][$(join ,)]"), "[a1,2 b3][]");
    }

    #[test]
    fn abspath_is_lexical() {
        let cwd = "/tmp/wc";
        let got: Vec<String> = [
            "a",
            "./a",
            "../x",
            "/a/../../b",
            "//a/./b/",
            ".",
            "..",
            "/",
            "a/",
            "no/..",
            "~",
            "a//b",
        ]
        .iter()
        .map(|w| absolute_path(cwd, w))
        .collect();
        assert_eq!(
            got.join(" "),
            "/tmp/wc/a /tmp/wc/a /tmp/x /b /a/b /tmp/wc /tmp / /tmp/wc/a /tmp/wc /tmp/wc/~ /tmp/wc/a/b"
        );
        let d = &mut db();
        assert_eq!(ex(d, "[$(abspath )][$(abspath ///)]"), "[][/]");
    }

    #[test]
    fn conditionals() {
        let d = &mut db();
        assert_eq!(
            ex(
                d,
                "[$(if  ,a,b)][$(if x,a,b)][$(if x,a)][$(if ,a)][$(if x,a,b,c)][$(if ,a,b,c)]"
            ),
            "[b][a][a][][a][b,c]"
        );
        assert_eq!(
            err(d, "$(if x)"),
            "Makefile:1: *** insufficient number of arguments (1) to function 'if'.  Stop."
        );
        // Only blanks are stripped from conditions: a newline is true.
        assert_eq!(
            ex(d, "[$(if \n,y,n)][$(if \t ,y,n)][$(if x, a ,b)]"),
            "[y][n][ a ]"
        );
        assert_eq!(
            ex(
                d,
                "[$(or ,  , a ,b)][$(or ,  )][$(or  b  c ,x)][$(or \n,y)]"
            ),
            "[a][][b  c][\n]"
        );
        assert_eq!(
            ex(d, "[$(and a, b  c )][$(and a,,c)][$(and a, ,c)][$(and )]"),
            "[b  c][][][]"
        );
        // Lazy: the branch not taken is never expanded.
        assert_eq!(
            ex(
                d,
                "$(if x,a,$(error no))$(or a,$(error no))$(and ,$(error no))"
            ),
            "aa"
        );
        assert!(d.expand("$(if ,a,$(error yes))", &Scope::global()).is_err());
    }

    #[test]
    fn foreach_binds_an_automatic_simple_variable() {
        let d = &mut db();
        set(d, "x", "1", Flavor::Recursive);
        assert_eq!(
            ex(d, "[$(foreach x,a b c,<$(x)>)][$x][$(origin x)]"),
            "[<a> <b> <c>][1][file]"
        );
        assert_eq!(ex(d, "[$(foreach x,a b c,)][$(foreach x,,q)]"), "[  ][]");
        assert_eq!(
            ex(d, "$(foreach x,a b,$(origin x) $(flavor x))"),
            "automatic simple automatic simple"
        );
        assert_eq!(
            ex(
                d,
                "[$(foreach  x ,a b,$x)][$(foreach x,a b,$x,y)][$(foreach ,a b,x)]"
            ),
            "[a b][a,y b,y][x x]"
        );
        assert_eq!(ex(d, "$(foreach $(x)y,a b,$(1y))"), "a b");
        // The words are values, not expanded again.
        assert_eq!(
            ex(d, "$(foreach x,$$a $$(info z),[$x])"),
            "[$a] [$(info] [z)]"
        );
        assert_eq!(ex(d, "$(foreach x,a\nb,<$x>)"), "<a> <b>");
        assert_eq!(
            err(d, "$(foreach x,a b)"),
            "Makefile:1: *** insufficient number of arguments (2) to function 'foreach'.  Stop."
        );
    }

    #[test]
    fn call_user_functions() {
        let d = &mut db();
        set(d, "f", "<$0|$1|$2|$3>", Flavor::Recursive);
        assert_eq!(ex(d, "$(call f,a,b)"), "<f|a|b|>");
        set(d, "s", "<$0|$1|$2>", Flavor::Simple);
        assert_eq!(ex(d, "$(call s,a,b)"), "<$0|$1|$2>");
        set(d, "g", "<$1|$(call h,x)>", Flavor::Recursive);
        set(d, "h", "[$1|$2]", Flavor::Recursive);
        assert_eq!(ex(d, "$(call g,a,b)"), "<a|[x|]>");
        set(
            d,
            "rec",
            "$(if $1,$1 $(call rec,$(wordlist 2,9,$1)))",
            Flavor::Recursive,
        );
        assert_eq!(ex(d, "[$(call rec,a b c)]"), "[a b c b c c ]");
        set(d, "id", "$1", Flavor::Recursive);
        assert_eq!(
            ex(
                d,
                "[$(call  id , a , b )][$(call undefined,a)][$(call )][$(call ,a)]"
            ),
            "[ a ][][][]"
        );
        set(
            d,
            "o",
            "$(origin 1) $(flavor 1) $(origin 0)",
            Flavor::Recursive,
        );
        assert_eq!(ex(d, "$(call o,a)"), "automatic simple automatic");
        set(d, "outer", "$(call inner,A)", Flavor::Recursive);
        set(d, "inner", "$1-$2-$3", Flavor::Recursive);
        assert_eq!(ex(d, "$(call outer,a,b,c)"), "A--");
        set(d, "twice", "$1$(1)", Flavor::Recursive);
        assert_eq!(ex(d, "$(call twice,$$(info X))"), "$(info X)$(info X)");
        set(d, "fe", "$(foreach 1,x y,$1)", Flavor::Recursive);
        assert_eq!(ex(d, "$(call fe,a)"), "x y");
        set(d, "lit", "$$1", Flavor::Recursive);
        assert_eq!(ex(d, "$(call lit,a)"), "$1");
        assert_eq!(ex(d, "$(call \nid\n,q)"), "q");
    }

    #[test]
    fn call_builtin_functions() {
        let d = &mut db();
        assert_eq!(
            ex(
                d,
                "[$(call subst,a,b,aaa)][$(call if,,a,b)][$(call if,,a,b,c)]"
            ),
            "[bbb][b][b]"
        );
        assert_eq!(
            ex(
                d,
                "[$(call words)][$(call words,)][$(call word,1,a,b c)][$(call  strip , a  b )]"
            ),
            "[][0][a][a b]"
        );
        assert_eq!(
            ex(
                d,
                "[$(call foreach,x,a b,$$x)][$(call info)][$(call error)]"
            ),
            "[a b][][]"
        );
        assert_eq!(
            err(d, "$(call word,1)"),
            "Makefile:1: *** insufficient number of arguments (1) to function 'word'.  Stop."
        );
        // error/warning/info join their arguments with ", ".
        assert_eq!(err(d, "$(call error,a,b)"), "Makefile:1: *** a, b.  Stop.");
    }

    #[test]
    fn endless_call_recursion_is_an_error() {
        // Deep enough to need a big stack (~5 KB per level unoptimised).
        let h = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                let d = &mut db();
                set(d, "f", "$(call f,x)", Flavor::Recursive);
                err(d, "$(call f,a)")
            })
            .unwrap();
        let msg = h.join().unwrap();
        assert!(msg.contains("nested too deeply"), "{msg}");
    }

    #[test]
    fn value_origin_flavor() {
        let d = &mut db();
        set(d, "a", "$b x", Flavor::Recursive);
        d.globals
            .set("CC", Var::new("cc", Flavor::Recursive, Origin::Default));
        d.globals
            .set("c", Var::new("3", Flavor::Recursive, Origin::Override));
        d.globals
            .set("d", Var::new("4", Flavor::Simple, Origin::CommandLine));
        d.globals.set(
            "HOME",
            Var::new("/h", Flavor::Recursive, Origin::Environment),
        );
        assert_eq!(
            ex(
                d,
                "[$(value a)][$(value  a )][$(value $$)][$(value nope)][$(value CC)][$(value a,b)]"
            ),
            "[$b x][][][][cc][]"
        );
        assert_eq!(
            ex(d, "$(origin a)|$(origin c)|$(origin CC)|$(origin HOME)|$(origin nope)|$(origin a b)|$(origin d)|$(origin )"),
            "file|override|default|environment|undefined|undefined|command line|undefined"
        );
        assert_eq!(
            ex(d, "$(flavor CC)|$(flavor nope)|$(flavor d)|$(flavor  CC )"),
            "recursive|undefined|simple|undefined"
        );
        // Scope frames come first.
        let mut t = VarTable::default();
        t.set("a", Var::new("inner", Flavor::Simple, Origin::Automatic));
        let scope = Scope::global().inner(t);
        assert_eq!(
            d.expand("$(value a) $(origin a) $(flavor a)", &scope)
                .unwrap(),
            "inner automatic simple"
        );
    }

    /// The tree of files the wildcard tests search, as in the make session the
    /// expected values come from.
    fn wildcard_tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let p = t.path();
        for f in [
            ".hidden",
            "a",
            "a.c",
            "b",
            "c",
            "d.c",
            "sub",
            "dir/x/f.c",
            "dir/y/g.c",
            "dir/.hid.c",
        ] {
            let f = p.join(f);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "").unwrap();
        }
        std::os::unix::fs::symlink("nonexist", p.join("broken")).unwrap();
        std::os::unix::fs::symlink("a", p.join("lnk")).unwrap();
        t
    }

    #[test]
    fn wildcard_matches_like_glob() {
        let t = wildcard_tree();
        let root = t.path().to_str().unwrap().to_string();
        let d = &mut db();
        set(d, "T", &root, Flavor::Simple);
        // Results are compared with the temporary directory written as `T`.
        let mut check = |pat: &str, want: &str| {
            let got = ex(d, &format!("$(wildcard {pat})"));
            assert_eq!(got.replace(&root, "T"), want, "{pat}");
        };
        check("$T/*", "T/a T/a.c T/b T/broken T/c T/d.c T/dir T/lnk T/sub");
        // Each pattern sorted on its own, duplicates kept, missing names dropped.
        check("$T/c $T/b $T/nonexist $T/a", "T/c T/b T/a");
        check("$T/*.c $T/a* $T/nonexist*", "T/a.c T/d.c T/a T/a.c");
        check("$T/.*", "T/. T/.. T/.hidden");
        check(
            "$T/*/*/*.c $T/dir/.*",
            "T/dir/x/f.c T/dir/y/g.c T/dir/. T/dir/.. T/dir/.hid.c",
        );
        check(
            "$T/dir/ $T//a $T/*/ $T/dir/*/",
            "T/dir/ T//a T/dir/ T/dir/x/ T/dir/y/",
        );
        check("$T/a\\* $T/\\a", "T/a");
        check("$T/[ab] $T/[!ab] $T/[^ab]", "T/a T/b T/c T/c");
        check("$T/?", "T/a T/b T/c");
        check("$T/broken $T/brok*", "T/broken T/broken");
        check(
            "$T/[[:alpha:]].c $T/[a-c] $T/*[ $T/d*/*",
            "T/a.c T/d.c T/a T/b T/c T/dir/x T/dir/y",
        );
        check("$T/a/", "");
        assert_eq!(ex(d, "[$(wildcard )]"), "[]");
        assert_eq!(
            ex(
                d,
                "$(realpath $T/a $T/nonexist $T/lnk $T/broken $T/. $T/dir/x/../y $T/a/)"
            ),
            format!("{root}/a {root}/a {root} {root}/dir/y").replace(
                &root,
                &std::fs::canonicalize(&root).unwrap().to_string_lossy()
            )
        );
        assert_eq!(
            ex(d, "[$(realpath )][$(realpath ~nonexistent_user)]"),
            "[][]"
        );
    }

    #[test]
    fn file_reads_and_writes() {
        let t = tempfile::tempdir().unwrap();
        let d = &mut db();
        set(d, "T", t.path().to_str().unwrap(), Flavor::Simple);
        set(d, "nl", "\n", Flavor::Simple);
        let out = t.path().join("out");
        assert_eq!(
            ex(
                d,
                "$(file >$T/out,hello$(nl))$(file >>$T/out)$(file >>$T/out,)"
            ),
            ""
        );
        assert_eq!(ex(d, "$(file >>$T/out,x,y)$(file >>$T/out,$(nl))$(file >>$T/out,  z  )$(file >>\n $T/out,w)"), "");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "hello\n\nx,y\n\n  z  \nw\n"
        );
        // Only leading whitespace is dropped from the name.
        ex(d, "$(file > $T/sp ,a,b)");
        assert_eq!(
            std::fs::read_to_string(t.path().join("sp ")).unwrap(),
            "a,b\n"
        );
        ex(d, "$(file >$T/empty)");
        assert_eq!(std::fs::read_to_string(t.path().join("empty")).unwrap(), "");
        for (content, read) in [
            ("a\n\n", "a\n"),
            ("a\r\n", "a"),
            ("", ""),
            ("x", "x"),
            ("a\r", "a\r"),
            ("a\r\r\n", "a\r"),
        ] {
            std::fs::write(&out, content).unwrap();
            assert_eq!(ex(d, "$(file <$T/out)"), read, "{content:?}");
        }
        assert_eq!(ex(d, "[$(file <$T/nonexist)][$(file < $T/out )]"), "[][]");
        assert_eq!(
            err(d, "$(file >/nonexistent_dir/y,a)"),
            "Makefile:1: *** open: /nonexistent_dir/y: No such file or directory.  Stop."
        );
        assert_eq!(
            err(d, "$(file <$T/out,)"),
            "Makefile:1: *** file: too many arguments.  Stop."
        );
        assert_eq!(
            err(d, "$(file out,x)"),
            "Makefile:1: *** file: invalid file operation: out.  Stop."
        );
        assert_eq!(
            err(d, "$(file )"),
            "Makefile:1: *** file: invalid file operation: .  Stop."
        );
        assert_eq!(
            err(d, "$(file >)"),
            "Makefile:1: *** file: missing filename.  Stop."
        );
        assert_eq!(
            err(d, "$(file >$T)").replace(t.path().to_str().unwrap(), "T"),
            "Makefile:1: *** open: T: Is a directory.  Stop."
        );
        assert_eq!(
            err(d, "$(file <$T)").replace(t.path().to_str().unwrap(), "T"),
            "Makefile:1: *** read: T: Is a directory.  Stop."
        );
    }

    #[test]
    fn shell_output_and_status() {
        let d = &mut db();
        assert_eq!(
            ex(d, "[$(shell printf 'a\\nb\\n\\n\\n')][$(.SHELLSTATUS)]"),
            "[a b][0]"
        );
        assert_eq!(
            ex(d, "[$(shell echo a; exit 2)][$(.SHELLSTATUS)]"),
            "[a][2]"
        );
        assert_eq!(d.shell_status, Some(2));
        let status = d.globals.get(".SHELLSTATUS").unwrap();
        assert_eq!(
            (status.flavor, status.origin),
            (Flavor::Simple, Origin::Override)
        );
        assert_eq!(ex(d, "[$(shell kill -9 $$$$)][$(.SHELLSTATUS)]"), "[][137]");
        assert_eq!(
            ex(d, "[$(shell nonexistent_cmd_hb)][$(.SHELLSTATUS)]"),
            "[][127]"
        );
        assert_eq!(ex(d, "[$(shell echo a,b)][$(shell )]"), "[a,b][]");
        set(d, "SHELL", "/nonexistent/sh", Flavor::Recursive);
        assert_eq!(ex(d, "[$(shell echo hi)][$(.SHELLSTATUS)]"), "[][127]");
        set(d, "SHELL", "/bin/sh -e", Flavor::Recursive);
        assert_eq!(
            ex(d, "[$(shell echo hi)][$(.SHELLSTATUS)][$(shell  \n)]"),
            "[hi][0][]"
        );
        set(d, "SHELL", "/bin/sh", Flavor::Recursive);
        set(d, ".SHELLFLAGS", "-ec", Flavor::Recursive);
        assert_eq!(ex(d, "[$(shell false; echo hi)][$(.SHELLSTATUS)]"), "[][1]");
    }

    #[test]
    fn shell_output_folding_and_direct_commands() {
        use shell_command::{direct_argv, fold_output};
        assert_eq!(fold_output("a\r\n\r\n"), "a");
        assert_eq!(fold_output("a\n\r\n"), "a");
        assert_eq!(fold_output("a \n"), "a ");
        assert_eq!(fold_output("a\n\rb\r\r\n"), "a \rb\r");
        assert_eq!(fold_output("\n\na"), "  a");
        assert_eq!(fold_output("a\n\r"), "a \r");
        let argv = |c: &str| direct_argv("/bin/sh", "-c", c);
        assert_eq!(
            argv("cc  -o x\ty"),
            Some(vec!["cc".into(), "-o".into(), "x".into(), "y".into()])
        );
        assert_eq!(
            argv("cmd a\\ b c=d"),
            Some(vec!["cmd".into(), "a b".into(), "c=d".into()])
        );
        assert_eq!(argv("  "), Some(vec![]));
        for needs_shell in [
            "a;b", "a > b", "echo $$x", "cd /", "exit 1", "X=1 cmd", "a \"b\"", "a\nb",
        ] {
            assert_eq!(argv(needs_shell), None, "{needs_shell}");
        }
        assert_eq!(direct_argv("/bin/bash", "-c", "ls"), None);
        assert_eq!(direct_argv("/bin/sh", "-x -c", "ls"), None);
    }

    #[test]
    fn messages() {
        let d = &mut db();
        assert_eq!(ex(d, "[$(info  a,b )][$(warning w)][$(info)]"), "[][][]");
        assert_eq!(
            err(d, "$(error  oops , yes )"),
            "Makefile:1: *** oops , yes .  Stop."
        );
        assert_eq!(err(d, "$(error )"), "Makefile:1: *** .  Stop.");
        d.loc = None;
        assert_eq!(err(d, "$(error boom)"), "hbuild: *** boom.  Stop.");
    }

    #[test]
    fn eval_reads_makefile_text() {
        let d = &mut db();
        assert_eq!(ex(d, "[$(eval x := 1)][$(eval )]"), "[][]");
        assert_eq!(ex(d, "$(x)"), "1");
        assert_eq!(
            ex(d, "$(foreach v,a b,$(eval $v_var := $v!))$(a_var)$(b_var)"),
            " a!b!"
        );
        // The reader's location is restored afterwards.
        assert_eq!(d.loc, Some(Loc::new(&Arc::from("Makefile"), 1)));
    }
}
