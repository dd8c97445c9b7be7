//! Issue 4 end to end, through the real `hbuild` binary in the default
//! `--sandbox=enforce` mode: what recipes can do (real toolchains, every
//! target of grouped and multi-target rules, TMPDIR, nested `$(MAKE)`), what
//! they cannot (each refusal fails the build with exit 2 and names the path),
//! and the makefile knobs (`.UNVEIL`, `.STRICT`, `.UNSANDBOXED`, limits).
//!
//! Fixtures live in `fixtures/hermetic/`; every test copies one into a fresh
//! temporary directory. `all_tests_as_unprivileged_user` re-runs this binary
//! as user 65534.

mod common;

use common::project::{rerun_as_unprivileged_user, Project, Run};

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

/// A copy of `fixtures/hermetic/NAME` to run hbuild in.
fn project(name: &str) -> Project {
    Project::new(&format!("hermetic/{name}"))
}

// ------------------------------------------------------------- recipes can

#[test]
fn c_and_cpp_project_compiles_assembles_archives_and_links() {
    let p = project("cproject");
    p.run(&[]).succeeded();
    assert_eq!(p.output_of("build/bin/app"), "app 9 84\n");
    assert_eq!(p.output_of("build/bin/tool"), "tool 8 42\n");
    // A changed header rebuilds through the existing objects, archive and
    // programs: gcc and ld unlink and re-create, ar replaces in place.
    let header = fs::read_to_string(p.path("include/util.h")).unwrap();
    p.write("include/util.h", &format!("{header}/* edited */\n"));
    let r = p.run(&[]);
    r.succeeded();
    assert!(
        r.stdout.contains("ar rcs build/lib/libutil.a"),
        "{}",
        r.text()
    );
    assert!(r.stdout.contains("g++ build/obj/main.o"), "{}", r.text());
    assert_eq!(p.output_of("build/bin/app"), "app 9 84\n");
}

const TOOL_TARGETS: &[&str] = &[
    "out/g1",
    "out/a.up",
    "out/b.len",
    "out/tmpuse",
    "out/tree.txt",
    "out/edited",
    "out/installed",
    "out/lib.a",
    "out/fresh.a",
    "out/viatemp.o",
];

#[test]
fn grouped_and_multi_target_rules_write_every_target() {
    let p = project("tools");
    let r = p.run(&["out/g1", "out/a.up", "out/b.len"]);
    r.succeeded();
    assert_eq!(p.read("out/g1").as_deref(), Some("alpha\n"));
    assert_eq!(p.read("out/g2").as_deref(), Some("alpha\n"));
    assert_eq!(p.read("out/a.up").as_deref(), Some("ALPHA\n"));
    assert_eq!(p.read("out/a.len").as_deref(), Some("6\n"));
    assert_eq!(p.read("out/b.up").as_deref(), Some("BETA\n"));
    assert_eq!(p.read("out/b.len").as_deref(), Some("5\n"));
    // One recipe run per rule.
    assert_eq!(
        r.stdout.matches("cp src/a.in out/g2").count(),
        1,
        "{}",
        r.text()
    );
}

/// hbuild starts these itself; the observer records their exec without
/// seeing it, and the fallback to /bin/sh for a file without `#!` works.
#[test]
fn declared_project_programs_run_directly() {
    let p = project("tools");
    p.run(&["out/ran-script", "out/ran-plain"]).succeeded();
    assert_eq!(
        p.read("out/ran-script").as_deref(),
        Some("script out/ran-script\n")
    );
    assert_eq!(
        p.read("out/ran-plain").as_deref(),
        Some("plain out/ran-plain\n")
    );
}

#[test]
fn tmpdir_is_usable_and_removed_afterwards() {
    let p = project("tools");
    p.run(&["out/tmpuse"]).succeeded();
    let text = p.read("out/tmpuse").unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("alpha"));
    let tmpdir = lines.next().expect("TMPDIR recorded");
    assert!(tmpdir.contains("hbuild-"), "{tmpdir}");
    assert!(!Path::new(tmpdir).exists(), "{tmpdir} still exists");
}

/// A TMPDIR a step left empty serves the next step, empty: the step's stray
/// background process is killed before the directory is handed on.
#[test]
fn a_reused_tmpdir_is_empty_even_after_a_background_writer() {
    let p = project_with_makefile(
        "out/first:\n\t(sleep 0.3; echo late > $$TMPDIR/late) & echo $$TMPDIR > $@\n\
         out/second: out/first\n\tls -A $$TMPDIR > $@; echo $$TMPDIR >> $@\n",
    );
    p.run(&["-j1", "out/second"]).succeeded();
    let first = p.read("out/first").unwrap();
    let second = p.read("out/second").unwrap();
    assert_eq!(second, first, "the same directory, and nothing in it");
}

#[test]
fn directory_prerequisite_opens_its_subtree() {
    let p = project("tools");
    p.run(&["out/tree.txt"]).succeeded();
    assert_eq!(p.read("out/tree.txt").as_deref(), Some("one\nthree\ntwo\n"));
}

