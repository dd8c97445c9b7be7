//! One run of hbuild, in make's order: change directory, set up variables, read
//! the makefiles, remake them if needed, then build the goals.

use crate::cli::Options;
use crate::diag::{self, Fatal, Loc};
use crate::engine::{self, Remake};
use crate::lang::builtin;
use crate::lang::database::{MissingInclude, ReadOptions};
use crate::lang::vars::{Export, Flavor, Origin, Var};
use crate::lang::Database;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The GNU make feature words hbuild supports, for `.FEATURES`.
const FEATURES: &str =
    "target-specific order-only second-expansion else-if shortest-stem undefine oneshell nocomment grouped-target extra-prereqs archives jobserver output-sync check-symlink";

/// The makefile names tried, in make's order, when no `-f` is given.
const DEFAULT_MAKEFILES: [&str; 3] = ["GNUmakefile", "makefile", "Makefile"];

/// How this process was started: what `$(MAKE)` must run again.
pub struct Invocation {
    pub argv0: String,
    pub args: Vec<String>,
}

/// Set for a re-executed hbuild whose first run printed `Entering directory`.
const ENTERED_ENV: &str = "HBUILD_DIRECTORY_ENTERED";

/// Whether the run before a re-execution printed `Entering directory`; the
/// variable is then removed so that no recipe sees it.
fn entered_before_reexec() -> bool {
    let entered = std::env::var_os(ENTERED_ENV).is_some();
    if entered {
        std::env::remove_var(ENTERED_ENV);
    }
    entered
}

/// Run one build with parsed options; returns the exit status.
pub fn run(mut opts: Options, inv: &Invocation) -> i32 {
    let entered = entered_before_reexec();
    // Before `-C` is applied: the watch applies it itself and runs each
    // build as a child from the starting directory.
    if opts.watch {
        return crate::watch::run(&opts, inv);
    }
    if opts.trace_json.is_some() {
        crate::report::trace_json::enable();
    }
    let level = make_level();
    diag::set_level(level);
    // `$(MAKE)` is argv[0], made absolute when it is a relative path with a slash
    // (so it still works after `-C` and in sub-directories).
    let make_command = absolute_command(&inv.argv0);
    if opts.jobs_on_command_line {
        crate::engine::tokens::set_jobs_on_command_line();
    }
    if let Ok(dir) = std::env::current_dir() {
        let _ = START_DIR.set(dir);
    }
    for dir in &opts.directories {
        if let Err(e) = std::env::set_current_dir(dir) {
            let err = Fatal::new(format!("{}: {}", dir, crate::lang::eval::io_message(&e)));
            eprintln!("{}", diag::fatal_text(&err));
            return 2;
        }
    }
    if opts.check_repro {
        return crate::repro::run(&opts, inv);
    }
    // `--report`, or a sub-make of a make that reports.
    let mode = crate::engine::hermetic::mode_of(&opts);
    crate::report::build_report::enable(mode.name(), opts.report.is_some());
    if opts.sandbox_info {
        print!(
            "{}",
            crate::sandbox::sandbox_info(&crate::sandbox::KernelSupport::detect())
        );
        return 0;
    }
    if !opts.explain_sandbox.is_empty() {
        return match load_database(&opts, inv) {
            Ok(mut db) => crate::engine::hermetic::explain(&mut db, &opts.explain_sandbox),
            Err(e) => {
                eprintln!("{}", diag::fatal_text(&e));
                2
            }
        };
    }
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| ".".to_string());
    // `-C` and sub-makes print the directory unless silenced; recorded in the
    // options so `MAKEFLAGS` shows `w` as make's does.
    let print_dir = !opts.no_print_directory
        && match opts.print_directory {
            Some(p) => p,
            None => !opts.silent && (!opts.directories.is_empty() || level > 0),
        };
    if print_dir {
        opts.print_directory = Some(true);
    }
    if opts.print_version {
        for line in crate::cli::version_text().lines() {
            println!("# {}", line);
        }
    }
    if print_dir {
        // With `-Otarget`/`-Oline`, make names the directory around each
        // block of output instead of once for the run.
        use crate::engine::output::{DirectoryLines, Sync};
        let how = match Sync::parse(opts.output_sync.as_deref()) {
            Sync::Target | Sync::Line => DirectoryLines::PerBlock,
            Sync::None | Sync::Recurse => DirectoryLines::Once,
        };
        crate::engine::output::announce_directory(diag::prog(), &cwd, how, entered);
    }
    crate::sandbox::parse_shell::configure(crate::engine::hermetic::mode_of(&opts));
    let status = build(&opts, &make_command, &cwd, level, inv);
    crate::sandbox::parse_shell::finish();
    match (&opts.report, crate::report::build_report::active()) {
        (Some(path), Some(r)) => {
            if let Err(e) = r.write(Path::new(path), status) {
                crate::engine::output::enter_directory();
                eprintln!("{}: {}: {}", diag::prog(), path, e);
            }
        }
        // A sub-make: its steps go into the report of the make above.
        (None, Some(r)) => {
            let _ = r.contribute();
        }
        _ => {}
    }
    crate::engine::output::leave_directory();
    status
}

