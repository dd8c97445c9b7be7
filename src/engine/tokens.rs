//! Job slots: the GNU make jobserver protocol, through the `jobserver` crate.
//!
//! Every make of a recursion holds one implicit slot; each further job needs a
//! token read from the shared server. The top-level hbuild with `-jN` creates
//! a pipe server with N-1 tokens (the `R,W` form GNU make 4.3 understands);
//! a sub-make joins the server named by `--jobserver-auth=` in `MAKEFLAGS`
//! (`R,W` or 4.4's `fifo:PATH`). Tokens are acquired by the crate's helper
//! thread and handed over through a channel; the helper wakes the scheduler's
//! wait loop through the self-pipe of `signals`.

use crate::engine::signals;
use jobserver::{Acquired, Client, HelperThread};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};

/// The slots this make may use.
pub struct Tokens {
    /// `None` under `-j` without a number or `-j1` without a server: no tokens.
    server: Option<Server>,
    /// The local limit (`-jN`); `None`: no limit.
    limit: Option<usize>,
}

struct Server {
    client: Client,
    /// `R,W` or `fifo:PATH`, for `--jobserver-auth=` of sub-makes.
    auth: String,
    /// The descriptors named by `auth` (pipe form), opened without
    /// close-on-exec only for recursive lines.
    fds: Option<(RawFd, RawFd)>,
    helper: HelperThread,
    incoming: Receiver<std::io::Result<Acquired>>,
    /// Tokens held, one per running job beyond the first.
    held: Vec<Acquired>,
    /// A request sent to the helper and not answered yet.
    requested: bool,
    /// `-jN` of the make that created the server, for `MAKEFLAGS`.
    jobs_flag: Option<usize>,
    /// The server belongs to a parent make.
    joined: bool,
}

/// `-j` was given on this make's own command line (not only in `MAKEFLAGS`).
static JOBS_ON_COMMAND_LINE: AtomicBool = AtomicBool::new(false);

/// Record that the command line itself says `-j`: a sub-make then runs its
/// own jobserver instead of joining its parent's, as GNU make does.
pub fn set_jobs_on_command_line() {
    JOBS_ON_COMMAND_LINE.store(true, Ordering::SeqCst);
}

/// The `--jobserver-auth=` value of a `MAKEFLAGS` text (the last one wins).
pub fn auth_in(makeflags: &str) -> Option<&str> {
    makeflags
        .split_ascii_whitespace()
        .filter_map(|w| {
            w.strip_prefix("--jobserver-auth=")
                .or_else(|| w.strip_prefix("--jobserver-fds="))
        })
        .next_back()
}

/// The `-jN` of a `MAKEFLAGS` text.
fn jobs_in(makeflags: &str) -> Option<usize> {
    makeflags
        .split_ascii_whitespace()
        .filter_map(|w| w.strip_prefix("-j"))
        .filter_map(|n| n.parse().ok())
        .next_back()
}

/// The `R,W`/`fifo:PATH` text of a client. The crate only reveals it through
/// the environment it gives a command; that command is never run.
fn auth_of(client: &Client) -> Option<String> {
    let mut probe = std::process::Command::new("/nonexistent");
    client.configure(&mut probe);
    probe
        .get_envs()
        .find(|(k, _)| *k == "CARGO_MAKEFLAGS")
        .and_then(|(_, v)| v.and_then(|v| v.to_str()))
        .and_then(auth_in)
        .map(str::to_string)
}

fn set_cloexec(fd: RawFd, on: bool) {
    // SAFETY: fcntl on a descriptor number; failure leaves it as it was.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            let flags = if on {
                flags | libc::FD_CLOEXEC
            } else {
                flags & !libc::FD_CLOEXEC
            };
            libc::fcntl(fd, libc::F_SETFD, flags);
        }
    }
}

fn pipe_fds(auth: &str) -> Option<(RawFd, RawFd)> {
    let (r, w) = auth.split_once(',')?;
    Some((r.parse().ok()?, w.parse().ok()?))
}

impl Tokens {
    /// No jobserver: at most `limit` jobs (`None`: any number).
    pub fn local(limit: Option<usize>) -> Tokens {
        Tokens {
            server: None,
            limit,
        }
    }

