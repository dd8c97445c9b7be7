//! The one place that starts a process for a recipe command. Lines without
//! shell syntax run directly (as make does when SHELL is /bin/sh), others
//! through `$(SHELL) $(.SHELLFLAGS)`.

use nix::unistd::Pid;
use std::fs::File;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// How to run one command line.
#[derive(Debug)]
pub struct Invocation {
    pub shell: String,
    pub shell_flags: Vec<String>,
    pub text: String,
    /// `None`: inherit hbuild's environment.
    pub env: Option<Vec<(String, String)>>,
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

/// Shell built-ins and keywords: a line starting with one needs the shell.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "alias", "bg", "break", "case", "cd", "command", "continue", "eval", "exec", "exit",
    "export", "fc", "fg", "for", "getopts", "hash", "if", "jobs", "login", "logout", "read",
    "readonly", "return", "set", "shift", "test", "times", "trap", "type", "ulimit", "umask",
    "unalias", "unset", "wait", "while", "[", "then", "do", "done", "fi", "until", "esac",
];

/// The words of `text` if it can run without a shell: no metacharacters, no
/// built-in, no assignment. Single quotes and backslashes are handled here.
pub fn direct_argv(text: &str) -> Option<Vec<String>> {
    if text.contains(|c: char| "#;\"*?[]&|<>(){}$`^~!\n".contains(c)) {
        return None;
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return None,
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    let first = words.first()?;
    if first.contains('=') || SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}

/// Start `inv` in a process group of its own; output goes to hbuild's own
/// stdout and stderr unless `inv` says otherwise.
pub fn start(inv: &Invocation) -> Started {
    let direct =
        if inv.shell == "/bin/sh" && inv.shell_flags.iter().all(|f| f == "-c" || f == "-ec") {
            direct_argv(&inv.text)
        } else {
            None
        };
    let mut cmd = match &direct {
        Some(argv) => {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
        None => {
            let mut c = Command::new(&inv.shell);
            c.args(&inv.shell_flags).arg(&inv.text);
            c
        }
    };
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
                for fd in [r, w] {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 {
                        libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                    }
                }
                Ok(())
            });
        }
    }
    match cmd.spawn() {
        Ok(child) => Started::Running(Pid::from_raw(child.id() as i32)),
        Err(e) => {
            let prog = direct
                .as_ref()
                .map(|a| a[0].clone())
                .unwrap_or_else(|| inv.shell.clone());
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
    }
}
