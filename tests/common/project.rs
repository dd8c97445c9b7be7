//! What the end-to-end tests of the sandbox (`tests/hermetic.rs`) and of the
//! audit (`tests/audit.rs`) share: a fixture copied into a temporary project,
//! hbuild runs in it with a clean environment, and the re-run of a whole test
//! binary as an unprivileged user.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// Set in the unprivileged re-run, so it runs the tests and does not recurse.
pub const UNPRIV_ENV: &str = "HBUILD_TEST_UNPRIVILEGED";
/// The hbuild binary to run (the re-run points it at a world-readable copy).
pub const BIN_ENV: &str = "HBUILD_BIN";

pub fn hbuild_bin() -> PathBuf {
    std::env::var_os(BIN_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hbuild")))
}

/// A fixture under `fixtures/`, e.g. `fixture_dir("audit/faults")`.
pub fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// What one hbuild run did.
pub struct Run {
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        format!(
            "status: {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    pub fn succeeded(&self) -> &Run {
        assert_eq!(self.status, "exit 0", "{}", self.text());
        self
    }

    /// The build failed (exit 2, not killed by a signal) and stderr holds `line`.
    pub fn failed_with(&self, line: &str) -> &Run {
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
pub struct Project {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Project {
    pub fn new(fixture: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("hbuild-e2e-")
            .tempdir()
            .unwrap();
        // A fixed time in the past: whatever a recipe writes is newer.
        let past = SystemTime::now() - Duration::from_secs(3600);
        super::copy_fixture(&fixture_dir(fixture), dir.path(), &[], past);
        let home = tempfile::Builder::new()
            .prefix("hbuild-home-")
            .tempdir()
            .unwrap();
        Project { dir, home }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.path(rel)).ok()
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    pub fn write(&self, rel: &str, text: &str) {
        fs::write(self.path(rel), text).unwrap();
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_in(".", args)
    }

    /// Run hbuild in `sub` of the project with a clean environment.
    pub fn run_in(&self, sub: &str, args: &[&str]) -> Run {
        self.run_with_env(sub, &[], args)
    }

    /// As [`run_in`](Self::run_in), with `extra` added to the environment.
    pub fn run_with_env(&self, sub: &str, extra: &[(&str, &str)], args: &[&str]) -> Run {
        let home = self.home.path().display().to_string();
        let base = [
            ("PATH", "/usr/bin:/bin"),
            ("LC_ALL", "C"),
            ("TMPDIR", "/tmp"),
            ("HOME", home.as_str()),
        ];
        let env: Vec<(String, String)> = base
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (status, stdout, stderr) = super::run_with_timeout(
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
    pub fn output_of(&self, program: &str) -> String {
        let out = Command::new(self.path(program)).output().unwrap();
        assert!(out.status.success(), "{program} failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Re-run every test of this binary as user 65534 and return the output, or
/// `None` when this already is that re-run or the tests are not run as root
/// (then the ordinary run is the unprivileged one).
pub fn rerun_as_unprivileged_user(name: &str) -> Option<String> {
    if std::env::var_os(UNPRIV_ENV).is_some() {
        return None;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("already unprivileged: the other tests cover it");
        return None;
    }
    Some(rerun_unprivileged(name))
}

/// Copy this binary and hbuild to a 0755 directory and run the binary there
/// as nobody; returns its output, after requiring that every test passed.
pub fn rerun_unprivileged(name: &str) -> String {
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
