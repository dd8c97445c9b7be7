//! `--report=FILE`: the build as JSON, for CI and for people auditing a
//! makefile. One record per step that ran: its targets, the rule's location,
//! the commands, when it started and ended, how it exited, the sandbox it
//! ran under, what it did that it did not declare and, in audit mode, every
//! access that was observed. The schema is in docs/report.md.
//!
//! Like the trace recorder, it is a process-wide collector the engine feeds
//! from wherever a step ends; the driver writes it when the build is over.
//!
//! A recursive build is one report: the make given `--report` makes a
//! directory (the "sink", named to sub-makes in `HBUILD_REPORT_SINK`, and
//! writable by the steps that run them), each sub-make at any depth leaves
//! its steps there when it ends, and the reporting make adds them to its
//! own, in the order they finished, each with the directory it ran in.

use crate::observe::StepAccesses;
use crate::report::violations::Violation;
use crate::sandbox::{Origin, Policy};
use serde_json::{json, Map, Value};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The version of the format below; bumped on incompatible changes.
pub const SCHEMA: u32 = 1;

/// How a step's last command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(String),
    /// Nothing ran (the recipe could not start, or the build was interrupted
    /// before it did).
    NotRun,
}

/// What the engine gathers about a running step for the report.
#[derive(Clone, Debug)]
pub struct Draft {
    pub start: Instant,
    pub exit: Exit,
    pub sandbox: Option<Value>,
    pub violations: Vec<Value>,
    pub accesses: Option<Value>,
}

impl Draft {
    pub fn new() -> Draft {
        Draft {
            start: Instant::now(),
            exit: Exit::NotRun,
            sandbox: None,
            violations: Vec::new(),
            accesses: None,
        }
    }
}

impl Default for Draft {
    fn default() -> Self {
        Draft::new()
    }
}

/// One step that ran, as the report shows it.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub targets: Vec<String>,
    /// `file:line` of the rule that gave the recipe.
    pub rule: String,
    pub commands: Vec<String>,
    pub start: Instant,
    pub end: Instant,
    pub exit: Exit,
    /// `ok`, `failed` or `interrupted`.
    pub result: String,
    /// The sandbox the step ran under (`None` under `-n`, `-t`, `-q`).
    pub sandbox: Option<Value>,
    pub violations: Vec<Value>,
    /// Audit mode only: every observed access.
    pub accesses: Option<Value>,
}

/// Collects the steps while the build runs; `write` saves them.
#[derive(Debug)]
pub struct BuildReport {
    origin: Instant,
    started: SystemTime,
    mode: String,
    steps: Mutex<Vec<StepRecord>>,
    /// Where sub-makes leave their steps: made here when this make writes
    /// the report, else the parent's.
    sink: Option<PathBuf>,
    /// This make writes the report (rather than leave its steps in a sink).
    owner: bool,
    /// Seconds between the build's start and this process's: the run
    /// before a re-execution.
    offset: f64,
}

static GLOBAL: OnceLock<BuildReport> = OnceLock::new();

/// Names the sink to sub-makes.
pub const SINK_ENV: &str = "HBUILD_REPORT_SINK";
/// The reporting hbuild's pid and start (seconds since the epoch), kept
/// across its re-execution after remaking makefiles (the pid stays).
pub const OWNER_ENV: &str = "HBUILD_REPORT_OWNER";

/// Turn the report on for this process; `mode` is the sandbox mode of the
/// build. `owner`: this make was given `--report` (else it only collects
/// for the make above, when one reports).
pub fn enable(mode: &str, owner: bool) -> Option<&'static BuildReport> {
    let inherited = std::env::var_os(SINK_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from);
    if !owner && inherited.is_none() {
        return None;
    }
    // Re-executed after remaking makefiles: the same report goes on.
    let restarted = std::env::var(OWNER_ENV).ok().and_then(|v| {
        let (pid, started) = v.split_once(' ')?;
        (pid == std::process::id().to_string()).then(|| started.parse::<f64>().ok())?
    });
    Some(GLOBAL.get_or_init(|| {
        let mut r = BuildReport::new(mode);
        r.owner = owner;
        r.sink = match (owner, restarted) {
            (true, Some(started)) if inherited.is_some() => {
                r.offset = epoch(r.started) - started;
                inherited
            }
            (true, _) => tempfile::Builder::new()
                .prefix("hbuild-report-")
                .tempdir()
                .ok()
                .map(|d| d.keep()),
            (false, _) => inherited,
        };
        r
    }))
}