fn build(opts: &Options, make_command: &str, cwd: &str, level: u32, inv: &Invocation) -> i32 {
    crate::graph::disk::set_check_symlink_times(opts.check_symlink_times);
    let mut db = Database::new(read_options(opts));
    // Stat the files the makefiles name while they are still being read.
    let early = crate::graph::disk::EarlyStats::start().map(|(tx, early)| {
        db.names.watch(Some(tx));
        early
    });
    crate::ui::debug::configure(opts.debug, &opts.debug_flags);
    crate::ui::debug::banner();
    crate::ui::debug::phase("Reading makefiles...");
    let read = match crate::report::trace_json::active() {
        Some(t) => t.time_phase("read makefiles", || {
            read_all(&mut db, opts, make_command, cwd, level)
        }),
        None => read_all(&mut db, opts, make_command, cwd, level),
    };
    db.names.watch(None);
    let found_any = match read {
        Ok(found) => found,
        Err(e) => {
            crate::engine::output::in_block(|| eprintln!("{}", diag::fatal_text(&e)));
            print_data_base_unbuilt(&db, opts);
            return 2;
        }
    };
    let initial_symlink_rule = opts.check_symlink_times;
    let adjusted = flags_set_by_makefiles(&mut db, opts);
    let opts = adjusted.as_ref().unwrap_or(opts);
    if !crate::engine::schedule::parallel(opts) {
        // One job at a time: make drops output sync (see `Scheduler::new`).
        crate::engine::output::set_directory_lines(crate::engine::output::DirectoryLines::Once);
    }
    // `MAKEFLAGS += -L` in a makefile: the times read so far used the other
    // rule, so none of them is kept.
    let early = match &adjusted {
        Some(a) if a.check_symlink_times != initial_symlink_rule => {
            crate::graph::disk::set_check_symlink_times(a.check_symlink_times);
            None
        }
        _ => early,
    };
    crate::ui::debug::phase("Updating makefiles....");
    let carried = match engine::remake_makefiles(&mut db, opts) {
        Remake::Unchanged(carried) => carried,
        Remake::Remade => return reexec(inv),
        Remake::Failed(code) => {
            print_data_base_unbuilt(&db, opts);
            return code;
        }
    };
    let goals: Vec<String> = if opts.goals.is_empty() {
        let goal = db
            .globals
            .get(".DEFAULT_GOAL")
            .map(|v| v.value.trim().to_string())
            .unwrap_or_default();
        if goal.is_empty() {
            let msg = if found_any {
                "No targets"
            } else {
                "No targets specified and no makefile found"
            };
            print_data_base_unbuilt(&db, opts);
            crate::engine::output::enter_directory();
            eprintln!("{}", diag::fatal_text(&Fatal::new(msg)));
            return 2;
        }
        crate::lang::text::words(&goal)
            .map(|g| crate::lang::names::strip_dot_slash(g).to_string())
            .collect()
    } else {
        opts.goals.clone()
    };
    let makeflags = recipe_makeflags(&mut db, opts);
    for (name, value) in [("MAKEFLAGS", makeflags), ("MFLAGS", opts.mflags())] {
        // A `MAKEFLAGS` given on the command line keeps its value, and so
        // is what sub-makes get (make's own value cannot override it).
        if let Some(v) = db.globals.get_mut(name) {
            if v.origin != crate::lang::vars::Origin::CommandLine {
                v.value = value;
            }
        }
    }
    if let Some(path) = &opts.graph {
        use crate::report::graph_export::{self, GraphFormat};
        let format = GraphFormat::parse(opts.graph_format.as_deref());
        return match graph_export::write(&mut db, &goals, format, Path::new(path)) {
            Ok(()) => 0,
            Err(e) => {
                crate::engine::output::enter_directory();
                eprintln!("{}: *** {}: {}.  Stop.", diag::prog(), path, e);
                2
            }
        };
    }
    let status = engine::build_after_makefiles(&mut db, opts, &goals, early, carried);
    if let (Some(path), Some(t)) = (&opts.trace_json, crate::report::trace_json::active()) {
        if let Err(e) = t.write(Path::new(path)) {
            crate::engine::output::enter_directory();
            eprintln!("{}: {}: {}", diag::prog(), path, e);
        }
    }
    // The process ends next: freeing tens of thousands of rules one by one
    // would only cost time (a no-op build of 10k steps spends ~5% there).
    std::mem::forget(db);
    status
}