    /// Set up the slots for a make run with `jobs` (`-jN`; `None`: `-j`).
    /// `env_makeflags` is the `MAKEFLAGS` this process was started with.
    pub fn setup(jobs: Option<usize>, env_makeflags: Option<&str>) -> Tokens {
        let forced = JOBS_ON_COMMAND_LINE.load(Ordering::SeqCst);
        let auth = env_makeflags.and_then(auth_in);
        if let (Some(_), Some(n), true) = (auth, jobs, forced) {
            crate::engine::say_err(&format!(
                "{}: warning: -j{} forced in submake: resetting jobserver mode.",
                crate::diag::prog(),
                n
            ));
        }
        if let Some(auth) = auth.filter(|_| !(forced && jobs.is_some())) {
            if let Some(t) = Tokens::join(auth, env_makeflags.and_then(jobs_in)) {
                return t;
            }
            // Started from a line make did not mark as recursive: the
            // descriptors are closed; make says so and runs serially.
            if auth.starts_with("fifo:") || pipe_fds(auth).is_some_and(|(r, _)| r >= 0) {
                crate::engine::say_err(&format!(
                    "{}: warning: jobserver unavailable: using -j1.  Add '+' to parent make rule.",
                    crate::diag::prog()
                ));
            }
            return Tokens::local(Some(1));
        }
        match jobs {
            Some(n) if n > 1 => match Client::new(n - 1) {
                Ok(client) => Tokens::with_client(client, Some(n)).unwrap_or(Tokens::local(jobs)),
                Err(_) => Tokens::local(jobs),
            },
            _ => Tokens::local(jobs),
        }
    }

    fn join(auth: &str, jobs_flag: Option<usize>) -> Option<Tokens> {
        if let Some((r, w)) = pipe_fds(auth) {
            // SAFETY: F_GETFD only checks that the descriptors are open.
            let open =
                unsafe { libc::fcntl(r, libc::F_GETFD) >= 0 && libc::fcntl(w, libc::F_GETFD) >= 0 };
            if !open {
                return None;
            }
        }
        // SAFETY: the crate reads MAKEFLAGS and takes the descriptors it names,
        // which were just checked to be open.
        let client = unsafe { Client::from_env_ext(true) }.client.ok()?;
        let mut t = Tokens::with_client(client, jobs_flag)?;
        if let Some(s) = &mut t.server {
            // Keep the inherited numbers (what sub-makes are told) but hide them
            // from recipes that are not sub-makes.
            s.auth = auth.to_string();
            s.fds = pipe_fds(auth);
            s.joined = true;
            if let Some((r, w)) = s.fds {
                set_cloexec(r, true);
                set_cloexec(w, true);
            }
        }
        t.limit = None;
        Some(t)
    }

    fn with_client(client: Client, jobs_flag: Option<usize>) -> Option<Tokens> {
        let auth = auth_of(&client)?;
        let (tx, incoming) = channel();
        let helper = client
            .clone()
            .into_helper_thread(move |token| {
                let _ = tx.send(token);
                signals::wake();
            })
            .ok()?;
        // The helper thread may have installed a handler (SIGUSR1).
        crate::engine::spawn::signal_handlers_changed();
        Some(Tokens {
            server: Some(Server {
                fds: pipe_fds(&auth),
                auth,
                client,
                helper,
                incoming,
                held: Vec::new(),
                requested: false,
                jobs_flag,
                joined: false,
            }),
            limit: jobs_flag,
        })
    }

    /// Are all of this make's own job slots (`-jN`) taken?
    pub fn at_limit(&self, running: usize) -> bool {
        self.limit.is_some_and(|l| running >= l)
    }

    /// May one more job start while `running` jobs run? Without a token yet,
    /// one is requested and the wait loop wakes up when it arrives.
    pub fn may_start(&mut self, running: usize) -> bool {
        if self.at_limit(running) {
            return false;
        }
        let Some(s) = &mut self.server else {
            return true;
        };
        if running == 0 || s.held.len() >= running {
            return true;
        }
        s.receive();
        if s.held.len() >= running {
            return true;
        }
        if !s.requested {
            s.requested = true;
            s.helper.request_token();
        }
        false
    }

    /// One job at a time, with no jobserver to share.
    pub fn serial(&self) -> bool {
        self.server.is_none() && self.limit == Some(1)
    }

    /// Give back the tokens that `running` jobs no longer need.
    pub fn release_extra(&mut self, running: usize) {
        if let Some(s) = &mut self.server {
            s.receive();
            let need = running.saturating_sub(1);
            while s.held.len() > need {
                s.held.pop();
            }
        }
    }

    /// The `--jobserver-auth=` value and `-jN` to pass to sub-makes.
    pub fn auth(&self) -> Option<(&str, Option<usize>)> {
        self.server.as_ref().map(|s| (s.auth.as_str(), s.jobs_flag))
    }

    /// The descriptors a recursive line must inherit.
    pub fn inherit_fds(&self) -> Option<(RawFd, RawFd)> {
        self.server.as_ref().and_then(|s| s.fds)
    }

    /// True while this make shares a jobserver (`-jN` top level or a sub-make).
    pub fn shared(&self) -> bool {
        self.server.is_some()
    }

    /// Before hbuild re-executes itself (a makefile was remade): a joined
    /// server's inherited descriptors must survive the exec.
    pub fn keep_across_exec(&self) {
        if let Some(s) = &self.server {
            if s.joined {
                if let Some((r, w)) = s.fds {
                    set_cloexec(r, false);
                    set_cloexec(w, false);
                }
            }
        }
    }