#[test]
fn sed_cp_install_and_ar_replace_existing_targets() {
    let p = project("tools");
    p.run(TOOL_TARGETS).succeeded();
    assert_eq!(p.read("out/edited").as_deref(), Some("omega\n"));
    assert_eq!(p.read("out/installed").as_deref(), Some("beta\n"));
    // Again, over the existing targets (no target is new: no truncation
    // right on out/ this time).
    let mut args = vec!["-B"];
    args.extend_from_slice(TOOL_TARGETS);
    let r = p.run(&args);
    r.succeeded();
    assert!(
        r.stdout.contains("sed -i s/alpha/omega/ out/edited"),
        "{}",
        r.text()
    );
    assert!(
        r.stdout.contains("ar rcs out/lib.a out/x.o"),
        "{}",
        r.text()
    );
    assert_eq!(p.read("out/edited").as_deref(), Some("omega\n"));
    let ar = fs::read(p.path("out/lib.a")).unwrap();
    assert!(ar.starts_with(b"!<arch>\n"));
    // Removed and made anew by `rm -f $@; ar cq $@`: the whole archive, not
    // the 8-byte header a refused O_TRUNC would leave.
    let fresh = fs::read(p.path("out/fresh.a")).unwrap();
    assert!(
        fresh.starts_with(b"!<arch>\n") && fresh.len() > 8,
        "{}",
        fresh.len()
    );
}

#[test]
fn links_a_step_makes_and_removes_are_its_own() {
    let p = project("tools");
    p.run(&["out/ownlinks"]).succeeded();
    assert_eq!(p.read("out/ownlinks").as_deref(), Some("alpha\n"));
    for f in ["out/own.tmp", "out/own.sym", "out/own.hard"] {
        assert!(!p.exists(f), "{f}");
    }
}

#[test]
fn unveil_of_a_prefix_that_does_not_exist_yet() {
    let p = project("tools");
    p.run(&["stage-install"]).succeeded();
    assert_eq!(p.read("stage/bin/a").as_deref(), Some("alpha\n"));
    // Only the unveiled path is declared: a file next to it is not.
    p.run(&["stage-stray"])
        .failed_with("stage-stray] created undeclared file 'stray'");
    assert!(!p.exists("stray"));
    assert_eq!(p.read("stage2/bin/a").as_deref(), Some("alpha\n"));
}

#[test]
fn an_unveiled_existing_file_can_be_removed() {
    let p = project("tools");
    p.write("cache.tmp", "old cache\n");
    p.write("keep.tmp", "keep\n");
    p.run(&["out/dropcache"]).succeeded();
    assert!(!p.exists("cache.tmp"));
    assert_eq!(p.read("keep.tmp").as_deref(), Some("keep\n"));
}

#[test]
fn nested_make_three_levels_each_compiles() {
    let p = project("nested");
    let r = p.run(&[]);
    r.succeeded();
    for o in ["top.o", "l1/one.o", "l1/l2/two.o"] {
        assert!(p.exists(o), "{o} missing:\n{}", r.text());
    }
    assert!(
        r.stdout.contains("hbuild[2]: Entering directory"),
        "{}",
        r.text()
    );
}

#[test]
fn nested_make_steps_are_still_sandboxed() {
    let p = project("nested");
    let top = p.path("top.c").display().to_string();
    p.run(&["GOAL2=peek.txt"]).failed_with(&format!(
        "hbuild[2]: *** [Makefile:7: peek.txt] read undeclared file '{top}' (denied by sandbox)"
    ));
    assert!(!p.exists("l1/l2/peek.txt"));
}

#[test]
fn sub_makes_in_a_build_directory_outside_the_project_work_and_stay_confined() {
    let p = project("outside");
    let r = p.run_in("src", &["GOAL2=y.txt"]);
    r.succeeded();
    assert_eq!(
        p.read("out/y.txt").as_deref(),
        Some("hello\nv1\nhello\nv1\nhi\n")
    );
    let secret = p.path("src/secret.txt").display().to_string();
    let r = p.run_in("src", &["GOAL2=peek.txt"]);
    r.failed_with(&format!(
        "hbuild[2]: *** [../src/sub2.mk:8: peek.txt] read undeclared file '{secret}' (denied by sandbox)"
    ));
    assert!(!p.exists("out/peek.txt"));
}

/// An out-of-source build (CMake's `cmake -S src -B build`): hbuild works in
/// the build directory, and the sub-make's steps declare files of the
/// source tree next to it. The step running `$(MAKE)` may read them (its
/// Landlock layer would otherwise cut the sub-make's steps off); what a
/// sub-make's step does not declare stays denied.
#[test]
fn sub_make_steps_read_the_source_tree_of_an_out_of_source_build() {
    let p = project("outside");
    p.write("out/Makefile", "all:\n\t$(MAKE) -f sub.mk $(GOAL)\n");
    p.write(
        "out/sub.mk",
        "copy.txt: ../src/in.txt\n\tcp $< $@\npeek.txt:\n\tcat ../src/secret.txt > $@\n",
    );
    p.run_in("out", &[]).succeeded();
    assert_eq!(p.read("out/copy.txt").as_deref(), Some("hello\n"));
    let secret = p.path("src/secret.txt").display().to_string();
    p.run_in("out", &["GOAL=peek.txt"]).failed_with(&format!(
        "hbuild[1]: *** [sub.mk:4: peek.txt] read undeclared file '{secret}' (denied by sandbox)"
    ));
}

