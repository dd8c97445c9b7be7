//! `-p` (`--print-data-base`) against GNU make: the parts other tools read.
//!
//! Shell completion for make runs `make -npq __BASH_MAKE_COMPLETION__=1
//! .DEFAULT` and takes, from the `# Files` section, each block that is not
//! `# Not a target:`; IDE plugins read the variables and rules the same way.
//! make prints its hash tables in hash order and with statistics, so the
//! comparison is of parsed contents, not of bytes: the targets offered, each
//! target's rule line, flags and recipe, and the makefile's variables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hbuild");

/// One block of the `# Files` section.
#[derive(Debug, PartialEq, Eq)]
struct FileBlock {
    not_a_target: bool,
    /// The rule line (`name: deps`), the last `name:` line of the block.
    rule: String,
    /// Comment lines about the file that do not depend on hash tables or
    /// times: phony, precious, intermediate, stem, also-makes, recipe origin.
    notes: BTreeSet<String>,
    recipe: Vec<String>,
}

#[derive(Debug, Default)]
struct DataBase {
    /// Whether the markers tools look for are there, in order.
    markers: Vec<String>,
    /// Variable name → (origin comment, assignment line or define block).
    variables: BTreeMap<String, (String, String)>,
    files: BTreeMap<String, FileBlock>,
}

fn parse(text: &str) -> DataBase {
    let lines: Vec<&str> = text.lines().collect();
    let mut db = DataBase::default();
    let mut section = "";
    let mut origin = String::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        for marker in [
            "# Make data base",
            "# Variables",
            "# Files",
            "# Finished Make data base",
        ] {
            if l.starts_with(marker) {
                db.markers.push(marker.to_string());
                section = marker;
            }
        }
        if l.starts_with("# Pattern-specific") || l.starts_with("# Implicit Rules") {
            section = "";
        }
        // make ends the file list with its hash-table statistics.
        if l.starts_with("# VPATH") || l.starts_with("# files hash-table") {
            section = "";
        }
        match section {
            "# Variables" if l.starts_with("# ") => origin = l[2..].to_string(),
            "# Variables" if l.starts_with("define ") => {
                let name = l.split_whitespace().nth(1).unwrap_or("").to_string();
                let start = i;
                while i < lines.len() && lines[i] != "endef" {
                    i += 1;
                }
                let block = lines[start..=i.min(lines.len() - 1)].join("\n");
                db.variables.insert(name, (origin.clone(), block));
            }
            "# Variables" if !l.is_empty() && !l.starts_with('#') => {
                if let Some((name, _)) = l.split_once(' ') {
                    db.variables
                        .insert(name.to_string(), (origin.clone(), l.to_string()));
                }
            }
            "# Files" if !l.is_empty() && !l.starts_with("# Files") => {
                let start = i;
                while i < lines.len() && !lines[i].is_empty() {
                    i += 1;
                }
                if let Some((name, block)) = file_block(&lines[start..i]) {
                    db.files.insert(name, block);
                }
            }
            _ => {}
        }
        i += 1;
    }
    db
}

fn file_block(lines: &[&str]) -> Option<(String, FileBlock)> {
    let not_a_target = lines.contains(&"# Not a target:");
    // Target-specific variables come first as `name: VAR = value`.
    let rule = lines
        .iter()
        .rfind(|l| !l.starts_with('#') && !l.starts_with('\t'))?
        .to_string();
    let name = rule.split(':').next()?.to_string();
    let kept = [
        "Phony",
        "Precious",
        "intermediate",
        "stem",
        "Also makes",
        "recipe to execute",
        "Command line target",
    ];
    let notes = lines
        .iter()
        .filter(|l| l.starts_with("#  ") && kept.iter().any(|k| l.contains(k)))
        .map(|l| l.to_string())
        .collect();
    let recipe = lines
        .iter()
        .filter(|l| l.starts_with('\t'))
        .map(|l| l.to_string())
        .collect();
    Some((
        name,
        FileBlock {
            not_a_target,
            rule,
            notes,
            recipe,
        },
    ))
}

/// What shell completion would offer, read the way its script reads the
/// `# Files` section: in each block, the last `name:` line before any
/// `# Not a target:` line (which hides the rest of the block), unless the
/// block says the file is intermediate; special and hidden names left out.
fn completion(text: &str) -> BTreeSet<String> {
    let files = text
        .split("\n# Files\n")
        .nth(1)
        .and_then(|t| t.split("\n# VPATH").next())
        .unwrap_or("");
    let mut offered = BTreeSet::new();
    for block in files.split("\n\n") {
        let mut held: Option<&str> = None;
        for line in block.lines() {
            if line == "# Not a target:" {
                break;
            }
            if line.starts_with("#  File is an intermediate prerequisite") {
                held = None;
                break;
            }
            let is_rule = line
                .split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && !n.contains(['#', '\t', '%']));
            if is_rule {
                held = Some(line.split(':').next().unwrap_or(""));
            }
        }
        if let Some(name) = held.filter(|n| n.starts_with(|c: char| c.is_ascii_alphanumeric())) {
            offered.insert(name.to_string());
        }
    }
    offered
}

