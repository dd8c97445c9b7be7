//! The measurements: every tool on its own copy of the same graph, runs
//! interleaved tool by tool within each repetition so that background noise
//! (this 2-core machine is shared) falls on all tools alike.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::graph::{self, Graph, Shape};
use crate::measure::{self, Sample, Stats};
use crate::options::Options;
use crate::tools::Tool;

/// What a row of the result table measures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scenario {
    /// From scratch, with this many jobs.
    Full(usize),
    /// The single from-scratch build that prepares a graph too large to time
    /// full builds of repeatedly.
    Setup,
    /// Everything up to date.
    Noop,
    /// After touching one source.
    Rebuild,
    /// `size` declared prerequisites on each of a few independent steps.
    Prereqs,
}

impl Scenario {
    pub fn label(self) -> String {
        match self {
            Scenario::Full(jobs) => format!("full -j{jobs}"),
            Scenario::Setup => "full (set-up, 1 run)".to_string(),
            Scenario::Noop => "no-op".to_string(),
            Scenario::Rebuild => "rebuild, 1 touched".to_string(),
            Scenario::Prereqs => "prereqs".to_string(),
        }
    }

    pub fn key(self) -> String {
        match self {
            Scenario::Full(jobs) => format!("full-j{jobs}"),
            Scenario::Setup => "setup".to_string(),
            Scenario::Noop => "noop".to_string(),
            Scenario::Rebuild => "rebuild".to_string(),
            Scenario::Prereqs => "prereqs".to_string(),
        }
    }
}

/// One tool's result in one row.
#[derive(Clone, Debug)]
pub enum Outcome {
    Measured {
        argv: Vec<String>,
        /// Seconds.
        time: Stats,
        /// KiB.
        rss: Stats,
    },
    NotAvailable(String),
}

impl Outcome {
    pub fn median_time(&self) -> Option<f64> {
        match self {
            Outcome::Measured { time, .. } => Some(time.median),
            Outcome::NotAvailable(_) => None,
        }
    }

    pub fn median_rss(&self) -> Option<f64> {
        match self {
            Outcome::Measured { rss, .. } => Some(rss.median),
            Outcome::NotAvailable(_) => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Row {
    pub scenario: Scenario,
    /// Steps in the graph, or declared paths per step for `Prereqs`.
    pub size: usize,
    /// Steps built (for per-step costs).
    pub steps: usize,
    /// In the order of the tools.
    pub cells: Vec<(String, Outcome)>,
}

impl Row {
    pub fn cell(&self, tool: &str) -> Option<&Outcome> {
        self.cells.iter().find(|(t, _)| t == tool).map(|(_, o)| o)
    }
}

/// One tool on one graph, with the command line for this measurement (or why
/// there is none).
struct Entry<'a> {
    tool: &'a Tool,
    graph: &'a Graph,
    argv: Result<Vec<String>, String>,
}

/// Run every entry `warmup + reps` times, interleaved; `before` prepares the
/// graph before each run. A failing tool is dropped from the remaining runs.
fn interleave(
    entries: Vec<Entry>,
    (warmup, reps, timeout): (usize, usize, Duration),
    before: &dyn Fn(&Graph) -> io::Result<()>,
) -> Vec<(String, Outcome)> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); entries.len()];
    let mut failures: Vec<Option<String>> = entries.iter().map(|e| e.argv.clone().err()).collect();
    for run in 0..warmup + reps {
        for (i, entry) in entries.iter().enumerate() {
            let Ok(argv) = &entry.argv else { continue };
            if failures[i].is_some() {
                continue;
            }
            let result = before(entry.graph)
                .map_err(|e| format!("preparing the graph: {e}"))
                .and_then(|()| {
                    measure::run(argv, &entry.graph.root, &error_file(entry.graph), timeout)
                        .map_err(|e| e.to_string())
                });
            match result {
                Ok(sample) if run >= warmup => samples[i].push(sample),
                Ok(_) => {}
                Err(e) => failures[i] = Some(e),
            }
        }
    }
    entries
        .iter()
        .zip(samples)
        .zip(failures)
        .map(|((entry, samples), failure)| {
            let outcome = match (failure, &entry.argv) {
                (Some(why), _) => Outcome::NotAvailable(why),
                (None, Ok(argv)) => {
                    let secs: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64()).collect();
                    let kib: Vec<f64> = samples.iter().map(|s| s.peak_rss_kib as f64).collect();
                    match (Stats::of(&secs), Stats::of(&kib)) {
                        (Some(time), Some(rss)) => Outcome::Measured {
                            argv: argv.clone(),
                            time,
                            rss,
                        },
                        _ => Outcome::NotAvailable("no repetitions".to_string()),
                    }
                }
                (None, Err(why)) => Outcome::NotAvailable(why.clone()),
            };
            (entry.tool.name.clone(), outcome)
        })
        .collect()
}

