//! End-to-end tests of the build engine that a differential run cannot
//! express: the jobserver bound across a recursion mixing hbuild and GNU make,
//! interrupts, descriptors seen by recipes, `.WAIT`, whole-line output under
//! `--output-sync`, and a small C project built by both tools.

use std::collections::BTreeMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const HBUILD: &str = env!("CARGO_BIN_EXE_hbuild");
const MAKE: &str = "/usr/bin/make";

fn write(path: &Path, text: &str) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// A command with a clean environment and no inherited descriptor above 2.
/// These tests are about the engine, not the sandbox (tests/hermetic.rs):
/// every hbuild runs with the sandbox off (also under a GNU make parent).
fn command(program: &str, dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(program);
    c.args(args)
        .current_dir(dir)
        .env_clear()
        .env("HBUILD_SANDBOX", "off")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    // SAFETY: close_range only closes descriptors in the child before exec.
    unsafe {
        c.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
    c
}

fn run(program: &str, dir: &Path, args: &[&str]) -> Output {
    command(program, dir, args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The most recipes running at one instant, from `start NAME NS` / `end NAME
/// NS` lines.
fn max_concurrent(log: &str) -> usize {
    let mut events: Vec<(u128, i32)> = log
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let kind = w.next()?;
            let _name = w.next()?;
            let t: u128 = w.next()?.parse().ok()?;
            // Ends sort before starts at the same instant.
            Some((t, if kind == "start" { 1 } else { -1 }))
        })
        .collect();
    events.sort();
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in events {
        cur += d;
        max = max.max(cur);
    }
    max as usize
}

/// Three levels, each with several slow recipes and a sub-make; the tools
/// alternate from level to level.
fn recursion_tree(root: &Path, tools: [&str; 3]) {
    let rec = root.join("rec.sh");
    write(
        &rec,
        &format!(
            "#!/bin/sh\necho \"start $1 $(date +%s%N)\" >> {log}\nsleep 0.2\necho \"end $1 $(date +%s%N)\" >> {log}\n",
            log = root.join("log").display()
        ),
    );
    let dirs = [root.to_path_buf(), root.join("l1"), root.join("l1/l2")];
    for (level, dir) in dirs.iter().enumerate() {
        let names: Vec<String> = (1..=4).map(|i| format!("t{}", i)).collect();
        let mut mk = format!("all: {}", names.join(" "));
        if level < 2 {
            mk.push_str(" sub");
        }
        mk.push_str(&format!(
            "\n{}:\n\t@sh {} L{}-$@\n",
            names.join(" "),
            rec.display(),
            level
        ));
        if level < 2 {
            mk.push_str(&format!(
                "sub:\n\t+@{} -s -C l{}\n",
                tools[level + 1],
                level + 1
            ));
        }
        write(&dir.join("Makefile"), &mk);
    }
}

#[test]
fn jobserver_bounds_a_recursion_of_hbuild_and_make() {
    for tools in [[HBUILD, MAKE, HBUILD], [MAKE, HBUILD, MAKE]] {
        let d = tempfile::tempdir().unwrap();
        recursion_tree(d.path(), tools);
        let out = run(tools[0], d.path(), &["-s", "-j3"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        // GNU make checks at exit that every token came back.
        assert!(
            !text(&out.stderr).contains("INTERNAL"),
            "{}",
            text(&out.stderr)
        );
        let log = std::fs::read_to_string(d.path().join("log")).unwrap();
        assert_eq!(log.lines().count(), 24, "{}", log);
        let max = max_concurrent(&log);
        assert!(max <= 3, "{} recipes at once with -j3 ({:?})", max, tools);
        assert!(max >= 2, "no parallelism at all ({:?})", tools);
    }
}

#[test]
fn interrupt_deletes_partial_targets_and_dies_of_the_signal() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        interrupted_by(sig);
    }
}

fn interrupted_by(sig: libc::c_int) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(&p.join("src"), "source\n");
    write(
        &p.join("Makefile"),
        ".PRECIOUS: kept\nall: done part1 part2 kept\n\
         done: src\n\tcp src $@\n\
         part1 part2 kept: done\n\techo partial > $@; sleep 30; echo finished >> $@\n",
    );
    let child = command(HBUILD, p, &["-j4"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(p.join("part1").exists() && p.join("part2").exists() && p.join("kept").exists()) {
        assert!(Instant::now() < deadline, "recipes never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    let src_before = std::fs::metadata(p.join("src"))
        .unwrap()
        .modified()
        .unwrap();
    // SAFETY: sending a signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
    let start = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "recipes were not stopped"
    );
    assert_eq!(out.status.signal(), Some(sig), "{:?}", out.status);
    let err = text(&out.stderr);
    assert!(
        !p.join("part1").exists() && !p.join("part2").exists(),
        "{}",
        err
    );
    // As make: each recipe's deletions, then how the signal ended it.
    let desc = match sig {
        libc::SIGINT => "Interrupt",
        libc::SIGTERM => "Terminated",
        _ => "Hangup",
    };
    let deleting = err.find("hbuild: *** Deleting file 'part1'");
    let ended = err.find(&format!("hbuild: *** [Makefile:6: part1] {}", desc));
    assert!(deleting.is_some() && ended > deleting, "{}", err);
    assert!(
        err.contains(&format!("hbuild: *** [Makefile:6: kept] {}", desc)),
        "{}",
        err
    );
    assert!(p.join("kept").exists(), "a .PRECIOUS target was deleted");
    assert_eq!(std::fs::read_to_string(p.join("done")).unwrap(), "source\n");
    assert_eq!(std::fs::read_to_string(p.join("src")).unwrap(), "source\n");
    let src_after = std::fs::metadata(p.join("src"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(src_before, src_after);
}

/// The descriptor list printed after `tag` by the recipe.
fn fds_after(out: &Output, tag: &str) -> String {
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(tag))
        .unwrap_or("none")
        .trim()
        .to_string()
}

#[test]
fn recipes_see_only_stdio_and_the_jobserver() {
    let d = tempfile::tempdir().unwrap();
    // `ls` shows its own descriptors; the highest is the directory it reads.
    write(
        &d.path().join("Makefile"),
        "all:\n\t@ls /proc/self/fd | xargs echo plain:\n\t+@ls /proc/self/fd | xargs echo recursive:\n",
    );
    let serial = run(HBUILD, d.path(), &[]);
    assert_eq!(fds_after(&serial, "plain:"), "0 1 2 3");
    assert_eq!(fds_after(&serial, "recursive:"), "0 1 2 3");
    let make = run(MAKE, d.path(), &["-j2"]);
    for args in [&["-j2"][..], &["-j2", "-Otarget"], &["-j2", "-Oline"]] {
        let out = run(HBUILD, d.path(), args);
        assert_eq!(fds_after(&out, "plain:"), "0 1 2 3", "{:?}", args);
        // Sub-makes get the jobserver's two descriptors, as with GNU make.
        assert_eq!(fds_after(&out, "recursive:"), "0 1 2 3 4 5", "{:?}", args);
        assert_eq!(fds_after(&make, "recursive:"), "0 1 2 3 4 5");
    }
}

/// With the sandbox and the observer on (the default), a recipe still sees
/// only stdio: neither the Landlock ruleset, the observer's sockets nor the
/// per-step temporary directory leak. `/proc/self/fd` cannot be listed in
/// the sandbox, so the recipe probes descriptors with fstat.
#[test]
fn sandboxed_recipes_see_only_stdio() {
    let d = tempfile::tempdir().unwrap();
    let probe = "import os\nopen_fds = []\nfor fd in range(3, 1024):\n    try:\n        os.fstat(fd)\n        open_fds.append(fd)\n    except OSError:\n        pass\nprint(open_fds)\n";
    std::fs::write(d.path().join("probe.py"), probe).unwrap();
    write(
        &d.path().join("Makefile"),
        "fds.txt: probe.py\n\t/usr/bin/python3 probe.py > $@\n",
    );
    for args in [&[][..], &["-j2"]] {
        let _ = std::fs::remove_file(d.path().join("fds.txt"));
        // The harness's own stray descriptors are closed by `command`.
        let out = command(HBUILD, d.path(), args)
            .env_remove("HBUILD_SANDBOX")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let fds = std::fs::read_to_string(d.path().join("fds.txt")).unwrap();
        assert_eq!(fds.trim(), "[]", "{:?}", args);
    }
}

#[test]
fn wait_serialises_prerequisites() {
    let d = tempfile::tempdir().unwrap();
    write(
        &d.path().join("Makefile"),
        "all: a b .WAIT c\na b c:\n\t@echo start $@ >> log; sleep 0.2; echo end $@ >> log\n",
    );
    let out = run(HBUILD, d.path(), &["-j3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(d.path().join("log")).unwrap();
    let pos = |l: &str| log.lines().position(|x| x == l).unwrap();
    assert!(
        pos("start c") > pos("end a") && pos("start c") > pos("end b"),
        "{}",
        log
    );
    // a and b still ran together.
    assert!(pos("start b") < pos("end a"), "{}", log);
}

#[test]
fn output_sync_keeps_lines_and_groups_whole() {
    let d = tempfile::tempdir().unwrap();
    // Each job writes its line in many small pieces.
    let mut mk = String::from("all: j1 j2 j3 j4\nj1 j2 j3 j4:\n");
    mk.push_str(
        "\t@for i in 1 2 3 4 5 6 7 8 9 10; do printf '$@-%s ' $$i; sleep 0.01; done; echo\n",
    );
    mk.push_str("\t@echo $@ second\n");
    write(&d.path().join("Makefile"), &mk);
    for mode in ["-Oline", "-Otarget", "-Orecurse"] {
        let out = run(HBUILD, d.path(), &["-j4", mode]);
        let stdout = text(&out.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 8, "{}", stdout);
        for l in &lines {
            let job = &l[..2];
            let whole: String = (1..=10).map(|i| format!("{}-{} ", job, i)).collect();
            assert!(
                *l == whole || *l == format!("{} second", job),
                "cut line: {:?}",
                l
            );
        }
        if mode != "-Oline" {
            for pair in lines.chunks(2) {
                assert_eq!(pair[1], format!("{} second", &pair[0][..2]), "{}", stdout);
            }
        }
    }
}

/// Every file under `root`, with its contents.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// make's output with `make` spelt `hbuild` and the run directory removed.
fn normalised(out: &Output, dir: &Path, renamed: bool) -> String {
    let mut s = text(&out.stdout).replace(&dir.display().to_string(), "<DIR>");
    if renamed {
        s = s
            .replace("make[", "hbuild[")
            .replace("make: ", "hbuild: ")
            .replace(&format!("{} -C", MAKE), "hbuild -C")
            .replace("make -C", "hbuild -C");
    } else {
        s = s.replace(&format!("{} -C", HBUILD), "hbuild -C");
    }
    s
}

#[test]
fn fixture_project_builds_identically_with_make_and_hbuild() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/engine/project");
    for jobs in ["-j1", "-j4"] {
        let mut results = Vec::new();
        for tool in [MAKE, HBUILD] {
            let d = tempfile::tempdir().unwrap();
            copy_dir(&project, d.path());
            let out = run(tool, d.path(), &[jobs]);
            assert!(
                out.status.success(),
                "{} {}: {}",
                tool,
                jobs,
                text(&out.stderr)
            );
            let app = run(
                &d.path().join("app1/app1").display().to_string(),
                d.path(),
                &[],
            );
            assert_eq!(text(&app.stdout), "app1 1.2.3 5\n");
            // A second run has nothing to do.
            let again = run(tool, d.path(), &[jobs, "-q"]);
            assert_eq!(again.status.code(), Some(0), "{} {} -q", tool, jobs);
            let stdout = normalised(&out, d.path(), tool == MAKE);
            results.push((tree(d.path()), stdout));
        }
        assert!(results[0].0 == results[1].0, "files differ at {}", jobs);
        if jobs == "-j1" {
            assert_eq!(results[0].1, results[1].1, "output differs at -j1");
        }
    }
}

#[test]
fn joins_a_gnu_make_4_4_fifo_jobserver() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Hold the fifo open with two tokens in it, as the parent make would.
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    std::io::Write::write_all(&mut &holder, b"++").unwrap();
    let log = d.path().join("log");
    write(
        &d.path().join("Makefile"),
        &format!(
            "all: a b c d e f\na b c d e f:\n\t@echo start $@ $$(date +%s%N) >> {log}; sleep 0.2; echo end $@ $$(date +%s%N) >> {log}\n",
            log = log.display()
        ),
    );
    let out = command(HBUILD, d.path(), &[])
        .env(
            "MAKEFLAGS",
            format!(" -j3 --jobserver-auth=fifo:{}", fifo.display()),
        )
        .env("MAKELEVEL", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(&log).unwrap();
    let max = max_concurrent(&log);
    assert!(
        (2..=3).contains(&max),
        "{} at once with 2 tokens\n{}",
        max,
        log
    );
    // Every token went back.
    let mut buf = [0u8; 8];
    // SAFETY: non-blocking read of our own descriptor.
    let n = unsafe {
        use std::os::fd::AsRawFd;
        libc::fcntl(holder.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
        libc::read(holder.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
    };
    assert_eq!(n, 2, "tokens lost or added");
}
