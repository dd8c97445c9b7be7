//! Deleting what failed or interrupted recipes left, and the intermediate files.

use super::{is_directory, say_err, Job, Outcome, Scheduler, State};
use crate::graph::NodeId;
use crate::lang::text::Pattern;
use crate::ui::debug;

impl Scheduler<'_> {
    fn is_precious(&self, name: &str) -> bool {
        self.db
            .specials
            .precious
            .iter()
            .any(|p| match Pattern::parse(p) {
                Some(pat) => pat.matches(name).is_some(),
                None => p == name,
            })
    }

    /// May hbuild delete target `name` of a failed or interrupted recipe?
    pub(super) fn deletable(&self, id: NodeId, name: &str) -> bool {
        let n = &self.graph.nodes[id];
        !(n.phony
            || crate::graph::archive::split_member(name).is_some()
            || self.is_precious(name)
            || self.db.specials.secondary.contains(name)
            || self.db.specials.phony.contains(name)
            || self.dry())
    }

    /// `.DELETE_ON_ERROR`: remove the targets a failed recipe changed.
    pub(super) fn delete_on_error(&mut self, id: NodeId, job: &mut Job) {
        if !self.db.specials.delete_on_error {
            return;
        }
        for (t, before) in job.step.targets.iter().zip(&job.before) {
            if !self.deletable(id, t) {
                continue;
            }
            let now = self.disk.mtime(t);
            if now.is_some() && now != *before && !is_directory(t) {
                job.capture.say_err(&format!(
                    "{}: *** Deleting file '{}'",
                    crate::diag::prog(),
                    t
                ));
                let _ = self.disk.remove(t);
            }
        }
    }

    /// After an interrupt: delete the targets that interrupted recipes
    /// changed (never a file they did not touch), then return the signal.
    pub fn clean_up_interrupt(&mut self) -> Option<i32> {
        let sig = self.interrupted?;
        let targets = std::mem::take(&mut self.interrupted_targets);
        let ends = std::mem::take(&mut self.interrupted_ends);
        // Recipes in the order they started, each one's deletions first.
        let mut order: Vec<NodeId> = targets.iter().map(|(id, _, _)| *id).collect();
        order.dedup();
        for id in order {
            for (_, t, before) in targets.iter().filter(|(i, _, _)| *i == id) {
                if !self.deletable(id, t) {
                    continue;
                }
                self.disk.invalidate(t);
                let now = self.disk.mtime(t);
                if now.is_some() && now != *before && !is_directory(t) {
                    say_err(&format!(
                        "{}: *** Deleting file '{}'",
                        crate::diag::prog(),
                        t
                    ));
                    let _ = self.disk.remove(t);
                }
            }
            for (_, end) in ends.iter().filter(|(i, _)| *i == id) {
                say_err(&format!("{}: {}", crate::diag::prog(), end));
            }
        }
        Some(sig)
    }

    /// Delete the intermediate files made by this run, printing `rm a b`.
    pub fn remove_intermediates(&mut self) {
        // `-t` touched them: make leaves them (and says nothing).
        if self.honour_modes && self.opts.touch && !self.opts.dry_run {
            return;
        }
        let mut removed = Vec::new();
        for id in std::mem::take(&mut self.made_intermediates) {
            let n = &self.graph.nodes[id];
            if self.state[id] != State::Done(Outcome::Remade)
                || self.db.specials.secondary.contains(&n.name)
                || self.is_precious(&n.name)
            {
                continue;
            }
            let path = n.path.clone();
            if !self.dry() && self.disk.remove(&path).is_err() {
                continue;
            }
            removed.push(path);
        }
        if !removed.is_empty() {
            debug::phase("Removing intermediate files...");
        }
        if !removed.is_empty() && !self.opts.silent {
            crate::engine::output::enter_directory();
            println!("rm {}", removed.join(" "));
        }
    }
}
