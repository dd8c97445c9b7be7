//! `--watch`: build, then keep watching the makefiles and the source files of
//! the goals, and build again whenever one of them changes.
//!
//! Each build is a child process (this same program, with the same arguments
//! minus `--watch`): every build starts from a clean state, exactly as a
//! command-line run would. Between builds this process re-reads the makefiles
//! (its output silenced, so `$(info)` is not printed twice) to learn which files
//! to watch:
//!
//! - every makefile read, unless a rule makes it (a generated makefile is
//!   written by the build);
//! - every *source* reached from the goals: a prerequisite that no rule, explicit
//!   or implicit, can make (`crate::report::graph_export` resolves the graph as
//!   the engine would).
//!
//! Files a rule makes are never watched, so what the build writes cannot start
//! another build. Changes are seen with inotify (the `notify` crate) on the
//! watched files' directories; a burst of events is taken as one change once
//! quiet for `QUIET`, and a build starts only if a watched file's stamp (mtime,
//! size, inode) really differs from before the last build. Changes made while a
//! build ran are caught the same way, right after it.
//!
//! SIGINT, SIGTERM or SIGHUP end the watch: a running build gets the signal
//! (it cleans up as make does) and is waited for; hbuild then exits with
//! 128 + the signal number (130 for Ctrl-C). A failed build keeps watching.

use crate::cli::Options;
use crate::driver::{self, Invocation};
use crate::engine::signals;
use crate::report::graph_export;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A burst of events ends after this long without another.
const QUIET: Duration = Duration::from_millis(150);
/// A steady stream of events still gives a build this often.
const MAX_DEBOUNCE: Duration = Duration::from_secs(2);
/// How often waiting loops look for a signal.
const TICK: Duration = Duration::from_millis(25);

/// The makefile names make tries, for when the makefiles cannot be read.
const DEFAULT_MAKEFILES: [&str; 3] = ["GNUmakefile", "makefile", "Makefile"];

/// Run `--watch` with this program as the builder.
pub fn run(opts: &Options, inv: &Invocation) -> i32 {
    let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(&inv.argv0));
    run_with_program(opts, inv, &program)
}

/// Run `--watch`, each build being `program` run with `inv.args` minus
/// `--watch` in the current directory. Applies `-C` to this process first (to
/// read the makefiles); returns the exit status once a signal ends it.
pub fn run_with_program(opts: &Options, inv: &Invocation, program: &Path) -> i32 {
    signals::install();
    let start_dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    for dir in &opts.directories {
        if let Err(e) = std::env::set_current_dir(dir) {
            say(&format!("*** {}: {}.  Stop.", dir, e));
            return 2;
        }
    }
    let work_dir = std::env::current_dir().unwrap_or_else(|_| start_dir.clone());
    let trace_file = TraceFile::new(opts);
    let mut build = Command::new(program);
    build
        .args(without_watch(&inv.args))
        .args(trace_file.extra_arg())
        .current_dir(&start_dir);
    {
        use std::os::unix::process::CommandExt;
        build.arg0(&inv.argv0);
    }
    let mut previous = WatchSet::default();
    let mut changed: Vec<PathBuf> = Vec::new();
    loop {
        let set = WatchSet::load(opts, inv, &work_dir, &previous);
        let before = set.stamps();
        let began = Instant::now();
        let result = match run_build(&mut build) {
            BuildEnd::Exited(code) => code,
            BuildEnd::Signalled(sig) => return 128 + sig,
        };
        let steps = trace_file.steps();
        say(&summary(
            &changed,
            &work_dir,
            steps,
            began.elapsed(),
            result,
        ));
        if changed.is_empty() {
            say(&format!(
                "watching {} files for changes (Ctrl-C to stop)",
                set.files.len()
            ));
        }
        changed = match wait_for_change(&set, &before) {
            Waited::Changed(files) => files,
            Waited::Signalled(sig) => return 128 + sig,
        };
        previous = set;
    }
}

/// One line on stdout, prefixed with the program's name.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}: {}", crate::diag::prog(), text).and_then(|_| out.flush());
}

/// The arguments without `--watch` (after `--` everything is a goal).
pub fn without_watch(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut ended = false;
    for a in args {
        if !ended && a == "--watch" {
            continue;
        }
        ended |= a == "--";
        out.push(a.clone());
    }
    out
}