/// `-p` when the build never starts: the database as read.
fn print_data_base_unbuilt(db: &Database, opts: &Options) {
    if opts.print_data_base {
        crate::report::data_base::print(db, &Default::default(), &opts.goals, opts.question);
    }
}

/// Set up the variables, read the built-in rules and the makefiles. Returns
/// whether any makefile was found.
fn read_all(
    db: &mut Database,
    opts: &Options,
    make_command: &str,
    cwd: &str,
    level: u32,
) -> diag::Result<bool> {
    let builtin_loc = Loc {
        file: Arc::from(crate::lang::eval::BUILTIN),
        line: 1,
    };
    if !db.opts.no_builtin_vars {
        db.origin_override = Some(Origin::Default);
        db.eval_text(builtin::VARIABLES, &builtin_loc)?;
        db.origin_override = None;
    }
    let env_origin = Origin::Environment;
    for (name, value) in std::env::vars_os() {
        let (name, value) = (name.to_string_lossy(), value.to_string_lossy());
        if matches!(
            name.as_ref(),
            "SHELL" | "MAKEFLAGS" | "MAKELEVEL" | "MFLAGS" | "MAKE_RESTARTS" | ""
        ) || name.contains('=')
        {
            continue;
        }
        set_var(db, &name, &value, Flavor::Recursive, env_origin);
    }
    // A re-executed make sees how often it restarted, but recipes do not.
    if let Ok(n) = std::env::var("MAKE_RESTARTS") {
        set_var(db, "MAKE_RESTARTS", &n, Flavor::Recursive, env_origin);
        if let Some(v) = db.globals.get_mut("MAKE_RESTARTS") {
            v.export = Export::No;
        }
    }
    let (simple, recursive) = (Flavor::Simple, Flavor::Recursive);
    let (default, file, env) = (Origin::Default, Origin::File, Origin::Environment);
    let mut specials: Vec<(&str, String, Flavor, Origin)> = vec![
        ("MAKE_COMMAND", make_command.to_string(), simple, default),
        ("MAKE", "$(MAKE_COMMAND)".into(), recursive, default),
        ("MAKE_VERSION", "4.3".into(), simple, default),
        ("MAKE_HOST", "x86_64-pc-linux-gnu".into(), simple, default),
        ("CURDIR", cwd.to_string(), simple, file),
        // make ignores SHELL from the environment; its origin then says `file`.
        (
            "SHELL",
            "/bin/sh".into(),
            recursive,
            if std::env::var_os("SHELL").is_some() {
                file
            } else {
                default
            },
        ),
        (".SHELLFLAGS", "-c".into(), simple, default),
        (".FEATURES", FEATURES.into(), simple, default),
        (
            ".INCLUDE_DIRS",
            include_dirs(opts).join(" "),
            recursive,
            default,
        ),
        (".DEFAULT_GOAL", String::new(), simple, file),
        (".RECIPEPREFIX", String::new(), simple, default),
        (".LOADED", String::new(), simple, default),
        ("MAKEFILES", String::new(), simple, default),
        ("MAKELEVEL", level.to_string(), simple, env),
        // Read before the makefiles; emptied so a sub-make does not take its
        // switches twice (they are in `MAKEFLAGS`).
        ("GNUMAKEFLAGS", String::new(), simple, env),
        // While reading, make shows only part of its flags; the rest joins
        // `MAKEFLAGS` when recipes run.
        ("MAKEFLAGS", opts.makeflags_while_reading(), recursive, file),
        ("MFLAGS", opts.mflags_while_reading(), recursive, env),
    ];
    if !opts.goals.is_empty() {
        specials.push(("MAKECMDGOALS", opts.goals.join(" "), simple, default));
    }
    if !opts.variables.is_empty() {
        let overrides = opts.makeoverrides();
        specials.push((
            "-*-command-variables-*-",
            overrides,
            simple,
            Origin::Automatic,
        ));
        specials.push((
            "MAKEOVERRIDES",
            "${-*-command-variables-*-}".into(),
            recursive,
            env,
        ));
    }
    // `SUFFIXES` is always defined; `-r` and `-R` leave it empty.
    let suffixes = if db.opts.no_builtin_rules {
        ""
    } else {
        builtin::SUFFIX_LIST
    };
    specials.push(("SUFFIXES", suffixes.into(), simple, default));
    for (name, value, flavor, origin) in specials {
        // As in make, a default never replaces a variable of the environment
        // (the Linux kernel exports `MAKE`, and its scripts call `${MAKE}`).
        let from_env = db
            .globals
            .get(name)
            .is_some_and(|v| v.origin == Origin::Environment);
        if origin == Origin::Default && from_env {
            continue;
        }
        set_var(db, name, &value, flavor, origin);
    }
    // Sub-makes that are hbuild use the same sandbox mode (enforce, the
    // default, needs no word).
    let mode = crate::engine::hermetic::mode_of(opts);
    if mode != crate::sandbox::Mode::Enforce {
        let word = opts
            .sandbox
            .clone()
            .or_else(|| std::env::var(crate::engine::hermetic::MODE_ENV).ok())
            .unwrap_or_default();
        db.child_env
            .push((crate::engine::hermetic::MODE_ENV.to_string(), word));
    }
    // Sub-makes leave their steps for this make's `--report`.
    let reports = crate::report::build_report::active().is_some_and(|r| r.is_owner());
    if let Some(dir) = crate::report::build_report::sink().filter(|_| reports) {
        db.child_env.push((
            crate::report::build_report::SINK_ENV.to_string(),
            dir.to_string_lossy().into_owned(),
        ));
    }
    if mode == crate::sandbox::Mode::Audit {
        use crate::report::recursive_audit;
        recursive_audit::start();
        if let Some(role) = recursive_audit::role() {
            let fix_deps = recursive_audit::fix_deps_file(opts.fix_deps.as_deref());
            db.child_env.extend(role.child_env(fix_deps.as_deref()));
        }
    }
    // Sub-makes learn the project's directories: where the top-level build
    // started, and the directory of any make that runs outside them (a
    // `-C ../out` build directory), which its own sub-makes need too.
    let joined: Vec<String> = project_roots()
        .iter()
        .map(|r| r.to_string_lossy().into_owned())
        .collect();
    db.child_env
        .push((PROJECT_ROOT_ENV.to_string(), joined.join("\n")));
    // Recipes see the next level; `$(MAKELEVEL)` in the makefile is this one.
    db.child_env
        .push(("MAKELEVEL".to_string(), (level + 1).to_string()));
    for (name, export) in [("MAKEFLAGS", Export::Yes), ("MFLAGS", Export::Default)] {
        if let Some(v) = db.globals.get_mut(name) {
            v.export = export;
        }
    }
    if !db.opts.no_builtin_rules {
        // Built-in rules use a tab whatever `.RECIPEPREFIX` the environment set.
        let prefix = db.globals.remove(".RECIPEPREFIX");
        let read = db
            .eval_text(builtin::SUFFIXES, &builtin_loc)
            .and_then(|_| db.eval_text(builtin::SUFFIX_RULES, &builtin_loc));
        if let Some(p) = prefix {
            db.globals.set(".RECIPEPREFIX", p);
        }
        read?;
    }
    // Command-line assignments: parsed like makefile lines, origin `command line`.
    let cmdline_loc = Loc {
        file: Arc::from(diag::COMMAND_LINE),
        line: 1,
    };
    db.origin_override = Some(Origin::CommandLine);
    for assignment in &opts.variables {
        let r = db.eval_text(assignment, &cmdline_loc);
        if let Err(e) = r {
            db.origin_override = None;
            return Err(e);
        }
    }
    db.origin_override = None;
    // Recipes get `GNUMAKEFLAGS` (empty) only if make's environment had it.
    if std::env::var_os("GNUMAKEFLAGS").is_none() {
        if let Some(v) = db.globals.get_mut("GNUMAKEFLAGS") {
            v.export = Export::No;
        }
    }
    for text in &opts.eval {
        db.eval_text(text, &cmdline_loc)?;
    }
    let mut found_any = false;
    // Makefiles named in the MAKEFILES environment variable are read first;
    // missing ones are ignored.
    let extra = std::env::var("MAKEFILES").unwrap_or_default();
    for name in crate::lang::text::words(&extra) {
        db.optional_makefiles
            .push(crate::lang::names::strip_dot_slash(name).to_string());
        db.reading_makefiles_var = true;
        let read = db.read_makefile(name);
        db.reading_makefiles_var = false;
        read?;
    }
    if opts.makefiles.is_empty() {
        for name in DEFAULT_MAKEFILES {
            if db.read_makefile(name)? {
                found_any = true;
                break;
            }
        }
    } else {
        for name in &opts.makefiles {
            let path = if name == "-" {
                "/dev/stdin"
            } else {
                name.as_str()
            };
            if db.read_makefile(path)? {
                found_any = true;
            } else {
                let after = db.makefiles.len();
                db.missing_includes.push(MissingInclude {
                    name: name.clone(),
                    optional: false,
                    loc: Loc {
                        file: Arc::from(""),
                        line: 0,
                    },
                    after,
                });
            }
        }
    }
    let pattern_rules = (!db.opts.no_builtin_rules).then_some(builtin::PATTERN_RULES);
    db.finish_reading(pattern_rules)?;
    Ok(found_any)
}

