//! The per-step sandbox and observation, as the engine uses them: set up when
//! a step starts, installed into every process of the step, and judged when
//! the step ends. The engine knows nothing of Landlock or seccomp; this module
//! knows nothing of scheduling.

use super::schedule::Step;
use crate::cli::Options;
use crate::diag::{Fatal, Loc};
use crate::lang::vars::Scope;
use crate::lang::Database;
use crate::observe::{Observer, Protected, QuietPaths, StepObservation, WatchDir};
use crate::report::audit::{self, StepFacts, TargetAudit};
use crate::report::build_report;
use crate::report::violations::{self, Violation};
use crate::sandbox::{self, BuildTmp, KernelSupport, Mode, Policy, Prepared, StepDecl, StepTmp};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

/// The environment variable that carries the sandbox mode to sub-makes.
pub const MODE_ENV: &str = "HBUILD_SANDBOX";

/// How long a step's stray background processes get to finish before their
/// accesses stop being recorded.
const GRACE: Duration = Duration::from_millis(50);

/// The sandbox mode asked for: `--sandbox`, else the parent hbuild's, else enforce.
pub fn mode_of(opts: &Options) -> Mode {
    opts.sandbox
        .clone()
        .or_else(|| std::env::var(MODE_ENV).ok())
        .as_deref()
        .and_then(Mode::parse)
        .unwrap_or(Mode::Enforce)
}

/// Sandboxing and observation for one build.
pub struct Guard {
    pub mode: Mode,
    kernel: KernelSupport,
    tmp: Option<BuildTmp>,
    observer: Option<Observer>,
    root: PathBuf,
    /// hbuild's own executable, which recursive steps run as `$(MAKE)`.
    exe: Option<PathBuf>,
    /// `--sandbox=audit`: one entry per step that ran.
    pub audits: Vec<TargetAudit>,
    /// Steps that ran a sub-make: not audited here (the sub-make audits its
    /// own steps), but counted in the summary.
    pub recursive_steps: usize,
    /// Files steps of this build created without declaring them, and the
    /// step (its first target) that did: another step reading one depends
    /// on that step, not on a source file.
    made_by: HashMap<PathBuf, String>,
    /// hbuild's own files, which an hbuild run inside a step (by a script,
    /// not as `$(MAKE)`) reads and writes: the audit's and the report's
    /// sinks, and the `--fix-deps` fragment (its name, relative to each
    /// make's directory).
    own_files: OwnFiles,
}

/// What `end_step` found about a step.
#[derive(Default)]
pub struct StepEnd {
    /// What fails the step (enforce mode; empty in audit mode).
    pub violations: Vec<Violation>,
    /// For `--report` (when it is on): the undeclared accesses to list, and
    /// in audit mode everything the step was seen doing.
    pub report: (Vec<serde_json::Value>, Option<serde_json::Value>),
    /// Said but not failing the step (a refused listing of the working
    /// directory).
    pub warnings: Vec<Violation>,
}

/// What one running step holds: its policy, its sandbox, its TMPDIR and its
/// observation.
pub struct StepGuard {
    policy: Policy,
    prepared: Arc<Prepared>,
    tmp: Option<StepTmp>,
    observation: Option<Arc<StepObservation>>,
    /// A step that runs `$(MAKE)`: the sub-make sandboxes its own steps.
    recursive: bool,
    /// Directories hbuild created for the targets.
    _made_dirs: TargetDirs,
}

/// Directories hbuild created for a step's targets, deepest last. Those the
/// step left empty are removed again when the step is over, so the tree is
/// as make would leave it.
#[derive(Default)]
pub struct TargetDirs(Vec<PathBuf>);

