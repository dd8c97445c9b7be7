//! `--watch`: edits rebuild, makefile edits are re-read, files the build
//! writes never start a build, SIGINT ends it cleanly (status 130).
//!
//! `watch_in_process` drives `hbuild::watch` directly (the builds are the real
//! hbuild binary); `watch_command_line` runs `hbuild --watch` and needs the
//! driver to call `watch::run`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hbuild");
/// Upper bound for any one expected rebuild (never reached when all is well).
const BOUND: Duration = Duration::from_secs(20);

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn read(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(name)).ok()
}

/// Wait until `cond` holds, polling; panics after `BOUND`.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < BOUND, "timed out waiting for {}", what);
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn builds(dir: &Path) -> usize {
    read(dir, "builds.log").map_or(0, |t| t.lines().count())
}

const MAKEFILE: &str = "\
all: .UNSANDBOXED = 1
all: out.txt
\t@echo build >> builds.log
out.txt: in.txt
\tcp in.txt out.txt
";

const MAKEFILE_WITH_EXTRA: &str = "\
all: .UNSANDBOXED = 1
all: out.txt extra.txt
\t@echo build >> builds.log
out.txt: in.txt
\tcp in.txt out.txt
extra.txt:
\techo made > extra.txt
";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Makefile", MAKEFILE);
    write(dir.path(), "in.txt", "v1\n");
    dir
}

/// The shared scenario, with a watcher already started on `dir`.
fn scenario(dir: &Path) {
    wait_until("the first build", || {
        read(dir, "out.txt").as_deref() == Some("v1\n")
    });
    wait_until("the first build to finish", || builds(dir) == 1);

    write(dir, "in.txt", "v2\n");
    wait_until("the rebuild after editing in.txt", || {
        read(dir, "out.txt").as_deref() == Some("v2\n")
    });
    wait_until("the second build to finish", || builds(dir) == 2);

    write(dir, "Makefile", MAKEFILE_WITH_EXTRA);
    wait_until("the new target", || read(dir, "extra.txt").is_some());
    wait_until("the third build to finish", || builds(dir) == 3);

    // A file only the build produces: the watcher must not react.
    write(dir, "out.txt", "written by hand\n");
    write(dir, "extra.txt", "written by hand\n");
    // Longer than the debounce (150 ms) plus a build of this size.
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        builds(dir),
        3,
        "a build started for a file the build writes"
    );
}

#[test]
fn watch_in_process() {
    let dir = fixture();
    let args: Vec<String> = vec![
        "--watch".into(),
        "-s".into(),
        "-C".into(),
        dir.path().to_string_lossy().into_owned(),
    ];
    let hbuild::cli::Command::Build(opts) = hbuild::cli::parse(&args, None) else {
        panic!("options not accepted");
    };
    let inv = hbuild::driver::Invocation {
        argv0: BIN.to_string(),
        args,
    };
    let watcher = std::thread::spawn(move || {
        hbuild::watch::run_with_program(&opts, &inv, &PathBuf::from(BIN))
    });
    scenario(dir.path());
    // SAFETY: the watch installed hbuild's handler, which records the signal.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGINT);
    }
    let start = Instant::now();
    while !watcher.is_finished() {
        assert!(start.elapsed() < BOUND, "the watch did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(watcher.join().unwrap(), 130);
}

/// Kills the watcher if the test fails before it stops it: a watcher left
/// running would keep the test's output pipe open, and the run would hang.
struct Watcher(std::process::Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn watch_command_line() {
    let dir = fixture();
    let mut watcher = Watcher(
        Command::new(BIN)
            .args(["--watch", "-s", "-C"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut watcher.0;
    scenario(dir.path());
    // SAFETY: signalling our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > BOUND {
            let _ = child.kill();
            panic!("hbuild --watch did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(130), "{:?}", status);
}
