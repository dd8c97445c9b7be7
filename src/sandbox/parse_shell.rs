//! `$(shell ...)` while makefiles are read (and in recipe expansion): it may
//! read what the system preset and the project hold, and write only a private
//! temporary directory. The driver says once per run which mode applies; the
//! sandbox itself is built at the first `$(shell)`, so a makefile without one
//! (the common no-op build) pays nothing for it.

use super::apply::{install as install_prepared, prepare, Prepared};
use super::kernel::{KernelSupport, Mode};
use super::policy::Policy;
use super::tmpdir::BuildTmp;
use std::process::Command;
use std::sync::{Arc, Mutex};

struct ParseShell {
    prepared: Arc<Prepared>,
    _tmp: BuildTmp,
}

enum State {
    Unsandboxed,
    /// Enforcing, not built yet.
    Pending(Mode),
    Ready(ParseShell),
}

static STATE: Mutex<State> = Mutex::new(State::Unsandboxed);

/// Say which sandbox `$(shell)` gets in this run (none when `mode` does not
/// enforce).
pub fn configure(mode: Mode) {
    let state = if mode.enforces() {
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
    Some(ParseShell {
        prepared: Arc::new(prepared),
        _tmp: tmp,
    })
}

/// Put the `$(shell)` sandbox on `cmd`, if one is configured.
pub fn install(cmd: &mut Command) {
    let prepared = {
        let Ok(mut s) = STATE.lock() else { return };
        if let State::Pending(mode) = &*s {
            *s = match build(*mode) {
                Some(p) => State::Ready(p),
                None => State::Unsandboxed,
            };
        }
        match &*s {
            State::Ready(p) => p.prepared.clone(),
            _ => return,
        }
    };
    install_prepared(cmd, prepared);
}

/// Remove the temporary directory at the end of the run.
pub fn finish() {
    if let Ok(mut s) = STATE.lock() {
        *s = State::Unsandboxed;
    }
}
