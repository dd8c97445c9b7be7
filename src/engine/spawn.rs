//! The one place that starts a process for a recipe command. Lines without
//! shell syntax run directly (as make does when SHELL is /bin/sh), others
//! through `$(SHELL) $(.SHELLFLAGS)`.
//!
//! Processes start with `clone(CLONE_VM | CLONE_VFORK)` ([`child`]): the
//! child borrows hbuild's memory until its `execve`, so starting one costs
//! the same whatever hbuild's size (a `fork` copies the page tables, which
//! dominated large builds). What the child does before `execve` (the
//! sandbox, the observer's filter) is prepared in hbuild and handed over as
//! [`ChildHook`]s. `std::process::Command` remains the fallback.

mod child;

pub use child::signal_handlers_changed;

use nix::unistd::Pid;
use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
/// How to run one command line.
#[derive(Debug)]
pub struct Invocation {
    pub shell: String,
    pub shell_flags: Vec<String>,
    pub text: String,
    /// `None`: inherit hbuild's environment.
    pub env: Option<Arc<Vec<(String, String)>>>,
    /// Where output goes under `--output-sync` (`None`: hbuild's own).
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    /// Jobserver descriptors a sub-make inherits (recursive lines only).
    pub jobserver_fds: Option<(RawFd, RawFd)>,
    /// The step's sandbox and observer.
    pub guard: Option<std::sync::Arc<super::hermetic::StepGuard>>,
}

/// A started command, or one that failed to start (exit status 127 and the
/// message make prints).
pub enum Started {
    Running(Pid),
    Failed { status: i32, message: String },
}

pub use crate::lang::command_words::direct_argv;

/// A random value of this hbuild process, passed by its own `execve` of a
/// command's program as a fourth argument, which the kernel ignores. The
/// observer's seccomp filter lets an `execve` that carries it through without
/// a round trip to the supervisor: the engine knows which program it starts
/// and records that exec itself ([`ChildHook::executed`]), and its thread is
/// not held in `vfork` until a supervisor thread gets a CPU to answer.
/// A recipe cannot learn the value: nothing of hbuild's memory survives its
/// `execve`, and Landlock keeps it from reading hbuild's.
pub fn exec_tag() -> u64 {
    static TAG: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TAG.get_or_init(|| {
        let mut b = [0u8; 8];
        // SAFETY: getrandom writes at most `b.len()` bytes into `b`.
        let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
        let tag = u64::from_ne_bytes(b);
        if n == 8 && tag != 0 {
            tag
        } else {
            // No entropy source: still unknown to a recipe, if guessable.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64);
            t ^ (u64::from(std::process::id()) << 32) | 1
        }
    })
}

/// Work a new process does between its creation and its `execve` (entering
/// the sandbox, installing the observer's filter). It runs in a child that
/// shares hbuild's memory: it must be async-signal-safe, allocate nothing,
/// take no lock and never panic. An error (an errno value) makes the start
/// fail.
pub trait ChildHook: Send + Sync {
    fn run_in_child(&self) -> Result<(), i32>;

    /// Back in hbuild, after the start: the programs the child passed to
    /// `execve` with [`exec_tag`] (whether the exec succeeded or not).
    fn executed(&self, _programs: &[&Path]) {}

    /// Back in hbuild, after every start (successful or not), before anything
    /// waits for the child.
    fn started(&self) {}
}

/// What a step's sandbox and observer add to a process about to start.
/// Implemented by `Command` (hooks become `pre_exec` closures) and by the
/// engine's own start-up path.
pub trait ProcessSetup {
    fn set_env(&mut self, key: &str, value: &OsStr);
    fn add_child_hook(&mut self, hook: Arc<dyn ChildHook>);
}

/// What [`ProcessSetup`] calls gathered for the clone path.
#[derive(Default)]
struct Collected {
    env: Vec<(String, OsString)>,
    hooks: Vec<Arc<dyn ChildHook>>,
}

thread_local! {
    /// Set while [`collect`] runs: `Command`'s [`ProcessSetup`] calls on this
    /// thread are gathered here instead of changing the command. The step
    /// guard's `install` takes a `Command`; this is how its hooks reach the
    /// clone path.
    static COLLECTING: RefCell<Option<Collected>> = const { RefCell::new(None) };
}

/// Run `install` on a throw-away command and return what it set up.
fn collect(install: impl FnOnce(&mut Command)) -> Collected {
    COLLECTING.with(|c| *c.borrow_mut() = Some(Collected::default()));
    install(&mut Command::new("/"));
    COLLECTING
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default()
}

/// Gather into the active collection, if any; false when there is none.
fn collecting(add: impl FnOnce(&mut Collected)) -> bool {
    COLLECTING.with(|c| match c.borrow_mut().as_mut() {
        Some(col) => {
            add(col);
            true
        }
        None => false,
    })
}

impl ProcessSetup for Command {
    fn set_env(&mut self, key: &str, value: &OsStr) {
        if !collecting(|c| c.env.push((key.to_string(), value.to_os_string()))) {
            self.env(key, value);
        }
    }

    fn add_child_hook(&mut self, hook: Arc<dyn ChildHook>) {
        let mut hook = Some(hook);
        if collecting(|c| c.hooks.extend(hook.take())) {
            return;
        }
        let Some(hook) = hook else { return };
        // SAFETY: `ChildHook::run_in_child` is async-signal-safe by contract.
        unsafe {
            self.pre_exec(move || {
                hook.run_in_child()
                    .map_err(std::io::Error::from_raw_os_error)
            });
        }
    }
}