impl Drop for TargetDirs {
    fn drop(&mut self) {
        for d in self.0.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Create the directories of the file targets of a step about to start,
/// when the sandbox is on (audit runs the build enforce runs): before its
/// recipe is expanded, so a `$(shell mkdir -p $(@D))` in it (which runs
/// under the read-only sandbox of `$(shell)`) finds them made, as the step
/// itself does. Its `$(wildcard)` does not see them meanwhile
/// (`Database::unmade_dirs`): make would not have made them.
pub fn make_target_dirs(db: &Database, sandboxed: bool, targets: &[String]) -> TargetDirs {
    if !sandboxed {
        return TargetDirs::default();
    }
    TargetDirs(create_target_dirs(&file_targets(db, targets)))
}

impl TargetDirs {
    /// The directories made, outermost first.
    pub fn made(&self) -> &[PathBuf] {
        &self.0
    }
}

impl std::fmt::Debug for StepGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepGuard")
            .field("enforced", &self.prepared.enforced())
            .field("observed", &self.observation.is_some())
            .field("recursive", &self.recursive)
            .finish()
    }
}

impl StepGuard {
    /// The step's TMPDIR, for the caller to release once nothing of the
    /// step can write to it any more.
    pub fn take_tmp(&mut self) -> Option<StepTmp> {
        self.tmp.take()
    }

    /// The step's sandbox as `--report` describes it.
    pub fn report_summary(&self) -> serde_json::Value {
        build_report::policy_summary(
            &self.policy,
            self.prepared.enforced(),
            self.observation.is_some(),
        )
    }

    /// Put the step's sandbox and observer on a command about to start.
    pub fn install(&self, cmd: &mut Command) {
        // Nothing to do in the child (sandbox off, no limits): no hook, so the
        // command can still be started with vfork instead of fork.
        let needed = self.prepared.enforced()
            || !self.policy.rlimits.is_empty()
            || self.policy.tmpdir.is_some();
        if needed {
            sandbox::install(cmd, self.prepared.clone());
        }
        if let Some(o) = &self.observation {
            o.install(cmd);
        }
    }
}

impl Guard {
    /// Set up for a build: check the kernel, warn once about what is not
    /// enforced, and start the observer.
    pub fn new(opts: &Options) -> Result<Guard, Fatal> {
        let mode = mode_of(opts);
        let kernel = KernelSupport::detect();
        if mode == Mode::Require {
            sandbox::require_check(&kernel)?;
        }
        if matches!(mode, Mode::Enforce | Mode::Require) {
            for w in sandbox::warnings(&kernel, mode) {
                crate::engine::output::enter_directory();
                eprintln!("{}: warning: {}", crate::diag::prog(), w);
            }
        }
        let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let mut g = Guard {
            mode,
            kernel,
            tmp: None,
            observer: None,
            root,
            exe: std::env::current_exe().ok(),
            audits: Vec::new(),
            recursive_steps: 0,
            made_by: HashMap::new(),
            own_files: own_files(opts),
        };
        if mode != Mode::Off {
            let _ = sandbox::become_subreaper();
            g.tmp = BuildTmp::new().ok();
            match Observer::new(&g.root) {
                Ok(o) => g.observer = Some(o),
                Err(e) => crate::diag::warn(
                    None,
                    &format!(
                        "warning: steps are not observed (undeclared accesses that tools ignore go unreported): {}",
                        e
                    ),
                ),
            }
        }
        Ok(g)
    }

    /// A guard for a build that ran no step.
    pub fn idle(mode: Mode) -> Guard {
        Guard {
            mode,
            kernel: KernelSupport::default(),
            tmp: None,
            observer: None,
            root: PathBuf::from("."),
            exe: None,
            audits: Vec::new(),
            recursive_steps: 0,
            made_by: HashMap::new(),
            own_files: OwnFiles::default(),
        }
    }

    pub fn enforcing(&self) -> bool {
        self.mode.enforces()
    }