#[test]
fn the_project_of_recursive_steps_is_where_hbuild_works_after_dash_c() {
    let p = project("outside");
    let r = p.run(&["-C", "src", "leak"]);
    assert_eq!(r.status, "exit 2", "{}", r.text());
    assert!(
        r.stderr
            .contains("touch: cannot touch '../leak.txt': Permission denied"),
        "{}",
        r.text()
    );
    assert!(!p.exists("leak.txt"));
    // The sub-make in ../out, outside the project, did its work.
    assert!(p.exists("out/y.txt"));
    // --explain-sandbox shows that grant.
    let r = p.run(&["-C", "src", "--explain-sandbox", "leak"]);
    r.succeeded();
    let src = fs::canonicalize(p.path("src")).unwrap();
    let line = format!("rwxct  {}", src.display());
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains(&line) && l.contains("runs a sub-make")),
        "{}",
        r.text()
    );
}

// ---------------------------------------------------------- recipes cannot

/// Run `target` of the `cannot` fixture and require the build to fail
/// naming `line` (the report line after `[Makefile:N: target] `).
fn refused(p: &Project, target: &str, vars: &[String], line: &str) -> Run {
    let mut args: Vec<&str> = vars.iter().map(String::as_str).collect();
    args.push(target);
    let r = p.run(&args);
    r.failed_with(&format!("{target}] {line}"));
    r
}

#[test]
fn cannot_read_an_undeclared_project_file() {
    let p = project("cannot");
    refused(
        &p,
        "out/direct",
        &[],
        "read undeclared file 'secret' (denied by sandbox)",
    );
    assert!(!p.exists("out/direct"), "a failed target is deleted");
    // The same recipe with the read declared works.
    p.run(&["out/unveiled"]).succeeded();
    assert_eq!(p.read("out/unveiled").as_deref(), Some("project secret\n"));
}

#[test]
fn cannot_list_an_undeclared_directory() {
    let p = project("cannot");
    // The glob saw an empty directory: its output would differ from make's.
    refused(
        &p,
        "out/globbed",
        &[],
        "listed undeclared directory 'sub' (denied by sandbox)",
    );
    assert!(!p.exists("out/globbed"), "a failed target is deleted");
    // Unquoted brackets make the shell list the working directory: said,
    // not failed.
    let r = p.run(&["out/brackets"]);
    r.succeeded();
    assert!(
        r.stderr
            .contains("[Makefile:104: out/brackets] warning: listed undeclared directory '.' (denied by sandbox)"),
        "{}",
        r.text()
    );
    assert_eq!(
        p.read("out/brackets").as_deref(),
        Some("[CC] out/brackets\n")
    );
}

#[test]
fn undeclared_links_are_reported_and_removed() {
    let p = project("cannot");
    let r = p.run(&["out/links"]);
    for line in [
        "out/links] linked undeclared file 'out/links.so'",
        "out/links] linked undeclared file 'out/links.hard'",
    ] {
        r.failed_with(line);
    }
    for f in ["out/links.so", "out/links.hard", "out/links"] {
        assert!(!p.exists(f), "{f} left behind:\n{}", r.text());
    }
}

#[test]
fn cannot_read_through_a_symlink() {
    let p = project("cannot");
    refused(
        &p,
        "out/symlink",
        &[],
        "read undeclared file 'link' (denied by sandbox)",
    );
}

#[test]
fn cannot_read_through_dot_dot() {
    let p = project("cannot");
    refused(
        &p,
        "out/dotdot",
        &[],
        "read undeclared file 'secret' (denied by sandbox)",
    );
}

/// The observer resolves relative paths against each process's directory,
/// which a `cd` changes (in the shell, or in a subshell for its children).
#[test]
fn cannot_read_after_changing_directory() {
    for target in ["out/aftercd", "out/subshellcd"] {
        let p = project("cannot");
        refused(
            &p,
            target,
            &[],
            "read undeclared file 'secret' (denied by sandbox)",
        );
    }
}

#[test]
fn cannot_read_through_proc_self_root() {
    let p = project("cannot");
    refused(
        &p,
        "out/procroot",
        &[],
        "read undeclared file 'secret' (denied by sandbox)",
    );
}

#[test]
fn cannot_read_through_a_system_path_and_dot_dot_even_when_the_error_is_ignored() {
    let p = project("cannot");
    refused(
        &p,
        "out/viasystem",
        &[],
        "read undeclared file 'secret' (denied by sandbox)",
    );
    assert!(!p.exists("out/viasystem"));
}

#[test]
fn cannot_read_home_or_tmp() {
    let p = project("cannot");
    let home_file = p.home.path().join(".netrc");
    fs::write(&home_file, "machine example login me\n").unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("hbuild-outside-")
        .tempfile_in("/tmp")
        .unwrap();
    fs::write(tmp.path(), "shared tmp\n").unwrap();
    let vars = vec![
        format!("HOMEFILE={}", home_file.display()),
        format!("TMPFILE={}", tmp.path().display()),
    ];
    refused(
        &p,
        "out/home",
        &vars,
        &format!(
            "read undeclared file '{}' (denied by sandbox)",
            home_file.display()
        ),
    );
    refused(
        &p,
        "out/tmp",
        &vars,
        &format!(
            "read undeclared file '{}' (denied by sandbox)",
            tmp.path().display()
        ),
    );
    // Unsandboxed, both reads work: the refusal is the sandbox's.
    let mut off = vec!["--sandbox=off"];
    off.extend(vars.iter().map(String::as_str));
    off.extend(["out/home", "out/tmp"]);
    p.run(&off).succeeded();
}

