//! Property tests: reading and expanding arbitrary makefile-like text never
//! panics and always finishes. Errors are fine; a panic or a hang is a bug.
//!
//! 256 cases per property by default; more with `PROPTEST_CASES=N`.
//!
//! Makefiles come from two generators: a soup of tokens (mostly invalid, for
//! the error paths) and statements with balanced references (assignments,
//! rules, conditionals, `define`, `$(eval)`), which get past the first line.
//! Both leave out what could touch the machine or loop forever in GNU make too:
//! `$(shell)`, `$(file)`, `$(call)` (make itself recurses until it crashes on
//! `f = $(call f)`), `$(value)` (`Y = $(eval $(value Y))` recurses the same
//! way) and the printing functions. `!=` stays: the words it can run as a
//! command are harmless names that do not exist or shell syntax errors.

use hbuild::diag::Loc;
use hbuild::lang::expand::{find_close, split_args};
use hbuild::lang::text::{patsubst, subst_ref, words, Pattern};
use hbuild::lang::vars::Scope;
use hbuild::lang::Database;
use proptest::prelude::*;
use proptest::sample::select;
use std::sync::{mpsc, Arc, Once};
use std::thread;
use std::time::Duration;

/// How long one case may take before it counts as a hang (debug builds are slow).
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
/// Evaluation runs on its own thread with this stack, so deep but finite
/// nesting is not mistaken for a bug.
const STACK_SIZE: usize = 16 << 20;
/// Variables expanded after reading, at most.
const MAX_VARS_EXPANDED: usize = 32;

/// References, delimiters, operators and line structure.
const SYNTAX: &[&str] = &[
    "$(", "$(", ")", ")", "${", "}", "(", "$", "$$", "$@", "$<", "$^", "$*", "$A", "$(A:", ":",
    ":", "=", "=", ":=", "::=", "+=", "?=", "!=", "::", "&:", ";", "|", "%", "#", "\\", "\\\n",
    ",", "\n", "\n", "\n", "\t", "\t", " ", " ",
];

#[rustfmt::skip]
const DIRECTIVES: &[&str] = &[
    "ifeq ", "ifneq ", "ifdef ", "ifndef ", "else", "endif", "define ", "endef", "include ",
    "-include ", "export ", "unexport ", "override ", "undefine ", "private ", "vpath ",
];

#[rustfmt::skip]
const SPECIAL_TARGETS: &[&str] = &[
    ".PHONY", ".SUFFIXES", ".SECONDEXPANSION", ".DEFAULT", ".RECIPEPREFIX", ".c.o",
];

/// Functions, each generated as `$(NAME ` (its arguments and `)` are up to chance).
#[rustfmt::skip]
const FUNCTIONS: &[&str] = &[
    "eval", "subst", "patsubst", "strip", "findstring", "filter", "filter-out", "sort", "word",
    "words", "wordlist", "firstword", "lastword", "dir", "notdir", "suffix", "basename",
    "addsuffix", "addprefix", "join", "if", "or", "and", "foreach", "origin", "flavor", "error",
    "abspath", "wildcard",
];

/// Names and words; none is a file that `include` or `!=` could find.
const WORDS: &[&str] = &[
    "A", "B", "C", "x", "y", "foo", "foo.c", "a.o", "%.o", "%.c", "0", "1", "2",
];

/// Names whose values are expanded after reading, besides those defined.
const PROBE_NAMES: &[&str] = &["A", "B", "C", "x", "y", "foo", "%", ".VARIABLES"];

/// Token soup: mostly invalid text, to exercise the error paths.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        6 => fixed(SYNTAX),
        1 => fixed(DIRECTIVES),
        1 => fixed(SPECIAL_TARGETS),
        2 => select(FUNCTIONS).prop_map(|f| format!("$({f} ")),
        4 => fixed(WORDS),
    ];
    prop::collection::vec(token, 0..64).prop_map(|t| t.concat())
}

fn fixed(list: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    select(list).prop_map(str::to_string)
}

/// Text with balanced references: reaches past the first line more often.
fn expression() -> impl Strategy<Value = String> {
    let name = fixed(&["A", "B", "C", "x", "@", "<", "*"]);
    let leaf = prop_oneof![
        fixed(WORDS),
        name.clone().prop_map(|n| format!("$({n})")),
        fixed(&["$A", "$@", "$$", "%", " ", ","]),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            (
                select(FUNCTIONS),
                prop::collection::vec(inner.clone(), 1..4)
            )
                .prop_map(|(f, args)| format!("$({f} {})", args.join(","))),
            inner.clone().prop_map(|e| format!("$({e})")),
            (name.clone(), inner.clone(), inner.clone())
                .prop_map(|(n, a, b)| format!("${{{n}:{a}={b}}}")),
            prop::collection::vec(inner, 1..4).prop_map(|v| v.join(" ")),
        ]
    })
}