/// The rebuild summary: `rebuilt after change to src/a.c: 2 steps, 0.41 s, ok`.
pub fn summary(
    changed: &[PathBuf],
    work_dir: &Path,
    steps: Option<(usize, usize)>,
    took: Duration,
    status: i32,
) -> String {
    let what = match changed {
        [] => "built".to_string(),
        [one] => format!("rebuilt after change to {}", shown(one, work_dir)),
        [one, rest @ ..] => format!(
            "rebuilt after change to {} and {} more",
            shown(one, work_dir),
            rest.len()
        ),
    };
    let mut parts = Vec::new();
    if let Some((n, failed)) = steps {
        parts.push(format!("{} step{}", n, if n == 1 { "" } else { "s" }));
        if failed > 0 {
            parts.push(format!("{} failed", failed));
        }
    }
    parts.push(format!("{:.2} s", took.as_secs_f64()));
    parts.push(if status == 0 {
        "ok".to_string()
    } else {
        format!("failed (exit {})", status)
    });
    format!("{}: {}", what, parts.join(", "))
}

fn shown(path: &Path, work_dir: &Path) -> String {
    path.strip_prefix(work_dir)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Where each build writes its Chrome trace, read back to count the steps:
/// the user's `--trace-json` file, else a temporary one outside the tree.
struct TraceFile {
    path: PathBuf,
    ours: bool,
}

impl TraceFile {
    fn new(opts: &Options) -> TraceFile {
        match &opts.trace_json {
            Some(p) => TraceFile {
                path: PathBuf::from(p),
                ours: false,
            },
            None => TraceFile {
                path: std::env::temp_dir()
                    .join(format!("hbuild-watch-{}.trace.json", std::process::id())),
                ours: true,
            },
        }
    }

    fn extra_arg(&self) -> Vec<String> {
        if self.ours {
            vec![format!("--trace-json={}", self.path.display())]
        } else {
            Vec::new()
        }
    }

    /// Steps and failed steps of the last build, if it wrote a trace.
    fn steps(&self) -> Option<(usize, usize)> {
        let text = std::fs::read(&self.path).ok()?;
        if self.ours {
            let _ = std::fs::remove_file(&self.path);
        }
        let events: Vec<serde_json::Value> = serde_json::from_slice(&text).ok()?;
        let steps: Vec<_> = events.iter().filter(|e| e["cat"] == "step").collect();
        let failed = steps.iter().filter(|e| e["args"]["result"] != "ok").count();
        Some((steps.len(), failed))
    }
}

impl Drop for TraceFile {
    fn drop(&mut self) {
        if self.ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

enum BuildEnd {
    Exited(i32),
    /// A signal ended the watch during the build.
    Signalled(i32),
}

/// Run one build, passing on a fatal signal that reaches this process.
fn run_build(build: &mut Command) -> BuildEnd {
    let mut child = match build.spawn() {
        Ok(c) => c,
        Err(e) => {
            say(&format!("*** cannot start the build: {}", e));
            return BuildEnd::Exited(2);
        }
    };
    let mut forwarded = None;
    loop {
        if forwarded.is_none() {
            if let Some(sig) = signals::pending() {
                // The build handles it as make does (kills its recipes,
                // deletes their half-made targets); then it is waited for.
                // SAFETY: kill(2) on our own child's pid.
                unsafe {
                    libc::kill(child.id() as i32, sig);
                }
                forwarded = Some(sig);
            }
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                use std::os::unix::process::ExitStatusExt;
                if let Some(sig) = forwarded.or(signals::pending()) {
                    return BuildEnd::Signalled(sig);
                }
                return BuildEnd::Exited(
                    status
                        .code()
                        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
                );
            }
            Ok(None) => std::thread::sleep(TICK),
            Err(_) => return BuildEnd::Exited(2),
        }
    }
}

/// A file's identity for change detection; `None` when it does not exist.
pub type Stamp = Option<(i64, i64, u64, u64)>;

pub fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.mtime(), m.mtime_nsec(), m.size(), m.ino()))
}

/// The files one build depends on, as absolute paths.
#[derive(Debug, Default)]
pub struct WatchSet {
    pub files: BTreeSet<PathBuf>,
}

