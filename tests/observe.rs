//! The observation layer on real processes in temporary directories.
//! `all_tests_as_unprivileged_user` re-runs this whole binary as nobody.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hbuild::observe::{Change, Observer, StepAccesses};

/// Set when this binary runs as the unprivileged re-run.
const UNPRIV_ENV: &str = "HBUILD_OBSERVE_UNPRIV";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    observer: Observer,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        // The kernel reports canonical paths (/proc/PID/cwd).
        let root = dir.path().canonicalize().unwrap();
        let observer = Observer::new(&root).unwrap();
        Fixture {
            _dir: dir,
            root,
            observer,
        }
    }

    fn write(&self, name: &str, text: &str) {
        let p = self.root.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    fn command(&self, script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(script).current_dir(&self.root);
        cmd
    }

    /// Run `cmd` as one observed step watching the project root (flat).
    fn observe_cmd(&self, mut cmd: Command, grace: Duration) -> StepAccesses {
        let step = self
            .observer
            .prepare_step(std::slice::from_ref(&self.root))
            .unwrap();
        step.install(&mut cmd);
        let status = cmd.status().unwrap();
        assert!(status.success(), "{cmd:?} failed: {status}");
        let acc = step.finish(grace);
        assert_eq!(acc.unobserved, None);
        acc
    }

    fn observe(&self, script: &str) -> StepAccesses {
        self.observe_cmd(self.command(script), Duration::ZERO)
    }
}

fn has(set: &std::collections::BTreeSet<PathBuf>, p: &str) -> bool {
    set.contains(Path::new(p))
}

#[test]
fn cat_is_a_read_and_an_exec() {
    let f = Fixture::new();
    f.write("in.txt", "hello");
    let acc = f.observe("cat in.txt > /dev/null");
    assert!(has(&acc.reads, "in.txt"), "{acc:#?}");
    assert!(acc.execs.iter().any(|p| p.ends_with("cat")), "{acc:#?}");
    assert!(
        acc.execs.contains(Path::new("/bin/sh")),
        "the step's own exec: {acc:#?}"
    );
    assert!(acc.creates.is_empty(), "{acc:#?}");
    assert_eq!(
        acc.writes.iter().collect::<Vec<_>>(),
        vec![Path::new("/dev/null")]
    );
    assert!(acc.changes.is_empty());
}

#[test]
fn redirect_to_a_new_file_creates_and_writes() {
    let f = Fixture::new();
    let acc = f.observe("echo x > new");
    assert!(
        has(&acc.creates, "new") && has(&acc.writes, "new"),
        "{acc:#?}"
    );
    assert!(
        !has(&acc.truncates, "new"),
        "new files are not truncated: {acc:#?}"
    );
    // Every request was decoded: no directory comparison needed.
    assert_eq!(acc.unresolved, 0);
    assert!(acc.changes.is_empty(), "{acc:#?}");
}

#[test]
fn redirect_to_an_existing_file_truncates() {
    let f = Fixture::new();
    f.write("old", "long old content");
    let acc = f.observe("echo x > old");
    assert!(
        has(&acc.truncates, "old") && has(&acc.writes, "old"),
        "{acc:#?}"
    );
    assert!(acc.creates.is_empty(), "{acc:#?}");
    // Same file (inode): the directory comparison sees no change; the
    // observed write is what counts.
    assert!(acc.changes.is_empty(), "{acc:#?}");
}

#[test]
fn rm_mv_cp_ln_mkdir() {
    let f = Fixture::new();
    for n in ["gone", "a", "src"] {
        f.write(n, n);
    }
    let acc =
        f.observe("rm gone && mv a b && cp src dst && ln src hard && mkdir d && ln -s src soft");
    assert!(has(&acc.deletes, "gone"), "{acc:#?}");
    assert_eq!(acc.renames, vec![("a".into(), "b".into())]);
    assert!(
        has(&acc.reads, "src") && has(&acc.creates, "dst"),
        "{acc:#?}"
    );
    assert_eq!(acc.links, vec![("src".into(), "hard".into())]);
    assert!(has(&acc.mkdirs, "d"), "{acc:#?}");
    assert_eq!(acc.symlinks, vec![("soft".into(), "src".into())]);
    assert!(acc.changes.is_empty(), "{acc:#?}");
    assert!(
        acc.unexplained_changes().is_empty(),
        "{:#?}",
        acc.unexplained_changes()
    );
}

