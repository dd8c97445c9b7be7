//! The end of a job: its outcome, `-t`'s touches, the report and trace records.

use super::{Job, Outcome, Scheduler};
use crate::engine::output::Capture;
use crate::engine::recipe;
use crate::engine::recipe::CommandLine;
use crate::graph::decide::NEWEST;
use crate::graph::NodeId;
use crate::report::build_report;

impl Scheduler<'_> {
    /// A job is over: tell the status line and the trace.
    pub(super) fn step_over(&self, job: &mut Job, result: &str) {
        let name = &self.graph.nodes[job.step.node].name;
        crate::ui::status::with(|s| s.step_finished(name, result == "ok"));
        if let (Some(r), Some(d)) = (build_report::active(), job.report.take()) {
            r.step(build_report::StepRecord {
                targets: job.step.targets.clone(),
                rule: job.step.loc.to_string(),
                commands: job.step.lines.iter().map(|l| l.text.clone()).collect(),
                start: d.start,
                end: std::time::Instant::now(),
                exit: d.exit,
                result: result.to_string(),
                sandbox: d.sandbox,
                violations: d.violations,
                accesses: d.accesses,
            });
        }
        if let (Some(t), Some(started)) = (crate::report::trace_json::active(), job.trace) {
            let command: Vec<&str> = job.step.lines.iter().map(|l| l.text.as_str()).collect();
            let mode = self.opts.sandbox.as_deref().unwrap_or("enforce");
            t.end_step(started, name, &command.join("\n"), mode, result);
        }
    }

    pub(super) fn flush_capture(&mut self, mut capture: Capture) {
        capture.flush();
    }

    pub(super) fn end_job(&mut self, j: usize, failed: bool) {
        self.end_job_as(j, failed.then_some(Outcome::Failed));
    }

    /// Finish job `j`, which ended early with `failure` (`Failed` or
    /// `Questioned`) or ran to its end with `None`.
    pub(super) fn end_job_as(&mut self, j: usize, failure: Option<Outcome>) {
        let mut job = self.jobs.remove(j);
        let failure = if self.judge_step(&mut job) {
            Some(Outcome::Failed)
        } else {
            failure
        };
        if let Some(message) = job.held_failure.take() {
            job.capture.say_err(&message);
        }
        self.step_over(&mut job, if failure.is_some() { "failed" } else { "ok" });
        let id = job.step.node;
        for t in &job.step.targets {
            self.disk.invalidate(t);
        }
        if let Some(outcome) = failure {
            if outcome == Outcome::Questioned {
                self.out_of_date = true;
            }
            self.delete_on_error(id, &mut job);
            job.capture.flush();
            self.complete(id, outcome);
            if !self.opts.keep_going && !self.quiet() {
                self.stop_starting();
            }
            return;
        }
        let touches = if self.honour_modes && self.opts.touch && !self.graph.nodes[id].phony {
            touch_count(&job.step.lines)
        } else {
            0
        };
        self.commands_started += touches;
        for _ in 0..touches {
            for t in &job.step.targets {
                if !self.opts.silent {
                    job.capture.say(&format!("touch {}", t));
                }
                if self.opts.dry_run {
                    continue;
                }
                if let Err(e) = self.disk.touch(t) {
                    job.capture.say_err(&format!(
                        "{}: *** cannot touch '{}': {}",
                        crate::diag::prog(),
                        t,
                        e
                    ));
                }
            }
        }
        job.capture.flush();
        self.complete(id, Outcome::Remade);
        // Under -n or -q a recipe of only sub-make lines really ran: as make,
        // the file's time is read again rather than taken as brand new.
        let only_submakes = job
            .step
            .lines
            .iter()
            .all(|l| l.always || recipe::is_blank(&l.text));
        if (self.dry() && !self.opts.touch) || self.question() {
            for t in std::iter::once(id).chain(self.graph.nodes[id].siblings.clone()) {
                self.stamp[t] = if only_submakes && !self.graph.nodes[t].phony {
                    // (Still missing: it was remade without a file, newest.)
                    self.disk.mtime(&self.graph.nodes[t].path).or(Some(NEWEST))
                } else {
                    Some(NEWEST)
                };
            }
        }
    }

    pub(super) fn complete(&mut self, id: NodeId, outcome: Outcome) {
        self.finish(id, outcome);
        for s in self.graph.nodes[id].siblings.clone() {
            self.finish(s, outcome);
        }
        if self.question() {
            self.stamp[id] = Some(NEWEST);
        }
    }
}

/// How many times `-t` touches a target (and says so) after its recipe's
/// recursive lines ran. Observed GNU make 4.3 behaviour: once without
/// recursive lines, never when every line is recursive (even an empty `+@`);
/// otherwise once when the last line is a recursive command that really runs
/// or when every line is empty, twice else.
fn touch_count(lines: &[CommandLine]) -> usize {
    if !lines.iter().any(|l| l.always) {
        return 1;
    }
    if lines.iter().all(|l| l.always) {
        return 0;
    }
    let empty = |l: &CommandLine| recipe::is_blank(&l.text);
    let ends_running = lines.last().is_some_and(|l| l.always && !empty(l));
    if ends_running || lines.iter().all(empty) {
        1
    } else {
        2
    }
}
