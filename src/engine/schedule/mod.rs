//! The walk over the graph in make's order and the job scheduler: up to N
//! steps at once, the same decisions as a serial run.
//!
//! One build's state is the [`Scheduler`]; its work is spread over these
//! modules, in the order a step meets them: `traverse` (make's walk and
//! the up-to-date decision), `slots` (`-j` and the jobserver), `start`
//! (the one place a step begins), `commands` (its lines, one by one),
//! `wait` (the one place a finished process is handled), `judge` (what a
//! sandboxed step did), `end_job` and `cleanup` (deleting what failed or
//! interrupted recipes left, and intermediate files). `debug_trace` and
//! `data_base_facts` serve `--debug` and `-p`.

mod cleanup;
mod commands;
mod data_base_facts;
mod debug_trace;
mod end_job;
mod judge;
mod slots;
mod start;
mod traverse;
mod wait;

use crate::cli::Options;
use crate::diag::{prog, Fatal, Loc};
use crate::engine::hermetic::{Guard, StepGuard};
use crate::engine::output::{Capture, Sync};
use crate::engine::recipe::CommandLine;
use crate::engine::tokens::Tokens;
use crate::engine::walk::WalkMarks;
use crate::graph::disk::{MTime, RealDisk, StatCache};
use crate::graph::{Graph, NodeId};
use crate::lang::rules::Recipe;
use crate::lang::Database;
use crate::report::build_report;
use crate::ui::debug;
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

    /// Forget what earlier passes found pending: the next pass walks every
    /// pending node again (see `run_goals`).
    pub fn forget_walk_marks(&mut self) {
        self.walk = WalkMarks::default();
        self.grow();
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

    fn is_old_file(&self, name: &str) -> bool {
        self.opts.old_files.iter().any(|f| f == name)
    }

    fn is_new_file(&self, name: &str) -> bool {
        self.opts.new_files.iter().any(|f| f == name)
    }

    fn dry(&self) -> bool {
        self.honour_modes && (self.opts.dry_run || self.opts.touch)
    }

    fn question(&self) -> bool {
        self.honour_modes && self.opts.question
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
