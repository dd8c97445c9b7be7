//! Beginning a step: its recipe expanded, its environment, its sandbox, its job.

use super::{Job, Outcome, Scheduler, State, Step};
use crate::diag::Fatal;
use crate::engine::hermetic;
use crate::engine::hermetic::{Guard, StepGuard};
use crate::engine::output::Capture;
use crate::engine::recipe;
use crate::graph::disk::MTime;
use crate::graph::{decide, NodeId};
use crate::lang::rules::Recipe;
use crate::report::build_report;
use std::sync::Arc;

impl Scheduler<'_> {
    fn scope_for(&self, id: NodeId, newer: &[String]) -> crate::lang::vars::Scope {
        self.graph.recipe_scope(self.db, id, newer)
    }

    /// Begin remaking node `id`: expand its recipe, print the trace, and start
    /// the first command (or touch / only echo under `-t` / `-n`).
    pub(super) fn start_step(
        &mut self,
        id: NodeId,
        recipe: Arc<Recipe>,
        newer: Vec<String>,
        mtime: MTime,
    ) {
        // Expanding the recipe (`$(shell)`) or running it may create files.
        self.disk.forget_listings();
        let scope = self.scope_for(id, &newer);
        let n = &self.graph.nodes[id];
        let loc = n.rule_loc.clone().unwrap_or_else(|| recipe.loc.clone());
        if self.opts.trace {
            // make names the recipe's first line, not the rule's header.
            let at = recipe.lines.first().map_or(&loc, |l| &l.loc);
            crate::engine::output::enter_directory();
            println!("{}: {}", at, decide::trace_reason(&n.name, &newer));
        }
        let mut targets = vec![n.path.to_string()];
        targets.extend(
            n.siblings
                .iter()
                .map(|s| self.graph.nodes[*s].path.to_string()),
        );
        // The build's guard knows the mode once it exists (the first step
        // asks the options, and perhaps the environment).
        let sandboxed = match &self.guard {
            Some(g) => g.mode != crate::sandbox::Mode::Off,
            None => hermetic::mode_of(self.opts) != crate::sandbox::Mode::Off,
        };
        let made_dirs =
            (!self.dry()).then(|| hermetic::make_target_dirs(self.db, sandboxed, &targets));
        // `-t` touches without expanding the recipe unless a line of it is
        // recursive (then make expands it all, to run those lines).
        let touch_only = self.honour_modes
            && self.opts.touch
            && !recipe.lines.iter().any(|l| recipe::raw_recursive(&l.text));
        // The directories made for the targets stay out of sight of the
        // expansion's `$(wildcard)`, as make has made none.
        self.db.unmade_dirs = made_dirs
            .iter()
            .flat_map(|d| d.made())
            .filter_map(|d| std::path::absolute(d).ok())
            .map(|d| crate::observe::normalize(&d))
            .collect();
        let expanded = if touch_only {
            Ok(Vec::new())
        } else {
            recipe::expand(self.db, &recipe, &scope, self.db.specials.one_shell)
        };
        self.db.unmade_dirs.clear();
        let lines = match expanded {
            Ok(l) => l,
            Err(e) => {
                self.fatal(e);
                self.finish(id, Outcome::Failed);
                return;
            }
        };
        let shell = self.db.var_value("SHELL", &scope).unwrap_or_default();
        let shell = if shell.trim().is_empty() {
            "/bin/sh".to_string()
        } else {
            shell.trim().to_string()
        };
        let flags = self.db.var_value(".SHELLFLAGS", &scope).unwrap_or_default();
        let mut shell_flags: Vec<String> = flags.split_whitespace().map(str::to_string).collect();
        if shell_flags.is_empty() {
            shell_flags.push(if self.db.specials.posix { "-ec" } else { "-c" }.to_string());
        }
        // As make, the environment (and the `$(shell)`s of exported
        // variables in it) is worked out only for a recipe that starts a
        // command: not for one whose lines are all empty or `:`.
        // Under -n, -q or -t only sub-make lines run.
        let only_shown = (self.dry() || self.question()) && self.honour_modes;
        let starts_nothing = lines
            .iter()
            .all(|l| recipe::is_blank(&l.text) || l.text == ":" || (only_shown && !l.always));
        let env = if starts_nothing {
            Ok(Vec::new())
        } else {
            self.db.recipe_env(&scope)
        };
        let env = match env {
            Ok(e) if e.is_empty() => None,
            Ok(e) => Some(e),
            Err(e) => {
                self.fatal(e);
                self.finish(id, Outcome::Failed);
                return;
            }
        };
        let through = if sandboxed {
            self.graph.through_aggregates(self.db, &mut self.disk, id)
        } else {
            Vec::new()
        };
        let n = &self.graph.nodes[id];
        let step = Step {
            node: id,
            through,
            targets,
            prereqs: n
                .deps
                .iter()
                .filter(|e| !e.order_only)
                .map(|e| self.graph.nodes[e.node].path.to_string())
                .collect(),
            order_only: n
                .deps
                .iter()
                .filter(|e| e.order_only)
                .map(|e| self.graph.nodes[e.node].path.to_string())
                .collect(),
            recipe,
            loc,
            lines,
        };
        self.state[id] = State::Running;
        for &s in &self.graph.nodes[id].siblings {
            self.state[s] = State::Running;
        }
        if self.graph.nodes[id].intermediate {
            self.made_intermediates.push(id);
        }
        self.steps_started += 1;
        let runs_anyway = step.lines.iter().any(|l| l.always);
        if !runs_anyway && step.lines.iter().any(|l| self.questioned(l, false)) {
            // make -q stops at the first target that is out of date.
            self.out_of_date = true;
            self.stop = true;
            self.complete(id, Outcome::Remade);
            return;
        }
        let before = step
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| if i == 0 { mtime } else { self.disk.mtime(t) })
            .collect();
        let env = env.map(|e| {
            let e = self.with_jobserver(with_original_shell(e));
            self.shared_env(e)
        });
        let guard = if (self.dry() || self.question()) && !runs_anyway {
            None
        } else {
            match self.step_guard(&scope, &step, &shell, made_dirs) {
                Ok(g) => Some(Arc::new(g)),
                Err(e) => {
                    self.fatal(e);
                    self.finish(id, Outcome::Failed);
                    return;
                }
            }
        };
        self.jobs.push(Job {
            step,
            next: 0,
            pid: None,
            pidfd: None,
            before,
            capture: Capture::new(self.sync),
            trace: crate::report::trace_json::active().map(|t| t.begin_step()),
            report: build_report::active().map(|_| Box::default()),
            ran_recursive: false,
            shell,
            shell_flags,
            env,
            guard,
            concurrent: !self.jobs.is_empty(),
            held_failure: None,
        });
        let j = self.jobs.len() - 1;
        if j > 0 {
            for job in &mut self.jobs {
                job.concurrent = true;
            }
        }
        let name = self.graph.nodes[id].name.clone();
        crate::ui::status::with(|s| s.step_started(&name));
        self.advance(j);
    }

    /// Set up the sandbox of a step (the build's guard on first use).
    fn step_guard(
        &mut self,
        scope: &crate::lang::vars::Scope,
        step: &Step,
        shell: &str,
        made_dirs: Option<hermetic::TargetDirs>,
    ) -> Result<StepGuard, Fatal> {
        if self.guard.is_none() {
            self.guard = Some(Guard::new(self.opts)?);
        }
        let guard = self.guard.as_ref().expect("set above");
        guard.begin_step(self.db, scope, step, shell, made_dirs)
    }

    /// The step's environment, as the same `Arc` as the previous step's when
    /// it is equal (the usual case): the spawner keeps the C strings it made
    /// for that `Arc` and reuses them.
    fn shared_env(&mut self, env: Vec<(String, String)>) -> Arc<Vec<(String, String)>> {
        match &self.last_env {
            Some(prev) if **prev == env => prev.clone(),
            _ => {
                let env = Arc::new(env);
                self.last_env = Some(env.clone());
                env
            }
        }
    }
}

/// make runs recipes with its `SHELL` variable but, unless the makefile
/// exports `SHELL`, gives them the `SHELL` of its own environment.
fn with_original_shell(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    if !env.iter().any(|(k, _)| k == "SHELL") {
        if let Ok(shell) = std::env::var("SHELL") {
            env.push(("SHELL".into(), shell));
        }
    }
    env
}
