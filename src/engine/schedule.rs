//! The walk over the graph in make's order and the job scheduler: up to N
//! steps at once, the same decisions as a serial run. `start_step` is the one
//! place a step begins and `reap` the one place a finished process is handled.

use super::hermetic::{self, Guard, StepGuard};
use crate::cli::Options;
use crate::diag::{prog, Fatal, Loc};
use crate::engine::clock_skew;
use crate::engine::output::{Capture, Sync};
use crate::engine::recipe::{self, CommandLine};
use crate::engine::signals;
use crate::engine::spawn::{self, Invocation, Started};
use crate::engine::tokens::{self, Tokens};
use crate::engine::walk::WalkMarks;
use crate::graph::decide::{self, DepState, TargetFacts, NEWEST, OLDEST};
use crate::graph::disk::{MTime, RealDisk, StatCache};
use crate::graph::{Graph, NodeId};
use crate::lang::rules::Recipe;
use crate::lang::text::Pattern;
use crate::lang::Database;
use crate::report::build_report;
use crate::ui::debug;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

/// What a step may read and write, derivable for the sandbox.
#[derive(Clone, Debug)]
pub struct Step {
    pub node: NodeId,
    /// Every file the recipe run makes (grouped or multi-target rules).
    pub targets: Vec<String>,
    pub prereqs: Vec<String>,
    pub order_only: Vec<String>,
    /// Files reached through phony or recipe-less prerequisites (see
    /// `Graph::through_aggregates`): readable by a sandboxed recipe.
    /// Worked out only when the sandbox is on.
    pub through: Vec<String>,
    pub recipe: Arc<Recipe>,
    pub loc: Loc,
    pub lines: Vec<CommandLine>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Remade,
    Failed,
    /// `-q`: a recursive command exited with 1, make's "out of date" answer
    /// (dependents are not remade, but it is no error).
    Questioned,
}

/// While makefiles are remade: how make speaks of a failure met while
/// pursuing one of them (the goal being pursued decides, as in make).
#[derive(Clone, Debug, Default)]
pub struct GoalNotes {
    /// `-include`d: its failures go unsaid and stop nothing.
    pub quiet: bool,
    /// A required include that was not found: `loc: name: No such file or
    /// directory`, said once, just before the first message of its failure.
    pub not_found: Option<String>,
}

/// How a target ended while the makefiles were remade: make keeps that when
/// it goes on to the goals without re-executing, and runs nothing twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    Done(Outcome),
    /// Failed under an optional include, unsaid: needed again, make says
    /// there is no rule to make it.
    FailedQuietly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    New,
    Running,
    Done(Outcome),
}

enum Progress {
    Done,
    Pending,
}

/// Which prerequisites a pass over a target's list updates.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// All but intermediate files (whose own prerequisites it updates).
    Others,
    /// The intermediate files.
    Intermediates,
}

/// What the passes over a target's prerequisites found.
#[derive(Default)]
struct DepScan {
    /// The first pass met an intermediate file: the second has work.
    intermediates: bool,
    pending: bool,
    waits_slot: bool,
    dep_failed: bool,
    dep_questioned: bool,
}

struct Job {
    step: Step,
    next: usize,
    pid: Option<Pid>,
    /// A pidfd for `pid`, polled by the wait loop.
    pidfd: Option<OwnedFd>,
    /// The targets' times before the recipe ran: only files it changed are
    /// ever deleted.
    before: Vec<MTime>,
    capture: Capture,
    /// Under `-t`: a recursive line ran, so the targets are not touched.
    ran_recursive: bool,
    shell: String,
    shell_flags: Vec<String>,
    /// Shared with each command's invocation (not copied per line).
    env: Option<Arc<Vec<(String, String)>>>,
    /// Slot and start time for `--trace-json`.
    trace: Option<crate::report::trace_json::StepStart>,
    /// What `--report` will say about the step.
    report: Option<Box<build_report::Draft>>,
    /// The step's sandbox and observation (absent under `-n`/`-t`/`-q`).
    guard: Option<Arc<StepGuard>>,
    /// Another step ran at some point while this one did.
    concurrent: bool,
    /// `*** [...] Error N` of a sandboxed step, said once the step was
    /// judged: after the lines that say which undeclared access the tool
    /// stumbled on, so the build's last word stays make's verdict.
    held_failure: Option<String>,
}

