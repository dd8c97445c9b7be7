//! Issue 5 end to end: fixtures with planted faults (`fixtures/audit/`), each
//! found and named exactly (target, path, operation) by `--sandbox=enforce`
//! (the build fails, exit 2) and by `--sandbox=audit` (a per-target report,
//! exit 1), and the `--fix-deps` loop on a C project without header
//! dependencies. `all_tests_as_unprivileged_user` re-runs this binary as
//! user 65534.

mod common;

use common::project::{rerun_as_unprivileged_user, Project};

use std::fs;

/// A copy of `fixtures/audit/NAME` to run hbuild in.
fn project(name: &str) -> Project {
    Project::new(&format!("audit/{name}"))
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
    let enforce = project("faults");
    let mut args = vec!["-j2"];
    args.extend_from_slice(vars);
    args.push(goal);
    enforce
        .run(&args)
        .failed_with(&format!("{target}] {enforce_line}"));
    let audit = project("faults");
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
    let p = project("faults");
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
    let p = project("faults");
    p.run(&["build/oo.txt"]).succeeded();
    let a = project("faults");
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
    let a = project("faults");
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
    let p = project("fixloop");
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
    let Some(out) = rerun_as_unprivileged_user("audit-tests") else {
        return;
    };
    assert!(
        out.contains("fix_deps_loop_makes_the_build_hermetic ... ok"),
        "{out}"
    );
}