fn error_file(graph: &Graph) -> PathBuf {
    graph.root.with_extension("stderr")
}

fn nothing(_: &Graph) -> io::Result<()> {
    Ok(())
}

fn clean(graph: &Graph) -> io::Result<()> {
    graph.clean()
}

/// Give the rebuild source a new modification time.
fn touch_source(graph: &Graph) -> io::Result<()> {
    fs::File::options()
        .write(true)
        .open(graph.root.join(&graph.touch_source))?
        .set_modified(SystemTime::now())
}

/// Why a graph is not completely built, if it is not.
fn missing_outputs(graph: &Graph) -> Option<String> {
    let missing = graph
        .outputs
        .iter()
        .filter(|o| !graph.root.join(o).exists())
        .count();
    (missing > 0).then(|| {
        format!(
            "the build exited 0 but left {missing} of {} outputs unbuilt",
            graph.outputs.len()
        )
    })
}

fn progress(size: usize, scenario: Scenario, cells: &[(String, Outcome)]) {
    let parts: Vec<String> = cells
        .iter()
        .map(|(tool, o)| match o.median_time() {
            Some(t) => format!("{tool} {t:.3}s"),
            None => format!("{tool} n/a"),
        })
        .collect();
    eprintln!(
        "  {:>6} {:<22} {}",
        crate::report::size_label(size),
        scenario.label(),
        parts.join("  ")
    );
}