/// The state of one build.
pub struct Scheduler<'a> {
    pub db: &'a mut Database,
    pub opts: &'a Options,
    pub graph: Graph,
    pub disk: StatCache,
    state: Vec<State>,
    /// The advice meant once per run was given.
    advised: bool,
    /// The tool that generated the makefiles, once looked up.
    generated: Option<Option<&'static str>>,
    /// The time a finished node shows its dependents.
    stamp: Vec<MTime>,
    on_stack: Vec<bool>,
    /// `--debug=basic`: each node's depth below its goal (set when first
    /// visited), whether it said "Must remake", and the depth the walk is at.
    debug_level: Vec<Option<usize>>,
    debug_must: Vec<bool>,
    debug_half: Vec<bool>,
    depth: usize,
    /// The walk's memory between passes (see `update`).
    walk: WalkMarks,
    jobs: Vec<Job>,
    /// The last step's environment (see `shared_env`).
    last_env: Option<Arc<Vec<(String, String)>>>,
    /// Stop starting work (a failure without `-k`, or a fatal error).
    pub stop: bool,
    pub failed: bool,
    /// `-q`: something is out of date.
    pub out_of_date: bool,
    /// Command lines run, echoed by `-n` or touches by `-t` so far (lines
    /// empty after expansion do not count): the "Nothing to be done" test.
    pub commands_started: usize,
    /// Recipes begun so far (expanding one may already change files).
    pub steps_started: usize,
    /// Goals found failed because of their prerequisites while pursued as
    /// goals (not as someone's prerequisite): `-k` says they were not remade.
    pub goals_failed_by_prerequisites: Vec<NodeId>,
    /// Intermediate files this run made, in order.
    made_intermediates: Vec<NodeId>,
    /// Also honour `-n`/`-t`/`-q` (false while remaking makefiles).
    pub honour_modes: bool,
    tokens: Option<Tokens>,
    pub sync: Sync,
    /// The fatal signal that stopped the build, once forwarded to the jobs.
    pub interrupted: Option<i32>,
    /// Targets of recipes that were running when the signal came, with their
    /// times before the recipe started.
    interrupted_targets: Vec<(NodeId, String, MTime)>,
    /// How each interrupted recipe ended (`[Makefile:3: a] Interrupt`),
    /// said after its targets are deleted, as make does.
    interrupted_ends: Vec<(NodeId, String)>,
    /// This pass met a step that waits for a job slot (not for the load
    /// average): make would block there, so the walk goes no further until a
    /// job ends.
    blocked: bool,
    /// A step waits because the load average is at `-l`'s limit: the wait
    /// loop then wakes up periodically to look again.
    load_blocked: bool,
    /// Sandboxing and observation, set up when the first step starts.
    pub guard: Option<Guard>,
    /// Remaking makefiles: one per goal, and the goal last pursued.
    pub goal_notes: Vec<GoalNotes>,
    pub current_goal: Option<usize>,
    /// Nodes that failed under a quiet (optional makefile) goal.
    failed_quietly: Vec<NodeId>,
    /// What the makefile phase settled, by target name.
    pub settled: std::collections::HashMap<String, Settled>,
}

/// The job slots outlive one scheduler (makefiles are remade by another one
/// before the build) and are shared by the whole process.
/// Keyed by the `-j` value they were made for.
static TOKENS: Mutex<Option<(Option<usize>, Tokens)>> = Mutex::new(None);

impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.tokens.take() {
            if let Ok(mut g) = TOKENS.lock() {
                *g = Some((self.opts.jobs, t));
            }
        }
    }
}

impl<'a> Scheduler<'a> {
    pub fn new(db: &'a mut Database, opts: &'a Options, disk: StatCache) -> Scheduler<'a> {
        let graph = Graph::new(db);
        Scheduler {
            db,
            opts,
            graph,
            disk,
            state: Vec::new(),
            advised: false,
            generated: None,
            stamp: Vec::new(),
            on_stack: Vec::new(),
            debug_level: Vec::new(),
            debug_must: Vec::new(),
            debug_half: Vec::new(),
            depth: 0,
            walk: WalkMarks::default(),
            jobs: Vec::new(),
            last_env: None,
            stop: false,
            failed: false,
            out_of_date: false,
            commands_started: 0,
            steps_started: 0,
            goals_failed_by_prerequisites: Vec::new(),
            made_intermediates: Vec::new(),
            honour_modes: true,
            tokens: None,
            sync: if parallel(opts) {
                Sync::parse(opts.output_sync.as_deref())
            } else {
                Sync::None
            },
            interrupted: None,
            interrupted_targets: Vec::new(),
            interrupted_ends: Vec::new(),
            load_blocked: false,
            blocked: false,
            guard: None,
            goal_notes: Vec::new(),
            current_goal: None,
            failed_quietly: Vec::new(),
            settled: Default::default(),
        }
    }

    /// The goal being pursued is an optional makefile: failures go unsaid.
    fn quiet(&self) -> bool {
        self.current_goal
            .and_then(|i| self.goal_notes.get(i))
            .is_some_and(|n| n.quiet)
    }

    /// Before the first failure message under a required include that was
    /// not found, say it was not found (once).
    fn say_not_found(&mut self) {
        let notes = self.current_goal.and_then(|i| self.goal_notes.get_mut(i));
        if let Some(message) = notes.and_then(|n| n.not_found.take()) {
            errln!("{}", message);
        }
    }

    /// Every target this scheduler finished, for the build that follows.
    pub fn settled_targets(&self) -> std::collections::HashMap<String, Settled> {
        let mut out = std::collections::HashMap::new();
        for (id, state) in self.state.iter().enumerate() {
            if let State::Done(outcome) = state {
                let settled = if self.failed_quietly.contains(&id) {
                    Settled::FailedQuietly
                } else {
                    Settled::Done(*outcome)
                };
                out.insert(self.graph.nodes[id].name.to_string(), settled);
            }
        }
        out
    }

    /// A target the makefile phase already settled: not run again. One that
    /// failed quietly gets make's "no rule" complaint now.
    fn resume_settled(&mut self, id: NodeId, parent: Option<NodeId>, settled: Settled) {
        match settled {
            Settled::Done(outcome) => self.finish(id, outcome),
            Settled::FailedQuietly => {
                self.say_no_rule(id, parent);
                self.finish(id, Outcome::Failed);
            }
        }
    }

    /// `No rule to make target` for `id` (needed by `parent`): fatal
    /// unless `-k`; unsaid and harmless under an optional makefile.
    fn say_no_rule(&mut self, id: NodeId, parent: Option<NodeId>) {
        if self.quiet() {
            return;
        }
        self.say_not_found();
        let name = &self.graph.nodes[id].name;
        let msg = match parent.map(|p| &self.graph.nodes[p].name) {
            Some(p) => format!("No rule to make target '{}', needed by '{}'", name, p),
            None => format!("No rule to make target '{}'", name),
        };
        if self.opts.keep_going {
            errln!("{}: *** {}.", prog(), msg);
        } else {
            errln!("{}: *** {}.  Stop.", prog(), msg);
            self.stop_starting();
        }
    }

    /// The job slots, set up on first use (a no-op build never needs them).
    fn tokens(&mut self) -> &mut Tokens {
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
    fn may_start(&mut self) -> bool {
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
    fn wait_for_own_slot(&mut self) -> bool {
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

    fn grow(&mut self) {
        let n = self.graph.nodes.len();
        self.state.resize(n, State::New);
        self.stamp.resize(n, None);
        self.on_stack.resize(n, false);
        if debug::basic() {
            self.debug_level.resize(n, None);
            self.debug_must.resize(n, false);
            self.debug_half.resize(n, false);
        }
        self.walk.grow(n);
    }

    pub fn outcome(&self, id: NodeId) -> Option<Outcome> {
        match self.state.get(id) {
            Some(State::Done(o)) => Some(*o),
            _ => None,
        }
    }

    /// Bring node `goal` up to date as far as possible now; call again after
    /// `wait_one` until it reports `Some`.
    pub fn pursue(&mut self, goal: NodeId) -> Option<Outcome> {
        self.grow();
        let _ = self.update(goal, None);
        self.outcome(goal)
    }

    pub fn running(&self) -> bool {
        !self.jobs.is_empty()
    }

    /// A new pass over the goals, after a job ended (or the first one).
    pub fn begin_pass(&mut self) {
        self.blocked = false;
    }

    /// Must the walk stop here for this pass? make discovers targets in
    /// order: it blocks at a step that needs a job slot until one is free,
    /// and run serially it waits for each job to end before going on. So
    /// nothing past that point (a missing rule, a target with nothing to
    /// run) is looked at before.
    pub fn walk_blocked(&mut self) -> bool {
        self.blocked || (self.running() && self.serial())
    }

    /// At most one job at a time (`-j1` without a jobserver, `.NOTPARALLEL`).
    fn serial(&mut self) -> bool {
        self.db.specials.not_parallel || self.tokens().serial()
    }

    fn fatal(&mut self, e: Fatal) {
        // Under output sync make gives an error in a makefile (`$(error)`)
        // a block of its own, not one of its own messages.
        if e.loc.is_some() {
            crate::engine::output::in_block(|| errln!("{}", e));
        } else {
            errln!("{}", e);
        }
        self.stop_starting();
        self.failed = true;
    }

    /// Start nothing more after an error, saying so if jobs still run.
    fn stop_starting(&mut self) {
        if !self.stop && !self.jobs.is_empty() {
            say_err(&format!(
                "{}: *** Waiting for unfinished jobs....",
                crate::diag::prog()
            ));
        }
        self.stop = true;
    }

    /// One step of make's depth-first walk: bring `id` up to date as far
    /// as possible now. A node found pending in an earlier pass is walked
    /// again only when something below it finished, or when it waits for a
    /// job slot and one is free (`WalkMarks`): the same recipes start, in the
    /// same order, without walking shared sub-graphs once per path.
    fn update(&mut self, id: NodeId, parent: Option<NodeId>) -> Progress {
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
    fn defers(&self, dep: NodeId) -> bool {
        let n = &self.graph.nodes[dep];
        self.state[dep] == State::New && !n.phony && self.made_late(dep)
    }

    /// An intermediate file, or one `.SECONDARY` names: made only once a
    /// target's other prerequisites are done, and only if needed.
    fn made_late(&self, id: NodeId) -> bool {
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

    fn finish(&mut self, id: NodeId, outcome: Outcome) {
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

    /// `--debug=basic`: the first look at `id` fixes its depth and says
    /// whether its file is missing.
    fn debug_first_look(&mut self, id: NodeId, parent: Option<NodeId>) {
        if self.debug_level[id].is_some() {
            return;
        }
        let n = &self.graph.nodes[id];
        // make walks the rules of a double-colon target as the target itself;
        // hbuild's node for the whole target only waits for them.
        let level = match parent {
            None => 0,
            Some(_) if n.double_colon_rule => self.depth.saturating_sub(1),
            Some(_) => self.depth,
        };
        self.debug_level[id] = Some(level);
        // An intermediate file is looked at after the others, half a level
        // deeper in make's trace, and only if it is made (see `debug_skip`).
        if self.is_double_colon_whole(id) || self.defers(id) {
            return;
        }
        if n.phony || self.disk.mtime(&n.path).is_none() {
            let name = &self.graph.nodes[id].name;
            debug::say(
                2 * level + 1,
                format_args!("File '{}' does not exist.", name),
            );
        }
    }

    /// `--debug=basic`: why `id` is remade (the newer prerequisites of an
    /// existing target), then that it is.
    fn debug_must_remake(&mut self, id: NodeId, exists: bool, newer: &[String]) {
        if self.is_double_colon_whole(id) {
            return;
        }
        let mut level = self.debug_level[id].unwrap_or(0);
        if self.made_late(id) && !exists {
            let name = &self.graph.nodes[id].name;
            debug::say(2 * level, format_args!("File '{}' does not exist.", name));
            // make's trace shows it half a level up from here on.
            level = level.saturating_sub(1);
            self.debug_level[id] = Some(level);
            self.debug_half[id] = true;
        }
        let indent = 2 * level + usize::from(self.debug_half[id]);
        let name = &self.graph.nodes[id].name;
        if exists && !self.graph.nodes[id].phony {
            for d in newer {
                debug::say(
                    indent + 1,
                    format_args!("Prerequisite '{}' is newer than target '{}'.", d, name),
                );
            }
        }
        debug::say(indent, format_args!("Must remake target '{}'.", name));
        self.debug_must[id] = true;
    }

    /// `--debug=basic`: a missing intermediate prerequisite that is not made.
    fn debug_skip(&self, id: NodeId) {
        let n = &self.graph.nodes[id];
        if let Some(parent) = n.parent {
            let level = self.debug_level[parent].unwrap_or(0);
            let p = &self.graph.nodes[parent].name;
            debug::say(
                2 * level + 1,
                format_args!(
                    "Prerequisite '{}' of target '{}' does not exist.",
                    n.name, p
                ),
            );
        }
    }

    /// The node of a double-colon target that waits for its rules' nodes.
    fn is_double_colon_whole(&self, id: NodeId) -> bool {
        let n = &self.graph.nodes[id];
        !n.double_colon_rule
            && self
                .db
                .targets
                .get(&*n.name)
                .is_some_and(|t| !t.double_colon.is_empty())
    }

    fn is_old_file(&self, name: &str) -> bool {
        self.opts.old_files.iter().any(|f| f == name)
    }

    fn is_new_file(&self, name: &str) -> bool {
        self.opts.new_files.iter().any(|f| f == name)
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

    fn scope_for(&self, id: NodeId, newer: &[String]) -> crate::lang::vars::Scope {
        self.graph.recipe_scope(self.db, id, newer)
    }

    /// Begin remaking node `id`: expand its recipe, print the trace, and start
    /// the first command (or touch / only echo under `-t` / `-n`).
    // Later: the per-step sandbox is set up here, from `Step`.
    fn start_step(&mut self, id: NodeId, recipe: Arc<Recipe>, newer: Vec<String>, mtime: MTime) {
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

    /// Judge what a finished step did. In enforce mode an undeclared access
    /// fails the step: each is reported, files it created undeclared are
    /// removed and its changed targets deleted. True if the step failed so.
    fn judge_step(&mut self, job: &mut Job) -> bool {
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

    fn dry(&self) -> bool {
        self.honour_modes && (self.opts.dry_run || self.opts.touch)
    }

    fn silent_line(&self, id: NodeId, line: &CommandLine) -> bool {
        if self.opts.trace || (self.honour_modes && self.opts.dry_run) {
            return false;
        }
        line.silent
            || self.opts.silent
            || self.db.specials.silent.contains(&self.graph.nodes[id].name)
    }

    /// Start the next command of job `j`, handling commands that finish at
    /// once (skipped under `-n`, failed to start); finish the job at the end.
    fn advance(&mut self, j: usize) {
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

    /// Report a failed command; true if the job goes on (ignored error).
    fn command_failed(&mut self, j: usize, line: &CommandLine, what: &str) -> bool {
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

    fn ignores_errors(&self, id: NodeId, line: &CommandLine) -> bool {
        line.ignore
            || self.opts.ignore_errors
            || self.db.specials.ignore.contains(&self.graph.nodes[id].name)
    }

    fn question(&self) -> bool {
        self.honour_modes && self.opts.question
    }

    /// `-q`: command `line` would really run, so its target is out of date.
    /// Empty lines run nothing; `-t` touches a recipe without recursive
    /// lines (`runs_anyway`) instead of running it.
    fn questioned(&self, line: &CommandLine, runs_anyway: bool) -> bool {
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
    fn with_jobserver(&mut self, mut env: Vec<(String, String)>) -> Vec<(String, String)> {
        let Some(jobs) = self.jobs_words() else {
            return env;
        };
        match env.iter_mut().find(|(k, _)| k == "MAKEFLAGS") {
            Some(e) => e.1 = tokens::makeflags_with_jobs(&e.1, &jobs),
            None => env.push(("MAKEFLAGS".into(), tokens::makeflags_with_jobs("", &jobs))),
        }
        env
    }

    /// Notice a fatal signal: stop starting work and pass the signal on to
    /// every running recipe's process group. True once a signal came.
    fn check_signal(&mut self) -> bool {
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

    /// After a pass has started everything it could: give back the tokens
    /// the running jobs do not use, for other makes of the recursion.
    pub fn settle_tokens(&mut self) {
        let running = self.jobs.len();
        if let Some(t) = &mut self.tokens {
            t.release_extra(running);
        }
    }

    /// Handle one finished process.
    // Later: per-step checks (what the step wrote) go here.
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

    /// A job is over: tell the status line and the trace.
    fn step_over(&self, job: &mut Job, result: &str) {
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

    fn flush_capture(&mut self, mut capture: Capture) {
        capture.flush();
    }

    /// `-q`: a recursive command that exits with 1 (and whose errors are
    /// not ignored) says its target is out of date, as a sub-make's `-q` does.
    fn answers_out_of_date(&self, j: usize, line: &CommandLine, status: WaitStatus) -> bool {
        self.question()
            && matches!(status, WaitStatus::Exited(_, 1))
            && !self.ignores_errors(self.jobs[j].step.node, line)
    }

    fn end_job(&mut self, j: usize, failed: bool) {
        self.end_job_as(j, failed.then_some(Outcome::Failed));
    }

    /// Finish job `j`, which ended early with `failure` (`Failed` or
    /// `Questioned`) or ran to its end with `None`.
    fn end_job_as(&mut self, j: usize, failure: Option<Outcome>) {
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

    fn complete(&mut self, id: NodeId, outcome: Outcome) {
        self.finish(id, outcome);
        for s in self.graph.nodes[id].siblings.clone() {
            self.finish(s, outcome);
        }
        if self.question() {
            self.stamp[id] = Some(NEWEST);
        }
    }

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
    fn deletable(&self, id: NodeId, name: &str) -> bool {
        let n = &self.graph.nodes[id];
        !(n.phony
            || crate::graph::archive::split_member(name).is_some()
            || self.is_precious(name)
            || self.db.specials.secondary.contains(name)
            || self.db.specials.phony.contains(name)
            || self.dry())
    }

    /// `.DELETE_ON_ERROR`: remove the targets a failed recipe changed.
    fn delete_on_error(&mut self, id: NodeId, job: &mut Job) {
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

    /// What the build learnt about each file it got to, for `-p`.
    pub fn file_facts(&self) -> crate::report::data_base::Facts {
        use crate::report::data_base::FileFacts;
        let mut facts = crate::report::data_base::Facts::default();
        for (i, node) in self.graph.nodes.iter().enumerate() {
            if node.double_colon_rule {
                continue;
            }
            let state = self.state.get(i).copied().unwrap_or(State::New);
            let considered = !matches!(state, State::New);
            let explicit = self
                .db
                .targets
                .get(&*node.name)
                .is_some_and(|t| t.recipe.is_some() || !t.double_colon.is_empty());
            // Looked at again: a recipe may have changed it since.
            let mtime = considered.then(|| match node.phony {
                true => None,
                false => crate::graph::disk::Disk::mtime(&RealDisk, &node.path),
            });
            // A recipe that was expanded had its `$*`: make keeps it as the
            // file's stem (empty for an explicit rule without a known suffix).
            let expanded = node.recipe.is_some()
                && !self.opts.question
                && matches!(state, State::Done(Outcome::Remade));
            let stem = self.graph.stem(self.db, i);
            let stem = (!stem.is_empty() || expanded).then(|| stem.into_owned());
            facts.insert(
                node.name.to_string(),
                FileFacts {
                    considered,
                    searched: considered && !node.phony && !explicit,
                    stem,
                    intermediate: node.intermediate,
                    mtime,
                    outcome: match state {
                        State::Done(o) => Some(o),
                        _ => None,
                    },
                    implicit: match &node.recipe {
                        Some(r) if !explicit && node.has_rule => {
                            let deps = node
                                .deps
                                .iter()
                                .filter(|e| !e.extra)
                                .map(|e| crate::lang::rules::Dep {
                                    name: self.graph.nodes[e.node].name.clone(),
                                    order_only: e.order_only,
                                })
                                .collect();
                            Some((deps, r.clone()))
                        }
                        _ => None,
                    },
                },
            );
        }
        facts
    }

    /// The build is over and the process is about to exit: skip freeing the
    /// graph and the stat cache one allocation at a time (a tenth of a no-op
    /// build of ten thousand steps).
    pub fn forget_state(&mut self) {
        // Every token goes back to the jobserver (statics are never dropped,
        // and a token kept by an exiting make is lost to the whole recursion).
        drop(self.tokens.take());
        if let Ok(mut g) = TOKENS.lock() {
            drop(g.take());
        }
        std::mem::forget(std::mem::replace(&mut self.graph, Graph::empty()));
        let disk = std::mem::replace(&mut self.disk, StatCache::new(Box::new(RealDisk)));
        std::mem::forget(disk);
    }

    /// Wait for every running job (after a stop).
    pub fn drain(&mut self) {
        while self.running() {
            self.settle_tokens();
            self.wait_one();
        }
        self.settle_tokens();
    }
}

/// May jobs run side by side? Run one at a time, make ignores `-O`: each
/// job's output comes as it is written.
pub fn parallel(opts: &Options) -> bool {
    opts.jobs != Some(1)
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

/// The one-minute load average, as `-l` compares it.
fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn is_directory(path: &str) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Prepare the job slots for hbuild re-executing itself.
pub fn before_reexec() {
    if let Ok(g) = TOKENS.lock() {
        if let Some((_, t)) = g.as_ref() {
            t.keep_across_exec();
        }
    }
}

/// Write one of hbuild's messages to stderr in a single write, so that it is
/// never cut by a job's output.
pub fn say_err(text: &str) {
    let line = format!("{}\n", text);
    crate::ui::status::write_stderr(line.as_bytes());
}

/// A pidfd for a child, for the wait loop's poll; `None` where unsupported.
fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
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

/// How make reports a failed command `line` of target `name` (after its
/// `make: `): `*** [Makefile:3: a] Error 1`, or `[...] Error 1 (ignored)`.
fn failure(line: &CommandLine, name: &str, what: &str, ignored: bool) -> String {
    if ignored {
        format!("[{}: {}] {} (ignored)", line.loc, name, what)
    } else {
        format!("*** [{}: {}] {}", line.loc, name, what)
    }
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