#[test]
fn cannot_write_outside_the_targets_directories() {
    let p = project("cannot");
    refused(
        &p,
        "out/elsewhere",
        &[],
        "created undeclared file 'elsewhere/new.txt' (denied by sandbox)",
    );
    assert!(!p.exists("elsewhere/new.txt"));
}

#[test]
fn cannot_truncate_an_existing_sibling_of_an_existing_target() {
    let p = project("cannot");
    p.write("out/trunc", "old target\n");
    p.write("out/sibling", "keep\n");
    let r = refused(
        &p,
        "out/trunc",
        &["-B".to_string()],
        "truncated undeclared file 'out/sibling' (denied by sandbox)",
    );
    assert_eq!(p.read("out/sibling").as_deref(), Some("keep\n"));
    // The refused open changed nothing: no second report.
    assert!(
        !r.stderr.contains("modified undeclared file"),
        "{}",
        r.text()
    );
}

#[test]
fn cannot_change_existing_files_next_to_a_new_target() {
    let p = project("cannot");
    for f in ["a", "b", "c", "d"] {
        p.write(&format!("out/old-{f}"), "keep\n");
    }
    let r = p.run(&["out/fresh"]);
    for line in [
        "deleted undeclared file 'out/old-a' (denied by sandbox)",
        "truncated undeclared file 'out/old-b' (denied by sandbox)",
        "deleted undeclared file 'out/old-c' (denied by sandbox)",
        "replaced undeclared file 'out/old-d' (denied by sandbox)",
    ] {
        r.failed_with(&format!("out/fresh] {line}"));
    }
    for f in ["a", "b", "c", "d"] {
        assert_eq!(
            p.read(&format!("out/old-{f}")).as_deref(),
            Some("keep\n"),
            "{}",
            r.text()
        );
    }
    // The step's own scratch file came and went without a word; its other
    // new file is removed.
    assert!(!r.stderr.contains("scratch"), "{}", r.text());
    assert!(!p.exists("out/tmp-d") && !p.exists("out/moved") && !p.exists("out/fresh"));
}

#[test]
fn cannot_read_undeclared_files_next_to_the_target() {
    let p = project("cannot");
    p.write("out/peer.txt", "a neighbour\n");
    p.write("sub/deep.txt", "deep\n");
    // The tool gets the refusal itself, as for an undeclared file elsewhere.
    let r = refused(
        &p,
        "out/neighbour",
        &[],
        "read undeclared file 'out/peer.txt' (denied by sandbox)",
    );
    assert!(
        r.stderr.contains("out/peer.txt: Permission denied"),
        "{}",
        r.text()
    );
    // The reason comes before make's verdict, which stays the last word.
    let reason = r.stderr.find("read undeclared file").unwrap();
    let verdict = r.stderr.find("out/neighbour] Error 1");
    assert!(verdict.is_some_and(|v| v > reason), "{}", r.text());
    // At the top of the project the target's directory is the project: a
    // read below it is refused even when the error is swallowed; the
    // step's scratch file and its own target stay readable.
    let r = refused(
        &p,
        "flat",
        &[],
        "read undeclared file 'sub/deep.txt' (denied by sandbox)",
    );
    let findings = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("hbuild: *** [") && l.contains("undeclared"));
    assert_eq!(findings.count(), 1, "{}", r.text());
    assert!(!p.exists("flat") && !p.exists("flat.tmp"), "{}", r.text());
}

#[test]
fn removed_directories_are_named_as_directories() {
    let p = project("cannot");
    fs::create_dir(p.path("out/olddir")).unwrap();
    fs::create_dir(p.path("elsewhere/olddir")).unwrap();
    let r = p.run(&["out/rmdirs"]);
    for line in [
        "removed undeclared directory 'out/olddir' (denied by sandbox)",
        "removed undeclared directory 'elsewhere/olddir' (denied by sandbox)",
    ] {
        r.failed_with(&format!("out/rmdirs] {line}"));
    }
    assert!(p.path("out/olddir").is_dir() && p.path("elsewhere/olddir").is_dir());
}

/// A listener the recipes try to reach; true if anyone connected.
fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let port = l.local_addr().unwrap().port();
    (l, format!("PORT={port}"))
}

fn was_connected(l: &TcpListener) -> bool {
    l.accept().is_ok()
}

#[test]
fn cannot_connect_to_tcp() {
    let p = project("cannot");
    let (l, port) = listener();
    let r = p.run(&[&port, "out/connect"]);
    r.failed_with("PermissionError");
    assert!(!was_connected(&l));
    // Control: unsandboxed, the same recipe reaches the listener.
    p.run(&["--sandbox=off", &port, "out/connect"]).succeeded();
    assert!(was_connected(&l));
}

