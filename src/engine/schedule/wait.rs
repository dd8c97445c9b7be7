//! Waiting for the running commands: exits, signals and interrupts.

use super::commands::failure;
use super::{Outcome, Scheduler};
use crate::engine::output::Sync;
use crate::engine::recipe::CommandLine;
use crate::engine::signals;
use crate::report::build_report;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::OwnedFd;

impl Scheduler<'_> {
    /// Notice a fatal signal: stop starting work and pass the signal on to
    /// every running recipe's process group. True once a signal came.
    pub(super) fn check_signal(&mut self) -> bool {
        let Some(sig) = signals::pending() else {
            return self.interrupted.is_some();
        };
        if self.interrupted.is_none() {
            self.interrupted = Some(sig);
            self.stop = true;
            self.failed = true;
            for job in &self.jobs {
                if let Some(pid) = job.pid {
                    // SAFETY: kill(2) with a negative pid signals the group.
                    unsafe {
                        libc::kill(-pid.as_raw(), sig);
                    }
                }
                let id = job.step.node;
                for (t, b) in job.step.targets.iter().zip(&job.before) {
                    self.interrupted_targets.push((id, t.clone(), *b));
                }
            }
        }
        true
    }

    /// Wait until a running command ends (or a signal or a jobserver token
    /// arrives) and handle what happened. Only our own children are waited
    /// for, by pid, so processes of other threads are never reaped.
    pub fn wait_one(&mut self) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::{AsFd, BorrowedFd};
        self.check_signal();
        if self.jobs.iter().all(|j| j.pid.is_none()) {
            // Nothing to wait for (jobs without a process cannot exist here).
            for j in (0..self.jobs.len()).rev() {
                self.end_job(j, true);
            }
            return;
        }
        let wake = signals::wake_fd();
        let ready: Vec<usize> = {
            let mut polls: Vec<PollFd> = Vec::with_capacity(self.jobs.len() + 1);
            let mut owners = Vec::with_capacity(self.jobs.len());
            for (i, job) in self.jobs.iter().enumerate() {
                if let (Some(fd), Some(_)) = (&job.pidfd, job.pid) {
                    polls.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                    owners.push(i);
                }
            }
            if wake >= 0 {
                // SAFETY: the wake pipe lives for the whole process.
                let fd = unsafe { BorrowedFd::borrow_raw(wake) };
                polls.push(PollFd::new(fd, PollFlags::POLLIN));
            }
            if owners.len() < self.jobs.iter().filter(|j| j.pid.is_some()).count() {
                // Some pidfd could not be opened: fall back to polling waitpid.
                let _ = poll(&mut polls, PollTimeout::from(20u8));
                (0..self.jobs.len()).collect()
            } else {
                let timeout = if std::mem::take(&mut self.load_blocked) {
                    PollTimeout::from(250u16)
                } else {
                    PollTimeout::NONE
                };
                match poll(&mut polls, timeout) {
                    Ok(_) => owners
                        .iter()
                        .zip(&polls)
                        .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
                        .map(|(i, _)| *i)
                        .collect(),
                    Err(_) => Vec::new(),
                }
            }
        };
        signals::drain_wake();
        self.check_signal();
        let pids: Vec<Pid> = ready.iter().filter_map(|&i| self.jobs[i].pid).collect();
        for pid in pids {
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => self.reap(status),
                Err(_) => {
                    // Not our child any more: treat as failed.
                    if let Some(j) = self.jobs.iter().position(|job| job.pid == Some(pid)) {
                        self.jobs[j].pid = None;
                        self.end_job(j, true);
                    }
                }
            }
        }
    }

    /// Handle one finished process.
    fn reap(&mut self, status: WaitStatus) {
        let (pid, what) = match status {
            WaitStatus::Exited(pid, 0) => (pid, None),
            WaitStatus::Exited(pid, code) => (pid, Some(format!("Error {}", code))),
            WaitStatus::Signaled(pid, sig, core) => {
                let mut s = signal_text(sig as i32);
                if core {
                    s.push_str(" (core dumped)");
                }
                (pid, Some(s))
            }
            _ => return,
        };
        let Some(j) = self.jobs.iter().position(|job| job.pid == Some(pid)) else {
            return;
        };
        if let Some(d) = &mut self.jobs[j].report {
            d.exit = match status {
                WaitStatus::Exited(_, code) => build_report::Exit::Code(code),
                WaitStatus::Signaled(_, sig, _) => build_report::Exit::Signal(sig.to_string()),
                _ => build_report::Exit::NotRun,
            };
        }
        self.jobs[j].pid = None;
        self.jobs[j].pidfd = None;
        if self.interrupted.is_some() {
            // The signal ended the build; the clean-up deletes the targets
            // and says how the recipe ended.
            if let (Some(what), false) = (&what, self.quiet()) {
                let job = &self.jobs[j];
                let line = &job.step.lines[job.next.saturating_sub(1)];
                let id = job.step.node;
                let name = &self.graph.nodes[id].name;
                let end = failure(line, name, what, self.ignores_errors(id, line));
                self.interrupted_ends.push((id, end));
            }
            let mut job = self.jobs.remove(j);
            self.step_over(&mut job, "interrupted");
            self.flush_capture(job.capture);
            self.finish(job.step.node, Outcome::Failed);
            return;
        }
        if let Some(what) = what {
            let line = self.jobs[j].step.lines[self.jobs[j].next - 1].clone();
            if self.answers_out_of_date(j, &line, status) {
                self.end_job_as(j, Some(Outcome::Questioned));
                return;
            }
            if !self.command_failed(j, &line, &what) {
                self.end_job(j, true);
                return;
            }
        }
        if self.sync == Sync::Line {
            self.jobs[j].capture.flush();
        }
        self.advance(j);
    }

    /// `-q`: a recursive command that exits with 1 (and whose errors are
    /// not ignored) says its target is out of date, as a sub-make's `-q` does.
    fn answers_out_of_date(&self, j: usize, line: &CommandLine, status: WaitStatus) -> bool {
        self.question()
            && matches!(status, WaitStatus::Exited(_, 1))
            && !self.ignores_errors(self.jobs[j].step.node, line)
    }
}

/// A pidfd for a child, for the wait loop's poll; `None` where unsupported.
pub(super) fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor
    // (always close-on-exec).
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the descriptor was just opened and is owned by nothing else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The description of a signal, as `strsignal` gives it.
fn signal_text(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string.
    unsafe {
        let p = libc::strsignal(sig);
        if p.is_null() {
            return format!("Signal {}", sig);
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}
