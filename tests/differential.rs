//! Differential tests: every case under `fixtures/diff/<name>/` is run with
//! GNU make and with hbuild in two fresh copies, and everything observable
//! must match: exit status, stdout, stderr, and the files left behind.
//!
//! A case directory holds its makefiles and sources, plus optional control
//! files (never copied into the run directory):
//! - `args`: command-line arguments, one per line;
//! - `env`: extra environment variables, `NAME=value` per line;
//! - `setup.sh`: run with `/bin/sh` in the run directory before the build;
//! - `then`: arguments (one per line) for a second run in the same directory;
//! - `then.sh`: run with `/bin/sh` between the first and the second run.
//!
//! Every copied file and directory gets mtime 1000000000 (2001-09-09) before
//! `setup.sh`, so up-to-date decisions never depend on copy order.
//!
//! Environment knobs: `DIFF_CASE=a,b` runs only cases whose name contains one
//! of the substrings; `DIFF_SELFCHECK=1` runs make twice instead (the fixtures
//! must be deterministic); `DIFF_FULL=1` prints whole diffs; `DIFF_MAKE`
//! overrides the make binary (default `/usr/bin/make`).

mod common;

use common::{Entry, RunOutput, Snapshot};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, SystemTime};

const CONTROL_FILES: &[&str] = &["args", "env", "setup.sh", "then", "then.sh", "hbuild-args"];
const TIMEOUT: Duration = Duration::from_secs(20);
const FIXED_MTIME_SECS: u64 = 1_000_000_000;
const MAX_DIFF_LINES: usize = 40;

/// One fixture directory, parsed.
struct Case {
    name: String,
    dir: PathBuf,
    runs: Vec<Vec<String>>,
    env: Vec<(String, String)>,
    /// `hbuild-args`: options only hbuild gets, before the case's own. Used by
    /// cases that are not hermetic on purpose (`--sandbox=off`): hbuild
    /// enforces the sandbox by default, make has none.
    hbuild_args: Vec<String>,
}

/// A program under comparison, and the path its `$(MAKE)` expands to.
#[derive(Clone)]
struct Tool {
    label: &'static str,
    program: String,
    /// make names itself `make` in messages; hbuild already says `hbuild`.
    renames_make_prefix: bool,
    /// Takes the case's `hbuild-args`.
    is_hbuild: bool,
}

/// Everything one tool did for one case, normalised.
struct Outcome {
    runs: Vec<RunOutput>,
    files: Snapshot,
}

#[test]
fn differential() {
    let make_path = std::env::var("DIFF_MAKE").unwrap_or_else(|_| "/usr/bin/make".to_string());
    let make = Tool {
        label: "make",
        program: make_path,
        renames_make_prefix: true,
        is_hbuild: false,
    };
    let selfcheck = std::env::var("DIFF_SELFCHECK").is_ok_and(|v| v == "1");
    let other = if selfcheck {
        Tool {
            label: "make#2",
            ..make.clone()
        }
    } else {
        Tool {
            label: "hbuild",
            program: env!("CARGO_BIN_EXE_hbuild").to_string(),
            renames_make_prefix: false,
            is_hbuild: true,
        }
    };

    let cases = load_cases();
    assert!(!cases.is_empty(), "no differential cases selected");
    let results = run_all(&cases, &make, &other);

    let mut failures = Vec::new();
    let mut by_area: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (case, report) in cases.iter().zip(&results) {
        let area = by_area.entry(area_of(&case.name)).or_default();
        area.1 += 1;
        match report {
            None => area.0 += 1,
            Some(text) => failures.push(format!("=== mismatch: {}\n{}", case.name, text)),
        }
    }
    for f in &failures {
        println!("{f}");
    }
    let passed = cases.len() - failures.len();
    let what = if selfcheck {
        " (selfcheck: make vs make)"
    } else {
        ""
    };
    println!("differential{what}: {passed}/{} cases match", cases.len());
    let areas: Vec<String> = by_area
        .iter()
        .map(|(k, (p, t))| format!("{k}: {p}/{t}"))
        .collect();
    println!("differential by area: {}", areas.join(", "));
    assert!(
        failures.is_empty(),
        "{} of {} differential cases differ",
        failures.len(),
        cases.len()
    );
}