/// Landlock refuses the connect without a path, and the observer only sees
/// file system calls: a recipe that swallows the refusal passes. Documented
/// in docs/sandbox.md; the connection itself never happens.
#[test]
fn swallowed_tcp_refusal_is_not_reported_but_nothing_connects() {
    let p = project("cannot");
    let (l, port) = listener();
    let r = p.run(&[&port, "out/connect-swallowed"]);
    r.succeeded();
    assert!(r.stderr.contains("PermissionError"), "{}", r.text());
    assert!(!was_connected(&l));
}

#[test]
fn cannot_signal_hbuild() {
    let p = project("cannot");
    // Had SIGUSR1 arrived, hbuild would have died of it (status "signal 10").
    refused(&p, "out/signal", &[], "Error 1");
    refused(&p, "out/signal0", &[], "Error 1");
    // Control: unsandboxed, `kill -0` reaches hbuild, so HBPID is its pid.
    p.run(&["--sandbox=off", "out/signal0"]).succeeded();
}

#[test]
fn memory_limit_stops_a_large_allocation() {
    let p = project("cannot");
    refused(&p, "out/memory", &[], "Error 1");
    // The same allocation without .MEMORY works.
    p.run(&["out/memory-free"]).succeeded();
}

#[test]
fn cpu_limit_stops_a_busy_loop() {
    let p = project("cannot");
    let start = Instant::now();
    refused(&p, "out/cpu", &[], "CPU time limit exceeded");
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn background_process_cannot_write_after_its_step() {
    let p = project("cannot");
    p.run(&["out/late"]).succeeded();
    std::thread::sleep(Duration::from_secs(2));
    assert!(p.exists("out/late"));
    assert!(!p.exists("out/late-write"), "the background write happened");
}

// ------------------------------------------------------- makefile settings

fn project_with_makefile(text: &str) -> Project {
    let p = project("cannot");
    p.write("Makefile", text);
    p
}

#[test]
fn unknown_unveil_preset_is_an_error_at_its_line() {
    let p = project_with_makefile("X = 1\nout/x: .UNVEIL += preset:nosuch\nout/x:\n\ttouch $@\n");
    p.run(&["out/x"])
        .failed_with("Makefile:2: *** unknown .UNVEIL preset 'nosuch'");
    assert!(!p.exists("out/x"));
}

#[test]
fn bad_strict_value_is_an_error_at_its_line() {
    let p = project_with_makefile("\n\n.STRICT = yes\nout/x:\n\ttouch $@\n");
    p.run(&["out/x"])
        .failed_with("Makefile:3: *** .STRICT must be 0 or 1, not 'yes'");
    assert!(!p.exists("out/x"));
}

#[test]
fn unsandboxed_clean_removes_anything() {
    let p = project("cannot");
    // Sandboxed, a clean outside its target's directory is refused.
    p.write(
        "Makefile",
        &format!(
            "{}\nout/wipe:\n\trm -rf elsewhere secret\n",
            p.read("Makefile").unwrap()
        ),
    );
    p.run(&["out/wipe"])
        .failed_with("out/wipe] deleted undeclared file 'secret' (denied by sandbox)");
    assert!(p.exists("secret") && p.exists("elsewhere"));
    p.run(&["clean"]).succeeded();
    for gone in ["out", "elsewhere", "secret"] {
        assert!(!p.exists(gone), "{gone} still there");
    }
}

/// An ordinary `clean` rule fails in the sandbox, and says how to let it run.
/// The GNU standard targets that change files no rule declares (`clean`,
/// `install` and their variants, as automake, CMake and MakeMaker write
/// them) run free when they make no file, unless the makefile sets
/// `.UNSANDBOXED` for them; what they depend on is still built sandboxed.
#[test]
fn clean_and_install_targets_run_free_unless_told_otherwise() {
    let p = project_with_makefile(
        ".PHONY: clean clean-am install install-data-am kept sub/clean
clean: clean-am sub/clean
clean-am:
\trm -rf out/old elsewhere/old
sub/clean:
\trm -f elsewhere/cmake-list
install: install-data-am
install-data-am: out/built
\tmkdir -p elsewhere/inst && cp out/built elsewhere/inst/
out/built: src/in.txt
\tcat src/in.txt secret > $@
kept: .UNSANDBOXED = 0
kept:
\trm -f elsewhere/kept
pure_site_install ::
\ttouch elsewhere/perl.pm
",
    );
    for f in [
        "out/old",
        "elsewhere/old",
        "elsewhere/kept",
        "elsewhere/cmake-list",
    ] {
        p.write(f, "x\n");
    }
    p.run(&["clean"]).succeeded();
    assert!(!p.exists("out/old") && !p.exists("elsewhere/old"));
    assert!(!p.exists("elsewhere/cmake-list"));
    // Not phony, and no file of that name: MakeMaker's install targets.
    p.run(&["pure_site_install"]).succeeded();
    assert!(p.exists("elsewhere/perl.pm"));
    // Its prerequisite out/built is built in its own sandbox.
    p.run(&["install"])
        .failed_with("out/built] read undeclared file 'secret' (denied by sandbox)");
    assert!(!p.exists("elsewhere/inst"));
    p.run(&["kept"])
        .failed_with("kept] deleted undeclared file 'elsewhere/kept' (denied by sandbox)");
    let r = p.run(&["--explain-sandbox", "clean-am"]);
    assert!(
        r.stdout
            .contains("unsandboxed (a clean or install target; '.UNSANDBOXED = 0' sandboxes it)"),
        "{}",
        r.text()
    );
}

#[test]
fn sandboxed_clean_fails_and_names_the_fix() {
    let p = project_with_makefile(".PHONY: wipe\nwipe:\n\trm -rf out\n");
    p.write("out/old", "x");
    let r = p.run(&["wipe"]);
    r.failed_with("wipe] removed undeclared directory 'out' (denied by sandbox)");
    assert!(
        r.stderr
            .contains("hbuild: 'wipe' is phony and changes files it does not declare; to run it outside the sandbox, as clean and install rules usually must, add 'wipe: .UNSANDBOXED = 1'"),
        "{}",
        r.text()
    );
    assert!(p.exists("out/old"));
}

/// `static: example minigzip` (zlib): a recipe-less target with no file,
/// or a phony one, gathers prerequisites; a step depending on it may read
/// them (make builds them first and remakes the step every time). Through
/// a recipe-less target that is a file, a change would not remake the
/// step: reading what it gathers stays undeclared.
#[test]
fn prerequisites_gathered_by_an_aggregate_are_readable() {
    let p = project_with_makefile(
        ".PHONY: tools\nt: agg tools\n\tcat a b > $@\nagg: a\ntools: b\na:\n\techo a > $@\nb:\n\techo b > $@\n",
    );
    p.run(&["t"]).succeeded();
    assert_eq!(p.read("t").as_deref(), Some("a\nb\n"));
    let r = p.run(&["--explain-sandbox", "t"]);
    for name in ["a", "b"] {
        assert!(
            r.stdout
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(name) && l.contains("prerequisite")),
            "{}",
            r.text()
        );
    }
    fs::remove_file(p.path("t")).unwrap();
    p.write("agg", "");
    p.run(&["t"])
        .failed_with("t] read undeclared file 'a' (denied by sandbox)");
}

