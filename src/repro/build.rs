//! Running one build of the project: a fresh copy of the sources, then this
//! hbuild binary as a child process with the environment, umask and job count
//! of the variations applied to it.

use super::copy;
use super::sources::Sources;
use super::variation::{side, Values, Variation, VarySet};
use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Everything needed to run builds of one project.
pub struct Runner {
    pub exe: PathBuf,
    /// Arguments for every build except the job count.
    pub args: Vec<String>,
    /// The directory hbuild owns for this check.
    pub root: PathBuf,
    pub project_name: OsString,
    pub sources: Sources,
    pub values: Values,
    pub source_date_epoch: String,
    /// The environment every build starts from.
    pub base_env: Vec<(OsString, OsString)>,
    counter: Cell<usize>,
}

/// A finished build. Its tree stays in `dir` until removed.
pub struct Build {
    pub dir: PathBuf,
    pub status: i32,
    pub log: PathBuf,
    pub ended: Instant,
}

/// A build whose copy is made and whose process may be running.
struct Started {
    dir: PathBuf,
    log: PathBuf,
    label: String,
    child: Option<Child>,
    spawn_error: Option<String>,
}

/// Variables a build must not inherit: they belong to an outer make or would
/// override the locale the variation sets.
fn dropped(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    matches!(
        name.as_ref(),
        "MAKEFLAGS" | "MAKELEVEL" | "MFLAGS" | "MAKE_RESTARTS" | "LANGUAGE" | "PWD" | "OLDPWD"
    ) || name.starts_with("LC_")
        || name == "LANG"
        || name == "TZ"
        || name == "HOME"
        || name == "SOURCE_DATE_EPOCH"
        || name == "HBUILD_REPRO_CAPTURE_ENVIRONMENT"
        || name == "HBUILD_KEEP_REPRO"
}

/// The environment of the process, less what builds must not inherit.
pub fn base_env() -> Vec<(OsString, OsString)> {
    std::env::vars_os().filter(|(k, _)| !dropped(k)).collect()
}

impl Runner {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        exe: PathBuf,
        args: Vec<String>,
        root: PathBuf,
        project_name: OsString,
        sources: Sources,
        values: Values,
        source_date_epoch: String,
    ) -> Runner {
        Runner {
            exe,
            args,
            root,
            project_name,
            sources,
            values,
            source_date_epoch,
            base_env: base_env(),
            counter: Cell::new(0),
        }
    }

    /// Where a build with these variations runs: the varied build path is
    /// longer and differently named, so both its length and text change.
    fn slot(&self, set: &VarySet) -> PathBuf {
        let parent = if set.contains(&Variation::Path) {
            "second-build-path"
        } else {
            "first"
        };
        self.root.join(parent).join(&self.project_name)
    }

    /// Build once with `set` varied, starting no earlier than `not_before`.
    pub fn run(&self, set: &VarySet, label: &str, not_before: Option<Instant>) -> Build {
        let mut started = self.prepare(set, label);
        if let Some(t) = not_before {
            sleep_until(t);
        }
        self.spawn(&mut started, set);
        self.finish(started)
    }

    /// Build twice at the same time, started together just after a whole
    /// second so that both see the same clock to the second. The two sets
    /// must differ in the build path (they cannot share a directory).
    pub fn run_together(&self, a: (&VarySet, &str), b: (&VarySet, &str)) -> (Build, Build) {
        let mut first = self.prepare(a.0, a.1);
        let mut second = self.prepare(b.0, b.1);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let to_next_second =
            Duration::from_secs(1) - Duration::from_nanos(now.subsec_nanos() as u64);
        std::thread::sleep(to_next_second + Duration::from_millis(10));
        self.spawn(&mut first, a.0);
        self.spawn(&mut second, b.0);
        (self.finish(first), self.finish(second))
    }

    fn prepare(&self, set: &VarySet, label: &str) -> Started {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let dir = self.slot(set);
        let logs = self.root.join("logs");
        let log = logs.join(format!("{:02}-{}.log", n, label));
        let mut spawn_error = None;
        let made = fs::create_dir_all(&logs)
            .and_then(|_| fs::create_dir_all(dir.parent().unwrap_or(&self.root)))
            .and_then(|_| {
                let reverse = side(set, Variation::DirOrder) == 1;
                copy::copy_tree(&self.sources.tree, &self.sources.root, &dir, reverse)
            });
        if let Err(e) = made {
            spawn_error = Some(format!(
                "cannot copy the project to {}: {}",
                dir.display(),
                e
            ));
        }
        Started {
            dir,
            log,
            label: format!("{:02}-{}", n, label),
            child: None,
            spawn_error,
        }
    }

    fn spawn(&self, started: &mut Started, set: &VarySet) {
        if started.spawn_error.is_some() {
            return;
        }
        let v = &self.values;
        let log = match fs::File::create(&started.log) {
            Ok(f) => f,
            Err(e) => {
                started.spawn_error = Some(format!("{}: {}", started.log.display(), e));
                return;
            }
        };
        let log_err = log.try_clone().ok();
        let jobs = match v.jobs[side(set, Variation::Jobs)] {
            Some(n) => format!("-j{}", n),
            None => "-j".to_string(),
        };
        let mut cmd = Command::new(&self.exe);
        // The job count first: the arguments may end with `-- GOALS`.
        cmd.arg(jobs)
            .args(&self.args)
            .current_dir(&started.dir)
            .env_clear()
            .envs(self.base_env.iter().map(|(k, v)| (k, v)))
            .env("PWD", &started.dir)
            .env("SOURCE_DATE_EPOCH", &self.source_date_epoch)
            .env("HOME", &v.home[side(set, Variation::Home)])
            .env("TZ", v.tz[side(set, Variation::Tz)])
            .env("LC_ALL", &v.locale[side(set, Variation::Locale)])
            .env("LANG", &v.locale[side(set, Variation::Locale)])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(log_err.map(Stdio::from).unwrap_or_else(Stdio::null));
        if set.contains(&Variation::Env) {
            cmd.env(v.extra_env.0, v.extra_env.1);
        }
        let mask = v.umask[side(set, Variation::Umask)] as libc::mode_t;
        // SAFETY: umask(2) is async-signal-safe and touches no memory; it is
        // the only thing done between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::umask(mask);
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(child) => started.child = Some(child),
            Err(e) => started.spawn_error = Some(format!("{}: {}", self.exe.display(), e)),
        }
    }

    /// Wait for the build, then move its tree out of the slot so the next
    /// build can use the same path.
    fn finish(&self, started: Started) -> Build {
        let status = match (started.child, &started.spawn_error) {
            (Some(mut child), _) => match child.wait() {
                Ok(st) => st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0)),
                Err(_) => 2,
            },
            (None, err) => {
                let msg = err.clone().unwrap_or_default();
                let _ = fs::write(&started.log, format!("hbuild: {}\n", msg));
                2
            }
        };
        let ended = Instant::now();
        let done = self.root.join("done").join(&started.label);
        let dir = match fs::create_dir_all(self.root.join("done"))
            .and_then(|_| fs::rename(&started.dir, &done))
        {
            Ok(()) => done,
            Err(_) => {
                // Keep the slot free even if the rename failed.
                copy::remove_tree(&started.dir);
                started.dir
            }
        };
        Build {
            dir,
            status,
            log: started.log,
            ended,
        }
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

/// The last lines of a build's output, for a failure message.
pub fn log_tail(log: &Path, lines: usize) -> Vec<String> {
    let text = fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
