//! The engine: decides what is out of date and runs recipes.

/// `eprintln!` in one write(2), so a message is never cut by a job's output.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::engine::say_err(&format!($($arg)*))
    };
}

mod clock_skew;
pub mod hermetic;
pub mod output;
pub mod recipe;
pub mod schedule;
pub mod signals;
pub mod spawn;
pub mod tokens;
mod walk;

pub use schedule::{before_reexec, say_err};

use crate::cli::Options;
use crate::diag::prog;
use crate::graph::disk::{RealDisk, StatCache};
use crate::graph::resolve::Searcher;
use crate::lang::vars::Scope;
use crate::lang::Database;
use schedule::{GoalNotes, Outcome, Scheduler, Settled};

/// Update `goals`; returns make's exit status (0 done, 1 `-q` out of date, 2 failure).
/// `early`: the times a worker read while the makefiles were read, used
/// unless something that ran since may have changed files.
pub fn build(
    db: &mut Database,
    opts: &Options,
    goals: &[String],
    early: Option<crate::graph::disk::EarlyStats>,
) -> i32 {
    build_after_makefiles(db, opts, goals, early, Carried::default())
}

/// `build`, keeping what remaking the makefiles settled (`carried`).
pub fn build_after_makefiles(
    db: &mut Database,
    opts: &Options,
    goals: &[String],
    early: Option<crate::graph::disk::EarlyStats>,
    carried: Carried,
) -> i32 {
    let goals: Vec<String> = if goals.is_empty() {
        let g = db
            .var_value(".DEFAULT_GOAL", &Scope::global())
            .unwrap_or_default();
        let g = g.trim().to_string();
        if g.is_empty() {
            match db.default_goal.clone() {
                Some(d) => vec![d],
                None => {
                    if opts.print_data_base {
                        crate::report::data_base::print(db, &Default::default(), &[], false);
                    }
                    errln!("{}: *** No targets.  Stop.", prog());
                    return 2;
                }
            }
        } else {
            vec![g]
        }
    } else {
        goals.to_vec()
    };
    let mut disk = StatCache::real();
    let mut adopted = false;
    if let Some(early) = early.filter(|_| !db.side_effects) {
        adopted = disk.adopt(early);
    }
    // The early worker saw every name unless some were added unwatched.
    if !adopted || db.names.unwatched() > 0 {
        prefetch(db, &mut disk);
    }
    let level = crate::driver::make_level();
    let status_line = crate::ui::status::wanted(opts.progress.as_deref(), opts.silent, level);
    if status_line {
        crate::ui::status::install(crate::ui::status::Status::new(0, true));
    }
    let mut s = Scheduler::new(db, opts, disk);
    s.settled = carried.settled;
    // Audits of steps that remade makefiles before this process re-executed.
    let mut carried_audits = crate::report::recursive_audit::role()
        .map(|r| r.carried())
        .unwrap_or_default();
    carried_audits.extend(carried.audits);
    // The status line needs every job's output whole, as ninja does.
    if status_line && s.sync == output::Sync::None {
        s.sync = output::Sync::Target;
    }
    let ids: Vec<_> = goals.iter().map(|g| s.graph.node(s.db, g, None)).collect();
    for &id in &ids {
        s.graph.resolve_path(s.db, &mut s.disk, id);
    }
    crate::ui::debug::phase("Updating goal targets....");
    run_goals(&mut s, &ids, true);
    s.drain();
    crate::ui::status::uninstall();
    if let Some(sig) = s.clean_up_interrupt() {
        s.forget_state();
        signals::die_by(sig);
    }
    s.remove_intermediates();
    if opts.print_data_base {
        let facts = s.file_facts();
        crate::report::data_base::print(s.db, &facts, &opts.goals, opts.question);
    }
    s.forget_state();
    clock_skew::report();
    let audit_findings = match s.guard.as_mut() {
        Some(g) => {
            let mut audits = std::mem::take(&mut carried_audits);
            audits.append(&mut g.audits);
            if opts.fix_deps.is_some() || crate::report::recursive_audit::role().is_some() {
                set_aside_cycles(&mut s.graph, s.db, &mut s.disk, &mut audits);
            }
            let g = s.guard.as_mut().expect("matched above");
            g.audits = audits;
            report_audit(g, opts)
        }
        // Nothing ran: an audit still says so (and writes an empty fragment).
        None if hermetic::mode_of(opts) == crate::sandbox::Mode::Audit => {
            let mut idle = hermetic::Guard::idle(crate::sandbox::Mode::Audit);
            idle.audits = carried_audits;
            report_audit(&idle, opts)
        }
        None => None,
    };
    if s.failed || carried.failed {
        2
    } else if (opts.question && s.out_of_date) || audit_findings == Some(true) {
        // `-q`: something is out of date; audit: something is undeclared.
        1
    } else {
        0
    }
}

