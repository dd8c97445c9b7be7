//! Running one child process and measuring it: wall time around the whole
//! process, and peak RSS from `wait4`, which reports the usage of exactly that
//! child (and the descendants it waited for), so each run is isolated without a
//! wrapper process.

use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one measured run cost.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    /// Largest resident set of the child or any process it waited for, in KiB.
    pub peak_rss_kib: u64,
}

/// A run that did not exit with status 0.
#[derive(Debug)]
pub struct RunFailure {
    pub status: String,
    /// The first line and the last few of stderr: the error message is
    /// usually one of them (a usage text follows it).
    pub stderr_tail: String,
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.stderr_tail.trim_end() {
            "" => write!(f, "{}", self.status),
            tail => write!(f, "{}: {tail}", self.status),
        }
    }
}

/// Run `argv` in `dir` with a clean make environment, stdout discarded and
/// stderr kept in `stderr_file` (read back only on failure). A run longer than
/// `timeout` is killed with its whole process group.
pub fn run(
    argv: &[String],
    dir: &Path,
    stderr_file: &Path,
    timeout: Duration,
) -> Result<Sample, RunFailure> {
    let stderr = File::create(stderr_file).map_err(|e| failure("cannot create stderr file", e))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        // Its own process group, so a timeout also kills the recipes it runs.
        .process_group(0);
    // Flags inherited from an outer make would change what every tool does.
    for var in [
        "MAKEFLAGS",
        "MFLAGS",
        "MAKELEVEL",
        "MAKEFILES",
        "GNUMAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| failure(&format!("cannot run {}", argv[0]), e))?;
    let pid = child.id() as libc::pid_t;
    let (done, watchdog) = spawn_watchdog(pid, timeout);
    let waited = wait_with_usage(pid);
    let _ = done.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    let (status, usage) = waited.map_err(|e| failure("wait4 failed", e))?;
    let wall = start.elapsed();
    if timed_out {
        return Err(RunFailure {
            status: format!("timed out after {} s (killed)", timeout.as_secs()),
            stderr_tail: String::new(),
        });
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        // Linux reports ru_maxrss in KiB.
        Ok(Sample {
            wall,
            peak_rss_kib: usage.ru_maxrss.max(0) as u64,
        })
    } else {
        Err(RunFailure {
            status: describe_status(status),
            stderr_tail: tail_of(stderr_file),
        })
    }
}

/// A thread that kills process group `pid` unless told within `timeout` that
/// the run ended; it returns whether it killed.
fn spawn_watchdog(
    pid: libc::pid_t,
    timeout: Duration,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<bool>) {
    let (done, wait_done) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if wait_done.recv_timeout(timeout).is_ok() {
            return false;
        }
        // SAFETY: plain syscall. The group is ours and still unreaped, as the
        // main thread tells us before anything else once wait4 returns.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        true
    });
    (done, watchdog)
}

/// Reap `pid` ourselves (std's `Child::wait` cannot return resource usage).
fn wait_with_usage(pid: libc::pid_t) -> std::io::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status}")
    }
}

fn failure(what: &str, e: std::io::Error) -> RunFailure {
    RunFailure {
        status: what.to_string(),
        stderr_tail: e.to_string(),
    }
}

/// The last few lines of a file, for error messages.
pub fn tail_of(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 4 {
        return lines.join("\n");
    }
    let tail = &lines[lines.len() - 3..];
    format!("{}\n[...]\n{}", lines[0], tail.join("\n"))
}

/// Median, minimum and maximum of a set of samples.
#[derive(Clone, Debug)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub samples: Vec<f64>,
}

impl Stats {
    /// `None` for an empty set.
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            samples: samples.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_sets() {
        assert_eq!(Stats::of(&[3.0, 1.0, 2.0]).unwrap().median, 2.0);
        let even = Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((even.median, even.min, even.max), (2.5, 1.0, 4.0));
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn measures_a_child_and_reports_failure() {
        let dir = std::env::temp_dir();
        let err = dir.join(format!("hbench-test-{}.err", std::process::id()));
        let argv = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let long = Duration::from_secs(60);
        let ok = run(&argv(&["/bin/sh", "-c", "true"]), &dir, &err, long).unwrap();
        assert!(ok.peak_rss_kib > 0);
        let quick = Duration::from_millis(100);
        let slow = run(&argv(&["/bin/sh", "-c", "sleep 5"]), &dir, &err, quick);
        assert!(slow.unwrap_err().status.starts_with("timed out"));
        let bad = run(
            &argv(&["/bin/sh", "-c", "echo boom >&2; exit 3"]),
            &dir,
            &err,
            long,
        );
        let bad = bad.unwrap_err();
        assert_eq!(bad.status, "exit status 3");
        assert_eq!(bad.stderr_tail, "boom");
        let _ = std::fs::remove_file(err);
    }
}
