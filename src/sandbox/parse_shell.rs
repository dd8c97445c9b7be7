//! `$(shell ...)` while makefiles are read (and in recipe expansion): it may
//! read what the system preset and the project hold, and write only a private
//! temporary directory. In audit mode nothing is refused, but the writes
//! enforce mode would refuse are said all the same. The driver says once per
//! run which mode applies; the sandbox itself is built at the first
//! `$(shell)`, so a makefile without one (the common no-op build) pays
//! nothing for it.
//!
//! A refused write would otherwise pass unnoticed: a configuration probe
//! that compiles a test file in the current directory just finds the
//! feature missing, and the build quietly differs from make's. So the
//! shell's writes (only those: its reads cost no round trip) are observed,
//! and each refused one is reported as a warning at the `$(shell)`.

use super::apply::{install as install_prepared, prepare, Prepared};
use super::kernel::{KernelSupport, Mode};
use super::policy::Policy;
use super::rights::Rights;
use super::tmpdir::BuildTmp;
use crate::observe::{normalize, Observer, Routed, StepAccesses, StepObservation};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct ParseShell {
    prepared: Arc<Prepared>,
    /// The policy's writable paths (absolute): a write elsewhere was refused.
    writable: Arc<Vec<PathBuf>>,
    /// Sees the shell's writes, where the kernel allows observing.
    observer: Option<Arc<Observer>>,
    _tmp: BuildTmp,
}

/// One `$(shell)` being watched: [`Watch::refused`] after it ended.
pub struct Watch {
    observation: StepObservation,
    /// Landlock refused the writes (enforce mode); otherwise they happened
    /// and only enforce mode would refuse them (audit).
    pub enforced: bool,
    writable: Arc<Vec<PathBuf>>,
    /// Keeps the supervisor alive until the shell was judged.
    _observer: Arc<Observer>,
}

impl Watch {
    /// What the shell tried to write outside what the sandbox allows (and
    /// so was refused, if `enforced`), one phrase per path and operation
    /// (`create 'conftest.c'`), sorted.
    pub fn refused(self) -> Vec<String> {
        let acc = self.observation.finish(Duration::ZERO);
        let root = std::env::current_dir().unwrap_or_default();
        refused_writes(&acc, &root, &self.writable)
    }
}

/// The writes in `acc` (paths relative to `root`) to paths `writable` does
/// not cover: Landlock refused them. `/dev`, `/proc` and `/sys` are the
/// kernel's interfaces, tried and dropped by tools as a matter of course.
fn refused_writes(acc: &StepAccesses, root: &Path, writable: &[PathBuf]) -> Vec<String> {
    let allowed = |p: &Path| {
        let abs = normalize(&root.join(p));
        ["/dev", "/proc", "/sys"].iter().any(|d| abs.starts_with(d))
            || writable.iter().any(|w| abs.starts_with(w))
    };
    let mut out: Vec<String> = Vec::new();
    let mut say = |verb: &str, p: &Path| {
        if !allowed(p) {
            out.push(format!("{} '{}'", verb, p.display()));
        }
    };
    for p in &acc.creates {
        say("create", p);
    }
    for p in acc.writes.iter().filter(|p| !acc.creates.contains(*p)) {
        say("write", p);
    }
    for p in &acc.truncates {
        say("truncate", p);
    }
    for p in &acc.deletes {
        let verb = match acc.removed_dirs.contains(p) {
            true => "remove directory",
            false => "delete",
        };
        say(verb, p);
    }
    for p in &acc.mkdirs {
        say("create directory", p);
    }
    for (from, to) in &acc.renames {
        if !allowed(from) || !allowed(to) {
            say("rename", from);
        }
    }
    for (_, to) in acc.links.iter().chain(&acc.symlinks) {
        say("link", to);
    }
    out.sort();
    out.dedup();
    out
}

enum State {
    Unsandboxed,
    /// Enforcing, not built yet.
    Pending(Mode),
    Ready(ParseShell),
}

static STATE: Mutex<State> = Mutex::new(State::Unsandboxed);

/// Say which sandbox `$(shell)` gets in this run (none with the sandbox off;
/// in audit mode, no Landlock but the same TMPDIR and watch).
pub fn configure(mode: Mode) {
    let state = if mode.enforces() || mode == Mode::Audit {
        State::Pending(mode)
    } else {
        State::Unsandboxed
    };
    if let Ok(mut s) = STATE.lock() {
        *s = state;
    }
}

/// Build the sandbox (nothing if the kernel has no Landlock).
fn build(mode: Mode) -> Option<ParseShell> {
    let kernel = KernelSupport::detect();
    let tmp = BuildTmp::new().ok()?;
    // The project's directories, this make's among them (a sub-make may run
    // in a build directory outside the project, and call its scripts).
    let policy = Policy::for_parse_shell(&crate::driver::project_roots(), Some(tmp.path()));
    let mut prepared = prepare(&policy, &kernel, mode).ok()?;
    prepared.move_fd_high();
    let writable = policy
        .entries
        .iter()
        .filter(|e| e.rights.contains(Rights::WRITE) || e.rights.contains(Rights::CREATE))
        .map(|e| normalize(&e.path))
        .collect();
    let watched = prepared.enforced() || mode == Mode::Audit;
    let observer = match (watched, std::env::current_dir()) {
        (true, Ok(here)) => Observer::routing(&here, Routed::Writes).ok().map(Arc::new),
        _ => None,
    };
    Some(ParseShell {
        prepared: Arc::new(prepared),
        writable: Arc::new(writable),
        observer,
        _tmp: tmp,
    })
}

/// Put the `$(shell)` sandbox on `cmd`, if one is configured, and watch
/// its writes where that can be done.
pub fn install(cmd: &mut Command) -> Option<Watch> {
    let (prepared, watch) = {
        let Ok(mut s) = STATE.lock() else {
            return None;
        };
        if let State::Pending(mode) = &*s {
            *s = match build(*mode) {
                Some(p) => State::Ready(p),
                None => State::Unsandboxed,
            };
        }
        let State::Ready(p) = &*s else {
            return None;
        };
        let watch = p.observer.as_ref().and_then(|o| {
            let observation = o.prepare_step(&[]).ok()?;
            Some(Watch {
                observation,
                enforced: p.prepared.enforced(),
                writable: p.writable.clone(),
                _observer: o.clone(),
            })
        });
        (p.prepared.clone(), watch)
    };
    install_prepared(cmd, prepared);
    if let Some(w) = &watch {
        w.observation.install(cmd);
    }
    watch
}

/// Remove the temporary directory at the end of the run.
pub fn finish() {
    if let Ok(mut s) = STATE.lock() {
        *s = State::Unsandboxed;
    }
}
