//! `hbuild --check-repro`: build the goals twice from scratch in fresh copies
//! of the project with the environment varied (path, environment, HOME, TZ,
//! locale, umask, job count, directory order, clock), compare every output,
//! and name the variation behind each difference. The user's tree is only
//! read. See docs/reproducibility.md.

mod attribute;
mod build;
mod compare;
mod copy;
mod report;
mod sources;
mod variation;

use crate::cli::Options;
use crate::diag::{self, prog, Fatal};
use crate::driver::Invocation;
use attribute::{after_clock_gap, attribute, Control};
use build::{log_tail, Build, Runner};
use compare::{differing, first_difference, snapshot, Output};
use report::{Outcome, TargetDiff};
use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use variation::{Values, Variation, VarySet};

/// Set to 1 to keep the build copies for inspection.
const KEEP_VAR: &str = "HBUILD_KEEP_REPRO";

/// Run the check; returns the exit status (0 reproducible, 1 some target
/// differs, 2 a build failed or the check could not run).
pub fn run(opts: &Options, inv: &Invocation) -> i32 {
    let varied = match opts.repro_vary.as_deref() {
        Some(list) => match variation::parse_list(list) {
            Ok(set) => set,
            Err(msg) => return fail(&msg),
        },
        None => Variation::ALL.into_iter().collect(),
    };
    let project = match std::env::current_dir() {
        Ok(d) => d,
        Err(e) => return fail(&format!("cannot find the current directory: {}", e)),
    };
    let report_path = opts.report.as_ref().map(|r| project.join(r));
    let root = match TempRoot::create() {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot create a directory for the builds: {}", e)),
    };
    let runner = match prepare(opts, inv, &project, &root.path) {
        Ok(r) => r,
        Err(status) => return status,
    };
    let outcome = check(&runner, &varied, &root.path);
    if let Some(path) = report_path {
        if let Err(e) = std::fs::write(&path, report::json(&outcome)) {
            eprintln!(
                "{}: cannot write the report {}: {}",
                prog(),
                path.display(),
                e
            );
        }
    }
    outcome.status
}

fn fail(msg: &str) -> i32 {
    eprintln!("{}", diag::fatal_text(&Fatal::new(msg)));
    2
}

/// The directory hbuild owns for the copies: on tmpfs when possible, where
/// the order of creation is the order of listing. Removed when dropped unless
/// `HBUILD_KEEP_REPRO=1`.
struct TempRoot {
    path: PathBuf,
}

impl TempRoot {
    fn create() -> std::io::Result<TempRoot> {
        use std::os::unix::fs::DirBuilderExt;
        let tmp = std::env::temp_dir();
        let base = [tmp.clone(), PathBuf::from("/dev/shm")]
            .into_iter()
            .find(|d| is_tmpfs(d) && writable(d))
            .unwrap_or(tmp);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = base.join(format!("hbuild-repro-{}-{:09}", std::process::id(), nanos));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(TempRoot { path })
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        if std::env::var(KEEP_VAR).is_ok_and(|v| v == "1") {
            println!("{}: the builds are kept in {}", prog(), self.path.display());
        } else {
            copy::remove_tree(&self.path);
        }
    }
}

fn is_tmpfs(dir: &Path) -> bool {
    use nix::sys::statfs::{statfs, TMPFS_MAGIC};
    statfs(dir).is_ok_and(|s| s.filesystem_type() == TMPFS_MAGIC)
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    )
    .is_ok()
}