    /// The policy a step gets, from what it declares and what the makefile
    /// says in its scope (`.UNVEIL`, `.STRICT`, ...). `free`: a phony clean
    /// or install target, unsandboxed unless the makefile says otherwise.
    pub fn policy_for(
        db: &mut Database,
        scope: &Scope,
        targets: &[String],
        inputs: StepInputs,
        shell: &str,
        limits_only: bool,
        free: bool,
    ) -> Result<Policy, Fatal> {
        let settings = sandbox::settings_for(db, scope)?;
        let mut policy = Policy::for_step(&StepDecl {
            targets: targets
                .iter()
                .map(|p| PathBuf::from(member_file(p)))
                .collect(),
            prereqs: inputs
                .prereqs
                .iter()
                .map(|p| PathBuf::from(member_file(p)))
                .collect(),
            order_only: inputs
                .order_only
                .iter()
                .map(|p| PathBuf::from(member_file(p)))
                .collect(),
            unveil: settings.unveil,
            strict: settings.strict,
            internet: settings.internet,
            unsandboxed: settings.unsandboxed || (free && !settings.unsandboxed_set),
            free_by_default: free && !settings.unsandboxed_set,
            rlimits: settings.rlimits,
            shell: shell_path(shell),
            limits_only,
        })?;
        if !policy.unsandboxed && !limits_only {
            policy.allow_makefiles_env();
        }
        Ok(policy)
    }

    /// Set up the sandbox of a step about to start. `made_dirs`: its target
    /// directories if [`make_target_dirs`] made them already.
    pub fn begin_step(
        &self,
        db: &mut Database,
        scope: &Scope,
        step: &Step,
        shell: &str,
        made_dirs: Option<TargetDirs>,
    ) -> Result<StepGuard, Fatal> {
        let recursive = step.lines.iter().any(|l| l.always);
        // A phony prerequisite names no file to read; what the step reaches
        // through such aggregates (`static: a b`) it may read.
        let inputs: Vec<&String> = step
            .prereqs
            .iter()
            .filter(|p| !db.specials.phony.contains(*p))
            .chain(&step.through)
            .collect();
        let order_only: Vec<&String> = step
            .order_only
            .iter()
            .filter(|p| !db.specials.phony.contains(*p))
            .collect();
        let free = free_by_default(db, &step.targets);
        let targets = &file_targets(db, &step.targets);
        // With the sandbox off, only the limits matter, unless `--report`
        // describes the policy.
        let limits_only = self.mode == Mode::Off && build_report::active().is_none();
        let mut policy = Self::policy_for(
            db,
            scope,
            targets,
            StepInputs {
                prereqs: &inputs,
                order_only: &order_only,
            },
            shell,
            limits_only,
            free,
        )?;
        if recursive {
            // The sub-make reads its own makefiles and sandboxes its own steps:
            // this step gets the project, as the sub-make's steps will need it,
            // and hbuild itself (`$(MAKE)`).
            let mut roots = crate::driver::project_roots();
            for dir in sub_make_directories(step) {
                if !roots.iter().any(|r| dir.starts_with(r)) {
                    roots.push(dir);
                }
            }
            policy = Policy::for_recursive_step(&roots, &policy, self.exe.as_deref());
            if let Some(sink) = build_report::sink() {
                policy.allow_collecting(sink, "the sub-make leaves its steps there for --report");
            }
        }
        let made_dirs = match made_dirs {
            Some(made) => made,
            None if self.mode != Mode::Off => TargetDirs(create_target_dirs(targets)),
            None => TargetDirs::default(),
        };
        let tmp = self.tmp.as_ref().and_then(|t| t.step().ok());
        if let Some(t) = &tmp {
            policy.set_tmpdir(t.path());
        }
        let mode = if self.enforcing() {
            self.mode
        } else {
            Mode::Off
        };
        let prepared = Arc::new(sandbox::prepare(&policy, &self.kernel, mode)?);
        // `.UNSANDBOXED` steps (`clean`, `install`) run free: not observed
        // or judged either.
        let observation = match (&self.observer, recursive || policy.unsandboxed) {
            (Some(o), false) => {
                let dirs: Vec<WatchDir> = target_dirs(targets).iter().map(WatchDir::flat).collect();
                // The audit report drops system-preset paths too; only the
                // JSON report's list of every access needs them recorded.
                let quiet = if self.enforcing() || build_report::active().is_none() {
                    quiet_paths(&policy)
                } else {
                    QuietPaths::default()
                };
                let protected = if self.enforcing() {
                    protected_paths(&policy, &self.root)
                } else {
                    Protected::default()
                };
                o.prepare_step_with(&dirs, quiet, protected)
                    .ok()
                    .map(Arc::new)
            }
            _ => None,
        };
        Ok(StepGuard {
            policy,
            prepared,
            tmp,
            observation,
            recursive,
            _made_dirs: made_dirs,
        })
    }

