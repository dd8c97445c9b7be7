//! The sandbox library on real processes: recipes run through `/bin/sh -c`
//! with the pre-exec hook in temporary projects. Each "cannot" test also runs
//! the same command unsandboxed (or with the right granted) to show that the
//! denial comes from the sandbox.
//!
//! `runs_unprivileged` re-runs this whole file as user 65534.

use hbuild::diag::Loc;
use hbuild::sandbox::{
    install, prepare, reap_orphans, BuildTmp, KernelSupport, Mode, Policy, Resource, StepDecl,
    StepTmp,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Set when this binary runs a test alone in a child process.
const ISOLATED: &str = "HBUILD_SANDBOX_TEST_ISOLATED";

fn kernel() -> &'static KernelSupport {
    static K: OnceLock<KernelSupport> = OnceLock::new();
    K.get_or_init(KernelSupport::detect)
}

/// False (with the reason printed) if the kernel lacks Landlock ABI `abi`.
fn kernel_has(abi: i32, what: &str) -> bool {
    if kernel().abi >= abi {
        return true;
    }
    eprintln!(
        "skipped: {} needs Landlock ABI {}, kernel has {}",
        what,
        abi,
        kernel().abi
    );
    false
}

fn build_tmp() -> &'static BuildTmp {
    static B: OnceLock<BuildTmp> = OnceLock::new();
    B.get_or_init(|| BuildTmp::new().expect("build temp dir"))
}

/// A temporary project directory, readable by everyone (the unprivileged
/// re-run creates its own).
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::Builder::new()
            .prefix("hbuild-sbx-")
            .tempdir()
            .unwrap();
        Project { dir }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }
    fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.path(rel)).ok()
    }
    fn decl(&self, targets: &[&str], prereqs: &[&str]) -> StepDecl {
        StepDecl {
            targets: targets.iter().map(|t| self.path(t)).collect(),
            prereqs: prereqs.iter().map(|t| self.path(t)).collect(),
            shell: "/bin/sh".into(),
            ..StepDecl::default()
        }
    }
    fn step(&self, targets: &[&str], prereqs: &[&str]) -> Step {
        Step::new(self, &self.decl(targets, prereqs))
    }
}

/// A prepared policy, its TMPDIR, and the project it runs in.
struct Step {
    policy: Policy,
    tmp: StepTmp,
    cwd: PathBuf,
    mode: Mode,
    env: Vec<(String, String)>,
}

impl Step {
    fn new(project: &Project, decl: &StepDecl) -> Step {
        let tmp = build_tmp().step().unwrap();
        let mut policy = Policy::for_step(decl).unwrap();
        policy.set_tmpdir(tmp.path());
        Step {
            policy,
            tmp,
            cwd: project.dir.path().to_path_buf(),
            mode: Mode::Enforce,
            env: Vec::new(),
        }
    }

    fn off(mut self) -> Step {
        self.mode = Mode::Off;
        self
    }

    fn env(mut self, k: &str, v: &str) -> Step {
        self.env.push((k.into(), v.into()));
        self
    }

    fn command(&self, script: &str) -> Command {
        let prepared = Arc::new(prepare(&self.policy, kernel(), self.mode).unwrap());
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(script)
            .current_dir(&self.cwd)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LC_ALL", "C")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        install(&mut cmd, prepared);
        cmd
    }

    fn run(&self, script: &str) -> Output {
        self.command(script).output().unwrap()
    }

