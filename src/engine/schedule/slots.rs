//! Job slots: when a step may start, and the jobserver that `-j` shares with sub-makes.

use super::{Scheduler, TOKENS};
use crate::engine::tokens::Tokens;
use crate::engine::{signals, tokens};

impl Scheduler<'_> {
    /// The job slots, set up on first use (a no-op build never needs them).
    pub(super) fn tokens(&mut self) -> &mut Tokens {
        if self.tokens.is_none() {
            let shared = TOKENS
                .lock()
                .ok()
                .and_then(|mut g| g.take_if(|(j, _)| *j == self.opts.jobs))
                .map(|(_, t)| t);
            let env = std::env::var("MAKEFLAGS").ok();
            let jobs = self.opts.jobs.map(|n| n.max(1));
            // The jobserver pipe first, so its descriptors are 3,4 as make's.
            self.tokens = Some(shared.unwrap_or_else(|| Tokens::setup(jobs, env.as_deref())));
            signals::install();
            self.show_jobserver_in_makeflags();
        }
        self.tokens.get_or_insert_with(|| Tokens::local(Some(1)))
    }

    /// May another recipe start now?
    pub(super) fn may_start(&mut self) -> bool {
        let running = self.jobs.len();
        if running > 0 && self.db.specials.not_parallel {
            return false;
        }
        // `-l N`: no new job beside running ones while the load is N or more.
        if let Some(limit) = self.opts.load_average.filter(|l| *l > 0.0) {
            if running > 0 && load_average().is_some_and(|l| l >= limit) {
                self.load_blocked = true;
                return false;
            }
        }
        self.tokens().may_start(running)
    }

    /// Every one of this make's `-jN` slots is taken and a step is ready:
    /// make waits right there for one of its jobs to end, then gives the
    /// slot to this step and walks on. (Walking again from the first goal
    /// would give it to an earlier target that the ended job made ready,
    /// another order than make's.) True if the step may start now.
    pub(super) fn wait_for_own_slot(&mut self) -> bool {
        if self.load_blocked || self.db.specials.not_parallel || self.tokens.is_none() {
            return false;
        }
        while !self.stop && {
            let running = self.jobs.len();
            self.tokens().at_limit(running)
        } {
            self.settle_tokens();
            self.wait_one();
        }
        !self.stop && self.may_start()
    }

    /// After a pass has started everything it could: give back the tokens
    /// the running jobs do not use, for other makes of the recursion.
    pub fn settle_tokens(&mut self) {
        let running = self.jobs.len();
        if let Some(t) = &mut self.tokens {
            t.release_extra(running);
        }
    }

    /// The `-jN --jobserver-auth=R,W` words (`-j` alone when unlimited) that
    /// `MAKEFLAGS` tells sub-makes; `None` when it tells them nothing.
    fn jobs_words(&mut self) -> Option<String> {
        let unlimited = self.opts.jobs.is_none();
        match self.tokens().auth() {
            Some((auth, n)) => {
                let j = n.map(|n| format!("-j{}", n)).unwrap_or_else(|| "-j".into());
                Some(format!("{} --jobserver-auth={}", j, auth))
            }
            None if unlimited => Some("-j".to_string()),
            None => None,
        }
    }

    /// Once the job slots are set up, `$(MAKEFLAGS)` and `$(MFLAGS)` in
    /// recipes name the jobserver too, as the environment does.
    fn show_jobserver_in_makeflags(&mut self) {
        let Some(jobs) = self.jobs_words() else {
            return;
        };
        let Some(v) = self.db.globals.get_mut("MAKEFLAGS") else {
            return;
        };
        v.value = tokens::makeflags_with_jobs(&v.value, &jobs);
        let mflags = tokens::mflags_of(&v.value);
        if let Some(m) = self.db.globals.get_mut("MFLAGS") {
            m.value = mflags;
        }
    }

    /// Recipe environment with `MAKEFLAGS` naming this make's jobserver.
    pub(super) fn with_jobserver(
        &mut self,
        mut env: Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        let Some(jobs) = self.jobs_words() else {
            return env;
        };
        match env.iter_mut().find(|(k, _)| k == "MAKEFLAGS") {
            Some(e) => e.1 = tokens::makeflags_with_jobs(&e.1, &jobs),
            None => env.push(("MAKEFLAGS".into(), tokens::makeflags_with_jobs("", &jobs))),
        }
        env
    }
}

/// The one-minute load average, as `-l` compares it.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}