    /// A step is over: what it did that it did not declare. In enforce mode the
    /// caller fails the step; in audit mode the findings are kept for the report.
    /// `alone`: no other step ran meanwhile; `producer`: the rule that makes
    /// a file; `ordered`: whether a rule runs before this step anyway.
    pub fn end_step(
        &mut self,
        sg: StepGuard,
        step: &Step,
        target: &str,
        (alone, phony): (bool, bool),
        producer: &dyn Fn(&Path) -> Option<String>,
        ordered: &dyn Fn(&str) -> bool,
    ) -> StepEnd {
        let mut sg = sg;
        if sg.recursive {
            self.recursive_steps += 1;
        }
        let Some(obs) = sg.observation.take() else {
            return StepEnd::default();
        };
        let Ok(obs) = Arc::try_unwrap(obs) else {
            return StepEnd::default();
        };
        if sg.recursive {
            return StepEnd::default();
        }
        let mut acc = obs.finish(GRACE);
        if let Some(t) = sg.policy.tmpdir.clone() {
            let rel = crate::observe::relative_to(&t, &self.root);
            acc.retain(|p| !p.starts_with(&t) && !p.starts_with(&rel));
        }
        let own = &self.own_files;
        if !own.sinks.is_empty() || own.fragment.is_some() {
            acc.retain(|p| {
                !own.sinks.iter().any(|s| p.starts_with(s))
                    && !own.fragment.as_ref().is_some_and(|f| p.ends_with(f))
            });
        }
        // Steps of the hbuild above may have run meanwhile, unknown here.
        let alone = alone && !acc.observed_above;
        let found =
            violations::check_step(&sg.policy, &acc, &self.root, sg.prepared.enforced(), alone);
        let reporting = build_report::active().is_some();
        let listed = |v: &[Violation]| -> Vec<serde_json::Value> {
            if reporting {
                v.iter().map(build_report::violation_json).collect()
            } else {
                Vec::new()
            }
        };
        // A recipe that expanded to nothing ran nothing: nothing to judge.
        let ran_nothing = step.lines.iter().all(|l| l.text.trim().is_empty());
        if self.mode == Mode::Audit && ran_nothing {
            return StepEnd::default();
        }
        if self.mode == Mode::Audit {
            let report = (
                listed(&found),
                reporting.then(|| build_report::accesses_json(&acc)),
            );
            let paths = |v: &[String]| -> Vec<PathBuf> {
                v.iter().map(|p| PathBuf::from(member_file(p))).collect()
            };
            let mut prereqs = paths(&step.prereqs);
            prereqs.retain(|p| p.symlink_metadata().is_ok());
            let order_only = paths(&step.order_only);
            let first_line = step
                .recipe
                .lines
                .first()
                .map(|l| &l.loc)
                .unwrap_or(&step.loc);
            let recipe: Vec<&str> = step.recipe.lines.iter().map(|l| l.text.as_str()).collect();
            // `ln git git-add` uses git without reading it.
            let linked: std::collections::BTreeSet<PathBuf> =
                acc.links.iter().map(|(from, _)| from.clone()).collect();
            let facts = StepFacts {
                target,
                loc: Some(first_line),
                prereqs: &prereqs,
                order_only: &order_only,
                reads: &acc.reads,
                root: &self.root,
                used: &[&acc.execs, &acc.lists, &linked],
                recipe: &recipe,
                phony,
            };
            let made_by = &self.made_by;
            let producer = |p: &Path| {
                let rule = producer(p).or_else(|| made_by.get(p).cloned())?;
                let before = ordered(&rule);
                Some((rule, before))
            };
            let audit = audit::audit_step(&facts, &found, &producer);
            for (p, kind) in &audit.outputs {
                if matches!(kind, violations::Kind::Create | violations::Kind::Link) {
                    self.made_by.insert(p.clone(), target.to_string());
                }
            }
            self.audits.push(audit);
            return StepEnd {
                violations: Vec::new(),
                report,
                warnings: Vec::new(),
            };
        }
        // A refused listing made the step see an empty directory (a glob
        // stays unexpanded, `find` finds nothing): its output may differ
        // from a build without the sandbox, so it fails the step. Except
        // for the working directory: the shell lists it for any unquoted
        // `[...]` or `*` (`echo [CC] $@`), nearly always to no effect; that
        // is said, not failed.
        // The root is the directory hbuild works in, the steps' too.
        let cwd = crate::observe::normalize(&self.root);
        let in_cwd = |v: &Violation| crate::observe::normalize(&self.root.join(&v.path)) == cwd;
        let (warnings, failing): (Vec<Violation>, Vec<Violation>) = found
            .into_iter()
            .partition(|v| v.kind == violations::Kind::List && in_cwd(v));
        StepEnd {
            report: (listed(&failing), None),
            violations: failing,
            warnings,
        }
    }

