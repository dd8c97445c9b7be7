//! Running a job's command lines one after the other, as make echoes and reports them.

use super::wait::pidfd_open;
use super::{Outcome, Scheduler};
use crate::diag::prog;
use crate::engine::output::{Capture, Sync};
use crate::engine::recipe::CommandLine;
use crate::engine::spawn::{Invocation, Started};
use crate::engine::{recipe, spawn};
use crate::graph::NodeId;

impl Scheduler<'_> {
    /// Start the next command of job `j`, handling commands that finish at
    /// once (skipped under `-n`, failed to start); finish the job at the end.
    pub(super) fn advance(&mut self, j: usize) {
        loop {
            let job = &self.jobs[j];
            let id = job.step.node;
            let Some(line) = job.step.lines.get(job.next).cloned() else {
                let failed = false;
                self.end_job(j, failed);
                return;
            };
            self.jobs[j].next += 1;
            if recipe::is_blank(&line.text) {
                continue;
            }
            let runs_anyway = self.jobs[j].step.lines.iter().any(|l| l.always);
            if self.questioned(&line, runs_anyway) {
                // `-q`: a line that would really run means out of date.
                self.out_of_date = true;
                self.stop = true;
                let job = self.jobs.remove(j);
                self.flush_capture(job.capture);
                self.complete(id, Outcome::Remade);
                return;
            }
            let runs = !self.dry() || line.always;
            // `-t` only shows `touch` commands, even with `-n`.
            let shown = runs || (self.opts.dry_run && !self.opts.touch);
            // A sub-make under `-Otarget` or `-Oline` syncs its own output:
            // what the job printed so far goes out first, then the line,
            // uncaptured.
            let uncaptured = self.syncs_itself(&line);
            if uncaptured {
                self.jobs[j].capture.flush();
            }
            if !self.silent_line(id, &line) && shown {
                if uncaptured {
                    Capture::default().say(&line.text);
                } else {
                    self.jobs[j].capture.say(&line.text);
                }
            }
            if runs || shown {
                self.commands_started += 1;
            }
            if !runs {
                continue;
            }
            self.jobs[j].ran_recursive |= line.always;
            if line.text == ":" {
                // make runs no process for a bare `:` (so it prints no
                // `Entering directory` for it either).
                continue;
            }
            self.disk.forget_listings();
            crate::engine::output::enter_directory();
            let inv = self.invocation(j, &line);
            let started = spawn::start(&inv);
            // It holds a reference to the step's guard, which judging the
            // step (a start that failed) must own.
            drop(inv);
            match started {
                Started::Running(pid) => {
                    self.jobs[j].pid = Some(pid);
                    self.jobs[j].pidfd = pidfd_open(pid);
                    return;
                }
                Started::Failed { status, message } => {
                    self.jobs[j].capture.say_err(&message);
                    if !self.command_failed(j, &line, &format!("Error {}", status)) {
                        self.end_job(j, true);
                        return;
                    }
                }
            }
        }
    }

    fn silent_line(&self, id: NodeId, line: &CommandLine) -> bool {
        if self.opts.trace || (self.honour_modes && self.opts.dry_run) {
            return false;
        }
        line.silent
            || self.opts.silent
            || self.db.specials.silent.contains(&self.graph.nodes[id].name)
    }

    /// Report a failed command; true if the job goes on (ignored error).
    pub(super) fn command_failed(&mut self, j: usize, line: &CommandLine, what: &str) -> bool {
        let id = self.jobs[j].step.node;
        let name = self.graph.nodes[id].name.clone();
        let ignored = self.ignores_errors(id, line);
        let prog = crate::diag::prog();
        let quiet = self.opts.silent || self.db.specials.silent.contains(&name);
        let capture = &mut self.jobs[j].capture;
        let message = format!("{}: {}", prog, failure(line, &name, what, ignored));
        if ignored {
            // Under `-s` or `.SILENT` an ignored failure goes unmentioned
            // (an `@` line's does not), as in make.
            if !quiet {
                capture.say_err(&message);
            }
            true
        } else if self.quiet() {
            false
        } else {
            self.say_not_found();
            let job = &mut self.jobs[j];
            if job.guard.is_some() {
                job.held_failure = Some(message);
            } else {
                job.capture.say_err(&message);
            }
            false
        }
    }

    pub(super) fn ignores_errors(&self, id: NodeId, line: &CommandLine) -> bool {
        line.ignore
            || self.opts.ignore_errors
            || self.db.specials.ignore.contains(&self.graph.nodes[id].name)
    }

    /// `-q`: command `line` would really run, so its target is out of date.
    /// Empty lines run nothing; `-t` touches a recipe without recursive
    /// lines (`runs_anyway`) instead of running it.
    pub(super) fn questioned(&self, line: &CommandLine, runs_anyway: bool) -> bool {
        self.question()
            && (runs_anyway || !self.opts.touch)
            && !line.always
            && !recipe::is_blank(&line.text)
    }

    /// `-k`: a goal gave up because prerequisites failed (not said under
    /// -n or -q).
    pub fn say_not_remade(&self, id: NodeId) {
        if self.opts.keep_going && !self.opts.dry_run && !self.opts.question {
            errln!(
                "{}: Target '{}' not remade because of errors.",
                prog(),
                self.graph.nodes[id].name
            );
        }
    }

    /// A sub-make line under `-Otarget` or `-Oline`: it syncs its own
    /// output, so the job does not capture it.
    fn syncs_itself(&self, line: &CommandLine) -> bool {
        line.always && matches!(self.sync, Sync::Target | Sync::Line)
    }

    /// The process for command `line` of job `j`: its output goes to the
    /// job's capture unless the line [syncs itself](Self::syncs_itself);
    /// sub-makes inherit the jobserver.
    fn invocation(&mut self, j: usize, line: &CommandLine) -> Invocation {
        let inherit = if line.always {
            self.tokens().inherit_fds()
        } else {
            None
        };
        let job = &self.jobs[j];
        let captured = !self.syncs_itself(line);
        let file = |f: &Option<std::fs::File>| {
            if captured {
                f.as_ref().and_then(|f| f.try_clone().ok())
            } else {
                None
            }
        };
        Invocation {
            shell: job.shell.clone(),
            shell_flags: job.shell_flags.clone(),
            text: line.text.clone(),
            env: job.env.clone(),
            stdout: file(&job.capture.out),
            stderr: file(&job.capture.err),
            jobserver_fds: inherit,
            guard: job.guard.clone(),
        }
    }
}

/// How make reports a failed command `line` of target `name` (after its
/// `make: `): `*** [Makefile:3: a] Error 1`, or `[...] Error 1 (ignored)`.
pub(super) fn failure(line: &CommandLine, name: &str, what: &str, ignored: bool) -> String {
    if ignored {
        format!("[{}: {}] {} (ignored)", line.loc, name, what)
    } else {
        format!("*** [{}: {}] {}", line.loc, name, what)
    }
}