/// Read the makefiles (in a scratch copy, so `$(shell)` while reading cannot
/// write to the user's tree), find the sources, and set up the builds.
fn prepare(opts: &Options, inv: &Invocation, project: &Path, root: &Path) -> Result<Runner, i32> {
    let tree = sources::read_tree(project)
        .map_err(|e| fail(&format!("cannot read {}: {}", project.display(), e)))?;
    let name: OsString = project
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "project".into());
    let scratch = root.join("read").join(&name);
    std::fs::create_dir_all(root.join("read"))
        .and_then(|_| copy::copy_tree(&tree, project, &scratch, false))
        .map_err(|e| fail(&format!("cannot copy the project: {}", e)))?;
    let loaded = std::env::set_current_dir(&scratch)
        .map_err(|e| Fatal::new(format!("{}: {}", scratch.display(), e)))
        .and_then(|_| crate::driver::load_database(opts, inv));
    let _ = std::env::set_current_dir(project);
    copy::remove_tree(&root.join("read"));
    let db = loaded.map_err(|e| {
        eprintln!("{}", diag::fatal_text(&e));
        2
    })?;
    if let Some(makefile) = naming_the_project(&db, project) {
        return Err(fail(&format!(
            "{} names this directory by its absolute path ({}), as generated makefiles (CMake's) do: a build in a copy would read and write here, so --check-repro cannot compare two; generate the makefiles in two directories and compare those builds",
            makefile,
            project.display()
        )));
    }
    let protected = protected_makefiles(opts, project);
    let sources = sources::without_generated(project, tree, &db, &scratch, &protected);
    let source_date_epoch = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or_else(|| sources.newest_mtime.to_string());
    let user_jobs = if opts.jobs_given { opts.jobs } else { Some(1) };
    let values = Values::new(user_jobs, variation::second_locale());
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(&inv.argv0));
    let args = child_args(opts, project);
    Ok(Runner::new(
        exe,
        args,
        root.to_path_buf(),
        name,
        sources,
        values,
        source_date_epoch,
    ))
}

/// The first makefile the build reads that names `project` by its absolute
/// path: the copies' builds would reach back into it.
fn naming_the_project(db: &crate::lang::Database, project: &Path) -> Option<String> {
    let needle = project.to_str()?;
    db.makefiles.iter().find_map(|m| {
        let path = project.join(m);
        let text = std::fs::read(&path).ok()?;
        let found = memchr::memmem::find(&text, needle.as_bytes()).is_some_and(|i| {
            // The directory itself or a path beneath it, not a longer name.
            matches!(
                text.get(i + needle.len()),
                None | Some(b'/' | b' ' | b'\n' | b'\t' | b'"' | b'\'')
            )
        });
        found.then(|| m.clone())
    })
}

/// The makefiles the user named (or the default one found): always copied,
/// even if a rule can remake them.
fn protected_makefiles(opts: &Options, project: &Path) -> HashSet<PathBuf> {
    let named: Vec<String> = if opts.makefiles.is_empty() {
        ["GNUmakefile", "makefile", "Makefile"]
            .into_iter()
            .find(|m| project.join(m).exists())
            .map(|m| vec![m.to_string()])
            .unwrap_or_default()
    } else {
        opts.makefiles.clone()
    };
    named
        .iter()
        .filter_map(|m| sources::relative(m, project))
        .map(PathBuf::from)
        .collect()
}

/// A path argument as the copy must see it: relative paths inside the
/// project stay relative, others become absolute.
fn path_arg(p: &str, project: &Path) -> String {
    let path = Path::new(p);
    if path.is_absolute() || p == "-" || sources::relative(p, project).is_some() {
        p.to_string()
    } else {
        project.join(path).to_string_lossy().into_owned()
    }
}

/// The options every build gets: the makefile options of this command line
/// (`-C` is already applied), never the check itself, `--report` or `-j`.
fn child_args(opts: &Options, project: &Path) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(mode) = &opts.sandbox {
        args.push(format!("--sandbox={}", mode));
    }
    for f in &opts.makefiles {
        args.push("-f".into());
        args.push(path_arg(f, project));
    }
    for d in &opts.include_dirs {
        args.push("-I".into());
        args.push(path_arg(d, project));
    }
    let flags = [
        (opts.no_builtin_vars, "-R"),
        (opts.no_builtin_rules && !opts.no_builtin_vars, "-r"),
        (opts.env_overrides, "-e"),
        (opts.keep_going, "-k"),
        (opts.silent, "-s"),
        (opts.ignore_errors, "-i"),
        (opts.check_symlink_times, "-L"),
    ];
    args.extend(
        flags
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, f)| f.to_string()),
    );
    if let Some(sync) = &opts.output_sync {
        args.push(format!("-O{}", sync));
    }
    for f in &opts.old_files {
        args.push(format!("--old-file={}", f));
    }
    for f in &opts.new_files {
        args.push(format!("--new-file={}", f));
    }
    for e in &opts.eval {
        args.push(format!("--eval={}", e));
    }
    args.extend(opts.variables.iter().cloned());
    if !opts.goals.is_empty() {
        // After `--`, a goal that looks like an option stays a goal.
        args.push("--".into());
        args.extend(opts.goals.iter().cloned());
    }
    args
}