/// Keep the `--fix-deps` fragment free of cycles: an input made from the
/// target that reads it (a generator reading a file a pattern rule makes
/// from the generator's output) is declared readable, not a prerequisite.
/// The fragment's own edges count for the checks after them.
fn set_aside_cycles(
    graph: &mut crate::graph::Graph,
    db: &mut crate::lang::Database,
    disk: &mut StatCache,
    audits: &mut [crate::report::audit::TargetAudit],
) {
    let graph = std::cell::RefCell::new(graph);
    let db = std::cell::RefCell::new(db);
    crate::report::audit::set_aside_cycles(
        audits,
        |input, target| {
            let (mut g, mut db) = (graph.borrow_mut(), db.borrow_mut());
            let from = g.node(&db, input, None);
            let to = g.node(&db, target, None);
            g.depends_on(&mut db, disk, from, to)
        },
        |target, input| {
            let (mut g, db) = (graph.borrow_mut(), db.borrow());
            let (t, p) = (g.node(&db, target, None), g.node(&db, input, None));
            g.nodes[t].deps.push(crate::graph::Edge {
                node: p,
                order_only: false,
                after_wait: false,
                extra: true,
            });
        },
    );
}

/// `--sandbox=audit`: print what each step did beyond its declaration, write
/// `--fix-deps`; `Some(true)` if anything undeclared was found.
fn report_audit(guard: &hermetic::Guard, opts: &Options) -> Option<bool> {
    if guard.mode != crate::sandbox::Mode::Audit {
        return None;
    }
    use crate::report::{audit, recursive_audit};
    let audits = &guard.audits;
    let role = recursive_audit::role();
    // A sub-make that ran no step (one that only recursed further) has
    // nothing to say; the outermost make always sums up.
    if !(audits.is_empty() && role.is_some_and(|r| r.is_nested())) {
        output::enter_directory();
        print!("{}", audit::render(audits, guard.recursive_steps));
    }
    if let Some(path) = recursive_audit::fix_deps_file(opts.fix_deps.as_deref()) {
        write_fix_deps(&path, &audit::fix_fragment(audits), role);
    }
    let mine = audits.iter().any(|a| a.has_findings());
    match role {
        // The outermost make answers for the whole tree.
        Some(r) if r.is_nested() => {
            if mine {
                let dir = std::env::current_dir().unwrap_or_default();
                r.note_findings(&dir.to_string_lossy());
            }
            Some(false)
        }
        Some(r) => {
            let mut nested = r.nested_findings();
            // A directory whose makefile ran more than once is named once.
            let mut seen = std::collections::HashSet::new();
            nested.retain(|d| seen.insert(d.clone()));
            r.finish();
            if !nested.is_empty() {
                println!(
                    "{}: audit: sub-makes found undeclared accesses in {} (reports above)",
                    prog(),
                    nested.join(", ")
                );
            }
            Some(mine || !nested.is_empty())
        }
        None => Some(mine),
    }
}

/// Write a `--fix-deps` fragment, merged with the one another make of the
/// same recursive build already wrote there.
fn write_fix_deps(path: &str, text: &str, role: Option<&crate::report::recursive_audit::Role>) {
    let abs = std::env::current_dir().unwrap_or_default().join(path);
    let write = || {
        let earlier = role
            .filter(|r| r.written_before(&abs))
            .and_then(|_| std::fs::read_to_string(&abs).ok());
        let text = match earlier {
            Some(old) => crate::report::audit::merge_fragments(&old, text),
            None => text.to_string(),
        };
        std::fs::write(path, text)?;
        if let Some(r) = role {
            r.note_written(&abs);
        }
        Ok::<(), std::io::Error>(())
    };
    let written = match role {
        Some(r) => r.exclusively(write),
        None => write(),
    };
    if let Err(e) = written {
        errln!("{}: cannot write '{}': {}", prog(), path, e);
    }
}