impl WatchSet {
    /// Read the makefiles (output silenced) and collect the makefiles and the
    /// goals' sources. When they cannot be read, watch what was watched before
    /// plus the makefile names, so fixing the error starts a build.
    pub fn load(
        opts: &Options,
        inv: &Invocation,
        work_dir: &Path,
        previous: &WatchSet,
    ) -> WatchSet {
        let names = silenced(|| watched_names(opts, inv));
        let mut files: BTreeSet<PathBuf> = BTreeSet::new();
        match names {
            Some(names) => files.extend(names.iter().map(|n| work_dir.join(n))),
            None => {
                files.extend(previous.files.iter().cloned());
                let makefiles: Vec<&str> = if opts.makefiles.is_empty() {
                    DEFAULT_MAKEFILES.to_vec()
                } else {
                    opts.makefiles.iter().map(String::as_str).collect()
                };
                files.extend(makefiles.iter().map(|n| work_dir.join(n)));
            }
        }
        WatchSet {
            files: files.into_iter().map(|f| normal(&f)).collect(),
        }
    }

    pub fn stamps(&self) -> BTreeMap<PathBuf, Stamp> {
        self.files.iter().map(|f| (f.clone(), stamp(f))).collect()
    }

    /// The files whose stamp differs from `before`.
    pub fn changed_since(&self, before: &BTreeMap<PathBuf, Stamp>) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|f| before.get(*f).copied().flatten() != stamp(f))
            .cloned()
            .collect()
    }

    /// The existing directories holding the files.
    fn dirs(&self) -> BTreeSet<PathBuf> {
        self.files
            .iter()
            .filter_map(|f| f.parent())
            .filter(|d| d.is_dir())
            .map(Path::to_path_buf)
            .collect()
    }
}

/// The makefiles and sources of the goals, as named in the makefiles, or
/// `None` if the makefiles cannot be read.
fn watched_names(opts: &Options, inv: &Invocation) -> Option<Vec<String>> {
    let mut db = driver::load_database(opts, inv).ok()?;
    let made_by_rule = |db: &crate::lang::Database, name: &str| {
        db.targets
            .get(name)
            .is_some_and(|t| t.recipe.is_some() || !t.double_colon.is_empty())
    };
    let mut names: Vec<String> = db
        .makefiles
        .iter()
        .filter(|m| !made_by_rule(&db, m))
        .cloned()
        .collect();
    if let Ok(graph) = graph_export::collect(&mut db, &opts.goals) {
        names.extend(
            graph
                .nodes
                .iter()
                .filter(|n| n.is_source())
                .map(|n| n.path.clone()),
        );
    }
    Some(names)
}

/// `path` made absolute with its directory resolved (inotify reports events
/// under the watched directory's real path), the file name kept.
fn normal(path: &Path) -> PathBuf {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => match dir.canonicalize() {
            Ok(d) => d.join(name),
            Err(_) => path.to_path_buf(),
        },
        _ => path.to_path_buf(),
    }
}

/// Run `f` with stdout and stderr pointing at /dev/null (reading makefiles
/// prints what `$(info)` and warnings say; the build itself prints that).
fn silenced<R>(f: impl FnOnce() -> R) -> R {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: plain descriptor calls; the saved descriptors are restored
    // and closed below whatever `f` returns.
    let saved = unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if null < 0 {
            return f();
        }
        let saved = [libc::dup(1), libc::dup(2)];
        libc::dup2(null, 1);
        libc::dup2(null, 2);
        libc::close(null);
        saved
    };
    let r = f();
    let _ = std::io::stdout().flush();
    // SAFETY: restoring the descriptors saved above.
    unsafe {
        for (fd, s) in [1, 2].into_iter().zip(saved) {
            if s >= 0 {
                libc::dup2(s, fd);
                libc::close(s);
            }
        }
    }
    r
}

enum Waited {
    Changed(Vec<PathBuf>),
    Signalled(i32),
}