#[test]
fn compiler_dependency_file_is_named_with_the_declaration_that_allows_it() {
    let p = project_with_makefile("%.o: %.c\n\tcc -MMD -c $< -o $@\n");
    p.write("m.c", "int m(void) { return 0; }\n");
    let r = p.run(&["m.o"]);
    r.failed_with("m.o] created undeclared file 'm.d'");
    assert!(
        r.stderr.contains("hbuild: 'm.d' is the dependency file the compiler writes (-MD, -MMD); to let the step write it, add 'm.o: .UNVEIL += rwc:m.d', or for every object '%.o: .UNVEIL += rwc:$(@:.o=.d)'"),
        "{}",
        r.text()
    );
    assert!(!p.exists("m.o") && !p.exists("m.d"));
    // The declaration it names works.
    p.write(
        "Makefile",
        "%.o: .UNVEIL += rwc:$(@:.o=.d)\n%.o: %.c\n\tcc -MMD -c $< -o $@\n",
    );
    p.run(&["m.o"]).succeeded();
    assert!(p.exists("m.o") && p.exists("m.d"));
}

#[test]
fn first_undeclared_read_points_to_the_audit_once() {
    p_reads_twice(
        "a: secret\n\tcat hidden > $@\nb:\n\tcat hidden > $@\n",
        "to find every undeclared input at once: 'hbuild --sandbox=audit --fix-deps=deps.mk', then 'include deps.mk' in the makefile",
    );
}

#[test]
fn generated_makefile_gets_the_way_around_it_instead() {
    p_reads_twice(
        "# CMAKE generated file: DO NOT EDIT!\na:\n\tcat hidden > $@\nb:\n\tcc -MD -MF b.d -x c /dev/null -c -o $@; cat hidden\n",
        "hbuild: the makefile is generated by CMake: declare what its steps read from outside it, with 'hbuild --sandbox=audit --fix-deps=deps.mk' once on a clean tree, then 'MAKEFILES=deps.mk hbuild'",
    );
}

/// Two steps that fail on undeclared accesses under `-k`: `advice` is
/// printed once, and no advice meant for hand-written makefiles with it
/// when the makefile is generated.
fn p_reads_twice(makefile: &str, advice: &str) {
    let p = project_with_makefile(makefile);
    p.write("hidden", "h");
    p.write("secret", "s");
    let r = p.run(&["-k", "a", "b"]);
    r.failed_with("read undeclared file 'hidden' (denied by sandbox)");
    assert_eq!(r.stderr.matches(advice).count(), 1, "{}", r.text());
    if makefile.starts_with("# CMAKE") {
        assert!(!r.stderr.contains(".UNVEIL +="), "{}", r.text());
        assert!(!r.stderr.contains("include deps.mk"), "{}", r.text());
    }
}