    /// Run and require success, showing the output otherwise.
    fn ok(&self, script: &str) -> String {
        let out = self.run(script);
        assert!(
            out.status.success(),
            "`{}` failed: {}\nstdout: {}\nstderr: {}\npolicy:\n{}",
            script,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.policy
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run and require failure.
    fn denied(&self, script: &str) {
        let out = self.run(script);
        assert!(
            !out.status.success(),
            "`{}` should have been denied\nstdout: {}",
            script,
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

// ---------------------------------------------------------------- can do

#[test]
fn compiles_archives_and_links_c_and_cpp() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    p.write("inc/util.h", "int twice(int);\n");
    p.write(
        "util.c",
        "#include \"util.h\"\nint twice(int x) { return 2 * x; }\n",
    );
    p.write(
        "main.c",
        "#include <stdio.h>\n#include \"util.h\"\nint three(void);\nint cxx(void);\n\
         int main(void) { printf(\"%d\\n\", twice(three()) + cxx()); return 0; }\n",
    );
    p.write("three.c", "int three(void) { return 3; }\n");
    p.write(
        "cxx.cpp",
        "#include <string>\nextern \"C\" int cxx(void) { return std::string(\"ab\").size(); }\n",
    );
    let gcc = |t: &str, pre: &[&str], cmd: &str| p.step(&[t], pre).ok(cmd);
    gcc(
        "util.o",
        &["util.c", "inc"],
        "gcc -Iinc -c util.c -o util.o",
    );
    gcc(
        "main.o",
        &["main.c", "inc"],
        "cc -Iinc -O2 -c main.c -o main.o",
    );
    gcc("three.s", &["three.c"], "gcc -S three.c -o three.s");
    gcc("three.o", &["three.s"], "as three.s -o three.o");
    gcc("cxx.o", &["cxx.cpp"], "g++ -c cxx.cpp -o cxx.o");
    gcc(
        "both.o",
        &["util.o", "three.o"],
        "ld -r util.o three.o -o both.o",
    );
    gcc("libu.a", &["both.o"], "ar rcs libu.a both.o");
    gcc(
        "prog",
        &["main.o", "cxx.o", "libu.a"],
        "g++ main.o cxx.o libu.a -o prog",
    );
    let out = gcc("out.txt", &["prog"], "./prog > out.txt && cat out.txt");
    assert_eq!(out, "8\n");
    // Rebuild over existing outputs: ld and gcc unlink and re-create them.
    gcc(
        "prog",
        &["main.o", "cxx.o", "libu.a"],
        "g++ main.o cxx.o libu.a -o prog",
    );
    gcc("libu.a", &["both.o"], "ar rcs libu.a both.o");
}

#[test]
fn writes_every_target_of_a_grouped_rule() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    p.write("in", "x\n");
    fs::create_dir(p.path("gen")).unwrap();
    p.step(&["a.h", "gen/a.c", "deep/new/a.txt"], &["in"])
        .ok("cp in a.h && cp in gen/a.c && mkdir -p deep/new && cat in > deep/new/a.txt");
    assert_eq!(p.read("a.h").as_deref(), Some("x\n"));
    assert_eq!(p.read("gen/a.c").as_deref(), Some("x\n"));
    assert_eq!(p.read("deep/new/a.txt").as_deref(), Some("x\n"));
}

#[test]
fn replaces_targets_by_unlink_rename_and_truncate() {
    if !kernel_has(3, "truncation rules") {
        return;
    }
    let p = Project::new();
    p.write("src", "new\n");
    for t in ["sed.txt", "cp.txt", "inst.txt", "trunc.txt"] {
        p.write(t, "old\n");
    }
    let s = p.step(&["sed.txt", "cp.txt", "inst.txt", "trunc.txt"], &["src"]);
    s.ok("sed -i s/old/edited/ sed.txt");
    s.ok("cp src cp.txt && cp -f src cp.txt");
    s.ok("install -m 644 src inst.txt");
    s.ok("echo truncated > trunc.txt");
    s.ok("rm -f cp.txt && cp src cp.txt");
    assert_eq!(p.read("sed.txt").as_deref(), Some("edited\n"));
    assert_eq!(p.read("cp.txt").as_deref(), Some("new\n"));
    assert_eq!(p.read("inst.txt").as_deref(), Some("new\n"));
    assert_eq!(p.read("trunc.txt").as_deref(), Some("truncated\n"));
}

#[test]
fn uses_its_private_tmpdir() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    let s = p.step(&["out"], &[]);
    let tmp = s.tmp.path().to_path_buf();
    let got = s.ok("t=$(mktemp) && echo hi > $t && cat $t > out && echo $TMPDIR");
    assert_eq!(got.trim(), tmp.display().to_string());
    assert_eq!(p.read("out").as_deref(), Some("hi\n"));
    // Other steps' temporary directories are out of reach.
    let other = p.step(&["out2"], &[]);
    other.denied(&format!("ls {}", tmp.display()));
    drop(s);
    assert!(!tmp.exists());
}

#[test]
fn reads_a_directory_prerequisite_subtree() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    p.write("assets/a/b/c.txt", "deep\n");
    p.write("assets/top.txt", "top\n");
    let out = p
        .step(&["bundle"], &["assets"])
        .ok("find assets -type f | sort && cat assets/a/b/c.txt assets/top.txt > bundle");
    assert_eq!(out, "assets/a/b/c.txt\nassets/top.txt\n");
    assert_eq!(p.read("bundle").as_deref(), Some("deep\ntop\n"));
}

#[test]
fn common_tools_run_under_the_system_preset() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    p.write("in.txt", "b 2\na 1\n");
    let s = p.step(&["out"], &["in.txt"]);
    let run = |cmd: &str, expect: &str| {
        let got = s.ok(cmd);
        assert_eq!(got, expect, "{}", cmd);
    };
    run("awk '{print $2}' in.txt", "2\n1\n");
    run("grep -c . in.txt", "2\n");
    run("sort in.txt | head -1", "a 1\n");
    run("sed -n 1p in.txt", "b 2\n");
    run(
        "/usr/bin/python3 -c 'import os,sys,subprocess,tempfile,json,mimetypes; mimetypes.guess_type(\"a.html\"); print(open(\"in.txt\").read().split()[1])'",
        "2\n",
    );
    run(
        "/usr/bin/python3 -c 'import subprocess; print(subprocess.run([\"echo\",\"ok\"],capture_output=True,text=True).stdout,end=\"\")'",
        "ok\n",
    );
    run("perl -ne 'print if /a/' in.txt", "a 1\n");
    run(
        "perl -MPOSIX -MFile::Temp=tempfile -e 'my ($fh,$n)=tempfile(); print \"ok\\n\"'",
        "ok\n",
    );
    run(
        "date -u +%Y >/dev/null && id -un >/dev/null && ls -l in.txt >/dev/null && echo ok",
        "ok\n",
    );
    run("nproc >/dev/null && echo ok", "ok\n");
    // setlocale reads the alias table through a link into /etc.
    if std::path::Path::new("/etc/locale.alias").exists() {
        run(
            "grep -c . /usr/share/locale/locale.alias >/dev/null && echo ok",
            "ok\n",
        );
    }
    run(
        "make --version >/dev/null 2>&1; head -c 4 /dev/urandom | wc -c",
        "4\n",
    );
}