/// The program and arguments of `inv`: its words when it needs no shell.
fn command_words(inv: &Invocation) -> Vec<String> {
    let direct =
        if inv.shell == "/bin/sh" && inv.shell_flags.iter().all(|f| f == "-c" || f == "-ec") {
            direct_argv(&inv.text)
        } else {
            None
        };
    direct.unwrap_or_else(|| {
        let mut words = vec![inv.shell.clone()];
        words.extend(inv.shell_flags.iter().cloned());
        words.push(inv.text.clone());
        words
    })
}

/// Start `inv` in a process group of its own; output goes to hbuild's own
/// stdout and stderr unless `inv` says otherwise.
pub fn start(inv: &Invocation) -> Started {
    let argv = command_words(inv);
    let setup = match &inv.guard {
        Some(g) => collect(|cmd| g.install(cmd)),
        None => Collected::default(),
    };
    let outcome = child::start(inv, &argv, &setup);
    if let child::Outcome::Running(_, execs) | child::Outcome::Failed(_, execs) = &outcome {
        let programs: Vec<&Path> = execs.iter().map(|p| p.as_path()).collect();
        if !programs.is_empty() {
            for hook in &setup.hooks {
                hook.executed(&programs);
            }
        }
        for hook in &setup.hooks {
            hook.started();
        }
    }
    match outcome {
        child::Outcome::Running(pid, _) => Started::Running(pid),
        child::Outcome::Failed(errno, _) => {
            failed(&argv[0], std::io::Error::from_raw_os_error(errno))
        }
        child::Outcome::Unsupported => start_with_command(inv, &argv),
    }
}

/// The start-up failure make reports: status 127 and `prog: reason`.
fn failed(prog: &str, e: std::io::Error) -> Started {
    let reason = match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".to_string(),
        _ => e.to_string(),
    };
    Started::Failed {
        status: 127,
        message: format!("{}: {}: {}", crate::diag::prog(), prog, reason),
    }
}

/// The fallback: start `inv` with `std::process::Command` (which forks when
/// there are hooks to run in the child).
fn start_with_command(inv: &Invocation, argv: &[String]) -> Started {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if let Some(env) = &inv.env {
        cmd.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    }
    if let Some(f) = &inv.stdout {
        if let Ok(f) = f.try_clone() {
            cmd.stdout(Stdio::from(f));
        }
    }
    if let Some(f) = &inv.stderr {
        if let Ok(f) = f.try_clone() {
            cmd.stderr(Stdio::from(f));
        }
    }
    if let Some(g) = &inv.guard {
        g.install(&mut cmd);
    }
    // Each recipe runs in its own process group so that an interrupted build
    // can signal the recipe and everything it started.
    cmd.process_group(0);
    if let Some((r, w)) = inv.jobserver_fds {
        // SAFETY: only fcntl(2), async-signal-safe, runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                child::inherit_fds(&[r, w]);
                Ok(())
            });
        }
    }
    match cmd.spawn() {
        Ok(child) => Started::Running(Pid::from_raw(child.id() as i32)),
        Err(e) => failed(&argv[0], e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_only_without_shell_syntax() {
        assert_eq!(
            direct_argv("cp 'a b' c\\ d").unwrap(),
            vec!["cp", "a b", "c d"]
        );
        assert!(direct_argv("echo $HOME").is_none());
        assert!(direct_argv("cd x").is_none());
        assert!(direct_argv("A=1 cmd").is_none());
        assert!(direct_argv("a > b").is_none());
        assert!(direct_argv("").is_none());
        // Backslash-newline joins lines, as the shell does.
        assert_eq!(
            direct_argv("make -f x \\\nobj=a \\\n").unwrap(),
            vec!["make", "-f", "x", "obj=a"]
        );
        assert_eq!(direct_argv("ab\\\ncd").unwrap(), vec!["abcd"]);
        assert!(direct_argv("a\nb").is_none());
        assert!(direct_argv("a\\\\\nb").is_none());
        // Inside single quotes a backslash-newline stays, as in the shell.
        assert_eq!(
            direct_argv("echo 'a\\\nb'").unwrap(),
            vec!["echo", "a\\\nb"]
        );
        assert!(direct_argv("echo 'a\nb'").is_none());
    }

    #[test]
    fn quotes_and_backslashes_make_metacharacters_plain() {
        assert_eq!(
            direct_argv("sh -c 'kill -TERM $$' 'a;b|c' x\\;y \\$HOME").unwrap(),
            vec!["sh", "-c", "kill -TERM $$", "a;b|c", "x;y", "$HOME"]
        );
        assert_eq!(
            direct_argv("echo '' a'b c'd").unwrap(),
            vec!["echo", "", "ab cd"]
        );
        // A quoted `=` is no assignment; a quoted built-in is still one.
        assert_eq!(direct_argv("'X=1' true").unwrap(), vec!["X=1", "true"]);
        assert_eq!(direct_argv("echo X=1").unwrap(), vec!["echo", "X=1"]);
        assert!(direct_argv("'exit' 0").is_none());
        assert!(direct_argv("echo 'unterminated").is_none());
        assert!(direct_argv("echo trailing\\").is_none());
        assert!(direct_argv("echo \"x\"").is_none());
    }
}
