//! End-to-end engine tests: makefiles read by the real reader, recipes run by
//! real processes on absolute paths in a temporary directory.

use crate::cli::Options;
use crate::diag::Loc;
use crate::engine::build;
use crate::lang::database::ReadOptions;
use crate::lang::Database;
use std::path::Path;
use std::sync::Arc;

fn read(text: &str) -> Database {
    let mut db = Database::new(ReadOptions::default());
    let loc = Loc {
        file: Arc::from("Makefile"),
        line: 1,
    };
    db.eval_text(text, &loc).expect("makefile reads");
    db.finish_reading(None).expect("reading finishes");
    db
}

/// These tests are about scheduling, not the sandbox (tests/hermetic.rs).
fn opts() -> Options {
    Options {
        jobs: Some(1),
        silent: true,
        sandbox: Some("off".into()),
        ..Default::default()
    }
}

fn run(dir: &Path, text: &str, o: &Options, goals: &[&str]) -> i32 {
    let text = text.replace("@D", dir.to_str().unwrap());
    let mut db = read(&text);
    let goals: Vec<String> = goals
        .iter()
        .map(|g| g.replace("@D", dir.to_str().unwrap()))
        .collect();
    build(&mut db, o, &goals, None)
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
}

#[test]
fn builds_prerequisites_depth_first_then_up_to_date() {
    let d = tempfile::tempdir().unwrap();
    let mk = "@D/all: @D/a @D/b\n\techo all >> @D/log; touch $@\n@D/a:\n\techo a >> @D/log; touch $@\n@D/b: @D/a\n\techo b >> @D/log; touch $@\n";
    assert_eq!(run(d.path(), mk, &opts(), &["@D/all"]), 0);
    assert_eq!(log(d.path()), "a\nb\nall\n");
    assert_eq!(run(d.path(), mk, &opts(), &["@D/all"]), 0);
    assert_eq!(log(d.path()), "a\nb\nall\n");
    let q = Options {
        question: true,
        ..opts()
    };
    assert_eq!(run(d.path(), mk, &q, &["@D/all"]), 0);
    std::fs::remove_file(d.path().join("a")).unwrap();
    assert_eq!(run(d.path(), mk, &q, &["@D/all"]), 1);
}

#[test]
fn failure_stops_unless_keep_going() {
    let d = tempfile::tempdir().unwrap();
    let mk = "all: bad good\nbad:\n\tfalse\ngood:\n\techo good >> @D/log\n";
    assert_eq!(run(d.path(), mk, &opts(), &["all"]), 2);
    assert_eq!(log(d.path()), "");
    let k = Options {
        keep_going: true,
        ..opts()
    };
    assert_eq!(run(d.path(), mk, &k, &["all"]), 2);
    assert_eq!(log(d.path()), "good\n");
    let i = Options {
        ignore_errors: true,
        ..opts()
    };
    assert_eq!(run(d.path(), mk, &i, &["all"]), 0);
}

#[test]
fn implicit_chain_removes_intermediate() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("x.y"), "y").unwrap();
    let mk = "%.o: %.c\n\tcp $< $@\n%.c: %.y\n\tcp $< $@\n";
    assert_eq!(run(d.path(), mk, &opts(), &["@D/x.o"]), 0);
    assert!(d.path().join("x.o").exists());
    assert!(!d.path().join("x.c").exists());
    // The missing intermediate is not remade while x.o is newer than x.y.
    assert_eq!(
        run(
            d.path(),
            mk,
            &Options {
                question: true,
                ..opts()
            },
            &["@D/x.o"]
        ),
        0
    );
}

#[test]
fn dry_run_and_touch() {
    let d = tempfile::tempdir().unwrap();
    let mk = "@D/t:\n\techo run >> @D/log\n";
    assert_eq!(
        run(
            d.path(),
            mk,
            &Options {
                dry_run: true,
                ..opts()
            },
            &["@D/t"]
        ),
        0
    );
    assert!(!d.path().join("t").exists() && log(d.path()).is_empty());
    assert_eq!(
        run(
            d.path(),
            mk,
            &Options {
                touch: true,
                ..opts()
            },
            &["@D/t"]
        ),
        0
    );
    assert!(d.path().join("t").exists() && log(d.path()).is_empty());
}

#[test]
fn missing_prerequisite_without_rule_fails() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(
        run(d.path(), "all: @D/nothing\n\ttrue\n", &opts(), &["all"]),
        2
    );
    // A rule with neither recipe nor prerequisites forces its dependents.
    assert_eq!(
        run(
            d.path(),
            "all: FORCE\n\techo x >> @D/log\nFORCE:\n",
            &opts(),
            &["all"]
        ),
        0
    );
    assert_eq!(log(d.path()), "x\n");
}

#[test]
fn parallel_jobs_overlap() {
    let d = tempfile::tempdir().unwrap();
    let mk = "all: a b c d\na b c d:\n\tsleep 0.3\n";
    let start = std::time::Instant::now();
    assert_eq!(
        run(
            d.path(),
            mk,
            &Options {
                jobs: Some(4),
                ..opts()
            },
            &["all"]
        ),
        0
    );
    assert!(start.elapsed().as_secs_f64() < 1.0);
    let mk = "all: a b\na:\n\tsleep 0.2; echo a >> @D/log\nb: a\n\techo b >> @D/log\n";
    assert_eq!(
        run(
            d.path(),
            mk,
            &Options {
                jobs: None,
                ..opts()
            },
            &["all"]
        ),
        0
    );
    assert_eq!(log(d.path()), "a\nb\n");
}

#[test]
fn delete_on_error_removes_partial_target() {
    let d = tempfile::tempdir().unwrap();
    let mk = ".DELETE_ON_ERROR:\n@D/t:\n\techo partial > $@; false\n";
    assert_eq!(run(d.path(), mk, &opts(), &["@D/t"]), 2);
    assert!(!d.path().join("t").exists());
}