// ---------------------------------------------------------------- cannot do

#[test]
fn cannot_read_undeclared_project_files() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    p.write("secret.txt", "secret\n");
    p.write("sub/x", "x\n");
    let link = p.path("sub/link");
    std::os::unix::fs::symlink(p.path("secret.txt"), &link).unwrap();
    fs::create_dir(p.path("build")).unwrap();
    // Files next to a target are readable (see docs/sandbox.md), so the
    // target lives in its own directory here.
    let s = p.step(&["build/out"], &["sub/x"]);
    let abs = p.path("secret.txt").display().to_string();
    let tries = [
        "cat secret.txt".to_string(),
        "cat sub/link".to_string(),
        "cat sub/../secret.txt".to_string(),
        format!("cat /proc/self/root{}", abs),
        format!("cat {}", abs),
        "ls .".to_string(),
    ];
    for t in &tries {
        s.denied(t);
        s.tmp.path(); // keep the step alive for the whole loop
    }
    // Without the sandbox each of them works.
    s.ok("cat sub/x > build/out");
    let open = p.step(&["build/out"], &["sub/x"]).off();
    for t in &tries {
        open.ok(t);
    }
}

#[test]
fn cannot_read_home_or_tmp() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    let home = tempfile::tempdir().unwrap();
    fs::write(home.path().join(".netrc"), "password\n").unwrap();
    let in_tmp = tempfile::NamedTempFile::new().unwrap();
    fs::write(in_tmp.path(), "shared\n").unwrap();
    let s = p
        .step(&["out"], &[])
        .env("HOME", &home.path().display().to_string());
    s.denied("cat $HOME/.netrc");
    s.denied(&format!("cat {}", in_tmp.path().display()));
    s.denied("ls /tmp");
    s.denied("cat /etc/shadow || cat /etc/hostname");
    if let Ok(real_home) = std::env::var("HOME") {
        if fs::read_dir(&real_home).is_ok() {
            s.denied(&format!("ls {}", real_home));
        }
    }
    let open = p
        .step(&["out"], &[])
        .env("HOME", &home.path().display().to_string())
        .off();
    open.ok("cat $HOME/.netrc");
    open.ok(&format!("cat {}", in_tmp.path().display()));
}