/// All measurements on one graph size.
pub fn measure_size(
    opts: &Options,
    tools: &[Tool],
    size: usize,
    work: &Path,
) -> io::Result<Vec<Row>> {
    let shape = Shape {
        steps: size,
        fan_in: opts.fan_in,
        depth: opts.depth,
        dirs: opts.dirs_for(size),
    };
    let graphs: Vec<Graph> = tools
        .iter()
        .map(|t| graph::generate(shape, &work.join(&t.name)))
        .collect::<io::Result<_>>()?;
    let mut rows = Vec::new();
    let push = |rows: &mut Vec<Row>, scenario, cells: Vec<(String, Outcome)>| {
        progress(size, scenario, &cells);
        rows.push(Row {
            scenario,
            size,
            steps: size,
            cells,
        });
    };
    // Whether each tool's copy is completely built (`Err` says why not).
    let mut built: Vec<Result<bool, String>> = vec![Ok(false); tools.len()];
    let mut failed_full: Vec<Option<String>> = vec![None; tools.len()];

    if opts.wants("full") && size <= opts.full_max {
        for jobs in [1, 2] {
            let entries = entries_for(tools, &graphs, |t| {
                t.argv(jobs)
                    .ok_or_else(|| format!("-j{jobs} is not accepted"))
            });
            let cells = interleave(entries, (opts.warmup, opts.reps, opts.timeout), &clean);
            for (i, (_, outcome)) in cells.iter().enumerate() {
                match outcome {
                    Outcome::Measured { .. } => built[i] = Ok(true),
                    // Retrying a build that failed or timed out would only
                    // repeat it: its set-up goes straight to make's.
                    Outcome::NotAvailable(why) if built[i] == Ok(false) && tools[i].is_hbuild() => {
                        failed_full[i] = Some(why.clone())
                    }
                    _ => {}
                }
            }
            push(&mut rows, Scenario::Full(jobs), cells);
        }
    }
    if !(opts.wants("noop") || opts.wants("rebuild")) {
        return Ok(rows);
    }
    if built.iter().any(|b| b != &Ok(true)) {
        let entries = tools
            .iter()
            .zip(&graphs)
            .zip(built.iter().zip(&failed_full))
            .map(|((tool, graph), b)| Entry {
                tool,
                graph,
                argv: match b {
                    (Ok(false), Some(why)) => Err(format!("its full build failed: {why}")),
                    (Ok(false), None) => Ok(tool.argv_best_effort(2)),
                    _ => Err("built by a timed full build".to_string()),
                },
            })
            .collect();
        let mut cells = interleave(entries, (0, 1, opts.timeout), &clean);
        let make = tools.iter().find(|t| t.name == "make");
        for (i, (_, outcome)) in cells.iter_mut().enumerate() {
            match (&built[i], &*outcome) {
                (Ok(false), Outcome::Measured { .. }) => built[i] = Ok(true),
                (Ok(false), Outcome::NotAvailable(why)) => {
                    // hbuild reads the same Makefile and judges by the same
                    // mtimes: a tree make built still measures its no-op and
                    // rebuild when its own full build is broken or too slow.
                    let why = why.clone();
                    built[i] = match make.filter(|_| tools[i].is_hbuild()) {
                        Some(make) => build_with(make, &graphs[i], opts.timeout)
                            .map(|()| true)
                            .map_err(|e| {
                                format!("set-up build failed: {why}; make failed too: {e}")
                            }),
                        None => Err(format!("set-up build failed: {why}")),
                    };
                    if built[i].is_ok() {
                        *outcome = Outcome::NotAvailable(format!(
                            "{why} (tree then built by make for the no-op and rebuild runs)"
                        ));
                    }
                }
                _ => {}
            }
        }
        push(&mut rows, Scenario::Setup, cells);
    }
    for (b, graph) in built.iter_mut().zip(&graphs) {
        if let (Ok(true), Some(why)) = (&*b, missing_outputs(graph)) {
            *b = Err(why);
        }
    }
    let incremental = |scenario: Scenario, before: &dyn Fn(&Graph) -> io::Result<()>| {
        let entries = tools
            .iter()
            .zip(&graphs)
            .zip(&built)
            .map(|((tool, graph), b)| Entry {
                tool,
                graph,
                argv: b.clone().map(|_| tool.argv_best_effort(2)),
            })
            .collect();
        (
            scenario,
            interleave(entries, (opts.warmup, opts.reps, opts.timeout), before),
        )
    };
    if opts.wants("noop") {
        let (scenario, cells) = incremental(Scenario::Noop, &nothing);
        push(&mut rows, scenario, cells);
    }
    if opts.wants("rebuild") {
        let (scenario, cells) = incremental(Scenario::Rebuild, &touch_source);
        push(&mut rows, scenario, cells);
    }
    Ok(rows)
}

/// One unmeasured from-scratch build of `graph` by `tool`.
fn build_with(tool: &Tool, graph: &Graph, timeout: Duration) -> Result<(), String> {
    graph.clean().map_err(|e| e.to_string())?;
    measure::run(
        &tool.argv_best_effort(2),
        &graph.root,
        &error_file(graph),
        timeout,
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

fn entries_for<'a>(
    tools: &'a [Tool],
    graphs: &'a [Graph],
    argv: impl Fn(&Tool) -> Result<Vec<String>, String>,
) -> Vec<Entry<'a>> {
    tools
        .iter()
        .zip(graphs)
        .map(|(tool, graph)| Entry {
            tool,
            graph,
            argv: argv(tool),
        })
        .collect()
}

/// The cost of declared prerequisites: for each count, hbuild (every mode)
/// and make build a graph of independent steps that each declare that many.
pub fn measure_prereqs(opts: &Options, tools: &[Tool], work: &Path) -> io::Result<Vec<Row>> {
    let tools: Vec<Tool> = tools
        .iter()
        .filter(|t| t.is_hbuild() || t.name == "make")
        .cloned()
        .collect();
    let mut rows = Vec::new();
    for &paths in &opts.prereq_paths {
        let graph = graph::generate_prereq_fan(
            paths,
            opts.prereq_steps,
            &work.join(format!("prereqs-{paths}")),
        )?;
        let graphs = vec![graph; tools.len()];
        let entries = entries_for(&tools, &graphs, |t| Ok(t.argv(1).unwrap_or_default()));
        let cells = interleave(entries, (opts.warmup, opts.reps, opts.timeout), &clean);
        progress(paths, Scenario::Prereqs, &cells);
        rows.push(Row {
            scenario: Scenario::Prereqs,
            size: paths,
            steps: opts.prereq_steps,
            cells,
        });
    }
    Ok(rows)
}