/// Below this many names the thread pool costs more than it saves.
const PREFETCH_MIN: usize = 2000;

/// Stat every file the makefiles name, in parallel, before the walk.
fn prefetch(db: &Database, disk: &mut StatCache) {
    // The name table holds every target and prerequisite once.
    if db.names.len() >= PREFETCH_MIN {
        disk.prefetch(db.names.iter().cloned().collect());
        disk.prefetch_listings(db.names.iter().map(|n| &**n));
    }
}

/// Pursue the goals until all are done or the build stops, printing make's
/// per-goal messages when `messages`.
fn run_goals(s: &mut Scheduler, ids: &[usize], messages: bool) {
    let mut reported = vec![false; ids.len()];
    // As in make, a goal has started commands only if some started while it
    // was being pursued (not later lines of jobs reaped meanwhile, nor work
    // another goal did for it).
    let mut started = vec![false; ids.len()];
    let mut rewalked = false;
    loop {
        s.begin_pass();
        for (i, &g) in ids.iter().enumerate() {
            if s.stop || s.walk_blocked() {
                break;
            }
            if reported[i] {
                continue;
            }
            let before = s.commands_started;
            s.current_goal = Some(i);
            let outcome = s.pursue(g);
            started[i] |= s.commands_started > before;
            if let Some(outcome) = outcome {
                reported[i] = true;
                if messages {
                    goal_message(s, g, outcome, started[i]);
                }
            }
        }
        if s.stop || reported.iter().all(|r| *r) {
            break;
        }
        if !s.running() {
            // A goal is pending with nothing running: the marks that spare
            // re-walking unchanged sub-graphs missed a change (seen once, in
            // busybox at -j2). Walk everything again; if that starts nothing
            // either, say so rather than end the build as if it succeeded.
            if rewalked {
                for (&g, _) in ids.iter().zip(&reported).filter(|(_, r)| !**r) {
                    errln!(
                        "{}: *** internal error: '{}' was left unfinished.",
                        prog(),
                        s.graph.nodes[g].name
                    );
                }
                s.failed = true;
                break;
            }
            rewalked = true;
            s.forget_walk_marks();
            continue;
        }
        rewalked = false;
        s.settle_tokens();
        s.wait_one();
        // Goals finished by that job are reported on the next pass.
    }
}

fn goal_message(s: &Scheduler, g: usize, outcome: Outcome, started: bool) {
    let n = &s.graph.nodes[g];
    match outcome {
        // Said of a goal whose prerequisites failed while it was pursued as
        // a goal, never of its own recipe's failure, and not under -n or -q.
        // (A goal of double-colon rules had it said of each rule.)
        Outcome::Failed
            if s.goals_failed_by_prerequisites.contains(&g)
                && !n
                    .deps
                    .iter()
                    .any(|e| s.graph.nodes[e.node].double_colon_rule) =>
        {
            s.say_not_remade(g);
        }
        Outcome::Failed | Outcome::Questioned => {}
        _ if !started && !s.opts.question && !silent_run(s) => {
            let has_recipe = n.recipe.is_some()
                || s.db
                    .targets
                    .get(&*n.name)
                    .is_some_and(|t| t.recipe.is_some());
            // Not a block of its own under output sync, as in make.
            let text = if has_recipe && !n.phony {
                format!("{}: '{}' is up to date.\n", prog(), n.path)
            } else {
                format!("{}: Nothing to be done for '{}'.\n", prog(), n.path)
            };
            crate::ui::status::write_stdout(text.as_bytes());
        }
        _ => {}
    }
}

/// `-s`, or `.SILENT:` without prerequisites: make keeps quiet about goals
/// with nothing to do (`.SILENT: x` alone does not).
fn silent_run(s: &Scheduler) -> bool {
    s.opts.silent || s.db.specials.silent.all
}

/// The result of updating the makefiles before the real build.
#[derive(Debug)]
pub enum Remake {
    /// No makefile changed: the build goes on in this process.
    Unchanged(Carried),
    Remade,
    Failed(i32),
}

/// What remaking the makefiles hands on to a build in the same process.
#[derive(Debug, Default)]
pub struct Carried {
    /// Targets already updated (or failed), by name: make runs none twice.
    pub settled: std::collections::HashMap<String, Settled>,
    /// A required makefile failed under `-k`: the build ends with status 2.
    pub failed: bool,
    /// `--sandbox=audit`: what the steps that remade makefiles did.
    pub audits: Vec<crate::report::audit::TargetAudit>,
}

