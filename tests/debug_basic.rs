//! `--debug=basic` against GNU make: the same account of what is remade and
//! why, line for line and with make's indentation, at `-j1`.
//!
//! Both programs run on their own copy of each project, prepared by the same
//! shell commands. The version banner that starts the output differs (it
//! names the program) and is left out; `hbuild:` is read as `make:`.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hbuild");

const CHAIN: &str = "\
all: prog t
prog: a.o b.o
\t@touch $@
%.o: %.c h.h
\t@touch $@
t:: a
\t@echo t1
t:: b
\t@echo t2
a b:
\t@touch $@
.PHONY: all
";

const IMPLICIT: &str = "\
all: x.out sub
%.out: %.mid
\t@cp $< $@
%.mid: %.src
\t@cp $< $@
sub:
\t@$(MAKE) -s -f sub.mk inner
.PHONY: sub
";

const FAILING: &str = "\
x: y
\tfalse
y:
\t@touch y
z: nope
";

const REMADE_INCLUDE: &str = "\
all: ; @echo X=$(X)
include inc.mk
inc.mk:
\t@echo 'X = 1' > $@
";

/// Run `program` in a fresh project made by `setup` (shell commands run
/// in it), return stdout after the banner, with make's names.
fn trace(program: &str, files: &[(&str, &str)], setup: &str, args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    sh(dir.path(), setup);
    let out = Command::new(program)
        .arg("--debug=b")
        .args(args)
        .current_dir(dir.path())
        .env("LC_ALL", "C")
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .expect("run");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let from = text.find("Reading makefiles...").unwrap_or(0);
    text[from..]
        .lines()
        .filter(|l| !is_banner(l))
        .map(|l| {
            let l = l.replace(BIN, "make").replace("hbuild", "make");
            match l.strip_prefix("Re-executing[1]: ") {
                // The program as it was invoked: a path for the test's hbuild.
                Some(rest) => format!(
                    "Re-executing[1]: make{}",
                    &rest[rest.find(' ').unwrap_or(rest.len())..]
                ),
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_banner(line: &str) -> bool {
    [
        "GNU Make ",
        "Built for ",
        "Copyright ",
        "License ",
        "This is free software",
        "There is NO WARRANTY",
        "hbuild ",
        "Compatible with GNU Make",
        "to the extent permitted",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

fn sh(dir: &Path, script: &str) {
    let ok = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "setup failed: {script}");
}

fn same(files: &[(&str, &str)], setup: &str, args: &[&str]) {
    let make = trace("make", files, setup, args);
    let hbuild = trace(BIN, files, setup, args);
    assert!(
        make.contains("Updating goal targets...."),
        "make printed no trace:\n{make}"
    );
    assert_eq!(make, hbuild, "--debug=b {args:?} after `{setup}`");
}

#[test]
fn a_fresh_build_and_a_rebuild() {
    let files = [("Makefile", CHAIN)];
    same(&files, "touch a.c b.c h.h", &[]);
    // b.c newer than b.o: one reason line, then the chain up.
    same(
        &files,
        "touch a.c b.c h.h a b && touch -d '1 hour ago' a.c b.c h.h && \
         touch -d '30 min ago' a.o b.o prog && touch b.c",
        &[],
    );
}

#[test]
fn implicit_chains_and_sub_makes() {
    let files = [("Makefile", IMPLICIT), ("sub.mk", "inner: ; @echo inner\n")];
    same(&files, "echo s > x.src", &[]);
    // The intermediate file is gone and nothing is newer: not made.
    same(
        &files,
        "echo s > x.src && touch -d '1 hour ago' x.src && touch x.out",
        &[],
    );
    same(&files, "echo s > x.src", &["-n"]);
    same(&files, "echo s > x.src", &["-q"]);
    same(&files, "echo s > x.src", &["-t"]);
}

#[test]
fn failures_with_and_without_keep_going() {
    let files = [("Makefile", FAILING)];
    same(&files, "", &["x"]);
    same(&files, "", &["-k", "x", "z"]);
}

#[test]
fn a_remade_makefile_is_said_and_re_executed() {
    same(&[("Makefile", REMADE_INCLUDE)], "", &[]);
}

#[test]
fn debug_flags_that_ask_for_nothing_print_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Makefile"), "all: ; @echo hi\n").unwrap();
    for flags in ["--debug=n", "--debug=basic,none"] {
        let out = Command::new(BIN)
            .arg(flags)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "{flags}");
    }
}
