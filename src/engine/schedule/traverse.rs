//! make's depth-first walk over the graph: which prerequisites come first, when a
//! target is up to date, and when its recipe starts.

use super::{DepScan, Outcome, Pass, Progress, Scheduler, State};
use crate::diag::prog;
use crate::engine::clock_skew;
use crate::graph::decide::{DepState, TargetFacts, NEWEST, OLDEST};
use crate::graph::disk::MTime;
use crate::graph::{decide, NodeId};
use crate::ui::debug;

impl Scheduler<'_> {
    /// One step of make's depth-first walk: bring `id` up to date as far
    /// as possible now. A node found pending in an earlier pass is walked
    /// again only when something below it finished, or when it waits for a
    /// job slot and one is free (`WalkMarks`): the same recipes start, in the
    /// same order, without walking shared sub-graphs once per path.
    pub(super) fn update(&mut self, id: NodeId, parent: Option<NodeId>) -> Progress {
        self.grow();
        match self.state[id] {
            State::Done(_) => return Progress::Done,
            State::Running => return Progress::Pending,
            State::New => {}
        }
        if let Some(&settled) = self.settled.get(&*self.graph.nodes[id].name) {
            self.resume_settled(id, parent, settled);
            return Progress::Done;
        }
        if self.still_pending(id) {
            return Progress::Pending;
        }
        if self.stop || self.check_signal() {
            return Progress::Pending;
        }
        if !self.opts.old_files.is_empty() && self.is_old_file(&self.graph.nodes[id].name) {
            // `-o FILE`: never remade, its prerequisites not even looked at,
            // and older than any file, even if missing.
            self.finish_with(id, Outcome::Unchanged, Some(OLDEST));
            return Progress::Done;
        }
        let first_visit = !self.graph.nodes[id].prepared;
        if let Err(e) = self.graph.prepare(self.db, &mut self.disk, id) {
            self.fatal(e);
            return Progress::Pending;
        }
        if debug::basic() {
            self.debug_first_look(id, parent);
        }
        if first_visit && !self.graph.nodes[id].deps.is_empty() {
            // make reads a target's time before updating its prerequisites:
            // a recipe of theirs that touches the target does not make it
            // newer than them. The stat cache keeps this first reading.
            let _ = self.disk.examine(&self.graph.nodes[id].path);
        }
        self.grow();
        self.on_stack[id] = true;
        // As make: the other prerequisites first (an intermediate one is
        // looked through to its own), then the intermediate files, once the
        // others are done.
        let mut scan = DepScan::default();
        self.update_deps(id, Pass::Others, &mut scan);
        if scan.intermediates && !scan.pending && !self.stop {
            self.update_deps(id, Pass::Intermediates, &mut scan);
        }
        let DepScan {
            intermediates: _,
            pending,
            waits_slot,
            dep_failed,
            dep_questioned,
        } = scan;
        self.on_stack[id] = false;
        if self.stop {
            return Progress::Pending;
        }
        if pending {
            self.remember_pending(id, waits_slot);
            return Progress::Pending;
        }
        if dep_failed || dep_questioned {
            let outcome = if dep_failed {
                Outcome::Failed
            } else {
                Outcome::Questioned
            };
            if dep_failed && parent.is_none() {
                self.goals_failed_by_prerequisites.push(id);
            }
            // make says it of each double-colon rule of a goal, as it gives up.
            let goal_rule = self.graph.nodes[id].double_colon_rule
                && parent.is_some_and(|p| self.graph.nodes[p].parent.is_none());
            if dep_failed && goal_rule {
                self.say_not_remade(id);
            }
            self.finish(id, outcome);
            return Progress::Done;
        }
        let progress = self.decide_and_start(id, parent);
        if !self.stop && self.state[id] == State::New {
            // Ready, but no job slot is free.
            self.remember_pending(id, true);
        }
        progress
    }

    /// One pass over the prerequisites of `id` (see [`Pass`]), in order,
    /// recording in `scan` what it found.
    fn update_deps(&mut self, id: NodeId, pass: Pass, scan: &mut DepScan) {
        let mut i = 0;
        while i < self.graph.nodes[id].deps.len() {
            let dep = self.graph.nodes[id].deps[i].node;
            if scan.pending && self.graph.nodes[id].deps[i].after_wait {
                break;
            }
            if self.on_stack[dep] {
                errln!(
                    "{}: Circular {} <- {} dependency dropped.",
                    prog(),
                    self.graph.nodes[id].name,
                    self.graph.nodes[dep].name
                );
                self.graph.nodes[id].deps.remove(i);
                continue;
            }
            let deferred = self.defers(dep);
            if debug::basic() {
                self.depth = self.debug_level[id].unwrap_or(0) + 1;
            }
            let progress = match (pass, deferred) {
                (Pass::Others, false) | (Pass::Intermediates, true) => {
                    Some(self.update(dep, Some(id)))
                }
                (Pass::Others, true) => {
                    scan.intermediates = true;
                    Some(self.look_through(dep, id))
                }
                (Pass::Intermediates, false) => None,
            };
            match progress {
                Some(Progress::Pending) => {
                    scan.pending = true;
                    scan.waits_slot |= self.state[dep] == State::New && self.walk.waits_slot(dep);
                    if self.walk_blocked() {
                        break;
                    }
                }
                Some(Progress::Done) => {
                    scan.dep_failed |= self.state[dep] == State::Done(Outcome::Failed);
                    scan.dep_questioned |= self.state[dep] == State::Done(Outcome::Questioned);
                }
                None => {}
            }
            if self.stop {
                break;
            }
            i += 1;
        }
    }

    /// Is `dep` an intermediate file, made only after a target's other
    /// prerequisites? (Not once it is done or running.)
    pub(super) fn defers(&self, dep: NodeId) -> bool {
        let n = &self.graph.nodes[dep];
        self.state[dep] == State::New && !n.phony && self.made_late(dep)
    }

    /// An intermediate file, or one `.SECONDARY` names: made only once a
    /// target's other prerequisites are done, and only if needed.
    pub(super) fn made_late(&self, id: NodeId) -> bool {
        let n = &self.graph.nodes[id];
        n.intermediate || self.db.specials.secondary.names.contains(&*n.name)
    }

    /// make's first look at an intermediate prerequisite `dep` of `parent`:
    /// its own prerequisites are brought up to date (intermediate ones looked
    /// through in turn), not the file itself. `Done` means they all are.
    fn look_through(&mut self, dep: NodeId, parent: NodeId) -> Progress {
        if self.still_pending(dep) {
            return Progress::Pending;
        }
        if let Err(e) = self.graph.prepare(self.db, &mut self.disk, dep) {
            self.fatal(e);
            return Progress::Pending;
        }
        if self.graph.nodes[dep].parent.is_none() {
            self.graph.nodes[dep].parent = Some(parent);
        }
        self.grow();
        self.on_stack[dep] = true;
        let mut own = DepScan::default();
        self.update_deps(dep, Pass::Others, &mut own);
        self.on_stack[dep] = false;
        if own.pending {
            self.remember_pending(dep, own.waits_slot);
            return Progress::Pending;
        }
        Progress::Done
    }

    /// Was `id` found pending, with nothing it visits finished since and no
    /// job slot it could now take? Then walking it again would change nothing.
    fn still_pending(&mut self, id: NodeId) -> bool {
        if !self.walk.is_clean(id) {
            return false;
        }
        let waits = self.walk.waits_slot(id);
        if waits && self.may_start() {
            return false;
        }
        self.blocked |= waits && !self.load_blocked;
        true
    }

    /// Mark `id` as pending until something it visits changes.
    fn remember_pending(&mut self, id: NodeId, waits_slot: bool) {
        let state = &self.state;
        let deps = self.graph.nodes[id]
            .deps
            .iter()
            .map(|e| e.node)
            .filter(|&d| !matches!(state[d], State::Done(_)));
        self.walk.found_pending(id, waits_slot, deps);
    }

    pub(super) fn finish(&mut self, id: NodeId, outcome: Outcome) {
        let mtime = self.disk.mtime(&self.graph.nodes[id].path);
        self.finish_with(id, outcome, mtime);
    }

    /// `finish` for a node whose file time was just read (nothing ran).
    fn finish_with(&mut self, id: NodeId, outcome: Outcome, mtime: MTime) {
        self.grow();
        if let Some(t) = mtime.filter(|&t| t != NEWEST && t != OLDEST) {
            clock_skew::check(&self.graph.nodes[id].name, t);
        }
        let n = &self.graph.nodes[id];
        let stamp = if n.phony {
            Some(NEWEST)
        } else {
            match (mtime, outcome) {
                (None, Outcome::Remade) => Some(NEWEST),
                (t, _) => t,
            }
        };
        self.state[id] = State::Done(outcome);
        self.stamp[id] = stamp;
        self.walk.changed(id);
        if debug::basic() && self.debug_must[id] {
            let indent = 2 * self.debug_level[id].unwrap_or(0) + usize::from(self.debug_half[id]);
            let name = &self.graph.nodes[id].name;
            match outcome {
                Outcome::Failed if self.opts.keep_going => debug::say(
                    indent,
                    format_args!("Failed to remake target file '{}'.", name),
                ),
                Outcome::Failed => {}
                _ if self.question() => debug::say(
                    indent,
                    format_args!("Target file '{}' needs to be remade under -q.", name),
                ),
                _ => debug::say(
                    indent,
                    format_args!("Successfully remade target file '{}'.", name),
                ),
            }
        }
        if outcome == Outcome::Failed {
            if self.quiet() {
                self.failed_quietly.push(id);
            } else {
                self.failed = true;
            }
        }
    }

    /// The node of a double-colon target that waits for its rules' nodes.
    pub(super) fn is_double_colon_whole(&self, id: NodeId) -> bool {
        let n = &self.graph.nodes[id];
        !n.double_colon_rule
            && self
                .db
                .targets
                .get(&*n.name)
                .is_some_and(|t| !t.double_colon.is_empty())
    }

    /// `decide`'s answer without building its inputs, for the usual case
    /// of an existing target that no prerequisite is newer than.
    fn surely_up_to_date(&self, id: NodeId, facts: &TargetFacts) -> bool {
        if facts.old_file {
            return true;
        }
        let Some(mine) = facts.mtime else {
            return false;
        };
        if facts.phony || facts.always_make || facts.double_colon_no_deps {
            return false;
        }
        let new_files = !self.opts.new_files.is_empty();
        self.graph.nodes[id].deps.iter().all(|e| {
            e.order_only
                || !(matches!(self.stamp[e.node], Some(t) if t > mine)
                    || new_files && self.is_new_file(&self.graph.nodes[e.node].name))
        })
    }

    fn dep_states(&self, id: NodeId) -> Vec<DepState<'_>> {
        self.graph.nodes[id]
            .deps
            .iter()
            .map(|e| {
                let d = &self.graph.nodes[e.node];
                let mtime = if self.is_new_file(&d.name) {
                    Some(NEWEST)
                } else {
                    self.stamp[e.node]
                };
                DepState {
                    name: &d.path,
                    mtime,
                    order_only: e.order_only,
                    extra: e.extra,
                }
            })
            .collect()
    }

    fn decide_and_start(&mut self, id: NodeId, parent: Option<NodeId>) -> Progress {
        let n = &self.graph.nodes[id];
        let mtime = self.disk.examine(&n.path);
        if !n.has_rule && n.recipe.is_none() && n.deps.is_empty() && !n.phony {
            if mtime.is_none() && !self.is_new_file(&n.name) {
                if debug::basic() {
                    self.debug_must_remake(id, false, &[]);
                }
                self.say_no_rule(id, parent);
                self.finish(id, Outcome::Failed);
                return Progress::Done;
            }
            self.finish_with(id, Outcome::Unchanged, mtime);
            return Progress::Done;
        }
        if self.skip_intermediate(id, mtime) {
            if debug::basic() {
                self.debug_skip(id);
            }
            self.state[id] = State::Done(Outcome::Unchanged);
            self.stamp[id] = None;
            self.walk.changed(id);
            return Progress::Done;
        }
        let n = &self.graph.nodes[id];
        // `-W FILE`: the file counts as just modified (so as existing); it
        // is remade only after one of its prerequisites was remade without
        // producing its file.
        let what_if = self.is_new_file(&n.name);
        let facts = TargetFacts {
            mtime: if what_if { Some(NEWEST) } else { mtime },
            phony: n.phony,
            always_make: self.opts.always_make,
            old_file: self.is_old_file(&n.name),
            double_colon_no_deps: n.double_colon_rule && n.deps.is_empty(),
        };
        // (What counts is a prerequisite still missing after its recipe
        // ran, or phony; under `-n` or `-t` none is.)
        let remade = |e: &crate::graph::Edge| {
            !e.order_only && self.stamp[e.node] == Some(NEWEST) && !self.dry() && !self.question()
        };
        let decision = if what_if && self.graph.nodes[id].deps.iter().any(remade) {
            let deps = self.graph.nodes[id].deps.iter().filter(|e| remade(e));
            decide::Decision::Remake {
                newer: deps
                    .map(|e| self.graph.nodes[e.node].path.to_string())
                    .collect(),
            }
        } else if self.surely_up_to_date(id, &facts) {
            decide::Decision::UpToDate
        } else {
            decide::decide(&facts, &self.dep_states(id))
        };
        let newer = match decision {
            decide::Decision::UpToDate => {
                self.finish_with(id, Outcome::Unchanged, mtime);
                return Progress::Done;
            }
            decide::Decision::Remake { newer } => newer,
        };
        let Some(recipe) = self.graph.nodes[id].recipe.clone() else {
            if debug::basic() {
                self.debug_must_remake(id, mtime.is_some(), &newer);
            }
            let outcome = if mtime.is_none() || self.graph.nodes[id].phony {
                Outcome::Remade
            } else {
                Outcome::Unchanged
            };
            self.finish(id, outcome);
            return Progress::Done;
        };
        if !self.may_start() && !self.wait_for_own_slot() {
            // A step held back by `-l` waits aside; make walks on.
            self.blocked |= !self.load_blocked;
            return Progress::Pending;
        }
        if debug::basic() {
            self.debug_must_remake(id, mtime.is_some(), &newer);
        }
        // A target found through vpath is rebuilt in place, under its own name.
        let n = &mut self.graph.nodes[id];
        let moved = n.path != n.name;
        let mtime = if moved {
            n.path = n.name.clone();
            self.disk.mtime(&n.path)
        } else {
            mtime
        };
        self.start_step(id, recipe, newer, mtime);
        match self.state[id] {
            State::Done(_) => Progress::Done,
            _ => Progress::Pending,
        }
    }

    /// A missing intermediate file is not made when nothing it is made from is
    /// newer than the target that needs it.
    fn skip_intermediate(&mut self, id: NodeId, mtime: MTime) -> bool {
        if mtime.is_some() || self.opts.always_make {
            return false;
        }
        if !self.made_late(id) {
            return false;
        }
        let n = &self.graph.nodes[id];
        let Some(parent) = n.parent else { return false };
        let ppath = self.graph.nodes[parent].path.clone();
        let Some(pt) = self.disk.mtime(&ppath) else {
            return false;
        };
        self.graph.nodes[id]
            .deps
            .iter()
            .filter(|e| !e.order_only)
            .all(|e| matches!(self.stamp[e.node], Some(t) if t <= pt))
    }
}