#[test]
fn gcc_reads_source_and_header_and_creates_object() {
    let f = Fixture::new();
    f.write("x.c", "#include \"h.h\"\nint f(void) { return H; }\n");
    f.write("h.h", "#define H 1\n");
    fs::create_dir(f.root.join("tmp")).unwrap();
    let mut cmd = f.command("gcc -c x.c");
    cmd.env("TMPDIR", f.root.join("tmp"));
    let acc = f.observe_cmd(cmd, Duration::ZERO);
    assert!(has(&acc.reads, "x.c") && has(&acc.reads, "h.h"), "{acc:#?}");
    // `as` creates the object directly; cc1 writes its assembly to TMPDIR.
    assert!(has(&acc.creates, "x.o"), "{acc:#?}");
    let temp = |set: &std::collections::BTreeSet<PathBuf>| set.iter().any(|p| p.starts_with("tmp"));
    assert!(temp(&acc.creates) && temp(&acc.deletes), "{acc:#?}");
    assert!(acc.execs.iter().any(|p| p.ends_with("cc1")), "{acc:#?}");
    assert!(acc.execs.iter().any(|p| p.ends_with("as")), "{acc:#?}");
    let mut own = acc.clone();
    own.retain(|p| p.is_relative() && !p.starts_with("tmp"));
    assert_eq!(own.reads.len(), 2, "{own:#?}");
}

#[test]
fn background_grandchild_is_seen_within_grace() {
    let f = Fixture::new();
    f.write("late", "l");
    let cmd = f.command("( sleep 0.3; cat late > /dev/null ) &");
    let acc = f.observe_cmd(cmd, Duration::from_secs(10));
    assert!(has(&acc.reads, "late"), "{acc:#?}");
    assert!(!acc.outlived);
}