/// One makefile to remake, and how make speaks of its failure.
struct MakefileGoal {
    name: String,
    notes: GoalNotes,
}

/// Every makefile read and every missing include, in the order they were
/// named.
fn makefile_goals(db: &Database) -> Vec<MakefileGoal> {
    let read = |name: &String| MakefileGoal {
        name: name.clone(),
        notes: GoalNotes {
            quiet: db.optional_makefiles.contains(name),
            not_found: None,
        },
    };
    let mut goals: Vec<MakefileGoal> = Vec::new();
    let mut missing = db.missing_includes.iter().peekable();
    for i in 0..=db.makefiles.len() {
        while let Some(m) = missing.next_if(|m| m.after <= i) {
            push_missing(&mut goals, m);
        }
        if let Some(name) = db.makefiles.get(i) {
            goals.push(read(name));
        }
    }
    goals
}

/// A missing include as a makefile goal, once.
fn push_missing(goals: &mut Vec<MakefileGoal>, m: &crate::lang::database::MissingInclude) {
    if goals.iter().any(|g| g.name == m.name) {
        return;
    }
    // A missing `-f` file (no location) is not an include: no note.
    let not_found = (!m.optional && m.loc.line != 0)
        .then(|| format!("{}: {}: No such file or directory", m.loc, m.name));
    goals.push(MakefileGoal {
        name: m.name.clone(),
        notes: GoalNotes {
            quiet: m.optional,
            not_found,
        },
    });
}

/// Update every makefile read and every missing include that a rule can make,
/// as make does before building (`-n`, `-t`, `-q` do not apply to them).
/// A failed optional makefile is no error; a failed required one stops the
/// build, or under `-k` only makes it fail in the end.
pub fn remake_makefiles(db: &mut Database, opts: &Options) -> Remake {
    let goals = makefile_goals(db);
    let mut disk = StatCache::new(Box::new(RealDisk));
    let before: Vec<_> = goals.iter().map(|g| disk.mtime(&g.name)).collect();
    let vpath = match crate::graph::resolve::checked_vpath_dirs(db) {
        Ok(v) => v,
        Err(e) => {
            errln!("{}", e);
            return Remake::Failed(2);
        }
    };
    // make pursues them latest read first; a required include that is
    // missing fails as a goal without a rule would.
    let makeable: Vec<usize> = (0..goals.len())
        .rev()
        .filter(|&i| {
            let required_missing = goals[i].notes.not_found.is_some() && before[i].is_none();
            required_missing || can_make(db, &mut disk, &vpath, &goals[i].name)
        })
        .collect();
    let mut carried = Carried::default();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; goals.len()];
    if !makeable.is_empty() {
        let saved_flags = flags_for_remaking(db, opts);
        // make's basic trace leaves the makefiles' remaking out (that is
        // `--debug=m`, not implemented).
        let _quiet = crate::ui::debug::Pause::start();
        let mut s = Scheduler::new(db, opts, StatCache::real());
        s.honour_modes = false;
        s.goal_notes = makeable.iter().map(|&i| goals[i].notes.clone()).collect();
        let ids: Vec<_> = makeable
            .iter()
            .map(|&i| s.graph.node(s.db, &goals[i].name, None))
            .collect();
        run_goals(&mut s, &ids, false);
        s.drain();
        if let Some(sig) = s.clean_up_interrupt() {
            drop(s);
            signals::die_by(sig);
        }
        s.remove_intermediates();
        if opts.print_data_base {
            crate::report::data_base::remember(s.file_facts());
        }
        for (&i, &id) in makeable.iter().zip(&ids) {
            // A goal left unfinished (the build stopped) failed too.
            outcomes[i] = Some(s.outcome(id).unwrap_or(Outcome::Failed));
        }
        let failed = s.failed;
        let ran = s.steps_started > 0;
        carried.settled = s.settled_targets();
        // The steps that remade makefiles are part of the audit too.
        if let Some(g) = s.guard.as_mut() {
            carried.audits = std::mem::take(&mut g.audits);
        }
        drop(s);
        if let (Some(old), Some(v)) = (saved_flags, db.globals.get_mut("MAKEFLAGS")) {
            v.value = old;
        }
        // Recipes ran: times read while the makefiles were read may be stale.
        db.side_effects |= ran;
        if failed && !opts.keep_going {
            return Remake::Failed(2);
        }
        carried.failed = failed;
        say_failed_makefiles(&goals, &outcomes);
        if any_remade(&goals, &outcomes, &before) {
            // The run after the re-execution audits those steps too.
            if let Some(role) = crate::report::recursive_audit::role() {
                role.carry_over(&carried.audits);
            }
            return Remake::Remade;
        }
    }
    // Missing `-f` files no rule made (missing includes were goals above):
    // make names them all, then gives up on the latest, or under -k on each.
    let mut disk = StatCache::new(Box::new(RealDisk));
    let lost: Vec<&str> = db
        .missing_includes
        .iter()
        .filter(|m| !m.optional && m.loc.line == 0)
        .filter(|m| !makeable.iter().any(|&i| goals[i].name == m.name))
        .map(|m| m.name.as_str())
        .filter(|name| !disk.exists(name))
        .collect();
    if let Some(last) = lost.last() {
        for name in &lost {
            errln!("{}: {}: No such file or directory", prog(), name);
        }
        if !opts.keep_going {
            errln!("{}: *** No rule to make target '{}'.  Stop.", prog(), last);
            return Remake::Failed(2);
        }
        for name in lost.iter().rev() {
            errln!("{}: *** No rule to make target '{}'.", prog(), name);
        }
        for name in lost.iter().rev() {
            errln!("{}: Failed to remake makefile '{}'.", prog(), name);
        }
        if db.makefiles.is_empty() {
            errln!(
                "{}: *** No targets specified and no makefile found.  Stop.",
                prog()
            );
            return Remake::Failed(2);
        }
        carried.failed = true;
    }
    Remake::Unchanged(carried)
}