/// The directory sub-makes leave their steps in, if the build reports.
pub fn sink() -> Option<&'static Path> {
    GLOBAL.get().and_then(|r| r.sink.as_deref())
}

/// The process's report, if `--report` asked for one.
pub fn active() -> Option<&'static BuildReport> {
    GLOBAL.get()
}

fn seconds(d: std::time::Duration) -> f64 {
    seconds_f(d.as_secs_f64())
}

/// Rounded to the microsecond.
fn seconds_f(s: f64) -> f64 {
    (s * 1e6).round() / 1e6
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map(seconds).unwrap_or(0.0)
}

impl BuildReport {
    pub fn new(mode: &str) -> BuildReport {
        BuildReport {
            origin: Instant::now(),
            started: SystemTime::now(),
            mode: mode.to_string(),
            steps: Mutex::new(Vec::new()),
            sink: None,
            owner: false,
            offset: 0.0,
        }
    }

    /// Before re-executing itself (makefiles were remade): this run's steps
    /// go to the sink, and the next run takes over the report.
    pub fn restart_env(&self) -> Vec<(String, String)> {
        if !self.owner {
            return Vec::new();
        }
        let Some(sink) = &self.sink else {
            return Vec::new();
        };
        let _ = self.contribute();
        let started = epoch(self.started) - self.offset;
        vec![
            (SINK_ENV.to_string(), sink.to_string_lossy().into_owned()),
            (
                OWNER_ENV.to_string(),
                format!("{} {}", std::process::id(), started),
            ),
        ]
    }

    /// This make writes the report itself.
    pub fn is_owner(&self) -> bool {
        self.owner
    }

    /// A sub-make's part: its steps, with absolute times, left in the sink.
    pub fn contribute(&self) -> io::Result<()> {
        let Some(sink) = &self.sink else {
            return Ok(());
        };
        let started = epoch(self.started);
        let steps = self.steps_json(started);
        let name = format!(
            "{}-{}.json",
            std::process::id(),
            self.origin.elapsed().as_nanos()
        );
        let text = serde_json::to_string(&steps)?;
        // Written whole, then renamed: the owner never reads half a file.
        let tmp = sink.join(format!(".{name}"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, sink.join(name))
    }

    /// The steps sub-makes left in the sink, with times made relative to
    /// this build's start; the sink is removed.
    fn collected(&self) -> Vec<Value> {
        let Some(sink) = self.sink.as_ref().filter(|_| self.owner) else {
            return Vec::new();
        };
        let started = epoch(self.started) - self.offset;
        let mut out = Vec::new();
        for entry in std::fs::read_dir(sink).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let Ok(Value::Array(steps)) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            for mut step in steps {
                for key in ["start", "end"] {
                    if let Some(t) = step.get(key).and_then(Value::as_f64) {
                        step[key] = json!(seconds_f(t - started));
                    }
                }
                out.push(step);
            }
        }
        let _ = std::fs::remove_dir_all(sink);
        out
    }

    /// Add one finished step.
    pub fn step(&self, record: StepRecord) {
        self.steps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(record);
    }

    /// The steps of this make; times relative to its start plus `offset`.
    fn steps_json(&self, offset: f64) -> Vec<Value> {
        let since =
            |t: Instant| seconds_f(offset + t.saturating_duration_since(self.origin).as_secs_f64());
        let directory = std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        steps
            .iter()
            .map(|s| {
                let mut m = Map::new();
                m.insert("targets".into(), json!(s.targets));
                m.insert("directory".into(), json!(directory));
                m.insert("rule".into(), json!(s.rule));
                m.insert("commands".into(), json!(s.commands));
                m.insert("start".into(), json!(since(s.start)));
                m.insert("end".into(), json!(since(s.end)));
                let (code, signal) = match &s.exit {
                    Exit::Code(c) => (json!(c), Value::Null),
                    Exit::Signal(sig) => (Value::Null, json!(sig)),
                    Exit::NotRun => (Value::Null, Value::Null),
                };
                m.insert("exit_status".into(), code);
                m.insert("signal".into(), signal);
                m.insert("result".into(), json!(s.result));
                m.insert("sandbox".into(), s.sandbox.clone().unwrap_or(Value::Null));
                m.insert("violations".into(), json!(s.violations));
                if let Some(a) = &s.accesses {
                    m.insert("accesses".into(), a.clone());
                }
                Value::Object(m)
            })
            .collect()
    }