#[test]
fn finish_does_not_wait_for_daemons_beyond_grace() {
    let f = Fixture::new();
    let start = Instant::now();
    let acc = f.observe_cmd(
        f.command("sleep 3 > /dev/null 2>&1 &"),
        Duration::from_millis(100),
    );
    assert!(acc.outlived, "{acc:#?}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn relative_open_after_cd_resolves_against_new_cwd() {
    let f = Fixture::new();
    f.write("sub/g", "g");
    let acc =
        f.observe("cd sub && cat g ../sub/./g > /dev/null && cat ../nothere 2>/dev/null; true");
    assert!(has(&acc.reads, "sub/g"), "{acc:#?}");
    assert!(!has(&acc.reads, "g"), "{acc:#?}");
    assert!(has(&acc.missing, "nothere"), "{acc:#?}");
}

#[test]
fn executing_a_script_is_an_exec() {
    let f = Fixture::new();
    f.write("run.sh", "#!/bin/sh\nexit 0\n");
    fs::set_permissions(f.root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let acc = f.observe("./run.sh");
    assert!(has(&acc.execs, "run.sh"), "{acc:#?}");
}

#[test]
fn io_uring_setup_fails_with_enosys() {
    let f = Fixture::new();
    f.write(
        "uring.c",
        "#include <errno.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n\
         int main(void) { char params[256] = {0};\n\
         long r = syscall(425, 4, params);\n\
         return r == -1 && errno == ENOSYS ? 0 : 1; }\n",
    );
    let built = Command::new("gcc")
        .args(["-o", "uring", "uring.c"])
        .current_dir(&f.root)
        .status();
    assert!(built.unwrap().success());
    // Observed: ENOSYS, so the test can fail only through the filter.
    let acc = f.observe("./uring");
    assert!(has(&acc.execs, "uring"));
}

/// A process that made itself non-dumpable cannot have its paths read
/// (unless the observer may ptrace anything, as root may): what it does
/// to the watched directory is then found by comparing it before and after.
#[test]
fn gaps_in_observation_are_filled_by_the_directory_comparison() {
    let f = Fixture::new();
    f.write("gone", "g");
    let script = "import ctypes, os\n\
                  ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)\n\
                  open('made', 'w').write('m')\n\
                  os.unlink('gone')\n";
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg("-c").arg(script).current_dir(&f.root);
    let acc = f.observe_cmd(cmd, Duration::ZERO);
    if acc.unresolved == 0 {
        // Root: the observer could still read the process.
        assert!(
            std::env::var_os(UNPRIV_ENV).is_none(),
            "an unprivileged observer cannot read a non-dumpable process"
        );
        assert!(
            has(&acc.creates, "made") && has(&acc.deletes, "gone"),
            "{acc:#?}"
        );
        assert!(acc.changes.is_empty(), "{acc:#?}");
    } else {
        let mut want = vec![
            Change::Created("made".into()),
            Change::Deleted("gone".into()),
        ];
        want.sort();
        assert_eq!(acc.changes, want);
        assert_eq!(acc.unexplained_changes().len(), 2, "{acc:#?}");
    }
}

#[test]
fn write_through_inherited_fd_is_no_change() {
    let f = Fixture::new();
    f.write("log", "");
    let log = fs::OpenOptions::new()
        .append(true)
        .open(f.root.join("log"))
        .unwrap();
    let mut cmd = f.command("echo through-the-descriptor");
    cmd.stdout(Stdio::from(log));
    let acc = f.observe_cmd(cmd, Duration::ZERO);
    // hbuild's own output redirected into a target's directory
    // (`hbuild > out/log`) must not count against the steps.
    assert!(!has(&acc.writes, "log"), "no path syscall: {acc:#?}");
    assert!(acc.changes.is_empty(), "{acc:#?}");
    assert!(acc.unexplained_changes().is_empty());
    assert_eq!(
        fs::read_to_string(f.root.join("log")).unwrap(),
        "through-the-descriptor\n"
    );
}

#[test]
fn several_commands_and_concurrent_steps_stay_apart() {
    let f = Fixture::new();
    for i in 0..4 {
        f.write(&format!("f{i}"), "x");
    }
    std::thread::scope(|s| {
        for i in 0..4 {
            let f = &f;
            s.spawn(move || {
                let step = f.observer.prepare_step(&[]).unwrap();
                // Two command lines of one recipe.
                for script in [format!("cat f{i} > /dev/null"), format!("echo > o{i}")] {
                    let mut cmd = f.command(&script);
                    step.install(&mut cmd);
                    assert!(cmd.status().unwrap().success());
                }
                let acc = step.finish(Duration::ZERO);
                let mine: Vec<PathBuf> = acc
                    .reads
                    .iter()
                    .filter(|p| p.is_relative())
                    .cloned()
                    .collect();
                assert_eq!(mine, vec![PathBuf::from(format!("f{i}"))], "{acc:#?}");
                assert!(has(&acc.creates, &format!("o{i}")), "{acc:#?}");
                assert_eq!(acc.creates.len(), 1, "{acc:#?}");
            });
        }
    });
}

#[test]
fn failed_exec_does_not_hang() {
    let f = Fixture::new();
    let step = f.observer.prepare_step(&[]).unwrap();
    let mut cmd = Command::new("/nonexistent/tool");
    step.install(&mut cmd);
    assert!(cmd.spawn().is_err());
    let acc = step.finish(Duration::ZERO);
    assert!(has(&acc.missing, "/nonexistent/tool"), "{acc:#?}");
}

#[test]
fn dropping_a_step_unfinished_keeps_the_observer_working() {
    let f = Fixture::new();
    let step = f.observer.prepare_step(&[]).unwrap();
    let mut cmd = f.command("true");
    step.install(&mut cmd);
    assert!(cmd.status().unwrap().success());
    drop(step);
    f.write("after", "a");
    assert!(has(&f.observe("cat after > /dev/null").reads, "after"));
}

#[test]
fn nested_observer_reports_unobserved_and_outer_sees_all() {
    let f = Fixture::new();
    f.write("in", "i");
    let outer = f.observer.prepare_step(&[]).unwrap();
    let inner = f.observer.prepare_step(&[]).unwrap();
    let mut cmd = f.command("cat in > /dev/null");
    outer.install(&mut cmd);
    // As a nested hbuild would: a second listener under the first is EBUSY.
    inner.install(&mut cmd);
    assert!(cmd.status().unwrap().success(), "the command still runs");
    let inner = inner.finish(Duration::ZERO);
    let outer = outer.finish(Duration::ZERO);
    assert!(inner.unobserved.is_some(), "{inner:#?}");
    assert!(inner.reads.is_empty());
    assert_eq!(outer.unobserved, None);
    assert!(has(&outer.reads, "in"), "{outer:#?}");
}

/// Re-run every test of this binary as nobody (no capabilities). The binary
/// is copied to a world-readable directory: the build tree may be private.
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
    let dir = tempfile::Builder::new()
        .prefix("observe-unpriv")
        .tempdir_in("/tmp")
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.path().join("observe-tests");
    fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&exe)
        .arg("--test-threads=2")
        .env(UNPRIV_ENV, "1")
        .env("TMPDIR", "/tmp")
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("test result: ok"), "{text}");
    assert!(
        text.contains("gcc_reads_source_and_header_and_creates_object ... ok"),
        "{text}"
    );
}