/// While makefiles are remade their recipes really run, and sub-makes they
/// start get the flags without `-n`, `-q` and `-t` (as make gives them), so
/// a `$(MAKE)` that regenerates an included makefile does regenerate it.
/// Returns the value to put back afterwards.
fn flags_for_remaking(db: &mut Database, opts: &Options) -> Option<String> {
    if !(opts.dry_run || opts.question || opts.touch) {
        return None;
    }
    let mut real = opts.clone();
    real.dry_run = false;
    real.question = false;
    real.touch = false;
    let value = crate::driver::recipe_makeflags(db, &real);
    let v = db.globals.get_mut("MAKEFLAGS")?;
    if v.origin == crate::lang::vars::Origin::CommandLine {
        return None;
    }
    Some(std::mem::replace(&mut v.value, value))
}

/// Under `-k`: each required makefile that failed, latest read first.
fn say_failed_makefiles(goals: &[MakefileGoal], outcomes: &[Option<Outcome>]) {
    for (g, o) in goals.iter().zip(outcomes).rev() {
        if *o == Some(Outcome::Failed) && !g.notes.quiet {
            errln!("{}: Failed to remake makefile '{}'.", prog(), g.name);
        }
    }
}

/// Did a makefile change, so that make must start again? A failed optional
/// makefile does not count; a failed required one only if it now exists.
fn any_remade(
    goals: &[MakefileGoal],
    outcomes: &[Option<Outcome>],
    before: &[crate::graph::disk::MTime],
) -> bool {
    let mut after = StatCache::new(Box::new(RealDisk));
    goals.iter().zip(outcomes).zip(before).any(|((g, o), b)| {
        let now = after.mtime(&g.name);
        match o {
            Some(Outcome::Failed) if g.notes.quiet => false,
            Some(Outcome::Failed) => now.is_some() && now != *b,
            _ => now != *b,
        }
    })
}

/// True if a rule can make makefile `name`: an explicit rule with a recipe
/// (or prerequisites), or a pattern rule other than a match-anything one.
fn can_make(db: &mut Database, disk: &mut StatCache, vpath: &[String], name: &str) -> bool {
    if let Some(t) = db.targets.get(name) {
        if t.recipe.is_some() || !t.double_colon.is_empty() || (t.is_target && !t.deps.is_empty()) {
            return true;
        }
    }
    let mut searcher = Searcher::new(disk, vpath);
    matches!(searcher.search(db, name), Ok(Some(m)) if db.pattern_rules[m.rule].targets.iter().all(|t| t != "%"))
}

#[cfg(test)]
mod tests;