    /// Where violations of a step are reported: its recipe's first line.
    pub fn report_loc(step: &Step) -> &Loc {
        step.recipe
            .lines
            .first()
            .map(|l| &l.loc)
            .unwrap_or(&step.loc)
    }
}

/// The archive of an archive member target (`lib.a(x.o)` is written as `lib.a`).
fn member_file(name: &str) -> &str {
    match crate::graph::archive::split_member(name) {
        Some((archive, _)) => archive,
        None => name,
    }
}

/// The shell as a path the sandbox can grant (searched in PATH if bare).
fn shell_path(shell: &str) -> PathBuf {
    let first = shell.split_whitespace().next().unwrap_or("/bin/sh");
    if first.contains('/') {
        return PathBuf::from(first);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(first))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

/// See `Guard::own_files`.
#[derive(Default)]
struct OwnFiles {
    /// Files or directories.
    sinks: Vec<PathBuf>,
    fragment: Option<PathBuf>,
}

/// What a step reads, as the policy tells them apart: normal prerequisites
/// (with what it reaches through aggregates) and order-only ones.
pub struct StepInputs<'a> {
    pub prereqs: &'a [&'a String],
    pub order_only: &'a [&'a String],
}

fn own_files(opts: &Options) -> OwnFiles {
    use crate::report::recursive_audit;
    let mut own = OwnFiles::default();
    own.sinks
        .extend(build_report::sink().map(Path::to_path_buf));
    if mode_of(opts) == Mode::Audit {
        own.sinks.extend(
            recursive_audit::role()
                .and_then(|r| r.sink())
                .map(Path::to_path_buf),
        );
        own.fragment = recursive_audit::fix_deps_file(opts.fix_deps.as_deref()).map(PathBuf::from);
    }
    own
}