/// A Landlock ruleset allowing reads only of system directories and `ok`,
/// entered by a pre-exec hook as the sandbox does.
fn add_landlock_hook(cmd: &mut Command, readable_file: &Path) {
    use landlock::{path_beneath_rules, AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr, ABI};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    let read = AccessFs::from_read(ABI::V1);
    let dirs = ["/usr", "/lib", "/lib64", "/etc", "/bin", "/dev"];
    let created = Ruleset::default()
        .handle_access(read)
        .unwrap()
        .create()
        .unwrap()
        .add_rules(path_beneath_rules(dirs, read))
        .unwrap()
        .add_rules(path_beneath_rules([readable_file], AccessFs::ReadFile))
        .unwrap();
    let fd: OwnedFd = Option::<OwnedFd>::from(created).expect("Landlock is available");
    // SAFETY: prctl and landlock_restrict_self only, as src/sandbox does.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn denied_reads_are_observed_with_landlock_hook_before_or_after() {
    let f = Fixture::new();
    f.write("ok", "ok");
    f.write("secret", "s");
    // Fails the step if Landlock did not deny the read; the tool "ignores" EACCES.
    let script = "cat ok > /dev/null && if cat secret > /dev/null 2>&1; then exit 1; fi";
    for landlock_first in [true, false] {
        let mut cmd = f.command(script);
        let step = f.observer.prepare_step(&[]).unwrap();
        if landlock_first {
            add_landlock_hook(&mut cmd, &f.root.join("ok"));
            step.install(&mut cmd);
        } else {
            step.install(&mut cmd);
            add_landlock_hook(&mut cmd, &f.root.join("ok"));
        }
        assert!(
            cmd.status().unwrap().success(),
            "landlock first: {landlock_first}"
        );
        let acc = step.finish(Duration::ZERO);
        assert!(
            has(&acc.reads, "ok") && has(&acc.reads, "secret"),
            "{acc:#?}"
        );
    }
}

/// CPU time used so far by this process (all threads, the supervisor
/// included) and its reaped children.
fn cpu_used() -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    let mut total = Duration::ZERO;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage fills a zeroed rusage.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        total += tv(u.ru_utime) + tv(u.ru_stime);
    }
    total
}

/// Mean wall and CPU time of `runs` runs of `make_cmd`.
fn mean_time(
    f: &Fixture,
    runs: u32,
    observed: Observed,
    make_cmd: &dyn Fn() -> Command,
) -> [Duration; 2] {
    let start = Instant::now();
    let cpu = cpu_used();
    for _ in 0..runs {
        let mut cmd = make_cmd();
        match observed {
            Observed::Off => assert!(cmd.status().unwrap().success()),
            Observed::NoopHook => {
                use std::os::unix::process::CommandExt;
                // SAFETY: an empty hook; forces fork+exec as any sandbox hook does.
                unsafe { cmd.pre_exec(|| Ok(())) };
                assert!(cmd.status().unwrap().success());
            }
            Observed::On => {
                let step = f
                    .observer
                    .prepare_step(std::slice::from_ref(&f.root))
                    .unwrap();
                step.install(&mut cmd);
                assert!(cmd.status().unwrap().success());
                step.finish(Duration::ZERO);
            }
        }
    }
    [start.elapsed() / runs, (cpu_used() - cpu) / runs]
}

#[derive(Clone, Copy, Debug)]
enum Observed {
    Off,
    NoopHook,
    On,
}