/// Wait until a watched file differs from `before`, or a signal comes.
fn wait_for_change(set: &WatchSet, before: &BTreeMap<PathBuf, Stamp>) -> Waited {
    use notify::Watcher;
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let mut watcher = match notify::recommended_watcher(move |e| {
        let _ = tx.send(e);
    }) {
        Ok(w) => Some(w),
        Err(e) => {
            say(&format!(
                "cannot watch files ({}); checking every second",
                e
            ));
            None
        }
    };
    if let Some(w) = &mut watcher {
        for d in set.dirs() {
            let _ = w.watch(&d, notify::RecursiveMode::NonRecursive);
        }
    }
    // Anything that changed while the build ran (or before the watch began).
    let mut pending = true;
    loop {
        if let Some(sig) = signals::pending() {
            return Waited::Signalled(sig);
        }
        if pending {
            let changed = set.changed_since(before);
            if !changed.is_empty() {
                return Waited::Changed(changed);
            }
            pending = false;
        }
        let wait = if watcher.is_some() {
            TICK
        } else {
            Duration::from_secs(1)
        };
        match rx.recv_timeout(wait) {
            Ok(Ok(event)) if relevant(&event, set) => {
                if let Some(sig) = settle(&rx) {
                    return Waited::Signalled(sig);
                }
                pending = true;
            }
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => pending |= watcher.is_none(),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                watcher = None;
                pending = true;
            }
        }
    }
}

/// Does `event` concern a watched file in a way that can change it?
fn relevant(event: &notify::Event, set: &WatchSet) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    let kind_counts = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    kind_counts && event.paths.iter().any(|p| set.files.contains(p))
}

/// Let a burst of events pass: return once none came for `QUIET` (or after
/// `MAX_DEBOUNCE`), or early with a signal.
fn settle(rx: &mpsc::Receiver<notify::Result<notify::Event>>) -> Option<i32> {
    let start = Instant::now();
    let mut last = Instant::now();
    while last.elapsed() < QUIET && start.elapsed() < MAX_DEBOUNCE {
        if let Some(sig) = signals::pending() {
            return Some(sig);
        }
        match rx.recv_timeout(TICK) {
            Ok(_) => last = Instant::now(),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn watch_flag_is_dropped_before_double_dash_only() {
        assert_eq!(
            without_watch(&strings(&["-j2", "--watch", "all", "--", "--watch"])),
            strings(&["-j2", "all", "--", "--watch"])
        );
    }

    #[test]
    fn summary_names_change_steps_time_and_result() {
        let wd = Path::new("/p");
        let one = [PathBuf::from("/p/src/a.c")];
        assert_eq!(
            summary(&one, wd, Some((2, 0)), Duration::from_millis(410), 0),
            "rebuilt after change to src/a.c: 2 steps, 0.41 s, ok"
        );
        let two = [PathBuf::from("/p/a.c"), PathBuf::from("/q/b.c")];
        assert_eq!(
            summary(&two, wd, Some((1, 1)), Duration::from_millis(5), 2),
            "rebuilt after change to a.c and 1 more: 1 step, 1 failed, 0.01 s, failed (exit 2)"
        );
        assert_eq!(
            summary(&[], wd, None, Duration::ZERO, 0),
            "built: 0.00 s, ok"
        );
    }

    #[test]
    fn stamps_see_edits_and_creation() {
        let dir = tempfile::tempdir().unwrap();
        let a = normal(&dir.path().join("a.c"));
        let b = normal(&dir.path().join("b.c"));
        std::fs::write(&a, "1").unwrap();
        let set = WatchSet {
            files: [a.clone(), b.clone()].into_iter().collect(),
        };
        let before = set.stamps();
        assert!(set.changed_since(&before).is_empty());
        std::fs::write(&a, "22").unwrap();
        std::fs::write(&b, "new").unwrap();
        assert_eq!(set.changed_since(&before), vec![a, b]);
        assert_eq!(set.dirs().len(), 1);
    }

    #[test]
    fn only_watched_paths_and_writes_count() {
        use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
        let set = WatchSet {
            files: [PathBuf::from("/p/a.c")].into_iter().collect(),
        };
        let ev = |kind, p: &str| notify::Event::new(kind).add_path(PathBuf::from(p));
        assert!(relevant(
            &ev(EventKind::Modify(ModifyKind::Any), "/p/a.c"),
            &set
        ));
        assert!(!relevant(
            &ev(EventKind::Modify(ModifyKind::Any), "/p/a.o"),
            &set
        ));
        assert!(!relevant(
            &ev(
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                "/p/a.c"
            ),
            &set
        ));
        assert!(relevant(
            &ev(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/p/a.c"
            ),
            &set
        ));
    }
}