/// The system-preset paths of `policy`: reads and execs under them are
/// accepted by the judge whatever they find (see `observe::QuietPaths`).
fn quiet_paths(policy: &Policy) -> QuietPaths {
    let mut quiet = QuietPaths::default();
    for e in &policy.entries {
        if !matches!(e.origin, crate::sandbox::Origin::Preset(_)) || !e.path.is_absolute() {
            continue;
        }
        if e.rights.contains(crate::sandbox::Rights::READ) {
            quiet.read.push(e.path.clone());
        }
        if e.rights.contains(crate::sandbox::Rights::EXEC) {
            quiet.exec.push(e.path.clone());
        }
    }
    // A prerequisite under a system path (`foo.o: /usr/include/zlib.h`).
    for e in &policy.entries {
        if e.origin == crate::sandbox::Origin::Prerequisite {
            let abs = std::path::absolute(&e.path).unwrap_or_else(|_| e.path.clone());
            let abs = crate::observe::normalize(&abs);
            if quiet
                .read
                .iter()
                .chain(&quiet.exec)
                .any(|q| abs.starts_with(q))
            {
                quiet.loud.push(abs);
            }
        }
    }
    quiet
}

/// The directories the sub-makes of `step` run in (`-C DIR`, `-CDIR`,
/// `--directory=DIR`, `cd DIR`, each relative to the one before), when they exist: a
/// sub-make may work outside the project (`$(MAKE) -C ../out`), and the step
/// that runs it needs that directory as it needs the project.
fn sub_make_directories(step: &Step) -> Vec<PathBuf> {
    let Ok(here) = std::env::current_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in step.lines.iter().filter(|l| l.always) {
        let words: Vec<String> = crate::lang::command_words::direct_argv(&line.text)
            .unwrap_or_else(|| line.text.split_whitespace().map(str::to_string).collect());
        let mut dir = here.clone();
        let mut moved = false;
        let mut it = words.iter();
        while let Some(w) = it.next() {
            let arg = match w.trim_start_matches('(') {
                // `cd ../deps && $(MAKE)`, `(cd sub; $(MAKE))`.
                "cd" => it
                    .next()
                    .map(|d| d.trim_end_matches([';', ')']))
                    .filter(|d| !d.is_empty() && !d.starts_with(['-', '&', '|'])),
                "-C" | "--directory" => it.next().map(String::as_str),
                _ => w
                    .strip_prefix("--directory=")
                    .or_else(|| w.strip_prefix("-C").filter(|d| !d.is_empty())),
            };
            if let Some(d) = arg {
                dir = crate::observe::normalize(&dir.join(d));
                moved = true;
            }
        }
        if moved && dir.is_dir() && !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

/// A step of clean or install targets that make no file runs free unless
/// the makefile sets `.UNSANDBOXED` for it (see
/// `sandbox::runs_free_by_default`).
fn free_by_default(db: &Database, targets: &[String]) -> bool {
    let names: Vec<&str> = targets.iter().map(String::as_str).collect();
    sandbox::runs_free_by_default(&names, |t| db.specials.phony.contains(t))
}

/// The targets a step may write: a `.PHONY` target names no file, so its
/// recipe gets no write rights for it (otherwise `clean` at the top of the
/// project would open the whole project directory for writing).
/// `.UNSANDBOXED` is the way to let such a recipe touch files.
fn file_targets(db: &Database, targets: &[String]) -> Vec<String> {
    targets
        .iter()
        .filter(|t| !db.specials.phony.contains(*t))
        .cloned()
        .collect()
}

/// The target directories, where Landlock lets a step change and read any
/// file, and what in them it may change or read: the observer refuses
/// changes to the other files there that existed before, and reads of
/// them (see `observe::Protected`).
fn protected_paths(policy: &Policy, root: &Path) -> Protected {
    let paths = |keep: fn(&crate::sandbox::Entry) -> bool| -> Vec<PathBuf> {
        policy
            .entries
            .iter()
            .filter(|e| keep(e))
            .map(|e| crate::observe::normalize(&root.join(&e.path)))
            .collect()
    };
    let dirs = paths(|e| e.origin.grants_only());
    let writable = paths(violations::declares_write);
    let readable = paths(violations::declares_read);
    Protected::within(dirs, writable, readable)
}

/// The directories a step's targets are written in (watched for changes).
fn target_dirs(targets: &[String]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for t in targets {
        let p = Path::new(member_file(t));
        let d = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if d.is_dir() && !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

/// hbuild creates the directories of targets before the step, so the sandbox
/// can give exactly those directories to it. Returns those it created,
/// outermost first.
fn create_target_dirs(targets: &[String]) -> Vec<PathBuf> {
    let mut made = Vec::new();
    for t in targets {
        let Some(d) = Path::new(member_file(t)).parent() else {
            continue;
        };
        let missing: Vec<&Path> = d
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
            .collect();
        for dir in missing.into_iter().rev() {
            if std::fs::create_dir(dir).is_ok() {
                made.push(dir.to_path_buf());
            }
        }
    }
    made
}

/// `--explain-sandbox TARGET`: print the policy the recipe of each target
/// would run under, without running anything. Returns the exit status.
pub fn explain(db: &mut Database, targets: &[String]) -> i32 {
    use crate::graph::{disk::StatCache, Graph};
    let mut graph = Graph::new(db);
    let mut disk = StatCache::real();
    let mut status = 0;
    for name in targets {
        let id = graph.node(db, name, None);
        if let Err(e) = graph.prepare(db, &mut disk, id) {
            eprintln!("{}", e);
            return 2;
        }
        let deps = graph.nodes[id].deps.clone();
        for d in &deps {
            let _ = graph.prepare(db, &mut disk, d.node);
            graph.resolve_path(db, &mut disk, d.node);
        }
        let n = &graph.nodes[id];
        if n.recipe.is_none() {
            eprintln!(
                "{}: '{}' has no recipe: nothing runs in a sandbox",
                crate::diag::prog(),
                name
            );
            status = 2;
            continue;
        }
        let mut targets = vec![n.path.to_string()];
        targets.extend(n.siblings.iter().map(|s| graph.nodes[*s].path.to_string()));
        let files = |order_only: bool| -> Vec<String> {
            deps.iter()
                .filter(|d| !graph.nodes[d.node].phony && d.order_only == order_only)
                .map(|d| graph.nodes[d.node].path.to_string())
                .collect()
        };
        let mut inputs = files(false);
        let order_only = files(true);
        inputs.extend(graph.through_aggregates(db, &mut disk, id));
        let n = &graph.nodes[id];
        let inputs: Vec<&String> = inputs.iter().collect();
        let order_only: Vec<&String> = order_only.iter().collect();
        // As the step would see it, every normal prerequisite newer than
        // the target (`$?` of a missing target).
        let newer: Vec<String> = deps
            .iter()
            .filter(|d| !d.order_only && !d.extra)
            .map(|d| graph.nodes[d.node].path.to_string())
            .collect();
        let scope = graph.recipe_scope(db, id, &newer);
        let shell = db.var_value("SHELL", &scope).unwrap_or_default();
        let shell = if shell.trim().is_empty() {
            "/bin/sh".to_string()
        } else {
            shell
        };
        let free = free_by_default(db, &targets);
        let targets = file_targets(db, &targets);
        // A step that runs a sub-make gets the project too (see `begin_step`;
        // the `-C` directories of its lines are known only once expanded).
        let recursive = n.recipe.as_ref().is_some_and(|r| {
            r.lines
                .iter()
                .any(|l| crate::engine::recipe::raw_recursive(&l.text))
        });
        match Guard::policy_for(
            db,
            &scope,
            &targets,
            StepInputs {
                prereqs: &inputs,
                order_only: &order_only,
            },
            &shell,
            false,
            free,
        ) {
            Ok(policy) => {
                let policy = if recursive {
                    let roots = crate::driver::project_roots();
                    let exe = std::env::current_exe().ok();
                    Policy::for_recursive_step(&roots, &policy, exe.as_deref())
                } else {
                    policy
                };
                let loc = n
                    .rule_loc
                    .as_ref()
                    .map(|l| format!(" ({})", l))
                    .unwrap_or_default();
                println!("sandbox of '{}'{}:", name, loc);
                print!("{}", policy);
            }
            Err(e) => {
                eprintln!("{}", e);
                return 2;
            }
        }
    }
    status
}