#[test]
fn explain_sandbox_names_each_path_and_its_origin() {
    let p = project("cannot");
    let r = p.run(&["--explain-sandbox", "out/unveiled"]);
    r.succeeded();
    let has = |rights: &str, path: &str, origin: &str| {
        r.stdout.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.len() >= 3 && w[0] == rights && w[1] == path && l.contains(origin)
        })
    };
    assert!(
        r.stdout.starts_with("sandbox of 'out/unveiled' (Makefile:"),
        "{}",
        r.text()
    );
    assert!(has("r-x--", "src/in.txt", "prerequisite"), "{}", r.text());
    assert!(has("rw--t", "out/unveiled", "target"), "{}", r.text());
    assert!(has("rwxct", "out", "target directory"), "{}", r.text());
    assert!(
        has("r----", "secret", ".UNVEIL at Makefile:"),
        "{}",
        r.text()
    );
    assert!(
        r.stdout.contains("network: TCP bind and connect denied"),
        "{}",
        r.text()
    );
    assert!(!p.exists("out/unveiled"), "explaining runs nothing");
}

/// `.UNVEIL` may name paths after the target (a compiler's dependency file
/// next to its object): the explanation expands it as the step does.
#[test]
fn unveil_with_automatic_variables_in_the_build_and_its_explanation() {
    let p = project_with_makefile(
        "out/%.o: .UNVEIL += rwc:$(@:.o=.d)\n\
         out/%.o: src/in.txt\n\
         \tcp $< $@\n\
         \techo '$@: $<' > $(@:.o=.d)\n",
    );
    let r = p.run(&["--explain-sandbox", "out/x.o"]);
    r.succeeded();
    assert!(
        r.stdout
            .lines()
            .any(|l| l.contains("out/x.d") && l.contains(".UNVEIL at Makefile:1")),
        "{}",
        r.text()
    );
    p.run(&["out/x.o"]).succeeded();
    assert_eq!(p.read("out/x.d").as_deref(), Some("out/x.o: src/in.txt\n"));
}

/// `$(shell mkdir -p $(@D))` in a recipe (git's makefiles do it) runs when
/// the recipe is expanded, under the read-only `$(shell)` sandbox: the
/// target's directory is made before, so it succeeds quietly, as with make.
#[test]
fn recipe_shell_making_the_target_directory_works() {
    let p = project_with_makefile(
        "out/deep/x: src/in.txt\n\
         \t@echo \"$(shell mkdir -p $(@D) && echo made $(@D))\"\n\
         \tcp $< $@\n",
    );
    let r = p.run(&["out/deep/x"]);
    r.succeeded();
    assert!(r.stdout.contains("made out/deep\n"), "{}", r.text());
    assert!(!r.stderr.contains("Permission denied"), "{}", r.text());
    assert!(!r.stderr.contains("could not"), "{}", r.text());
    assert!(p.exists("out/deep/x"));
}

/// The target directories hbuild makes before a step are out of sight of
/// its recipe's `$(wildcard)` and `$(realpath)` while it is expanded, as
/// under make, which makes none: git's `$(if $(wildcard $(@D)),,@echo
/// MKDIR -p $(@D); $(shell mkdir -p $(@D)))` prints its line as with make.
#[test]
fn target_directories_made_for_a_step_are_unseen_by_its_expansion() {
    let p = project_with_makefile(
        "out/deep/x: src/in.txt\n\
         \t$(if $(wildcard $(@D)),,@echo MKDIR -p $(@D); $(shell mkdir -p $(@D)))\n\
         \t@echo \"seen=[$(wildcard out/deep) $(realpath out/deep)] src=[$(wildcard src)]\"\n\
         \tcp $< $@\n",
    );
    for mode in ["enforce", "audit"] {
        let _ = fs::remove_dir_all(p.path("out/deep"));
        let r = p.run(&[&format!("--sandbox={mode}"), "out/deep/x"]);
        r.succeeded();
        assert!(r.stdout.contains("MKDIR -p out/deep\n"), "{}", r.text());
        assert!(r.stdout.contains("seen=[ ] src=[src]\n"), "{}", r.text());
        assert!(!r.stderr.contains("warning"), "{}", r.text());
        assert!(p.exists("out/deep/x"));
    }
    // Once there, it is seen: nothing to make.
    fs::remove_file(p.path("out/deep/x")).unwrap();
    let r = p.run(&["out/deep/x"]);
    assert!(!r.stdout.contains("MKDIR"), "{}", r.text());
}

/// In audit mode `$(shell)` is refused nothing, as with make, but the writes
/// enforce mode would refuse are said, at parse time and in recipes alike.
#[test]
fn audit_says_which_shell_writes_enforce_would_refuse() {
    let p = project_with_makefile(
        "X := $(shell echo parse > plog; echo ok)\n\
         out/a:\n\t@echo \"X=$(X) r=[$(shell echo r > rlog && echo wrote)] t=[$(shell echo t > $$TMPDIR/t && echo tmp)]\"; touch $@\n",
    );
    let r = p.run(&["--sandbox=audit", "out/a"]);
    r.succeeded();
    assert!(r.stdout.contains("X=ok r=[wrote] t=[tmp]"), "{}", r.text());
    assert!(p.exists("plog") && p.exists("rlog"));
    for line in [
        "Makefile:1: warning: $(shell) may not create 'plog' under --sandbox=enforce (it may write only under $TMPDIR)",
        "Makefile:3: warning: $(shell) may not create 'rlog' under --sandbox=enforce (it may write only under $TMPDIR)",
    ] {
        assert!(r.stderr.contains(line), "{line}\n{}", r.text());
    }
    assert_eq!(
        r.stderr.matches("warning: $(shell)").count(),
        2,
        "{}",
        r.text()
    );
}