#[test]
fn cannot_write_outside_the_targets_directories() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    fs::create_dir(p.path("out")).unwrap();
    fs::create_dir(p.path("other")).unwrap();
    p.write("src.c", "int x;\n");
    let s = p.step(&["out/a.o"], &["src.c"]);
    s.denied("echo x > other/f");
    s.denied("echo x > f-at-top");
    s.denied("rm src.c");
    s.denied("mv src.c out/");
    s.denied("echo x >> src.c");
    s.denied("mkdir other/d");
    s.ok("echo x > out/a.o");
    assert!(p.path("src.c").exists());
    assert!(!p.path("other/f").exists());
    p.step(&["out/a.o"], &["src.c"])
        .off()
        .ok("echo x > other/f");
}

#[test]
fn a_recreated_target_can_be_truncated_again() {
    if !kernel_has(3, "truncation rules") {
        return;
    }
    // `rm -f $@; ar cq $@ ...`: the new file's rights come from the target
    // directory only, and ar re-opens it with O_TRUNC. (Existing undeclared
    // files next to a target are kept safe by the observer, which refuses
    // their truncation: tests/hermetic.rs, cannot_truncate_an_existing_sibling_*.)
    let p = Project::new();
    p.write("target.txt", "old\n");
    let s = p.step(&["target.txt"], &[]);
    s.ok("rm -f target.txt && echo x > target.txt && echo y > target.txt");
    assert_eq!(p.read("target.txt").as_deref(), Some("y\n"));
    let fresh = p.step(&["new.txt"], &[]);
    fresh.ok("echo x > new.txt && echo y > new.txt");
    assert_eq!(p.read("new.txt").as_deref(), Some("y\n"));
}

#[test]
fn cannot_connect_to_tcp() {
    if !kernel_has(4, "TCP rules") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let p = Project::new();
    let script = format!(
        "/usr/bin/python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {}), timeout=5)'",
        port
    );
    p.step(&["out"], &[]).denied(&script);
    let mut decl = p.decl(&["out"], &[]);
    decl.internet = true;
    Step::new(&p, &decl).ok(&script);
}

#[test]
fn cannot_signal_outside_the_step() {
    if !kernel_has(6, "signal scoping") {
        return;
    }
    let p = Project::new();
    let mut victim = Command::new("sleep").arg("30").spawn().unwrap();
    let s = p.step(&["out"], &[]);
    s.denied("kill -0 $PPID");
    s.denied(&format!("kill -TERM {}", victim.id()));
    // Its own processes it can signal.
    s.ok("sleep 30 & kill $! && wait $! ; true");
    std::thread::sleep(Duration::from_millis(100));
    assert!(victim.try_wait().unwrap().is_none(), "victim was killed");
    let open = p.step(&["out"], &[]).off();
    open.ok("kill -0 $PPID");
    open.ok(&format!("kill -TERM {}", victim.id()));
    let _ = victim.wait();
}

fn with_limit(p: &Project, r: Resource, value: &str) -> Step {
    let mut decl = p.decl(&["out"], &[]);
    let loc = Loc::new(&Arc::from("Makefile"), 1);
    decl.rlimits.push((r, value.into(), loc));
    Step::new(p, &decl)
}

#[test]
fn cannot_exceed_memory_and_cpu_limits() {
    let p = Project::new();
    let grab = "/usr/bin/python3 -c 'x = bytearray(300 << 20)'";
    with_limit(&p, Resource::Memory, "100m").denied(grab);
    p.step(&["out"], &[]).ok(grab);
    let start = Instant::now();
    let spin = "/usr/bin/python3 -c 'while True: pass'";
    let out = with_limit(&p, Resource::Cpu, "1").run(spin);
    assert!(!out.status.success());
    assert!(start.elapsed() < Duration::from_secs(10));
    with_limit(&p, Resource::Fsize, "1k").denied("head -c 4096 /dev/zero > out");
}