fn check(runner: &Runner, varied: &VarySet, root: &Path) -> Outcome {
    let mut outcome = Outcome {
        status: 2,
        varied: varied.clone(),
        source_date_epoch: runner.source_date_epoch.clone(),
        locales: runner.values.locale.clone(),
        compared: 0,
        diffs: Vec::new(),
        error: None,
    };
    announce(runner, varied, root);
    let control = VarySet::new();
    let a = runner.run(&control, "first", None);
    if let Some(err) = failed(&a, "first") {
        outcome.error = Some(err);
        return outcome;
    }
    let not_before = varied
        .contains(&Variation::Time)
        .then(|| after_clock_gap(a.ended));
    let b = runner.run(varied, "second", not_before);
    if let Some(err) = failed(&b, "second") {
        outcome.error = Some(err);
        return outcome;
    }
    let (snap_a, snap_b) = (
        snapshot(&a.dir, &runner.sources.files),
        snapshot(&b.dir, &runner.sources.files),
    );
    let compared: HashSet<&PathBuf> = snap_a.keys().chain(snap_b.keys()).collect();
    outcome.compared = compared.len();
    let delta = differing(&snap_a, &snap_b);
    for path in &delta {
        let (first, second) = (snap_a.get(path).cloned(), snap_b.get(path).cloned());
        let bytes = match (&first, &second) {
            (Some(Output::File { .. }), Some(Output::File { .. })) => {
                first_difference(&a.dir.join(path), &b.dir.join(path))
            }
            _ => None,
        };
        let diff = TargetDiff {
            path: path.clone(),
            first,
            second,
            bytes,
            attribution: None,
        };
        for line in report::difference_lines(&diff) {
            println!("{}", line);
        }
        outcome.diffs.push(diff);
    }
    if !delta.is_empty() {
        println!(
            "{}: looking for the cause: rebuilding with one variation at a time",
            prog()
        );
        let control = Control {
            build: &a,
            snapshot: &snap_a,
        };
        let mut causes = attribute(runner, varied, &control, &delta);
        for diff in &mut outcome.diffs {
            diff.attribution = causes.remove(&diff.path);
            for line in report::cause_lines(diff) {
                println!("{}", line);
            }
        }
    }
    println!("{}", report::summary(&outcome));
    outcome.status = if delta.is_empty() { 0 } else { 1 };
    outcome
}

fn announce(runner: &Runner, varied: &VarySet, root: &Path) {
    let names: Vec<&str> = varied.iter().map(|v| v.name()).collect();
    println!(
        "{}: checking reproducibility: building twice in {} (varying: {}; SOURCE_DATE_EPOCH={})",
        prog(),
        root.display(),
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        },
        runner.source_date_epoch
    );
    if varied.contains(&Variation::Locale) && runner.values.locale[1] == "POSIX" {
        println!(
            "{}: no second UTF-8 locale is installed: the locale varies between C.UTF-8 and POSIX",
            prog()
        );
    }
    if varied.contains(&Variation::DirOrder) && !is_tmpfs(root) {
        println!(
            "{}: {} is not on tmpfs: the directory listing order may not vary",
            prog(),
            root.display()
        );
    }
}

/// The message for a failed build, printed with the end of its output.
fn failed(b: &Build, which: &str) -> Option<String> {
    if b.status == 0 {
        return None;
    }
    let msg = format!("the {} build failed (exit status {})", which, b.status);
    eprintln!("{}: {}; its last lines of output:", prog(), msg);
    for line in log_tail(&b.log, 20) {
        eprintln!("  {}", line);
    }
    Some(msg)
}