/// One makefile construct, possibly spanning lines (none ends with a newline).
fn statement() -> impl Strategy<Value = String> {
    let name = fixed(&["A", "B", "C", "x", "y"]);
    let op = fixed(&["=", ":=", "::=", "+=", "?="]);
    let prefix = fixed(&["", "", "override ", "export ", "private "]);
    let simple = prop_oneof![
        (prefix, name.clone(), op.clone(), expression())
            .prop_map(|(p, n, o, e)| format!("{p}{n} {o} {e}")),
        (expression(), expression(), expression()).prop_map(|(t, d, r)| format!("{t}: {d}\n\t{r}")),
        (
            expression(),
            expression(),
            name.clone(),
            op.clone(),
            expression()
        )
            .prop_map(|(t, d, n, o, e)| format!("{t}: {d}\n{t}: {n} {o} {e}")),
        (expression(), expression()).prop_map(|(o, d)| format!("{o}.o: %.c | {d}")),
        (
            fixed(&["export", "unexport", "undefine", "vpath"]),
            expression()
        )
            .prop_map(|(d, e)| format!("{d} {e}")),
        expression().prop_map(|e| format!("$(eval {e})")),
        expression(),
    ];
    simple.prop_recursive(2, 12, 3, move |inner| {
        let block = prop::collection::vec(inner, 0..3).prop_map(|v| v.join("\n"));
        prop_oneof![
            (expression(), expression(), block.clone(), block.clone())
                .prop_map(|(a, b, t, e)| format!("ifeq ({a},{b})\n{t}\nelse\n{e}\nendif")),
            (name.clone(), block.clone()).prop_map(|(n, t)| format!("ifdef {n}\n{t}\nendif")),
            (name.clone(), op.clone(), block)
                .prop_map(|(n, o, t)| format!("define {n} {o}\n{t}\nendef")),
        ]
    })
}

fn makefile_text() -> impl Strategy<Value = String> {
    let structured = prop::collection::vec(statement(), 0..8).prop_map(|v| v.join("\n") + "\n");
    prop_oneof![token_soup(), structured]
}

/// Give the whole test process an empty stdin, so a command run by `!=` can
/// never wait for a terminal.
fn detach_stdin() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(null) = std::fs::File::open("/dev/null") {
            use std::os::fd::AsRawFd;
            // SAFETY: dup2 on two valid descriptors; fd 0 is replaced atomically.
            unsafe { libc::dup2(null.as_raw_fd(), 0) };
        }
    });
}

/// Run `work` on its own thread; fail on a panic, stop the whole run on a hang
/// (a stuck thread cannot be killed, and shrinking would hang again).
fn finishes(input: &str, work: impl FnOnce() + Send + 'static) -> Result<(), TestCaseError> {
    let (done_tx, done_rx) = mpsc::channel();
    let handle = thread::Builder::new()
        .stack_size(STACK_SIZE)
        .spawn(move || {
            work();
            let _ = done_tx.send(());
        })
        .expect("spawn a worker thread");
    match done_rx.recv_timeout(CASE_TIMEOUT) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            eprintln!("hang (> {CASE_TIMEOUT:?}) on input:\n{input:?}");
            std::process::exit(101);
        }
    }
    match handle.join() {
        Ok(()) => Ok(()),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("panicked: {msg}")))
        }
    }
}

/// Read `text`, then expand every variable it defined and each of its lines.
fn read_and_expand(text: &str) {
    let mut db = Database::new(Default::default());
    let loc = Loc::new(&Arc::from("fuzz.mk"), 1);
    let _ = db.eval_text(text, &loc);
    let scope = Scope::global();
    let mut names: Vec<String> = db.globals.iter().map(|(n, _)| n.clone()).collect();
    names.sort_unstable();
    names.truncate(MAX_VARS_EXPANDED);
    names.extend(PROBE_NAMES.iter().map(|n| n.to_string()));
    for name in &names {
        let _ = db.var_value(name, &scope);
    }
    for line in text.lines() {
        let _ = db.expand(line, &scope);
    }
}

proptest! {
    #[test]
    fn reading_and_expanding_never_panics_or_hangs(text in makefile_text()) {
        detach_stdin();
        let input = text.clone();
        finishes(&input, move || read_and_expand(&text))?;
    }

    #[test]
    fn text_helpers_keep_their_invariants(
        s in "[a-z%\\\\(){},$. \t\n]{0,40}|\\PC{0,20}",
        pat in "[a-z%\\\\.]{0,8}",
        max in 0usize..5,
    ) {
        // Splitting loses nothing and respects the limit.
        let pieces = split_args(&s, b'(', b')', max);
        prop_assert_eq!(pieces.join(","), s.clone());
        if max > 0 {
            prop_assert!(pieces.len() <= max);
        }
        if let Some(i) = find_close(&s, 0, b'(', b')') {
            prop_assert_eq!(s.as_bytes()[i], b')');
        }

        // Words are non-empty and blank-free; joining them is a fixed point.
        let ws: Vec<&str> = words(&s).collect();
        prop_assert!(ws.iter().all(|w| !w.is_empty() && !w.contains(|c: char| c.is_ascii_whitespace())));
        let joined = ws.join(" ");
        prop_assert_eq!(words(&joined).collect::<Vec<_>>(), ws.clone());

        // A matched stem fills the pattern back into the word.
        if let Some(p) = Pattern::parse(&pat) {
            for w in &ws {
                if let Some(stem) = p.matches(w) {
                    prop_assert_eq!(&p.fill(stem), w);
                }
            }
        }

        // `%` to `%` is the identity on words; substitution keeps the word count.
        prop_assert_eq!(patsubst("%", "%", &s), joined.clone());
        prop_assert_eq!(words(&patsubst(&pat, "x", &s)).count(), ws.len());
        let _ = subst_ref(&pat, "%.o", &s);
    }
}