/// Run the named test alone in a child process (it changes process-wide
/// state); returns true in that child.
fn isolated(name: &str) -> bool {
    if std::env::var_os(ISOLATED).is_some() {
        return true;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(ISOLATED, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "isolated {} failed:\n{}{}",
        name,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[test]
fn leaves_no_background_writer() {
    if !isolated("leaves_no_background_writer") {
        return;
    }
    hbuild::sandbox::become_subreaper().unwrap();
    let p = Project::new();
    let s = p.step(&["out", "out2"], &[]);
    let mut child = s
        .command("(sleep 1; echo late > out2) & (setsid sh -c 'sleep 1; echo late > out3' &) ; echo now > out")
        .spawn()
        .unwrap();
    child.wait().unwrap();
    let killed = reap_orphans(&[]);
    assert!(killed >= 2, "killed {}", killed);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(p.read("out").as_deref(), Some("now\n"));
    assert!(
        !p.path("out2").exists(),
        "a background writer outlived its step"
    );
    assert!(
        !p.path("out3").exists(),
        "a setsid writer outlived its step"
    );
    assert!(hbuild::sandbox::children().is_empty());
}

// ---------------------------------------------------------------- as a real user

/// Re-run this file as user 65534 (sessions run as root; real users do not).
#[test]
fn runs_unprivileged() {
    if std::env::var_os(ISOLATED).is_some() {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: already unprivileged");
        return;
    }
    if !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: setpriv is not installed");
        return;
    }
    // /root is 0700: copy the binary somewhere user 65534 can read.
    let dir = tempfile::Builder::new()
        .prefix("hbuild-unpriv-")
        .tempdir()
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("sandbox-tests");
    fs::copy(std::env::current_exe().unwrap(), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["--skip", "runs_unprivileged", "--test-threads=2"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("TMPDIR", "/tmp")
        .env("HBUILD_SANDBOX_UNPRIVILEGED", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "unprivileged run failed:\n{}", text);
    assert!(text.contains("test result: ok"), "{}", text);
}

/// Debugging aid: `HB_CMD='...' HB_TARGETS='a b' HB_PREREQS='c' cargo test
/// --test sandbox debug_run -- --ignored --nocapture` runs a command in a
/// fresh project holding copies of HB_FILES (whitespace list).
#[test]
#[ignore]
fn debug_run() {
    let p = Project::new();
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    for f in var("HB_FILES").split_whitespace() {
        fs::copy(
            f,
            p.path(Path::new(f).file_name().unwrap().to_str().unwrap()),
        )
        .unwrap();
    }
    let targets = var("HB_TARGETS");
    let prereqs = var("HB_PREREQS");
    let t: Vec<&str> = targets.split_whitespace().collect();
    let pr: Vec<&str> = prereqs.split_whitespace().collect();
    let out = p.step(&t, &pr).run(&var("HB_CMD"));
    println!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Cost of the sandbox per step: `cargo test --release --test sandbox
/// measure_cost -- --ignored --nocapture`. Prints, does not assert.
#[test]
#[ignore]
fn measure_cost() {
    let p = Project::new();
    let spawn = |step: &Step, mode: Mode| {
        let prepared = Arc::new(prepare(&step.policy, kernel(), mode).unwrap());
        let mut cmd = Command::new("/bin/true");
        install(&mut cmd, prepared);
        cmd.status().unwrap();
    };
    for n in [1usize, 10, 100, 1000] {
        let names: Vec<String> = (0..n).map(|i| format!("in/f{}", i)).collect();
        for name in &names {
            p.write(name, "x");
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let step = p.step(&["out"], &refs);
        let rounds = 200;
        let t = Instant::now();
        for _ in 0..rounds {
            prepare(&step.policy, kernel(), Mode::Enforce).unwrap();
        }
        let prep = t.elapsed() / rounds;
        let t = Instant::now();
        for _ in 0..rounds {
            spawn(&step, Mode::Off);
        }
        let plain = t.elapsed() / rounds;
        let t = Instant::now();
        for _ in 0..rounds {
            spawn(&step, Mode::Enforce);
        }
        let sandboxed = t.elapsed() / rounds;
        println!(
            "{:>4} declared paths ({} rules): prepare {:>8.1?}  spawn /bin/true: plain {:>8.1?}, sandboxed {:>8.1?} (prepare included)",
            n,
            step.policy.entries.len(),
            prep,
            plain,
            sandboxed
        );
    }
}

#[test]
fn strict_steps_get_only_the_shell_and_what_they_unveil() {
    if !kernel_has(1, "the sandbox") {
        return;
    }
    let p = Project::new();
    p.write("in", "x\n");
    let mut decl = p.decl(&["out"], &["in"]);
    decl.strict = true;
    let strict = Step::new(&p, &decl);
    strict.ok("read line < in && echo \"$line\" > out");
    strict.denied("cat in > out");
    let loc = Loc::new(&Arc::from("Makefile"), 2);
    decl.unveil.push(("rx:/usr/bin/cat".into(), loc));
    Step::new(&p, &decl).ok("cat in > out");
}