    /// The client, for callers that need the crate directly.
    pub fn client(&self) -> Option<&Client> {
        self.server.as_ref().map(|s| &s.client)
    }
}

impl Server {
    fn receive(&mut self) {
        while let Ok(token) = self.incoming.try_recv() {
            self.requested = false;
            if let Ok(t) = token {
                self.held.push(t);
            }
        }
    }
}

/// A `MAKEFLAGS` text's flags and its ` -- NAME=value...` part.
fn split_variables(makeflags: &str) -> (&str, &str) {
    match makeflags.find(" -- ") {
        Some(i) => (&makeflags[..i], &makeflags[i..]),
        None if makeflags.starts_with("-- ") => ("", makeflags),
        None => (makeflags, ""),
    }
}

/// `MFLAGS` for a `MAKEFLAGS` text: its flags, the letters with a dash.
pub fn mflags_of(makeflags: &str) -> String {
    let (flags, _) = split_variables(makeflags);
    match flags.strip_prefix(' ') {
        Some(rest) => rest.to_string(),
        None if flags.is_empty() => String::new(),
        None => format!("-{}", flags),
    }
}

/// `MAKEFLAGS` for a recipe: the flags with this make's `-jN
/// --jobserver-auth=...` where the `-j` word was (else after the single
/// letters and `-I` words), as GNU make 4.3 writes it.
pub fn makeflags_with_jobs(makeflags: &str, jobs: &str) -> String {
    let (flags, vars) = split_variables(makeflags);
    let is_auth = |w: &str| w.starts_with("--jobserver-auth=") || w.starts_with("--jobserver-fds=");
    let is_jobs = |w: &str| w.starts_with("-j") || is_auth(w);
    let words: Vec<&str> = flags.split(' ').collect();
    // `-jN` where it was, else after the letters (first word) and any `-I`.
    let j_at = words
        .iter()
        .position(|w| w.starts_with("-j"))
        .unwrap_or_else(|| {
            1 + words
                .iter()
                .skip(1)
                .take_while(|w| w.starts_with("-I"))
                .count()
        });
    let (before, after) = words.split_at(j_at.min(words.len()));
    let mut kept: Vec<&str> = before.iter().copied().filter(|w| !is_jobs(w)).collect();
    let rest: Vec<&str> = after.iter().copied().filter(|w| !is_jobs(w)).collect();
    let (auth, j): (Vec<&str>, Vec<&str>) = jobs
        .split(' ')
        .filter(|w| !w.is_empty())
        .partition(|w| is_auth(w));
    kept.extend(j);
    // The jobserver comes right after `-l`, `-O` and `--debug`, before the
    // other long options and `--eval`s.
    let eval_at = rest
        .iter()
        .position(|w| !(w.starts_with("-l") || w.starts_with("-O") || w.starts_with("--debug")))
        .unwrap_or(rest.len());
    kept.extend(&rest[..eval_at]);
    kept.extend(auth);
    kept.extend(&rest[eval_at..]);
    let mut out = kept.join(" ");
    out.push_str(vars);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_and_jobs_from_makeflags() {
        assert_eq!(auth_in(" -j4 --jobserver-auth=3,4"), Some("3,4"));
        assert_eq!(
            auth_in("k -j --jobserver-auth=fifo:/tmp/f"),
            Some("fifo:/tmp/f")
        );
        assert_eq!(auth_in("k"), None);
        assert_eq!(jobs_in(" -j4 --jobserver-auth=3,4"), Some(4));
    }

    #[test]
    fn makeflags_rewritten_as_make_does() {
        let j = "-j4 --jobserver-auth=3,4";
        assert_eq!(makeflags_with_jobs("", j), " -j4 --jobserver-auth=3,4");
        assert_eq!(makeflags_with_jobs("k", j), "k -j4 --jobserver-auth=3,4");
        assert_eq!(
            makeflags_with_jobs("k -j4 -- A=1", j),
            "k -j4 --jobserver-auth=3,4 -- A=1"
        );
        assert_eq!(
            makeflags_with_jobs(" -- A=1", j),
            " -j4 --jobserver-auth=3,4 -- A=1"
        );
        assert_eq!(
            makeflags_with_jobs("kw -I/tmp -l5 -Otarget --debug=b --eval=A=1", j),
            "kw -I/tmp -j4 -l5 -Otarget --debug=b --jobserver-auth=3,4 --eval=A=1"
        );
    }

    #[test]
    fn local_limit() {
        let mut t = Tokens::local(Some(2));
        assert!(t.may_start(0) && t.may_start(1) && !t.may_start(2));
        let mut u = Tokens::local(None);
        assert!(u.may_start(100));
    }
}