    /// The whole report, for a build that ended with `status`: this make's
    /// steps and its sub-makes', in the order they finished.
    pub fn to_json(&self, status: i32) -> Value {
        let mut steps = self.steps_json(self.offset);
        steps.extend(self.collected());
        let end = |s: &Value| s.get("end").and_then(Value::as_f64).unwrap_or(0.0);
        steps.sort_by(|a, b| end(a).total_cmp(&end(b)));
        let started = epoch(self.started) - self.offset;
        json!({
            "schema": SCHEMA,
            "tool": "hbuild",
            "version": env!("CARGO_PKG_VERSION"),
            "sandbox_mode": self.mode,
            "started": started,
            "duration": seconds_f(self.origin.elapsed().as_secs_f64() + self.offset),
            "exit_status": status,
            "steps": steps,
        })
    }

    /// Write the report to `path` (pretty-printed, one trailing newline).
    pub fn write(&self, path: &Path, status: i32) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(&self.to_json(status))?;
        text.push('\n');
        let mut f = std::fs::File::create(path)?;
        f.write_all(text.as_bytes())
    }
}

/// What the report says about a step's sandbox: the declared paths one by
/// one, the presets by name (their paths are the same for every step and
/// `--sandbox-info` lists them), and the other protections.
pub fn policy_summary(policy: &Policy, landlock: bool, observed: bool) -> Value {
    let mut paths = Vec::new();
    let mut presets: Vec<&str> = Vec::new();
    for e in &policy.entries {
        match &e.origin {
            Origin::Preset(name) | Origin::UnveilPreset(name, _) => {
                if !presets.contains(name) {
                    presets.push(name);
                }
            }
            origin => paths.push(json!({
                "path": e.path.display().to_string(),
                "rights": e.rights.to_string(),
                "origin": origin.to_string(),
            })),
        }
    }
    json!({
        "landlock": landlock,
        "observed": observed,
        "unsandboxed": policy.unsandboxed,
        "paths": paths,
        "presets": presets,
        "internet": policy.internet,
        "scoped": policy.scoped,
        "tmpdir": policy.tmpdir.as_ref().map(|t| t.display().to_string()),
        "limits": policy.rlimits.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    })
}

/// One violation: the operation, the path(s), whether Landlock refused it,
/// and the message hbuild printed.
pub fn violation_json(v: &Violation) -> Value {
    json!({
        "operation": v.kind.name(),
        "path": v.path.display().to_string(),
        "to": v.to.as_ref().map(|t| t.display().to_string()),
        "denied": v.denied,
        "message": v.to_string(),
    })
}

/// Every observed access of a step, by operation, paths sorted.
pub fn accesses_json(acc: &StepAccesses) -> Value {
    let list = |set: &std::collections::BTreeSet<PathBuf>| -> Vec<String> {
        set.iter().map(|p| p.display().to_string()).collect()
    };
    let pairs = |v: &[(PathBuf, PathBuf)]| -> Vec<Value> {
        v.iter()
            .map(|(a, b)| json!([a.display().to_string(), b.display().to_string()]))
            .collect()
    };
    json!({
        "read": list(&acc.reads),
        "list": list(&acc.lists),
        "exec": list(&acc.execs),
        "write": list(&acc.writes),
        "create": list(&acc.creates),
        "truncate": list(&acc.truncates),
        "delete": list(&acc.deletes),
        "mkdir": list(&acc.mkdirs),
        "missing": list(&acc.missing),
        "rename": pairs(&acc.renames),
        "link": pairs(&acc.links),
        "symlink": pairs(&acc.symlinks),
        "unresolved": acc.unresolved,
        "unobserved": acc.unobserved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_written_with_times_relative_to_the_start() {
        let r = BuildReport::new("enforce");
        let t0 = Instant::now();
        r.step(StepRecord {
            targets: vec!["out/a.o".into()],
            rule: "Makefile:3".into(),
            commands: vec!["cc -c a.c -o out/a.o".into()],
            start: t0,
            end: t0 + std::time::Duration::from_millis(250),
            exit: Exit::Code(1),
            result: "failed".into(),
            sandbox: None,
            violations: vec![json!({"operation": "read undeclared file"})],
            accesses: None,
        });
        let j = r.to_json(2);
        assert_eq!(j["schema"], SCHEMA);
        assert_eq!(j["exit_status"], 2);
        assert_eq!(j["sandbox_mode"], "enforce");
        let s = &j["steps"][0];
        assert_eq!(s["targets"][0], "out/a.o");
        assert_eq!(s["exit_status"], 1);
        assert!(s["signal"].is_null());
        let d = s["end"].as_f64().unwrap() - s["start"].as_f64().unwrap();
        assert!((d - 0.25).abs() < 1e-3, "{d}");
        assert!(s.get("accesses").is_none(), "audit mode only");
    }
}
