//! Issue 5 end to end: fixtures with planted faults (`fixtures/audit/`), each
//! found and named exactly (target, path, operation) by `--sandbox=enforce`
//! (the build fails, exit 2) and by `--sandbox=audit` (a per-target report,
//! exit 1), and the `--fix-deps` loop on a C project without header
//! dependencies. `all_tests_as_unprivileged_user` re-runs this binary as
//! user 65534.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Set in the unprivileged re-run, so it runs the tests and does not recurse.
const UNPRIV_ENV: &str = "HBUILD_TEST_UNPRIVILEGED";
/// The hbuild binary to run (the re-run points it at a world-readable copy).
const BIN_ENV: &str = "HBUILD_BIN";

fn hbuild_bin() -> PathBuf {
    std::env::var_os(BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hbuild")))
}

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/audit")
        .join(name)
}

/// What one hbuild run did.
struct Run {
    status: String,
    stdout: String,
    stderr: String,
}

impl Run {
    fn text(&self) -> String {
        format!(
            "status: {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn succeeded(&self) -> &Run {
        assert_eq!(self.status, "exit 0", "{}", self.text());
        self
    }

    /// The build failed (exit 2, not killed by a signal) and stderr holds `line`.
    fn failed_with(&self, line: &str) -> &Run {
        assert_eq!(self.status, "exit 2", "{}", self.text());
        assert!(
            self.stderr.contains(line),
            "want {:?} in:\n{}",
            line,
            self.text()
        );
        self
    }
}

/// A copy of a fixture in a temporary directory, with a private HOME.
struct Project {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Project {
    fn new(fixture: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("hbuild-audit-")
            .tempdir()
            .unwrap();
        // A fixed time in the past: whatever a recipe writes is newer.
        let past = SystemTime::now() - Duration::from_secs(3600);
        common::copy_fixture(&fixture_dir(fixture), dir.path(), &[], past);
        let home = tempfile::Builder::new()
            .prefix("hbuild-home-")
            .tempdir()
            .unwrap();
        Project { dir, home }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.path(rel)).ok()
    }

    fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    fn write(&self, rel: &str, text: &str) {
        fs::write(self.path(rel), text).unwrap();
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_in(".", args)
    }

