//! Issue 5 end to end: fixtures with planted faults (`fixtures/audit/`), each
//! found and named exactly (target, path, operation) by `--sandbox=enforce`
//! (the build fails, exit 2) and by `--sandbox=audit` (a per-target report,
//! exit 1), and the `--fix-deps` loop on a C project without header
//! dependencies. `all_tests_as_unprivileged_user` re-runs this binary as
//! user 65534.

mod common;

use common::project::{rerun_as_unprivileged_user, Project, Run};

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
fn running_an_undeclared_project_script() {
    let (e, _) = fault(
        "build/ran.txt",
        &[],
        "executed undeclared file 'tools/gen.sh' (denied by sandbox)",
        "  undeclared input (source file): tools/gen.sh",
    );
    assert!(!e.exists("build/ran.txt"));
}

/// The program of a line without shell syntax is started by hbuild itself,
/// and its exec is recorded by the engine rather than by the observer.
#[test]
fn running_an_undeclared_project_script_directly() {
    let (e, _) = fault(
        "build/direct.txt",
        &[],
        "executed undeclared file 'tools/write.sh' (denied by sandbox)",
        "  undeclared input (source file): tools/write.sh",
    );
    assert!(!e.exists("build/direct.txt"));
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
fn deleting_a_sibling_source_is_refused_in_enforce_and_reported_by_audit() {
    let (e, a) = fault(
        "victims/out.txt",
        &[],
        "deleted undeclared file 'victims/victim.txt' (denied by sandbox)",
        "  undeclared output (deleted): victims/victim.txt",
    );
    // Enforce refuses the deletion (the observer stops it); audit lets it be.
    assert!(e.exists("victims/victim.txt"));
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
    assert!(!block.contains("never-made"), "{}", r.text());
    assert!(
        r.stdout
            .contains("hbuild: audit: 0 of 2 steps not hermetic"),
        "{}",
        r.text()
    );
}

/// Audit `goal`, whose step reads all its prerequisites, one of them
/// order-only (so exit 1): none is listed as never read, and the order-only
/// one is named as read, spelled as the makefile spells it.
fn all_prerequisites_seen_read(goal: &str, order_only: &str) {
    let a = project("faults");
    let r = a.run(&["--sandbox=audit", goal]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let block = audit_block(&r.stdout, goal).expect("a block");
    assert!(!block.contains("never read"), "{}", r.text());
    assert!(
        block.contains(&format!("  order-only prerequisite read: {order_only}")),
        "{}",
        r.text()
    );
}

#[test]
fn prerequisites_named_with_dot_dot_are_matched_to_their_reads() {
    all_prerequisites_seen_read("build/dotdot.txt", "gen/../src/user.c");
}

#[test]
fn scratch_files_a_step_makes_and_reads_are_not_inputs() {
    let goals = ["build/scratch.txt", "build/ran-tool.txt"];
    let enforce = project("faults");
    let mut args = vec!["-j2"];
    args.extend(goals);
    enforce.run(&args).succeeded();
    assert_eq!(enforce.read("build/scratch.txt").as_deref(), Some("x\ny\n"));
    assert!(!enforce.path("build/scratch.tmp").exists());
    let audit = project("faults");
    let mut args = vec!["--sandbox=audit", "-j2"];
    args.extend(goals);
    let r = audit.run(&args);
    r.succeeded();
    // A prerequisite that is run (a tool another rule built) is used.
    assert!(
        !r.stdout.contains("prerequisite never read:"),
        "{}",
        r.text()
    );
    assert!(
        r.stdout
            .contains("hbuild: audit: 0 of 3 steps not hermetic"),
        "{}",
        r.text()
    );
}

#[test]
fn prerequisites_under_system_paths_are_seen_read() {
    // /etc/ld.so.conf is read, as a prerequisite under the system preset.
    all_prerequisites_seen_read("build/system.txt", "/etc/passwd");
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
        // The compiles name `$<`: declared out of its way.
        "build/main.o: .EXTRA_PREREQS += gen/version.h include/shapes.h include/text.h\n",
        "build/shapes.o: .EXTRA_PREREQS += include/common.h include/shapes.h\n",
        "build/text.o: .EXTRA_PREREQS += gen/version.h include/text.h\n",
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

#[test]
fn audit_and_fix_deps_cover_recursive_makes() {
    let p = project("recursive");
    let r = p.run(&["--sandbox=audit", "--fix-deps=deps.mk"]);
    // Sub-makes report and go on; the outermost make answers for them all.
    assert_eq!(r.status, "exit 1", "{}", r.text());
    assert!(r.stdout.contains("after the sub-makes"), "{}", r.text());
    // The step that ran them is counted, not audited itself.
    assert!(
        r.stdout
            .contains("hbuild: audit: 0 of 0 steps not hermetic")
            && r.stdout
                .contains("(1 step ran sub-makes, which audit their own steps)\n"),
        "{}",
        r.text()
    );
    // Each directory once, though two sub-makes in sub/ found something;
    // the sub-make that ran no step adds no summary of its own.
    let root = p.path(".").canonicalize().unwrap();
    let dirs = format!("{}/sub, {}", root.display(), root.display());
    assert!(
        r.stdout.contains(&format!(
            "hbuild: audit: sub-makes found undeclared accesses in {dirs} (reports above)"
        )),
        "{}",
        r.text()
    );
    assert!(
        !r.stdout.contains("hbuild[1]: audit: 0 of 0 steps"),
        "{}",
        r.text()
    );
    // Each make writes its fragment in its own directory; the sub-make
    // that shares this directory is merged with the outermost make's.
    let sub = p.read("sub/deps.mk").expect("sub/deps.mk written");
    // A project file outside the sub-make's directory as its makefile
    // would name it, not as an absolute path.
    assert!(
        sub.contains("\no: h\n") && sub.contains("\no2: ../q h\n"),
        "{sub}"
    );
    let here = p.read("deps.mk").expect("deps.mk written");
    assert!(here.contains("\np: r\n"), "{here}");
    for f in ["sub/o", "sub/o2", "p"] {
        fs::remove_file(p.path(f)).unwrap();
    }
    p.run(&["--sandbox=enforce"]).succeeded();
    for f in ["sub/o", "sub/o2", "p"] {
        fs::remove_file(p.path(f)).unwrap();
    }
    let r = p.run(&["--sandbox=audit"]);
    r.succeeded();
    assert!(!r.stdout.contains("sub-makes found"), "{}", r.text());
}

#[test]
fn fix_deps_leaves_recipes_that_use_all_prerequisites_unchanged() {
    let p = project("fixloop");
    let makefile = "build/area: src/shapes.c src/area_main.c\n\tgcc -Iinclude $^ -o $@\n";
    p.write(
        "src/area_main.c",
        "#include <stdio.h>\n#include \"shapes.h\"\nint main(void) { printf(\"%d\\n\", area(2, 3)); return 0; }\n",
    );
    let (_, deps) = audit_and_fix(&p, makefile);
    // Plain prerequisites would join $^ and gcc would precompile them.
    let want = "build/area: .EXTRA_PREREQS += include/common.h include/shapes.h\n";
    assert!(deps.contains(want), "want {want:?} in:\n{deps}");
    include_fragment(&p, makefile);
    remove_outputs(&p);
    let r = p.run(&["--sandbox=enforce"]);
    r.succeeded();
    assert!(r
        .stdout
        .contains("gcc -Iinclude src/shapes.c src/area_main.c -o build/area"));
    assert_eq!(p.output_of("build/area"), "18\n");
    assert!(!p.exists("include/shapes.h.gch"));
    remove_outputs(&p);
    p.run(&["--sandbox=audit"]).succeeded();
}

#[test]
fn listing_the_target_directory_and_empty_recipes_are_no_findings() {
    let p = project("fixloop");
    p.write(
        "Makefile",
        "all: build/list build/empty\nbuild/list: VERSION\n\tls build > /dev/null; cp VERSION $@\nbuild/empty: VERSION ;\n",
    );
    let r = p.run(&["--sandbox=audit"]);
    r.succeeded();
    // The empty recipe ran nothing: one step, and nothing said of the other.
    assert!(
        r.stdout.contains("0 of 1 steps not hermetic"),
        "{}",
        r.text()
    );
    assert!(!r.stdout.contains("build/empty"), "{}", r.text());
}

#[test]
fn steps_that_remake_an_included_makefile_are_audited() {
    let p = project("fixloop");
    // git's GIT-VERSION-FILE: a forced rule remakes an included makefile
    // from a script and a file it does not declare.
    let makefile = "\
all: out.txt
out.txt: VERSION.mk
\tcat VERSION.mk > $@
VERSION.mk: FORCE
\t@sh ./gen.sh
FORCE:
-include VERSION.mk
";
    p.write(
        "gen.sh",
        "v=\"V = $(cat VERSION)\"\ntest \"$v\" = \"$(cat VERSION.mk 2>/dev/null)\" || echo \"$v\" > VERSION.mk\n",
    );
    let (r, deps) = audit_and_fix(&p, makefile);
    assert!(
        r.stdout.contains("[Makefile:5: VERSION.mk]\n  undeclared input (source file): VERSION\n  undeclared input (source file): gen.sh"),
        "{}",
        r.text()
    );
    assert!(deps.contains("VERSION.mk: VERSION gen.sh\n"), "{deps}");
    include_fragment(&p, makefile);
    fs::remove_file(p.path("VERSION.mk")).unwrap();
    p.run(&["--sandbox=enforce"]).succeeded();
}

#[test]
fn a_rule_with_an_empty_recipe_makes_nothing() {
    let p = project("fixloop");
    // Kbuild's `$(sort ...): ;` and busybox's `.config: ;`: no recipe runs.
    p.write(
        "Makefile",
        "build/use: VERSION\n\tcat VERSION cfg > $@\ncfg: ;\n",
    );
    p.write("cfg", "x\n");
    let r = p.run(&["--sandbox=audit"]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    assert!(
        r.stdout.contains("undeclared input (source file): cfg"),
        "{}",
        r.text()
    );
}

#[test]
fn a_phony_rule_writing_undeclared_files_is_let_run_free() {
    let p = project("fixloop");
    // kconfig's defconfig: a temporary name with the shell's pid, renamed.
    let makefile =
        ".PHONY: defconfig\ndefconfig:\n\techo X=y > .tmp.$$$$ && mv .tmp.$$$$ .config\n";
    let (_, deps) = audit_and_fix(&p, makefile);
    assert!(deps.contains("\ndefconfig: .UNSANDBOXED = 1\n"), "{deps}");
    assert!(
        !deps.contains(".UNVEIL"),
        "no names that change each run:\n{deps}"
    );
    fs::remove_file(p.path(".config")).unwrap();
    include_fragment(&p, makefile);
    p.run(&["--sandbox=enforce"]).succeeded();
    assert_eq!(p.read(".config").as_deref(), Some("X=y\n"));
}

#[test]
fn a_file_another_rule_makes_on_the_side_is_named_and_fixed() {
    let p = project("fixloop");
    let makefile = "\
all: build/b.txt
build/a.txt:
\techo a > $@; echo side > build/side.h
build/b.txt: build/a.txt
\tcat build/side.h > $@
";
    let (r, deps) = audit_and_fix(&p, makefile);
    // Not a source file: the step of build/a.txt made it.
    assert!(
        r.stdout
            .contains("undeclared input made by rule 'build/a.txt': build/side.h"),
        "{}",
        r.text()
    );
    for line in [
        "build/b.txt: build/side.h\n",
        "build/side.h: build/a.txt ;\n",
    ] {
        assert!(deps.contains(line), "want {line:?} in:\n{deps}");
    }
    // A clean parallel build with the fragment knows where side.h comes from.
    include_fragment(&p, makefile);
    remove_outputs(&p);
    p.run(&["--sandbox=enforce", "-j2"]).succeeded();
    assert_eq!(p.read("build/b.txt").as_deref(), Some("side\n"));
    audit_finds_nothing(&p, 2);
}

/// Generated makefiles (automake's recursive ones) are not edited: each
/// make reads its own directory's fragment through `MAKEFILES=deps.mk`,
/// which a directory without one does not miss.
#[test]
fn fragments_included_through_makefiles_in_a_recursive_build() {
    let p = project("recursive");
    for m in ["sub/Makefile", "other.mk"] {
        let text = p.read(m).unwrap().replace("-include deps.mk\n", "");
        p.write(m, &text);
    }
    let r = p.run(&["--sandbox=audit", "--fix-deps=deps.mk"]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let clean = || {
        for f in ["sub/o", "sub/o2", "p"] {
            let _ = fs::remove_file(p.path(f));
        }
    };
    clean();
    p.run_with_env(".", &[("MAKEFILES", "deps.mk")], &[])
        .succeeded();
    clean();
    let r = p.run_with_env(".", &[("MAKEFILES", "deps.mk")], &["--sandbox=audit"]);
    r.succeeded();
    assert!(!r.stdout.contains("sub-makes found"), "{}", r.text());
}

/// `--fix-deps=/abs/deps.mk`: the make given it and the sub-makes in its
/// directory write that file; a sub-make elsewhere writes a file of that
/// name in its own directory, whose makefile includes it (a fragment's
/// paths are relative to the make that wrote it).
#[test]
fn an_absolute_fragment_path_stays_with_the_makes_of_its_directory() {
    let p = project("recursive");
    let abs = p.path("deps.mk").display().to_string();
    let r = p.run(&["--sandbox=audit", &format!("--fix-deps={abs}")]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let here = p.read("deps.mk").expect("deps.mk written");
    assert!(here.contains("\np: r\n"), "{here}");
    assert!(!here.contains("\no: h\n"), "{here}");
    let sub = p.read("sub/deps.mk").expect("sub/deps.mk written");
    assert!(
        sub.contains("\no: h\n") && sub.contains("\no2: ../q h\n"),
        "{sub}"
    );
    for f in ["sub/o", "sub/o2", "p"] {
        fs::remove_file(p.path(f)).unwrap();
    }
    p.run(&["--sandbox=enforce"]).succeeded();
}

/// gnulib's test-verify.sh runs `$MAKE x.o` from a script: that hbuild runs
/// inside an observed step of this one. Its own files (the audit's sink,
/// its temporary directories, the fragment) are not the step's outputs or
/// inputs, and what a sibling step wrote meanwhile is not blamed on the
/// nested make's step (it cannot be observed itself: the step's observer
/// holds the listener).
#[test]
fn an_hbuild_run_by_a_script_inside_a_step_keeps_its_own_files_out() {
    let p = project("fixloop");
    let makefile = "\
M := $(MAKE)
all: a.log b.log
a.log:
\tM='$(M)' sh -c '$$M x.o' > a.log
b.log:
\tsleep 0.3; touch unrelated.txt; echo b > b.log
x.o:
\tsleep 1; touch x.o
";
    p.write("Makefile", makefile);
    let r = p.run(&[
        "-j2",
        "--sandbox=audit",
        "--fix-deps=deps.mk",
        "--report=r.json",
    ]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    // The nested make's step is in the report too.
    let (_, x) = report_of(&p, "r.json", "x.o");
    assert_eq!(x["result"], "ok");
    let deps = p.read("deps.mk").expect("deps.mk written");
    assert!(
        deps.contains("\nb.log: .UNVEIL += rwc:unrelated.txt\n"),
        "{deps}"
    );
    for wrong in [
        "\nx.o:",
        "hbuild-audit-",
        "hbuild-report-",
        "/step-",
        "deps.mk",
        "b.log rwc",
        // The nested hbuild's presets are probed, not listed from /etc.
        "/etc",
    ] {
        assert!(!deps.contains(wrong), "{wrong:?} in:\n{deps}");
    }
}

/// Paths with blanks: prerequisites and `.UNVEIL` paths are written with
/// `\ `, which `.UNVEIL` reads back as one word.
#[test]
fn the_fix_loop_works_for_paths_with_blanks() {
    let p = project("fixloop");
    fs::create_dir_all(p.path("in dir")).unwrap();
    p.write("in dir/data.txt", "data\n");
    let makefile = "out.txt:\n\tcat \"in dir/data.txt\" > $@; echo y > \"in dir/side file.txt\"\n";
    let (_, deps) = audit_and_fix(&p, makefile);
    for line in [
        "out.txt: in\\ dir/data.txt\n",
        "out.txt: .UNVEIL += rwc:in\\ dir/side\\ file.txt\n",
    ] {
        assert!(deps.contains(line), "want {line:?} in:\n{deps}");
    }
    include_fragment(&p, makefile);
    for _ in 0..2 {
        let _ = fs::remove_file(p.path("out.txt"));
        let _ = fs::remove_file(p.path("in dir/side file.txt"));
        p.run(&["--sandbox=enforce"]).succeeded();
    }
    let _ = fs::remove_file(p.path("out.txt"));
    audit_finds_nothing(&p, 1);
}

/// CMake runs its sub-makes in parallel in one directory: each merges its
/// findings into the same fragment, one after the other, so none is lost.
#[test]
fn parallel_sub_makes_merge_into_one_fragment_without_losing_any() {
    let p = project("fixloop");
    let mut top = String::from(
        "all: run1 run2 run3 run4 run5 run6\n.PHONY: all run1 run2 run3 run4 run5 run6\n",
    );
    for i in 1..=6 {
        top.push_str(&format!(
            "run{i}:\n\t@$(MAKE) --no-print-directory -f sub{i}.mk\n"
        ));
        p.write(
            &format!("sub{i}.mk"),
            &format!("out{i}.txt:\n\tcat secret{i}.txt > $@\n"),
        );
        p.write(&format!("secret{i}.txt"), "s\n");
    }
    p.write("Makefile", &top);
    for _ in 0..3 {
        let r = p.run(&["-j6", "--sandbox=audit", "--fix-deps=deps.mk"]);
        assert_eq!(r.status, "exit 1", "{}", r.text());
        let deps = p.read("deps.mk").expect("deps.mk written");
        for i in 1..=6 {
            let line = format!("\nout{i}.txt: secret{i}.txt\n");
            assert!(deps.contains(&line), "want {line:?} in:\n{deps}");
        }
        for i in 1..=6 {
            let _ = fs::remove_file(p.path(&format!("out{i}.txt")));
        }
    }
}

/// busybox: a generator reads a source that a pattern rule makes "from"
/// the generator's output. As a prerequisite it would close a cycle, which
/// make drops (and the build then breaks); the fragment declares the read
/// with `.UNVEIL` instead.
#[test]
fn an_input_made_from_its_reader_is_declared_readable_not_a_cycle() {
    let p = project("fixloop");
    fs::create_dir_all(p.path("applets")).unwrap();
    p.write("applets/Kbuild.src", "applets\n");
    let makefile = "\
all: build/app.txt
build/stamp:
\tcat applets/Kbuild.src > $@
applets/%: build/stamp ;
build/app.txt: applets/Kbuild.src build/stamp
\tcat $< > $@
";
    let (r, deps) = audit_and_fix(&p, makefile);
    assert!(
        r.stdout
            .contains("undeclared input (source file): applets/Kbuild.src"),
        "{}",
        r.text()
    );
    assert!(!deps.contains("build/stamp: applets"), "{deps}");
    assert!(
        deps.contains("build/stamp: .UNVEIL += r:applets/Kbuild.src\n"),
        "{deps}"
    );
    include_fragment(&p, makefile);
    remove_outputs(&p);
    let r = p.run(&["--sandbox=enforce"]);
    r.succeeded();
    assert!(!r.stderr.contains("Circular"), "{}", r.text());
    audit_finds_nothing(&p, 2);
}

/// A rule that remakes an included makefile runs before hbuild re-executes
/// itself (automake's `aclocal.m4` and `configure` regeneration): its audit
/// and its step in the report survive the re-execution.
#[test]
fn steps_that_remake_makefiles_are_audited_across_the_re_execution() {
    let p = project("fixloop");
    p.write("data.txt", "X = 1\n");
    let makefile = "all:\n\t@echo all: $(X)\ninclude gen.mk\ngen.mk:\n\tcat data.txt > gen.mk\n";
    let (r, deps) = audit_and_fix(&p, makefile);
    assert!(r.stdout.contains("all: 1\n"), "{}", r.text());
    assert!(
        r.stdout
            .contains("1 of 2 steps not hermetic: 1 undeclared inputs"),
        "{}",
        r.text()
    );
    assert!(deps.contains("\ngen.mk: data.txt\n"), "{deps}");
    fs::remove_file(p.path("gen.mk")).unwrap();
    let r = p.run(&["--sandbox=audit", "--report=r.json"]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let (report, gen) = report_of(&p, "r.json", "gen.mk");
    assert_eq!(
        gen["violations"][0]["message"],
        "read undeclared file 'data.txt'"
    );
    let (_, all) = report_of(&p, "r.json", "all");
    assert!(gen["end"].as_f64() <= all["start"].as_f64(), "{report}");
    include_fragment(&p, makefile);
    fs::remove_file(p.path("gen.mk")).unwrap();
    p.run(&["--sandbox=enforce"]).succeeded();
}

/// From a clean tree, an audit of the `steps`-step build finds nothing.
fn audit_finds_nothing(p: &Project, steps: usize) {
    remove_outputs(p);
    let r = p.run(&["--sandbox=audit"]);
    r.succeeded();
    let want = format!("0 of {steps} steps not hermetic");
    assert!(r.stdout.contains(&want), "{}", r.text());
}

/// `ln git git-add` (git's builtins) uses its prerequisite without reading
/// it: not an unused prerequisite.
#[test]
fn a_hard_linked_prerequisite_is_used() {
    let p = project("fixloop");
    p.write("Makefile", "all: b\nb: a\n\tln -f a b\na:\n\techo a > a\n");
    let r = p.run(&["--sandbox=audit"]);
    r.succeeded();
    assert!(
        r.stdout.contains("0 declared prerequisites never read"),
        "{}",
        r.text()
    );
}

/// A file another rule's recipe writes undeclared, read by a step that
/// depends on that rule: undeclared, but make runs the writer first, so it
/// is not called a race. The fragment's fix builds and audits clean.
#[test]
fn an_input_written_by_a_prerequisite_rule_is_not_called_a_race() {
    let p = project("fixloop");
    let makefile = "out: stamp\n\tcat side > out\nstamp:\n\techo x > side; touch stamp\n";
    let (r, _) = audit_and_fix(&p, makefile);
    assert!(
        r.stdout.contains(
            "undeclared input made by rule 'stamp': side (made before it through its prerequisites)"
        ),
        "{}",
        r.text()
    );
    assert!(!r.stdout.contains("can race"), "{}", r.text());
    assert!(
        r.stdout
            .contains("1 undeclared inputs, 0 inputs made by other rules"),
        "{}",
        r.text()
    );
    include_fragment(&p, makefile);
    for f in ["out", "stamp", "side"] {
        fs::remove_file(p.path(f)).unwrap();
    }
    p.run(&["--sandbox=enforce"]).succeeded();
    for f in ["out", "stamp", "side"] {
        fs::remove_file(p.path(f)).unwrap();
    }
    audit_finds_nothing(&p, 2);
}

/// Audit the project with `makefile` (written as its Makefile) and write
/// `deps.mk`: the run (something undeclared found, exit 1) and the fragment.
fn audit_and_fix(p: &Project, makefile: &str) -> (Run, String) {
    p.write("Makefile", makefile);
    let r = p.run(&["--sandbox=audit", "--fix-deps=deps.mk"]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let deps = p.read("deps.mk").expect("deps.mk written");
    (r, deps)
}

/// The same makefile, now including the fragment.
fn include_fragment(p: &Project, makefile: &str) {
    p.write("Makefile", &format!("{makefile}include deps.mk\n"));
}

fn remove_outputs(p: &Project) {
    let _ = fs::remove_dir_all(p.path("build"));
    let _ = fs::remove_file(p.path("gen/version.h"));
}

// ------------------------------------------------------------ --report

/// The `--report` JSON of a run, and the record of the step making `target`.
fn report_of(p: &Project, file: &str, target: &str) -> (serde_json::Value, serde_json::Value) {
    let text = p
        .read(file)
        .unwrap_or_else(|| panic!("no report {file} written"));
    let report: serde_json::Value = serde_json::from_str(&text).expect("the report is JSON");
    let step = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["targets"].as_array().unwrap().iter().any(|t| t == target))
        .unwrap_or_else(|| panic!("no step for {target} in {text}"))
        .clone();
    (report, step)
}

#[test]
fn report_names_the_violation_of_a_step_that_exited_0() {
    let p = project("faults");
    p.run(&["--report=r.json", "build/ignored.txt"])
        .failed_with("build/ignored.txt] read undeclared file 'include/hdr.h'");
    let (report, step) = report_of(&p, "r.json", "build/ignored.txt");
    assert_eq!(report["schema"], 1);
    assert_eq!(report["sandbox_mode"], "enforce");
    assert_eq!(report["exit_status"], 2);
    assert_eq!(step["rule"], "Makefile:22");
    assert_eq!(
        step["commands"],
        serde_json::json!([
            "cat include/hdr.h > /dev/null 2>&1 || true",
            "echo done > build/ignored.txt"
        ])
    );
    // The recipe succeeded; the sandbox failed the step.
    assert_eq!(step["exit_status"], 0);
    assert_eq!(step["result"], "failed");
    let v = &step["violations"][0];
    assert_eq!(v["operation"], "read");
    assert_eq!(v["path"], "include/hdr.h");
    assert_eq!(v["denied"], true);
    assert!(step["end"].as_f64().unwrap() >= step["start"].as_f64().unwrap());
    let sandbox = &step["sandbox"];
    assert_eq!(sandbox["landlock"], true);
    assert_eq!(sandbox["observed"], true);
    assert!(sandbox["presets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n == "system"));
    let target = sandbox["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["origin"] == "target")
        .expect("the target is in the policy");
    assert_eq!(target["path"], "build/ignored.txt");
    assert!(
        step.get("accesses").is_none(),
        "accesses in audit mode only"
    );
}

#[test]
fn audit_report_lists_every_access() {
    let p = project("faults");
    let r = p.run(&[
        "--sandbox=audit",
        "--report=r.json",
        "build/oo.txt",
        "build/unused.txt",
    ]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    let (report, step) = report_of(&p, "r.json", "build/oo.txt");
    assert_eq!(report["sandbox_mode"], "audit");
    assert_eq!(report["exit_status"], 1);
    assert_eq!(step["result"], "ok");
    assert_eq!(step["sandbox"]["landlock"], false);
    let acc = &step["accesses"];
    assert!(
        acc["read"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "src/oo.txt"),
        "{acc}"
    );
    assert!(
        acc["exec"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "/bin/sh"),
        "{acc}"
    );
    assert!(
        acc["create"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "build/oo.txt"),
        "{acc}"
    );
    let (_, unused) = report_of(&p, "r.json", "build/unused.txt");
    let reads = unused["accesses"]["read"].as_array().unwrap();
    assert!(!reads.iter().any(|p| p == "src/unused.txt"), "{unused}");
}

#[test]
fn report_without_sandbox_and_for_a_failed_command() {
    let p = project("faults");
    p.write("Makefile.fail", "bad:\n\tsh -c 'exit 3'\n");
    let r = p.run(&["--sandbox=off", "--report=r.json", "-f", "Makefile.fail"]);
    assert_eq!(r.status, "exit 2", "{}", r.text());
    let (report, step) = report_of(&p, "r.json", "bad");
    assert_eq!(report["sandbox_mode"], "off");
    assert_eq!(step["exit_status"], 3);
    assert_eq!(step["result"], "failed");
    assert_eq!(step["sandbox"]["landlock"], false);
    assert_eq!(step["sandbox"]["observed"], false);
    assert_eq!(step["violations"], serde_json::json!([]));
}

/// A recursive build is one report: the steps of sub-makes at any depth,
/// each with the directory it ran in, their violations, in the order they
/// finished, in every mode.
#[test]
fn report_of_a_recursive_build_holds_the_sub_makes_steps() {
    let p = project("recursive");
    for (mode, status) in [
        ("enforce", "exit 2"),
        ("audit", "exit 1"),
        ("off", "exit 0"),
    ] {
        let r = p.run(&[&format!("--sandbox={mode}"), "-k", "--report=r.json"]);
        assert_eq!(r.status, status, "{mode}: {}", r.text());
        let (_, o) = report_of(&p, "r.json", "o");
        let sub = p.path("sub").canonicalize().unwrap();
        assert_eq!(o["directory"], sub.display().to_string(), "{mode}");
        assert_eq!(o["rule"], "Makefile:2", "{mode}");
        let (report, top) = report_of(&p, "r.json", "all");
        assert_eq!(
            top["directory"],
            p.path(".").canonicalize().unwrap().display().to_string()
        );
        let steps = report["steps"].as_array().unwrap();
        let ends: Vec<f64> = steps.iter().map(|s| s["end"].as_f64().unwrap()).collect();
        assert!(ends.windows(2).all(|w| w[0] <= w[1]), "{mode}: {ends:?}");
        // The sub-makes' steps (o, o2, p) end before the step that ran them.
        assert!(o["end"].as_f64() < top["end"].as_f64(), "{mode}");
        // Enforce stops the recursive recipe at its first failing sub-make.
        let least = if mode == "enforce" { 2 } else { 4 };
        assert!(steps.len() >= least, "{mode}: {report}");
        let message = o["violations"][0]["message"].as_str().unwrap_or("");
        match mode {
            "enforce" => assert_eq!(message, "read undeclared file 'h' (denied by sandbox)"),
            "audit" => assert_eq!(message, "read undeclared file 'h'"),
            _ => assert_eq!(message, ""),
        }
        for f in ["sub/o", "sub/o2", "p"] {
            let _ = fs::remove_file(p.path(f));
        }
    }
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

/// `| out` says a step needs the directory, not its files: a file another
/// rule makes there is an undeclared input (refused in enforce mode, a race
/// in audit), while files read under a normal directory prerequisite are
/// declared and only noted (a change to one does not make the directory
/// newer).
#[test]
fn an_order_only_directory_opens_no_files() {
    let p = project("fixloop");
    let makefile = "all: out/b.txt out/c.txt\nout/a.txt: | out\n\techo a > $@\nout/b.txt: | out\n\tcat out/a.txt > $@\nout/c.txt: src | out\n\tcat src/x.h > $@\nout:\n\tmkdir $@\n";
    p.write("Makefile", makefile);
    p.write("src/x.h", "x\n");
    let r = p.run(&["--sandbox=audit", "-j1", "out/a.txt", "all"]);
    assert_eq!(r.status, "exit 1", "{}", r.text());
    assert!(
        r.stdout
            .contains("undeclared input made by rule 'out/a.txt': out/a.txt (can race under -j)"),
        "{}",
        r.text()
    );
    assert!(
        r.stdout.contains(
            "read under directory prerequisite src: src/x.h (a change to its content does not make src newer)"
        ),
        "{}",
        r.text()
    );
    assert!(
        r.stdout.contains("1 of 4 steps not hermetic"),
        "{}",
        r.text()
    );
    std::fs::remove_dir_all(p.path("out")).unwrap();
    p.run(&["-j1", "out/a.txt", "all"]).failed_with(
        "[Makefile:5: out/b.txt] read undeclared file 'out/a.txt' (denied by sandbox)",
    );
    let r = p.run(&["--explain-sandbox", "out/b.txt"]);
    assert!(r.stdout.contains("l----"), "{}", r.text());
}

/// A recipe that uses `$<`: the fragment must not put its header first
/// (`MAKEFILES=deps.mk` reads it before the makefile), so it declares
/// through `.EXTRA_PREREQS`, and the command stays the same.
#[test]
fn the_fragment_keeps_the_first_prerequisite_first() {
    let p = project("fixloop");
    p.write("a.c", "c\n");
    p.write("a.h", "h\n");
    let makefile = "OBJS := a.o\n$(OBJS): %.o: %.c\n$(OBJS): %.o:\n\tcat $< a.h > $@\n";
    let (_, deps) = audit_and_fix(&p, makefile);
    assert!(deps.contains("a.o: .EXTRA_PREREQS += a.h"), "{deps}");
    std::fs::remove_file(p.path("a.o")).unwrap();
    let r = p.run_with_env(".", &[("MAKEFILES", "deps.mk")], &[]);
    r.succeeded();
    assert!(r.stdout.contains("cat a.c a.h > a.o"), "{}", r.text());
    assert_eq!(p.read("a.o").as_deref(), Some("c\nh\n"));
}