/// A makefile may add flags through `MAKEFLAGS` (`MAKEFLAGS += -s`); make
/// honours them once the makefiles are read. Returns the options with those
/// flags, if the value changed.
/// Read the makefiles of the current directory as a build would (built-in
/// rules, command-line variables, `-f`), without building: for tools that
/// inspect the rules (`--check-repro`, `--graph`, `--explain-sandbox`).
pub fn load_database(opts: &Options, inv: &Invocation) -> diag::Result<Database> {
    let level = make_level();
    let cwd = std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| ".".to_string());
    let mut db = Database::new(read_options(opts));
    read_all(&mut db, opts, &absolute_command(&inv.argv0), &cwd, level)?;
    Ok(db)
}

fn read_options(opts: &Options) -> ReadOptions {
    ReadOptions {
        env_overrides: opts.env_overrides,
        no_builtin_rules: opts.no_builtin_rules || opts.no_builtin_vars,
        no_builtin_vars: opts.no_builtin_vars,
        include_dirs: opts.include_dirs.iter().map(PathBuf::from).collect(),
        goals: opts.goals.clone(),
        silent: opts.silent,
        warn_undefined: opts.warn_undefined_variables,
    }
}

/// `MAKEFLAGS` as recipes see it: the full flags of `opts`, with the
/// command-line variables as `MAKEOVERRIDES` now says (a makefile may have
/// changed it).
pub fn recipe_makeflags(db: &mut Database, opts: &Options) -> String {
    let overrides = db
        .var_value("MAKEOVERRIDES", &crate::lang::vars::Scope::global())
        .unwrap_or_default();
    let mut makeflags = opts.makeflags_with(overrides.trim());
    // make writes the separator whenever `MAKEOVERRIDES` has text, even text
    // that expands to nothing (`${-*-command-variables-*-}` from the parent).
    let has_text = db
        .globals
        .get("MAKEOVERRIDES")
        .is_some_and(|v| !v.value.is_empty());
    if overrides.trim().is_empty() && has_text {
        makeflags.push_str(" -- ");
    }
    makeflags
}