    /// Run hbuild in `sub` of the project with a clean environment.
    fn run_in(&self, sub: &str, args: &[&str]) -> Run {
        let env: Vec<(String, String)> = [
            ("PATH", "/usr/bin:/bin"),
            ("LC_ALL", "C"),
            ("TMPDIR", "/tmp"),
            ("HOME", &self.home.path().display().to_string()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (status, stdout, stderr) = common::run_with_timeout(
            &hbuild_bin().display().to_string(),
            &args,
            &self.path(sub),
            &env,
            Duration::from_secs(120),
        );
        Run {
            status,
            stdout,
            stderr,
        }
    }

    /// Run a program the build made.
    fn output_of(&self, program: &str) -> String {
        let out = Command::new(self.path(program)).output().unwrap();
        assert!(out.status.success(), "{program} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

// ------------------------------------------------------------ the faults

/// Build `goal` of the faults fixture in enforce mode, then in audit mode on
/// a fresh copy: enforce names `enforce_line` (after `[Makefile:N: step] `)
/// and exits 2; audit reports `audit_line` in the step's block and exits 1.
fn fault(goal: &str, vars: &[&str], enforce_line: &str, audit_line: &str) -> (Project, Project) {
    fault_in(goal, goal, vars, enforce_line, audit_line)
}

fn fault_in(
    goal: &str,
    target: &str,
    vars: &[&str],
    enforce_line: &str,
    audit_line: &str,
) -> (Project, Project) {
    let enforce = Project::new("faults");
    let mut args = vec!["-j2"];
    args.extend_from_slice(vars);
    args.push(goal);
    enforce
        .run(&args)
        .failed_with(&format!("{target}] {enforce_line}"));
    let audit = Project::new("faults");
    let mut args = vec!["--sandbox=audit", "-j2"];
    args.extend_from_slice(vars);
    args.push(goal);
    let r = audit.run(&args);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let block = audit_block(&r.stdout, target)
        .unwrap_or_else(|| panic!("no block for {target}:\n{}", r.text()));
    assert!(
        block.contains(audit_line),
        "want {audit_line:?} in:\n{}",
        r.text()
    );
    (enforce, audit)
}

/// The lines of the audit report about `target`.
fn audit_block(stdout: &str, target: &str) -> Option<String> {
    let header = format!(": {target}]");
    let mut lines = stdout
        .lines()
        .skip_while(|l| !(l.starts_with("hbuild: audit: [") && l.ends_with(&header)));
    let first = lines.next()?;
    let rest: Vec<&str> = lines.take_while(|l| l.starts_with("  ")).collect();
    Some(format!("{first}\n{}\n", rest.join("\n")))
}

#[test]
fn compile_reading_an_undeclared_header() {
    let (e, _) = fault(
        "build/hdr.o",
        &[],
        "read undeclared file 'include/hdr.h' (denied by sandbox)",
        "  undeclared input (source file): include/hdr.h",
    );
    assert!(!e.exists("build/hdr.o"));
}

#[test]
fn reading_a_generated_file_without_depending_on_it_names_the_producer() {
    fault_in(
        "race",
        "build/user.o",
        &[],
        "read undeclared file 'gen/config.h' (denied by sandbox)",
        "  undeclared input made by rule 'gen/config.h': gen/config.h (can race under -j)",
    );
}

#[test]
fn reading_a_file_outside_the_project() {
    let outside = tempfile::Builder::new()
        .prefix("hbuild-outside-")
        .tempfile_in("/tmp")
        .unwrap();
    fs::write(outside.path(), "outside\n").unwrap();
    let name = outside.path().display().to_string();
    let var = format!("OUTSIDE={name}");
    fault(
        "build/outside.txt",
        &[&var],
        &format!("read undeclared file '{name}' (denied by sandbox)"),
        &format!("  undeclared input (source file): {name}"),
    );
}

#[test]
fn an_ignored_failed_read_still_fails_the_step() {
    let (e, a) = fault(
        "build/ignored.txt",
        &[],
        "read undeclared file 'include/hdr.h' (denied by sandbox)",
        "  undeclared input (source file): include/hdr.h",
    );
    // The recipe itself succeeded: only the sandbox failed it.
    assert!(
        !e.exists("build/ignored.txt"),
        "the failed target is deleted"
    );
    assert_eq!(a.read("build/ignored.txt").as_deref(), Some("done\n"));
}

#[test]
fn an_extra_file_next_to_the_target_is_removed_with_the_target() {
    let (e, a) = fault(
        "build/extra.txt",
        &[],
        "created undeclared file 'build/extra.side'",
        "  undeclared output (created): build/extra.side",
    );
    assert!(
        !e.exists("build/extra.side"),
        "the undeclared file is removed"
    );
    assert!(!e.exists("build/extra.txt"), "the target is deleted");
    // Audit changes nothing.
    assert!(a.exists("build/extra.side") && a.exists("build/extra.txt"));
}

#[test]
fn deleting_a_sibling_source_is_reported_and_not_restored() {
    let (e, a) = fault(
        "victims/out.txt",
        &[],
        "deleted undeclared file 'victims/victim.txt' (hbuild does not restore it)",
        "  undeclared output (deleted): victims/victim.txt",
    );
    assert!(!e.exists("victims/victim.txt"));
    assert!(!e.exists("victims/out.txt"));
    assert!(e.exists("victims/in.txt"));
    assert!(!a.exists("victims/victim.txt"));
}

#[test]
fn writing_into_another_directory() {
    let (e, a) = fault(
        "build/other.txt",
        &[],
        "created undeclared file 'elsewhere/written.txt' (denied by sandbox)",
        "  undeclared output (created): elsewhere/written.txt",
    );
    assert!(!e.exists("elsewhere/written.txt"));
    assert!(a.exists("elsewhere/written.txt"));
}

#[test]
fn one_line_per_path_and_operation() {
    let p = Project::new("faults");
    let r = p.run(&["build/other.txt"]);
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("hbuild:") && l.contains("elsewhere/written.txt"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", r.text());
}

#[test]
fn order_only_prerequisite_read_is_named_by_audit() {
    let p = Project::new("faults");
    p.run(&["build/oo.txt"]).succeeded();
    let a = Project::new("faults");
    let r = a.run(&["--sandbox=audit", "build/oo.txt"]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let block = audit_block(&r.stdout, "build/oo.txt").expect("a block");
    assert!(
        block.contains("  order-only prerequisite read: src/oo.txt (a change to it will not rebuild the target)"),
        "{}",
        r.text()
    );
}

#[test]
fn unused_declared_prerequisite_is_informational() {
    let a = Project::new("faults");
    let r = a.run(&["--sandbox=audit", "build/unused.txt"]);
    r.succeeded();
    let block = audit_block(&r.stdout, "build/unused.txt").expect("a block");
    assert!(
        block.contains("  declared prerequisite never read: src/unused.txt"),
        "{}",
        r.text()
    );
    assert!(
        r.stdout
            .contains("hbuild: audit: 0 of 1 steps not hermetic"),
        "{}",
        r.text()
    );
}

// ------------------------------------------------------------ the fix loop

#[test]
fn fix_deps_loop_makes_the_build_hermetic() {
    let p = Project::new("fixloop");
    // Without header dependencies, enforce refuses the first compile.
    p.run(&[]).failed_with("read undeclared file 'include/");
    remove_outputs(&p);
    let r = p.run(&["--sandbox=audit", "--fix-deps=deps.mk"]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    assert!(
        r.stdout
            .contains("undeclared input made by rule 'gen/version.h': gen/version.h"),
        "{}",
        r.text()
    );
    let deps = p.read("deps.mk").expect("deps.mk written");
    for line in [
        "build/main.o: gen/version.h include/shapes.h include/text.h\n",
        "build/shapes.o: include/common.h include/shapes.h\n",
        "build/text.o: gen/version.h include/text.h\n",
    ] {
        assert!(deps.contains(line), "want {line:?} in:\n{deps}");
    }
    assert!(!deps.contains(".UNVEIL"), "nothing to widen:\n{deps}");
    let makefile = p.read("Makefile").unwrap();
    p.write("Makefile", &format!("{makefile}-include deps.mk\n"));
    remove_outputs(&p);
    p.run(&["--sandbox=enforce", "-j2"]).succeeded();
    assert_eq!(p.output_of("build/app"), "hello 1.4.2 30 1.4.2\n");
    remove_outputs(&p);
    let r = p.run(&["--sandbox=audit"]);
    r.succeeded();
    assert!(
        r.stdout
            .contains("hbuild: audit: 0 of 5 steps not hermetic: 0 undeclared inputs"),
        "{}",
        r.text()
    );
    assert!(!r.stdout.contains("hbuild: audit: ["), "{}", r.text());
}

fn remove_outputs(p: &Project) {
    let _ = fs::remove_dir_all(p.path("build"));
    let _ = fs::remove_file(p.path("gen/version.h"));
}

// ------------------------------------------------------- as a real user

/// Re-run every test of this binary as user 65534. /root is 0700, so the
/// test binary and hbuild are copied into a world-readable directory.
#[test]
fn all_tests_as_unprivileged_user() {
    if std::env::var_os(UNPRIV_ENV).is_some() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("already unprivileged: the other tests cover it");
        return;
    }
    let out = rerun_unprivileged("audit-tests");
    assert!(
        out.contains("fix_deps_loop_makes_the_build_hermetic ... ok"),
        "{out}"
    );
}

/// Copy this binary and hbuild to a 0755 directory and run the binary there
/// as nobody; returns its output, after requiring that every test passed.
fn rerun_unprivileged(name: &str) -> String {
    let dir = tempfile::Builder::new()
        .prefix("hbuild-unpriv-")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let copy = |from: &Path, to: &str| {
        let to = dir.path().join(to);
        fs::copy(from, &to).unwrap();
        fs::set_permissions(&to, fs::Permissions::from_mode(0o755)).unwrap();
        to
    };
    let tests = copy(&std::env::current_exe().unwrap(), name);
    let hbuild = copy(&hbuild_bin(), "hbuild");
    let out = Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&tests)
        .args([
            "--skip",
            "all_tests_as_unprivileged_user",
            "--test-threads=2",
        ])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("TMPDIR", "/tmp")
        .env(UNPRIV_ENV, "1")
        .env(BIN_ENV, &hbuild)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "unprivileged run failed:\n{text}");
    assert!(text.contains("test result: ok"), "{text}");
    text
}