/// `$(shell)` while makefiles are read: it reads the project and writes its
/// own TMPDIR. A write elsewhere is refused, and said at the line of the
/// `$(shell)` (a configuration probe would otherwise just find the feature
/// missing); the build goes on, as make's would.
#[test]
fn parse_time_shell_writes_only_its_tmpdir_and_refusals_are_said() {
    let p = project_with_makefile(
        "IN := $(shell cat src/in.txt)\n\
         TMP := $(shell echo t > $$TMPDIR/t && cat $$TMPDIR/t)\n\
         PROBE := $(shell echo x > conftest.c && echo wrote; rm -f conftest.c)\n\
         DROP := $(shell echo x > /dev/null; mkdir -p src/made || true)\n\
         all: ; @echo \"in=$(IN) tmp=$(TMP) probe=$(PROBE)\"\n",
    );
    let r = p.run(&[]);
    r.succeeded();
    assert!(r.stdout.contains("in=input tmp=t probe=\n"), "{}", r.text());
    let warnings: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("could not"))
        .collect();
    assert_eq!(
        warnings,
        [
            "Makefile:3: warning: $(shell) could not create 'conftest.c' (denied by sandbox: $(shell) may write only under $TMPDIR)",
            "Makefile:4: warning: $(shell) could not create directory 'src/made' (denied by sandbox: $(shell) may write only under $TMPDIR)",
        ],
        "{}",
        r.text()
    );
    assert!(!p.exists("conftest.c") && !p.exists("src/made"));
    // Without the sandbox it is make's behaviour, and nothing is said.
    let r = p.run(&["--sandbox=off"]);
    r.succeeded();
    assert!(r.stdout.contains("probe=wrote"), "{}", r.text());
    assert!(!r.stderr.contains("could not"), "{}", r.text());
}

/// `MAKEFILES` names makefiles every make reads, also a plain `make` a step
/// runs (automake's `config.status` runs `make -f - am--depfiles`): steps
/// may read them.
#[test]
fn steps_may_read_the_makefiles_that_makefiles_names() {
    let p = project_with_makefile(
        "out/inner: src/in.txt\n\tprintf 'x:\\n\\t@echo inner $$(V)\\n' | make -s -f - x > $@\n",
    );
    p.write("extra.mk", "V = from-extra\n");
    let env = [("MAKEFILES", "extra.mk")];
    p.run_with_env(".", &env, &["out/inner"]).succeeded();
    assert_eq!(p.read("out/inner").as_deref(), Some("inner from-extra\n"));
    let r = p.run_with_env(".", &env, &["--explain-sandbox", "out/inner"]);
    assert!(
        r.stdout.contains("r----  extra.mk") && r.stdout.contains("MAKEFILES"),
        "{}",
        r.text()
    );
}

/// A phony target names no file: the explanation shows no write rights,
/// as the build gives none (the recipe's `rm` is refused).
#[test]
fn explanation_of_a_phony_target_grants_no_writes() {
    let p = project_with_makefile(".PHONY: wipe\nwipe:\n\trm -f src/in.txt\n");
    let r = p.run(&["--explain-sandbox", "wipe"]);
    r.succeeded();
    assert!(!r.stdout.contains("target"), "{}", r.text());
    assert!(!r.stdout.contains("rwxc"), "{}", r.text());
    p.run(&["wipe"])
        .failed_with("deleted undeclared file 'src/in.txt' (denied by sandbox)");
    assert!(p.exists("src/in.txt"));
}

#[test]
fn require_mode_works_and_info_lists_abi() {
    let p = project("cproject");
    p.run(&["--sandbox=require"]).succeeded();
    assert_eq!(p.output_of("build/bin/tool"), "tool 8 42\n");
    let r = p.run(&["--sandbox-info"]);
    r.succeeded();
    assert!(r.stdout.contains("Landlock: ABI 7"), "{}", r.text());
    assert!(!r.stdout.contains("  no "), "{}", r.text());
}

// ------------------------------------------------------- as a real user

/// Re-run every test of this binary as user 65534. /root is 0700, so the
/// test binary and hbuild are copied into a world-readable directory.
#[test]
fn all_tests_as_unprivileged_user() {
    let Some(out) = rerun_as_unprivileged_user("hermetic-tests") else {
        return;
    };
    assert!(
        out.contains("c_and_cpp_project_compiles_assembles_archives_and_links ... ok"),
        "{out}"
    );
}

/// A sub-make entered with `cd DIR && $(MAKE)` (redis's `cd ../deps`) may
/// work in that directory, as one entered with `-C DIR` may.
#[test]
fn a_sub_make_after_cd_writes_its_own_directory() {
    let p = project("tools");
    for d in ["a", "b"] {
        fs::create_dir_all(p.path(d)).unwrap();
    }
    p.write("a/Makefile", "all:\n\tcd ../b && $(MAKE) out\n");
    p.write("b/Makefile", "out:\n\techo hi > out\n");
    p.run_in("a", &[]).succeeded();
    assert_eq!(p.read("b/out").as_deref(), Some("hi\n"));
}