fn compare(f: &Fixture, what: &str, runs: u32, make_cmd: &dyn Fn() -> Command) {
    // Interleave rounds so machine noise hits all variants alike.
    let mut sums = [[Duration::ZERO; 2]; 3];
    let rounds = 5;
    for _ in 0..rounds {
        for (i, o) in [Observed::Off, Observed::NoopHook, Observed::On]
            .into_iter()
            .enumerate()
        {
            let [wall, cpu] = mean_time(f, runs / rounds, o, make_cmd);
            sums[i][0] += wall;
            sums[i][1] += cpu;
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3 / rounds as f64;
    for (k, kind) in ["wall", "cpu"].into_iter().enumerate() {
        let [off, noop, on] = [ms(sums[0][k]), ms(sums[1][k]), ms(sums[2][k])];
        println!(
            "{what:<28} {kind:<4} off {off:>8.3} ms  fork-hook {noop:>8.3} ms  observed {on:>8.3} ms  \
             observed/off {:.3}  observed/fork-hook {:.3}",
            on / off,
            on / noop
        );
    }
}

/// Prints costs; no assertions on time. Run with
/// `cargo test --release --test observe measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_overhead() {
    let f = Fixture::new();
    // Cost per intercepted syscall: a loop of open+close.
    const OPENS: u32 = 20_000;
    f.write(
        "opens.c",
        &format!(
            "#include <fcntl.h>\n#include <unistd.h>\nint main(void) {{ for (int i = 0; i < {OPENS}; i++) \
             {{ int fd = open(\"opens.c\", O_RDONLY); if (fd < 0) return 1; close(fd); }} return 0; }}\n"
        ),
    );
    let built = Command::new("gcc")
        .args(["-O2", "-o", "opens", "opens.c"])
        .current_dir(&f.root)
        .status();
    assert!(built.unwrap().success());
    let opens = || {
        let mut c = Command::new(f.root.join("opens"));
        c.current_dir(&f.root);
        c
    };
    let off = mean_time(&f, 3, Observed::NoopHook, &opens);
    let on = mean_time(&f, 3, Observed::On, &opens);
    let per = |k: usize| (on[k].as_secs_f64() - off[k].as_secs_f64()) * 1e6 / OPENS as f64;
    println!(
        "per intercepted open: {:.2} us wall, {:.2} us cpu (loop of {OPENS}: {:.1} ms unobserved, {:.1} ms observed)",
        per(0),
        per(1),
        off[0].as_secs_f64() * 1e3,
        on[0].as_secs_f64() * 1e3
    );

    compare(&f, "sh -c true", 50, &|| f.command("true"));
    f.write("x.c", "#include \"h.h\"\nint f(void) { return H; }\n");
    f.write("h.h", "#define H 1\n");
    compare(&f, "gcc -c x.c (tiny)", 50, &|| f.command("gcc -c x.c"));
    f.write(
        "y.c",
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n\
         #include \"h.h\"\nstruct s { int a; char b[16]; };\n\
         int g(int n) { struct s v; memset(&v, 0, sizeof v); for (int i = 0; i < n; i++) v.a += i * H;\n\
         printf(\"%d\\n\", v.a); return (int)sqrt((double)abs(v.a)); }\n",
    );
    compare(&f, "gcc -O2 -c y.c (stdio etc.)", 50, &|| {
        f.command("gcc -O2 -c y.c")
    });
    f.write(
        "main.c",
        "int g(int);\nint main(void) { return g(3) == 2 ? 0 : 1; }\n",
    );
    assert!(f.command("gcc -c main.c").status().unwrap().success());
    compare(&f, "gcc main.o y.o -lm (link)", 50, &|| {
        f.command("gcc -o prog main.o y.o -lm")
    });

    // The snapshot's share: a flat directory of 1000 files, before and after.
    let big = f.root.join("big");
    fs::create_dir(&big).unwrap();
    for i in 0..1000 {
        fs::write(big.join(format!("f{i}")), "x").unwrap();
    }
    let start = Instant::now();
    for _ in 0..20 {
        f.observer
            .prepare_step(std::slice::from_ref(&big))
            .unwrap()
            .finish(Duration::ZERO);
    }
    println!(
        "prepare_step + finish, watching 1000 files: {:.3} ms",
        start.elapsed().as_secs_f64() * 1e3 / 20.0
    );
}
