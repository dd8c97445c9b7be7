//! `$(shell ...)` while makefiles are read (and in recipe expansion): it may
//! read what the system preset and the project hold, and write only a private
//! temporary directory. Set up once per run by the driver.

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

static STATE: Mutex<Option<ParseShell>> = Mutex::new(None);

/// Prepare the sandbox of `$(shell)` for this run (nothing when `mode` does
/// not enforce, or the kernel has no Landlock).
pub fn configure(mode: Mode) {
    if !mode.enforces() {
        return;
    }
    let kernel = KernelSupport::detect();
    let Ok(cwd) = std::env::current_dir() else {
        return;
    };
    let Ok(tmp) = BuildTmp::new() else {
        return;
    };
    let policy = Policy::for_parse_shell(&cwd, Some(tmp.path()));
    if let Ok(mut prepared) = prepare(&policy, &kernel, mode) {
        prepared.move_fd_high();
        if let Ok(mut s) = STATE.lock() {
            *s = Some(ParseShell {
                prepared: Arc::new(prepared),
                _tmp: tmp,
            });
        }
    }
}

/// Put the `$(shell)` sandbox on `cmd`, if one is configured.
pub fn install(cmd: &mut Command) {
    let prepared = STATE
        .lock()
        .ok()
        .and_then(|s| s.as_ref().map(|p| p.prepared.clone()));
    if let Some(p) = prepared {
        install_prepared(cmd, p);
    }
}

/// Remove the temporary directory at the end of the run.
pub fn finish() {
    if let Ok(mut s) = STATE.lock() {
        s.take();
    }
}