fn flags_set_by_makefiles(db: &mut Database, opts: &Options) -> Option<Options> {
    let value = db
        .var_value("MAKEFLAGS", &crate::lang::vars::Scope::global())
        .ok()?;
    if value == opts.makeflags_while_reading() {
        return None;
    }
    let mut flags = crate::cli::decode_on_top(opts, &value);
    // Only flags change here: files, directories, goals and variables were
    // taken from the command line already.
    flags.makefiles = opts.makefiles.clone();
    flags.directories = opts.directories.clone();
    flags.goals = opts.goals.clone();
    flags.variables = opts.variables.clone();
    flags.print_directory = opts.print_directory.or(flags.print_directory);
    // The value the makefiles saw lacks `-I`, `-j`, `-l`, `-O`, `--debug=`
    // and `--jobserver-auth` (see `makeflags_while_reading`): make decodes
    // the new value on top of the switches it has, so those stay, and the
    // include directories the makefiles name are added.
    let mut dirs = opts.include_dirs.clone();
    for d in std::mem::take(&mut flags.include_dirs) {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    flags.include_dirs = dirs;
    if !flags.jobs_given {
        flags.jobs = opts.jobs;
        flags.jobs_given = opts.jobs_given;
    }
    flags.load_average = flags.load_average.or(opts.load_average);
    if flags.output_sync.is_none() {
        flags.output_sync = opts.output_sync.clone();
    }
    if flags.debug_flags.is_empty() {
        flags.debug_flags = opts.debug_flags.clone();
    }
    if flags.jobserver_auth.is_none() {
        flags.jobserver_auth = opts.jobserver_auth.clone();
    }
    Some(flags)
}

fn set_var(db: &mut Database, name: &str, value: &str, flavor: Flavor, origin: Origin) {
    db.globals.set(name, Var::new(value, flavor, origin));
}

fn include_dirs(opts: &Options) -> Vec<String> {
    let mut dirs: Vec<String> = opts.include_dirs.clone();
    // GNU make 4.3 on Debian lists /usr/include twice (its configured and its
    // built-in default); users see the list, so keep it identical.
    dirs.extend(["/usr/local/include", "/usr/include", "/usr/include"].map(String::from));
    dirs
}

fn absolute_command(argv0: &str) -> String {
    if argv0.contains('/') && !argv0.starts_with('/') {
        if let Ok(cwd) = std::env::current_dir() {
            return cwd.join(argv0).to_string_lossy().into_owned();
        }
    }
    argv0.to_string()
}

/// Where hbuild started, before any `-C`: a re-execution starts there again.
static START_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// The environment variable that tells sub-makes where the top-level build
/// started (and which other directories sub-makes ran in): the project that
/// recursive steps may use.
pub const PROJECT_ROOT_ENV: &str = "HBUILD_PROJECT_ROOT";

/// This make's recursion level, from `MAKELEVEL` (0 at the top).
pub fn make_level() -> u32 {
    std::env::var("MAKELEVEL")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0)
}