fn run(program: &str, dir: &Path, args: &[&str]) -> (String, Option<i32>) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("LC_ALL", "C")
        .env_remove("MAKEFLAGS")
        .env_remove("GNUMAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .expect("run");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

fn project(makefile: &str, files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Makefile"), makefile).unwrap();
    for f in files {
        std::fs::write(dir.path().join(f), "").unwrap();
    }
    dir
}

/// Compare make's and hbuild's databases for `args`, on the variables named
/// in `vars` and on every file the makefile names.
fn compare(makefile: &str, files: &[&str], args: &[&str], vars: &[&str]) -> DataBase {
    // Each in a project of its own: the build may write files.
    let (m_dir, h_dir) = (project(makefile, files), project(makefile, files));
    let (m_out, m_code) = run("make", m_dir.path(), args);
    let (h_out, h_code) = run(BIN, h_dir.path(), args);
    assert_eq!(
        m_code, h_code,
        "exit status of make and hbuild for {args:?}"
    );
    let (m, h) = (parse(&m_out), parse(&h_out));
    assert_eq!(m.markers, h.markers, "section markers:\n{h_out}");
    assert_eq!(completion(&m_out), completion(&h_out), "completion targets");
    for v in vars {
        assert_eq!(m.variables.get(*v), h.variables.get(*v), "variable {v}");
    }
    for (name, block) in &m.files {
        // Files only mentioned in make's built-in rules (`.c.o`, `.SUFFIXES`
        // members) are left out; everything the makefile names must agree.
        if !makefile.contains(name.as_str()) || name.starts_with('.') {
            continue;
        }
        assert_eq!(Some(block), h.files.get(name), "file {name}:\n{h_out}");
    }
    h
}

const PROJECT: &str = "\
CC = gcc
OBJS := main.o util.o
override MODE = fast
define BANNER
one
two
endef
all: prog | outdir
prog: $(OBJS)
\t$(CC) -o $@ $^
%.o: %.c
\t$(CC) -c $< -o $@
main.o: CFLAGS = -O2
outdir:
\tmkdir -p $@
clean:
\trm -f prog $(OBJS)
_hidden:
\t@:
one two &: seed
\ttouch one two
keep.txt:
\ttouch $@
.PHONY: all clean
.PRECIOUS: keep.txt
";

#[test]
fn completion_and_rules_match_make_without_building() {
    // What shell completion runs.
    compare(
        PROJECT,
        &["main.c", "util.c"],
        &["-npq", "__BASH_MAKE_COMPLETION__=1", ".DEFAULT"],
        &["CC", "OBJS", "MODE", "BANNER", "__BASH_MAKE_COMPLETION__"],
    );
}

#[test]
fn after_a_build_the_files_say_what_happened() {
    let db = compare(
        PROJECT,
        &["main.c", "util.c", "seed"],
        &["-p", "-s", "one"],
        &["CC", "OBJS", "MODE"],
    );
    let one = &db.files["one"];
    assert!(one.notes.contains("#  Command line target."), "{one:?}");
    // The comparison above saw the same notes; check the state lines too.
    let dir = project(PROJECT, &["seed"]);
    let (out, code) = run(BIN, dir.path(), &["-p", "-s", "one"]);
    assert_eq!(code, Some(0));
    let block: Vec<&str> = out
        .split("\n\n")
        .find(|b| b.lines().any(|l| l.starts_with("one: seed")))
        .expect("a block for 'one'")
        .lines()
        .collect();
    assert!(block.contains(&"#  File has been updated."), "{block:?}");
    assert!(block.contains(&"#  Successfully updated."), "{block:?}");
    assert!(
        block.iter().any(|l| l.starts_with("#  Last modified 2")),
        "{block:?}"
    );
}

#[test]
fn the_data_base_comes_after_the_build_output() {
    let dir = project("all:\n\t@echo BUILT\n", &[]);
    for program in ["make", BIN] {
        let (out, code) = run(program, dir.path(), &["-p"]);
        assert_eq!(code, Some(0));
        let built = out.find("BUILT\n").expect("recipe output");
        let base = out.find("# Make data base").expect("data base");
        let finished = out.find("# Finished Make data base").expect("end");
        assert!(built < base && base < finished, "{program}:\n{out}");
    }
}

#[test]
fn a_failed_read_still_prints_the_data_base() {
    // No makefile at all: make prints its built-in database, then gives up.
    let dir = tempfile::tempdir().unwrap();
    for program in ["make", BIN] {
        let (out, code) = run(program, dir.path(), &["-p"]);
        assert_eq!(code, Some(2), "{program}");
        assert!(out.contains("# Make data base"), "{program}");
        assert!(out.contains("# Finished Make data base"), "{program}");
        assert!(out.contains("\n%.o: %.c\n"), "{program}: built-in rules");
    }
}