/// The name prefix that groups a case: everything up to the first `_`.
fn area_of(name: &str) -> String {
    match name.find('_') {
        Some(i) => name[..=i].to_string(),
        None => name.to_string(),
    }
}

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/diff")
}

fn load_cases() -> Vec<Case> {
    let filter: Vec<String> = std::env::var("DIFF_CASE")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let mut cases: Vec<Case> = std::fs::read_dir(fixtures_root())
        .expect("fixtures/diff exists")
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str())))
        .map(|name| parse_case(&name))
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

fn parse_case(name: &str) -> Case {
    let dir = fixtures_root().join(name);
    let lines = |file: &str| -> Option<Vec<String>> {
        std::fs::read_to_string(dir.join(file))
            .ok()
            .map(|t| t.lines().map(str::to_string).collect())
    };
    let mut runs = vec![lines("args").unwrap_or_default()];
    if let Some(then) = lines("then") {
        runs.push(then);
    }
    let env = lines("env")
        .unwrap_or_default()
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l, String::new()),
        })
        .collect();
    let hbuild_args = lines("hbuild-args")
        .unwrap_or_default()
        .into_iter()
        .filter(|l| !l.is_empty())
        .collect();
    Case {
        name: name.to_string(),
        dir,
        runs,
        env,
        hbuild_args,
    }
}

/// Run every case on a few threads; `None` means the case matched.
fn run_all(cases: &[Case], left: &Tool, right: &Tool) -> Vec<Option<String>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<String>>> = Mutex::new(vec![None; cases.len()]);
    let workers = thread::available_parallelism().map_or(2, |n| n.get() * 2);
    thread::scope(|s| {
        for _ in 0..workers.min(cases.len()) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let a = run_case(case, left);
                let b = run_case(case, right);
                let report = compare(left.label, &a, right.label, &b);
                results.lock().expect("results lock")[i] = report;
            });
        }
    });
    results.into_inner().expect("results lock")
}

fn run_case(case: &Case, tool: &Tool) -> Outcome {
    let tmp = tempfile::Builder::new()
        .prefix("hbuild-diff-")
        .tempdir()
        .expect("temp dir");
    let root = tmp.path();
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(FIXED_MTIME_SECS);
    common::copy_fixture(&case.dir, root, CONTROL_FILES, mtime);

    let env = clean_env(root, &case.env);
    let replacements = replacements_for(root, tool);
    let normalise = |text: &str| {
        let s = common::replace_all(text, &replacements);
        if tool.renames_make_prefix {
            common::rename_make_prefixes(&s)
        } else {
            s
        }
    };

    let mut runs = Vec::new();
    if let Some(out) = run_script(&case.dir.join("setup.sh"), root, &env) {
        runs.push(out);
    }
    for (i, args) in case.runs.iter().enumerate() {
        if i > 0 {
            if let Some(out) = run_script(&case.dir.join("then.sh"), root, &env) {
                runs.push(out);
            }
        }
        let label = format!("args: {}", args.join(" "));
        let args: Vec<String> = if tool.is_hbuild {
            case.hbuild_args.iter().chain(args).cloned().collect()
        } else {
            args.clone()
        };
        let (status, stdout, stderr) =
            common::run_with_timeout(&tool.program, &args, root, &env, TIMEOUT);
        runs.push(RunOutput {
            label,
            status,
            stdout: normalise(&stdout),
            stderr: normalise(&stderr),
        });
    }
    let files = common::snapshot(root, &normalise);
    Outcome { runs, files }
}

/// Setup scripts are part of the fixture; a failing one is reported like a run.
fn run_script(script: &Path, root: &Path, env: &[(String, String)]) -> Option<RunOutput> {
    if !script.exists() {
        return None;
    }
    let args = vec![script.to_string_lossy().into_owned()];
    let (status, stdout, stderr) = common::run_with_timeout("/bin/sh", &args, root, env, TIMEOUT);
    if status == "exit 0" && stdout.is_empty() && stderr.is_empty() {
        return None;
    }
    Some(RunOutput {
        label: script
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        status,
        stdout,
        stderr,
    })
}