/// The project's directories: where the top-level hbuild of this recursion
/// works (after its `-C`), then the directories of sub-makes that ran outside
/// it, this one's included. The variable holds them one per line.
pub fn project_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::var_os(PROJECT_ROOT_ENV)
        .map(|v| {
            v.to_string_lossy()
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default();
    // (Without a working directory there is nothing more to add: better no
    // directory than a guess.)
    if let Ok(here) = std::env::current_dir() {
        if !roots.iter().any(|r| here.starts_with(r)) {
            roots.push(here);
        }
    }
    roots
}

/// Start again from scratch after a makefile was remade, as make does.
fn reexec(inv: &Invocation) -> i32 {
    use std::os::unix::process::CommandExt;
    let restarts = std::env::var("MAKE_RESTARTS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let mut words = vec![inv.argv0.as_str()];
    words.extend(inv.args.iter().map(String::as_str));
    crate::ui::debug::say(
        0,
        format_args!("Re-executing[{}]: {}", restarts + 1, words.join(" ")),
    );
    crate::engine::before_reexec();
    let exe = std::env::current_exe().unwrap_or_else(|_| Path::new(&inv.argv0).to_path_buf());
    let mut cmd = std::process::Command::new(exe);
    if let Some(dir) = START_DIR.get() {
        cmd.current_dir(dir);
    }
    if crate::engine::output::directory_entered() {
        cmd.env(ENTERED_ENV, "1");
    }
    // The audit and the report go on in the next run.
    if let Some(role) = crate::report::recursive_audit::role() {
        cmd.envs(role.restart_env());
    }
    if let Some(report) = crate::report::build_report::active() {
        cmd.envs(report.restart_env());
    }
    let err = cmd
        .arg0(&inv.argv0)
        .args(&inv.args)
        .env("MAKE_RESTARTS", (restarts + 1).to_string())
        .exec();
    crate::engine::output::enter_directory();
    eprintln!("{}: {}", diag::prog(), err);
    2
}
