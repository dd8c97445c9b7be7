//! A step ends when all its processes are gone. hbuild becomes a child
//! subreaper, so a process a recipe leaves behind (`cmd &`, double forks,
//! `setsid`) is re-parented to hbuild instead of init; after each recipe
//! command is reaped, the engine kills and reaps those orphans, so nothing
//! of a step writes after the step was judged.
//!
//! Process groups are not used: recipes stay in hbuild's group, so the
//! terminal's Ctrl-C and job control reach them as with make.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use std::io;

/// Make this process the reaper of its orphaned descendants. Call once,
/// before the first step starts.
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments has no memory effects.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The current children of this process that matter here: those of the
/// calling thread (the one that starts and reaps the steps) and those of
/// the main thread (where the kernel re-parents orphans). hbuild's other
/// threads start no processes; skipping them keeps this at two reads.
pub fn children() -> Vec<Pid> {
    let mut out = Vec::new();
    let leader = format!("/proc/self/task/{}/children", std::process::id());
    let current = "/proc/thread-self/children";
    // SAFETY: gettid has no arguments and no memory effects.
    let on_leader = unsafe { libc::gettid() } as u32 == std::process::id();
    let files: &[&str] = if on_leader {
        &[current]
    } else {
        &[current, &leader]
    };
    for f in files {
        if let Ok(text) = std::fs::read_to_string(f) {
            out.extend(
                text.split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .map(Pid::from_raw),
            );
        }
    }
    out
}

/// Kill and reap every child of hbuild that is not a running command of a
/// step (`running`). Killed processes' own children are re-parented to hbuild
/// in turn and killed in the next round. Returns how many were killed.
pub fn reap_orphans(running: &[Pid]) -> usize {
    let mut killed = 0;
    // Bounded: each round removes one level of every leftover tree.
    for _ in 0..64 {
        let orphans: Vec<Pid> = children()
            .into_iter()
            .filter(|p| !running.contains(p))
            .collect();
        if orphans.is_empty() {
            break;
        }
        for pid in &orphans {
            // Stop first, so an orphan cannot fork between the kill and the next round.
            let _ = kill(*pid, Signal::SIGSTOP);
        }
        for pid in &orphans {
            if kill(*pid, Signal::SIGKILL).is_ok() {
                killed += 1;
            }
            let _ = waitpid(*pid, Some(WaitPidFlag::__WALL));
        }
    }
    killed
}
