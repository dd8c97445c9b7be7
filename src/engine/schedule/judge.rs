//! Judging what a sandboxed step did once it ended: undeclared accesses fail it.

use super::{is_directory, Job, Scheduler};
use crate::engine::hermetic::Guard;
use crate::lang::rules::Recipe;
use nix::unistd::Pid;
use std::sync::Arc;

impl Scheduler<'_> {
    /// Judge what a finished step did. In enforce mode an undeclared access
    /// fails the step: each is reported, files it created undeclared are
    /// removed and its changed targets deleted. True if the step failed so.
    pub(super) fn judge_step(&mut self, job: &mut Job) -> bool {
        let Some(sg) = job.guard.take() else {
            return false;
        };
        let Ok(mut sg) = Arc::try_unwrap(sg) else {
            return false;
        };
        // The TMPDIR is emptied (or handed to another step) only once the
        // step's stray processes are gone, below.
        let tmp = sg.take_tmp();
        let Some(mut guard) = self.guard.take() else {
            return false;
        };
        let id = job.step.node;
        let name = self.graph.nodes[id].name.clone();
        let (db, graph) = (&*self.db, &self.graph);
        // A rule with an empty recipe (`.config: ;`) makes nothing.
        let runs = |r: &Option<Arc<Recipe>>| {
            r.as_ref()
                .is_some_and(|r| r.lines.iter().any(|l| !l.text.trim().is_empty()))
        };
        let producer = |p: &std::path::Path| -> Option<String> {
            let p = p.to_str()?;
            let made = db
                .targets
                .get(p)
                .is_some_and(|t| runs(&t.recipe) || !t.double_colon.is_empty())
                || graph
                    .lookup(p)
                    .is_some_and(|n| runs(&graph.nodes[n].recipe));
            made.then(|| p.to_string())
        };
        if let Some(d) = &mut job.report {
            d.sandbox = Some(sg.report_summary());
        }
        let phony = self.graph.nodes[id].phony;
        // A rule the step's prerequisites lead to runs before it: no race.
        let ordered = |rule: &str| graph.lookup(rule).is_some_and(|n| graph.reaches(id, n));
        let end = guard.end_step(
            sg,
            &job.step,
            &name,
            (!job.concurrent, phony),
            &producer,
            &ordered,
        );
        let found = end.violations;
        if let Some(d) = &mut job.report {
            (d.violations, d.accesses) = end.report;
        }
        // hbuild is the subreaper of its steps (not with `--sandbox=off`):
        // stray background processes of finished steps are killed and reaped.
        if guard.mode != crate::sandbox::Mode::Off {
            let running: Vec<Pid> = self.jobs.iter().filter_map(|j| j.pid).collect();
            crate::sandbox::reap_orphans(&running);
        }
        drop(tmp);
        self.guard = Some(guard);
        let prog = crate::diag::prog();
        let at = Guard::report_loc(&job.step).clone();
        for v in &end.warnings {
            job.capture
                .say_err(&format!("{}: [{}: {}] warning: {}", prog, at, name, v));
        }
        if found.is_empty() {
            return false;
        }
        for v in &found {
            job.capture
                .say_err(&format!("{}: *** [{}: {}] {}", prog, at, name, v));
        }
        // How to declare what the step did (clean rules, dependency files),
        // or, once per run, how to find every undeclared input at once.
        let commands: Vec<&str> = job.step.lines.iter().map(|l| l.text.as_str()).collect();
        let failed = crate::report::advice::FailedStep {
            target: &name,
            phony: self.graph.nodes[id].phony,
            exists: std::path::Path::new(&*name).exists(),
            commands: &commands,
            violations: &found,
        };
        let makefiles = &self.db.makefiles;
        let generated = *self
            .generated
            .get_or_insert_with(|| crate::report::advice::generator(makefiles));
        let advice = crate::report::advice::for_failure(&failed, generated, &mut self.advised);
        for line in advice {
            job.capture.say_err(&format!("{}: {}", prog, line));
        }
        for f in crate::report::violations::created_files(&found) {
            let _ = std::fs::remove_file(f);
        }
        for (t, before) in job.step.targets.iter().zip(&job.before) {
            self.disk.invalidate(t);
            if self.deletable(id, t) && self.disk.mtime(t) != *before && !is_directory(t) {
                let _ = self.disk.remove(t);
            }
        }
        true
    }
}