/// The same minimal environment for both tools; nothing inherited, so no
/// MAKEFLAGS/MAKELEVEL/MFLAGS/MAKEFILES/GNUMAKEFLAGS can leak in.
fn clean_env(root: &Path, extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
        ("HOME".into(), root.to_string_lossy().into_owned()),
        ("LANG".into(), "C".into()),
        ("LC_ALL".into(), "C".into()),
    ];
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// Path replacements: the run directory → `<DIR>`, the program path (what
/// `$(MAKE)` expands to) → `<MAKE>`. Longest first so nothing is half-replaced.
fn replacements_for(root: &Path, tool: &Tool) -> Vec<(String, String)> {
    let mut pairs = vec![
        (common::canonical_string(root), "<DIR>".to_string()),
        (root.to_string_lossy().into_owned(), "<DIR>".to_string()),
        (
            common::canonical_string(Path::new(&tool.program)),
            "<MAKE>".to_string(),
        ),
        (tool.program.clone(), "<MAKE>".to_string()),
    ];
    pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    pairs.dedup();
    pairs
}

/// A readable report of every difference, or `None` when the outcomes match.
fn compare(la: &str, a: &Outcome, lb: &str, b: &Outcome) -> Option<String> {
    let max = if std::env::var("DIFF_FULL").is_ok() {
        0
    } else {
        MAX_DIFF_LINES
    };
    let mut out = Vec::new();
    let n = a.runs.len().max(b.runs.len());
    for i in 0..n {
        let (Some(ra), Some(rb)) = (a.runs.get(i), b.runs.get(i)) else {
            out.push(format!("  step {}: only one side ran it", i + 1));
            continue;
        };
        let head = format!("  step {} ({})", i + 1, ra.label);
        if ra.status != rb.status {
            out.push(format!(
                "{head}: status: {la} {}, {lb} {}",
                ra.status, rb.status
            ));
        }
        for (stream, ta, tb) in [
            ("stdout", &ra.stdout, &rb.stdout),
            ("stderr", &ra.stderr, &rb.stderr),
        ] {
            if ta != tb {
                out.push(format!("{head}: {stream} differs (- {la}, + {lb}):"));
                out.extend(common::line_diff(ta, tb, max));
            }
        }
    }
    compare_files(&a.files, &b.files, la, lb, max, &mut out);
    if out.is_empty() {
        None
    } else {
        Some(out.join("\n"))
    }
}

fn compare_files(
    a: &Snapshot,
    b: &Snapshot,
    la: &str,
    lb: &str,
    max: usize,
    out: &mut Vec<String>,
) {
    for (path, ea) in a {
        match b.get(path) {
            None => out.push(format!("  file {path}: only left by {la}")),
            Some(eb) if ea != eb => describe_entry_diff(path, ea, eb, la, lb, max, out),
            Some(_) => {}
        }
    }
    for path in b.keys().filter(|p| !a.contains_key(*p)) {
        out.push(format!("  file {path}: only left by {lb}"));
    }
}

fn describe_entry_diff(
    path: &str,
    ea: &Entry,
    eb: &Entry,
    la: &str,
    lb: &str,
    max: usize,
    out: &mut Vec<String>,
) {
    match (ea, eb) {
        (
            Entry::File {
                contents: ca,
                executable: xa,
            },
            Entry::File {
                contents: cb,
                executable: xb,
            },
        ) => {
            if xa != xb {
                out.push(format!("  file {path}: executable: {la} {xa}, {lb} {xb}"));
            }
            if ca != cb {
                out.push(format!("  file {path}: contents differ (- {la}, + {lb}):"));
                out.extend(common::line_diff(ca, cb, max));
            }
        }
        _ => out.push(format!("  file {path}: {la} has {ea:?}, {lb} has {eb:?}")),
    }
}
