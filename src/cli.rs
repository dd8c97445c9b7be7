//! The command line: GNU make's options (also read from `MAKEFLAGS`), variable
//! assignments and goals, and the `MAKEFLAGS`/`MFLAGS` values handed on to
//! recipes and sub-makes.
//!
//! The parser follows getopt_long as make 4.3 uses it (clusters such as `-kj4`,
//! optional arguments only when attached, unique long prefixes, getopt's error
//! messages), plus make's own look-ahead: `-j 4` and `-l 2.5` take the next
//! argument only when it is a number, otherwise it is a goal.  clap is not used
//! here because these getopt rules (and the tolerant reading of `MAKEFLAGS`)
//! are what scripts rely on and clap parses them differently.

use crate::lang::names::strip_dot_slash;
use std::collections::HashMap;
use std::io::Write;

/// Everything the command line asked for.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-f FILE`, in order.
    pub makefiles: Vec<String>,
    /// `-C DIR`, applied in order (relative ones relative to the previous).
    pub directories: Vec<String>,
    /// `-j N`: `Some(n)`; `-j` alone: `None` (no limit). Default `Some(1)`.
    pub jobs: Option<usize>,
    /// `-j` appeared at all: make lists `-j1` in `MAKEFLAGS` only when asked.
    pub jobs_given: bool,
    /// `-j` came from the command line (not from `MAKEFLAGS`): a sub-make then
    /// starts its own jobserver, as make does.
    pub jobs_on_command_line: bool,
    /// `-l N`; a bare `-l` removes the limit.
    pub load_average: Option<f64>,
    pub keep_going: bool,
    pub dry_run: bool,
    pub always_make: bool,
    pub silent: bool,
    pub question: bool,
    pub touch: bool,
    pub ignore_errors: bool,
    pub env_overrides: bool,
    pub no_builtin_rules: bool,
    /// `-R` (it implies `-r`, so `no_builtin_rules` is set too).
    pub no_builtin_vars: bool,
    pub include_dirs: Vec<String>,
    /// `-o FILE`: treated as very old, never remade.
    pub old_files: Vec<String>,
    /// `-W FILE`: treated as infinitely new.
    pub new_files: Vec<String>,
    /// `-w` (`Some(true)`). When the engine turns `-w` on by itself (`-C`,
    /// sub-make) it stores `Some(true)` here so `MAKEFLAGS` shows `w` as
    /// make's does.
    pub print_directory: Option<bool>,
    /// `--no-print-directory`: wins over any `-w`. A switch of its own, as in
    /// make: a makefile that adds it to `MAKEFLAGS` keeps the `w` of its own
    /// run and passes both to sub-makes, which then print nothing.
    pub no_print_directory: bool,
    pub print_data_base: bool,
    pub trace: bool,
    /// `-O[TYPE]`: `none`, `line`, `target` or `recurse` (bare `-O` is `target`).
    pub output_sync: Option<String>,
    /// `-d`.
    pub debug: bool,
    /// `--debug[=FLAGS]`, each as given (`basic` for a bare `--debug`).
    pub debug_flags: Vec<String>,
    pub warn_undefined_variables: bool,
    /// `-L`.
    pub check_symlink_times: bool,
    /// `--eval=STRING` (`-E`), in order: evaluated after the command-line
    /// variables, before the makefiles.
    pub eval: Vec<String>,
    /// `--jobserver-auth=R,W` inherited through `MAKEFLAGS` (or set by the
    /// engine when it creates a jobserver): appended to `MAKEFLAGS`.
    pub jobserver_auth: Option<String>,
    /// `-v` given together with `-p`: make prints its banner (as `#` comments)
    /// before the data base and goes on instead of exiting.
    pub print_version: bool,
    /// `--sandbox=MODE`: `enforce` (default), `require`, `audit` or `off`.
    pub sandbox: Option<String>,
    /// `--sandbox-info`: print what the kernel's Landlock enforces and exit.
    pub sandbox_info: bool,
    /// `--explain-sandbox TARGET`: print the policy of these targets' recipes.
    pub explain_sandbox: Vec<String>,
    /// `--fix-deps=FILE` (with audit): write the missing declarations there.
    pub fix_deps: Option<String>,
    /// `--report=FILE`: a JSON report of the build.
    pub report: Option<String>,
    /// `--check-repro`: build twice with variations and compare.
    pub check_repro: bool,
    /// `--repro-vary=LIST`: the variations `--check-repro` uses.
    pub repro_vary: Option<String>,
    /// `--watch`: rebuild when sources or makefiles change.
    pub watch: bool,
    /// `--progress=auto|always|never`: the status line.
    pub progress: Option<String>,
    /// `--trace-json=FILE`: a Chrome trace of the build.
    pub trace_json: Option<String>,
    /// `--graph=FILE` and `--graph-format=dot|json`.
    pub graph: Option<String>,
    pub graph_format: Option<String>,
    /// `VAR=value` (and `VAR:=value` etc.) arguments, as written; those read
    /// from `MAKEFLAGS` come first, already unescaped.
    pub variables: Vec<String>,
    pub goals: Vec<String>,
}

/// What the command line asks hbuild to do.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // made once per run; boxing would only add noise
pub enum Command {
    /// Read the makefiles and build.
    Build(Options),
    /// Help or version was printed, or the command line was wrong (the message is
    /// printed already): exit with this status.
    Exit(i32),
}

/// Parse the arguments (without the program name) after the options found in
/// the `MAKEFLAGS` environment value, as make does.
pub fn parse(args: &[String], makeflags: Option<&str>) -> Command {
    parse_env(args, &[makeflags])
}

/// As [`parse`], after the switches of several environment values in turn
/// (make reads `GNUMAKEFLAGS`, then `MAKEFLAGS`).
pub fn parse_env(args: &[String], env_flags: &[Option<&str>]) -> Command {
    match decide_env(args, env_flags) {
        Outcome::Build(opts) => Command::Build(*opts),
        Outcome::Help { version } => {
            if version {
                to_stdout(&version_text());
            }
            to_stdout(&usage_text());
            Command::Exit(0)
        }
        Outcome::Version => {
            to_stdout(&version_text());
            Command::Exit(0)
        }
        Outcome::BadUsage { errors, version } => {
            for e in &errors {
                to_stderr(&format!("{}: {}\n", crate::diag::prog(), e));
            }
            if version {
                to_stdout(&version_text());
            }
            to_stderr(&usage_text());
            Command::Exit(2)
        }
        Outcome::Generate(g) => {
            let mut out = std::io::stdout().lock();
            match g {
                Generate::Completions(shell) => {
                    if let Some(sh) = crate::completions::shell_named(&shell) {
                        crate::completions::write_completions(sh, &mut out);
                    }
                }
                Generate::ManPage => {
                    let _ = crate::completions::write_man(&mut out);
                }
            }
            let _ = out.flush();
            Command::Exit(0)
        }
        Outcome::Fatal(msg) => {
            to_stderr(&format!("{}\n", crate::diag::Fatal::new(msg)));
            Command::Exit(2)
        }
    }
}

/// Print without panicking when the reader went away (`hbuild -h | head`).
fn to_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

fn to_stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// hbuild's `-v` banner.
pub fn version_text() -> String {
    format!(
        "hbuild {}\n\
         Compatible with GNU Make 4.3.\n\
         License MIT: this is free software, and there is NO WARRANTY,\n\
         to the extent permitted by law.\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The `-h` text (also printed, to stderr, after a usage error).
pub fn usage_text() -> String {
    let mut out = String::from("Usage: hbuild [options] [target] ...\nOptions:\n");
    for (names, what) in HELP {
        if what.is_empty() {
            out.push_str(&format!("{}\n", names));
            continue;
        }
        let names = format!("  {}", names);
        if names.len() <= 28 {
            out.push_str(&format!("{:<30}{}\n", names, what));
        } else {
            out.push_str(&format!("{}\n{:30}{}\n", names, "", what));
        }
    }
    out.push_str("\nhbuild reads makefiles written for GNU Make 4.3.\n");
    out
}

/// The option list of the usage text, in make's layout: names, then what they do.
const HELP: &[(&str, &str)] = &[
    ("-b, -m", "Accepted and ignored, as make does."),
    (
        "-B, --always-make",
        "Remake every target, up to date or not.",
    ),
    (
        "-C DIRECTORY, --directory=DIRECTORY",
        "Enter DIRECTORY before reading makefiles.",
    ),
    ("-d", "Print all debugging output."),
    (
        "--debug[=FLAGS]",
        "Print the debugging output chosen by FLAGS.",
    ),
    (
        "-e, --environment-overrides",
        "Let environment variables win over makefile ones.",
    ),
    (
        "-E STRING, --eval=STRING",
        "Read STRING as a makefile line.",
    ),
    (
        "-f FILE, --file=FILE, --makefile=FILE",
        "Read FILE as the makefile.",
    ),
    ("-h, --help", "Show this help and exit."),
    ("-i, --ignore-errors", "Carry on after failing recipes."),
    (
        "-I DIRECTORY, --include-dir=DIRECTORY",
        "Look in DIRECTORY for included makefiles.",
    ),
    (
        "-j [N], --jobs[=N]",
        "Run up to N recipes at once; no limit without N.",
    ),
    (
        "-k, --keep-going",
        "Build what can be built after a failure.",
    ),
    (
        "-l [N], --load-average[=N], --max-load[=N]",
        "Start parallel recipes only while the load is below N.",
    ),
    (
        "-L, --check-symlink-times",
        "Use the newest time of a symlink and its target.",
    ),
    (
        "-n, --just-print, --dry-run, --recon",
        "Print the recipes without running them.",
    ),
    (
        "-o FILE, --old-file=FILE, --assume-old=FILE",
        "Treat FILE as very old and never remake it.",
    ),
    (
        "-O[TYPE], --output-sync[=TYPE]",
        "Group the output of parallel jobs by TYPE.",
    ),
    (
        "-p, --print-data-base",
        "Print the rules and variables that were read.",
    ),
    (
        "-q, --question",
        "Run nothing; the exit status tells if all is up to date.",
    ),
    (
        "-r, --no-builtin-rules",
        "Do without the built-in implicit rules.",
    ),
    (
        "-R, --no-builtin-variables",
        "Do without the built-in variables.",
    ),
    ("-s, --silent, --quiet", "Do not print recipes as they run."),
    ("--no-silent", "Print recipes as they run (cancels -s)."),
    ("-S, --no-keep-going, --stop", "Cancel -k."),
    (
        "-t, --touch",
        "Touch targets instead of running their recipes.",
    ),
    ("--trace", "Say why each recipe runs."),
    ("-v, --version", "Show the version and exit."),
    ("-w, --print-directory", "Announce the working directory."),
    (
        "--no-print-directory",
        "Never announce the directory, even implicitly.",
    ),
    (
        "-W FILE, --what-if=FILE, --new-file=FILE, --assume-new=FILE",
        "Treat FILE as brand new.",
    ),
    (
        "--warn-undefined-variables",
        "Warn when an undefined variable is expanded.",
    ),
    ("", ""),
    ("hbuild's own options:", ""),
    (
        "--sandbox=MODE",
        "enforce (default), require, audit or off.",
    ),
    (
        "--sandbox-info",
        "Show what the kernel's Landlock enforces.",
    ),
    (
        "--explain-sandbox TARGET",
        "Print the sandbox policy of TARGET's recipe.",
    ),
    (
        "--fix-deps=FILE",
        "With audit: write the missing prerequisites to FILE.",
    ),
    ("--report=FILE", "Write a JSON report of the build."),
    (
        "--check-repro",
        "Build twice with variations and compare the outputs.",
    ),
    ("--repro-vary=LIST", "The variations --check-repro uses."),
    ("--watch", "Rebuild when sources or makefiles change."),
    ("--progress=WHEN", "Status line: auto, always or never."),
    ("--trace-json=FILE", "Write a Chrome trace of the build."),
    (
        "--completions=SHELL",
        "Print a completion script (bash, zsh, fish, ...).",
    ),
    ("--man-page", "Print hbuild's man page (roff)."),
    (
        "--graph=FILE, --graph-format=dot|json",
        "Write the dependency graph of the goals.",
    ),
];

/// The result of reading the environment's `MAKEFLAGS` and the arguments.
#[derive(Debug)]
enum Outcome {
    Build(Box<Options>),
    Help {
        version: bool,
    },
    Version,
    /// getopt-style errors (printed with the usage text, exit status 2).
    BadUsage {
        errors: Vec<String>,
        version: bool,
    },
    /// A `*** ...  Stop.` error.
    Fatal(String),
    /// `--completions=SHELL` or `--man-page`.
    Generate(Generate),
}

#[cfg(test)]
fn decide(args: &[String], makeflags: Option<&str>) -> Outcome {
    decide_env(args, &[makeflags])
}

fn decide_env(args: &[String], env_flags: &[Option<&str>]) -> Outcome {
    let mut p = Parser::new();
    for flags in env_flags.iter().flatten() {
        p.from_env = true;
        p.scan(&env_words(flags));
        p.errors.clear();
        p.from_env = false;
    }
    p.scan(args);
    if !p.errors.is_empty() {
        return Outcome::BadUsage {
            errors: p.errors,
            version: p.version,
        };
    }
    if let Some(msg) = p.fatal {
        return Outcome::Fatal(msg);
    }
    if p.help {
        return Outcome::Help { version: p.version };
    }
    if let Some(g) = p.generate {
        return Outcome::Generate(g);
    }
    if p.version && !p.opts.print_data_base {
        return Outcome::Version;
    }
    let mut opts = p.opts;
    opts.print_version = p.version;
    if opts.no_builtin_vars {
        opts.no_builtin_rules = true;
    }
    // `--no-print-directory` wins over `-w`, which `MAKEFLAGS` then omits.
    if opts.no_print_directory {
        opts.print_directory = None;
    }
    Outcome::Build(Box::new(opts))
}

/// The options after decoding a `MAKEFLAGS` value on top of `opts`, as make
/// does once the makefiles are read: switches are only added (or turned off
/// by their negations), never dropped because the value lacks them.
pub fn decode_on_top(opts: &Options, makeflags: &str) -> Options {
    let mut p = Parser::new();
    p.opts = opts.clone();
    p.from_env = true;
    p.scan(&env_words(makeflags));
    p.opts
}

/// Split the environment's `MAKEFLAGS` into arguments the way make 4.3 does:
/// `$$` stands for `$` (the value is expanded first), a backslash keeps the
/// next character (so `\ ` is a space inside a word), and a first word that is
/// neither an option nor an assignment is a run of single-letter flags.
fn env_words(value: &str) -> Vec<String> {
    let value = value.replace("$$", "$");
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                word.push(chars.next().unwrap_or('\\'));
            }
            c if c.is_ascii_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if let Some(first) = words.first_mut() {
        if !first.starts_with('-') && !first.contains('=') {
            first.insert(0, '-');
        }
    }
    words
}

/// Every option make 4.3 knows.  `JobserverFds` is the old spelling of
/// `JobserverAuth`, kept apart because getopt calls `--jobserver` ambiguous.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Opt {
    Ignored,
    AlwaysMake,
    DebugAll,
    EnvOverrides,
    Help,
    IgnoreErrors,
    KeepGoing,
    CheckSymlinks,
    DryRun,
    PrintDataBase,
    Question,
    NoBuiltinRules,
    NoBuiltinVars,
    Silent,
    Stop,
    Touch,
    Version,
    PrintDirectory,
    Directory,
    Debug,
    Eval,
    File,
    IncludeDir,
    Jobs,
    JobserverAuth,
    LoadAverage,
    OldFile,
    OutputSync,
    NewFile,
    NoPrintDirectory,
    WarnUndefined,
    Trace,
    SyncMutex,
    NoSilent,
    JobserverFds,
    // hbuild's own options (not make's).
    Sandbox,
    SandboxInfo,
    ExplainSandbox,
    FixDeps,
    Report,
    CheckRepro,
    ReproVary,
    Watch,
    Progress,
    TraceJson,
    Graph,
    GraphFormat,
    Completions,
    ManPage,
}

/// Whether an option takes an argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Takes {
    Nothing,
    Required,
    /// Only when attached (`-Oline`, `--jobs=4`), or for `-j`/`-l` a following
    /// number.
    Optional,
}

impl Opt {
    fn takes(self) -> Takes {
        use Opt::*;
        match self {
            Directory | Eval | File | IncludeDir | JobserverAuth | OldFile | NewFile
            | SyncMutex | JobserverFds | Sandbox | ExplainSandbox | FixDeps | Report
            | ReproVary | Progress | TraceJson | Graph | GraphFormat | Completions => {
                Takes::Required
            }
            Debug | Jobs | LoadAverage | OutputSync => Takes::Optional,
            _ => Takes::Nothing,
        }
    }

    /// make ignores these when they come from `MAKEFLAGS`.
    fn honoured_in_env(self) -> bool {
        !matches!(
            self,
            Opt::Directory | Opt::File | Opt::Help | Opt::OldFile | Opt::NewFile
        ) && !opt_is_hbuild_only(self)
    }

    /// How make names the option in "requires a non-empty string argument".
    fn display_name(self) -> &'static str {
        match self {
            Opt::Directory => "-C",
            Opt::Eval => "-E",
            Opt::File => "-f",
            Opt::IncludeDir => "-I",
            Opt::OldFile => "-o",
            Opt::NewFile => "-W",
            Opt::OutputSync => "-O",
            Opt::Debug => "--debug",
            Opt::SyncMutex => "--sync-mutex",
            Opt::JobserverFds => "--jobserver-fds",
            Opt::JobserverAuth => "--jobserver-auth",
            _ => "--",
        }
    }
}

const SHORT_OPTIONS: &[(char, Opt)] = &[
    ('b', Opt::Ignored),
    ('m', Opt::Ignored),
    ('B', Opt::AlwaysMake),
    ('C', Opt::Directory),
    ('d', Opt::DebugAll),
    ('e', Opt::EnvOverrides),
    ('E', Opt::Eval),
    ('f', Opt::File),
    ('h', Opt::Help),
    ('i', Opt::IgnoreErrors),
    ('I', Opt::IncludeDir),
    ('j', Opt::Jobs),
    ('k', Opt::KeepGoing),
    ('l', Opt::LoadAverage),
    ('L', Opt::CheckSymlinks),
    ('n', Opt::DryRun),
    ('o', Opt::OldFile),
    ('O', Opt::OutputSync),
    ('p', Opt::PrintDataBase),
    ('q', Opt::Question),
    ('r', Opt::NoBuiltinRules),
    ('R', Opt::NoBuiltinVars),
    ('s', Opt::Silent),
    ('S', Opt::Stop),
    ('t', Opt::Touch),
    ('v', Opt::Version),
    ('w', Opt::PrintDirectory),
    ('W', Opt::NewFile),
];

/// Long names in the order of make's getopt table, which is the order getopt
/// lists them in its "is ambiguous; possibilities:" message.
const LONG_OPTIONS: &[(&str, Opt)] = &[
    ("always-make", Opt::AlwaysMake),
    ("environment-overrides", Opt::EnvOverrides),
    ("help", Opt::Help),
    ("ignore-errors", Opt::IgnoreErrors),
    ("keep-going", Opt::KeepGoing),
    ("check-symlink-times", Opt::CheckSymlinks),
    ("just-print", Opt::DryRun),
    ("print-data-base", Opt::PrintDataBase),
    ("question", Opt::Question),
    ("no-builtin-rules", Opt::NoBuiltinRules),
    ("no-builtin-variables", Opt::NoBuiltinVars),
    ("silent", Opt::Silent),
    ("no-keep-going", Opt::Stop),
    ("touch", Opt::Touch),
    ("version", Opt::Version),
    ("print-directory", Opt::PrintDirectory),
    ("directory", Opt::Directory),
    ("debug", Opt::Debug),
    ("eval", Opt::Eval),
    ("file", Opt::File),
    ("include-dir", Opt::IncludeDir),
    ("jobs", Opt::Jobs),
    ("jobserver-auth", Opt::JobserverAuth),
    ("load-average", Opt::LoadAverage),
    ("old-file", Opt::OldFile),
    ("output-sync", Opt::OutputSync),
    ("what-if", Opt::NewFile),
    ("no-print-directory", Opt::NoPrintDirectory),
    ("warn-undefined-variables", Opt::WarnUndefined),
    ("trace", Opt::Trace),
    ("sync-mutex", Opt::SyncMutex),
    ("no-silent", Opt::NoSilent),
    ("jobserver-fds", Opt::JobserverFds),
    ("quiet", Opt::Silent),
    ("stop", Opt::Stop),
    ("new-file", Opt::NewFile),
    ("assume-new", Opt::NewFile),
    ("assume-old", Opt::OldFile),
    ("max-load", Opt::LoadAverage),
    ("dry-run", Opt::DryRun),
    ("recon", Opt::DryRun),
    ("makefile", Opt::File),
    ("sandbox", Opt::Sandbox),
    ("sandbox-info", Opt::SandboxInfo),
    ("explain-sandbox", Opt::ExplainSandbox),
    ("fix-deps", Opt::FixDeps),
    ("report", Opt::Report),
    ("check-repro", Opt::CheckRepro),
    ("repro-vary", Opt::ReproVary),
    ("watch", Opt::Watch),
    ("progress", Opt::Progress),
    ("trace-json", Opt::TraceJson),
    ("graph", Opt::Graph),
    ("graph-format", Opt::GraphFormat),
    ("completions", Opt::Completions),
    ("man-page", Opt::ManPage),
];

/// hbuild's own options: never read from `MAKEFLAGS` (make would not know them).
fn opt_is_hbuild_only(opt: Opt) -> bool {
    use Opt::*;
    matches!(
        opt,
        Sandbox
            | SandboxInfo
            | ExplainSandbox
            | FixDeps
            | Report
            | CheckRepro
            | ReproVary
            | Watch
            | Progress
            | TraceJson
            | Graph
            | GraphFormat
            | Completions
            | ManPage
    )
}

/// Accepted values of hbuild's options that take a keyword.
const SANDBOX_MODES: &[&str] = &["enforce", "require", "audit", "off"];
const PROGRESS_MODES: &[&str] = &["auto", "always", "never"];
const GRAPH_FORMATS: &[&str] = &["dot", "json"];

const OUTPUT_SYNC_TYPES: &[&str] = &["none", "line", "target", "recurse"];

/// Reads one argument list (the environment's or the command line's) into
/// `opts`, collecting errors rather than stopping, as getopt does.
struct Parser {
    opts: Options,
    from_env: bool,
    help: bool,
    version: bool,
    errors: Vec<String>,
    fatal: Option<String>,
    generate: Option<Generate>,
}

/// Files hbuild can print about itself instead of building.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Generate {
    Completions(String),
    ManPage,
}

impl Parser {
    fn new() -> Parser {
        Parser {
            opts: Options {
                jobs: Some(1),
                ..Default::default()
            },
            from_env: false,
            help: false,
            version: false,
            errors: Vec::new(),
            fatal: None,
            generate: None,
        }
    }

    fn scan(&mut self, args: &[String]) {
        let mut i = 0;
        let mut options_ended = false;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if options_ended || !arg.starts_with('-') || arg == "-" {
                self.operand(arg);
            } else if arg == "--" {
                options_ended = true;
            } else if let Some(long) = arg.strip_prefix("--") {
                self.long_option(long, args, &mut i);
            } else {
                self.short_cluster(&arg[1..], args, &mut i);
            }
        }
    }

    /// A goal or a variable assignment (a lone `-` is ignored, as make does).
    fn operand(&mut self, arg: &str) {
        if arg == "-" {
            return;
        }
        match parse_assignment(arg) {
            Some(a) if a.name.is_empty() => self.set_fatal("empty variable name".into()),
            Some(_) => self.opts.variables.push(arg.to_string()),
            None if self.from_env => {}
            None => self.opts.goals.push(strip_dot_slash(arg).to_string()),
        }
    }

    fn short_cluster(&mut self, cluster: &str, args: &[String], next: &mut usize) {
        for (at, c) in cluster.char_indices() {
            let Some(&(_, opt)) = SHORT_OPTIONS.iter().find(|(s, _)| *s == c) else {
                self.errors.push(format!("invalid option -- '{}'", c));
                continue;
            };
            let rest = &cluster[at + c.len_utf8()..];
            match opt.takes() {
                Takes::Nothing => self.apply(opt, None),
                Takes::Required => {
                    if !rest.is_empty() {
                        self.apply(opt, Some(rest.to_string()));
                    } else if let Some(value) = args.get(*next) {
                        *next += 1;
                        self.apply(opt, Some(value.clone()));
                    } else {
                        self.errors
                            .push(format!("option requires an argument -- '{}'", c));
                    }
                    return;
                }
                Takes::Optional => {
                    let value = if rest.is_empty() {
                        take_number(opt, args, next)
                    } else {
                        Some(rest.to_string())
                    };
                    self.apply(opt, value);
                    return;
                }
            }
        }
    }

    fn long_option(&mut self, text: &str, args: &[String], next: &mut usize) {
        let (name, attached) = match text.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (text, None),
        };
        if name.is_empty() {
            self.errors
                .push("option '--' doesn't allow an argument".to_string());
            return;
        }
        let (full, opt) = match find_long(name) {
            LongMatch::One(full, opt) => (full, opt),
            LongMatch::Unknown => {
                self.errors
                    .push(format!("unrecognized option '--{}'", text));
                return;
            }
            LongMatch::Ambiguous(names) => {
                let list: Vec<String> = names.iter().map(|n| format!("'--{}'", n)).collect();
                self.errors.push(format!(
                    "option '--{}' is ambiguous; possibilities: {}",
                    text,
                    list.join(" ")
                ));
                return;
            }
        };
        match opt.takes() {
            Takes::Nothing if attached.is_some() => self
                .errors
                .push(format!("option '--{}' doesn't allow an argument", full)),
            Takes::Nothing => self.apply(opt, None),
            Takes::Required => {
                let value = attached.or_else(|| {
                    let v = args.get(*next).cloned();
                    *next += v.is_some() as usize;
                    v
                });
                match value {
                    Some(v) => self.apply(opt, Some(v)),
                    None => self
                        .errors
                        .push(format!("option '--{}' requires an argument", full)),
                }
            }
            Takes::Optional => {
                let value = attached.or_else(|| take_number(opt, args, next));
                self.apply(opt, value);
            }
        }
    }

    fn set_fatal(&mut self, msg: String) {
        self.fatal.get_or_insert(msg);
    }

    fn apply(&mut self, opt: Opt, value: Option<String>) {
        if self.from_env && !opt.honoured_in_env() {
            return;
        }
        if opt.takes() == Takes::Required && value.as_deref() == Some("") {
            self.errors.push(format!(
                "the '{}' option requires a non-empty string argument",
                opt.display_name()
            ));
            return;
        }
        let o = &mut self.opts;
        // Files named here are looked up among the makefiles' names, which
        // lost their leading `./` when read (`-W ./x` is `x`).
        let file = || value.as_deref().map(|v| strip_dot_slash(v).to_string());
        match opt {
            Opt::Ignored | Opt::SyncMutex => {}
            Opt::AlwaysMake => o.always_make = true,
            Opt::DebugAll => o.debug = true,
            Opt::EnvOverrides => o.env_overrides = true,
            Opt::Help => self.help = true,
            Opt::IgnoreErrors => o.ignore_errors = true,
            Opt::KeepGoing => o.keep_going = true,
            Opt::Stop => o.keep_going = false,
            Opt::CheckSymlinks => o.check_symlink_times = true,
            Opt::DryRun => o.dry_run = true,
            Opt::PrintDataBase => o.print_data_base = true,
            Opt::Question => o.question = true,
            Opt::NoBuiltinRules => o.no_builtin_rules = true,
            Opt::NoBuiltinVars => o.no_builtin_vars = true,
            Opt::Silent => o.silent = true,
            Opt::NoSilent => o.silent = false,
            Opt::Touch => o.touch = true,
            Opt::Version => self.version = true,
            Opt::PrintDirectory => o.print_directory = Some(true),
            Opt::NoPrintDirectory => o.no_print_directory = true,
            Opt::WarnUndefined => o.warn_undefined_variables = true,
            Opt::Trace => o.trace = true,
            Opt::Directory => o.directories.extend(value),
            Opt::Eval => o.eval.extend(value),
            Opt::File => o.makefiles.extend(file()),
            Opt::IncludeDir => o.include_dirs.extend(value),
            Opt::OldFile => o.old_files.extend(file()),
            Opt::NewFile => o.new_files.extend(file()),
            Opt::JobserverAuth | Opt::JobserverFds => o.jobserver_auth = value,
            Opt::LoadAverage => o.load_average = value.map(|v| leading_float(&v)),
            Opt::Jobs => match value.map(|v| positive_number(&v)) {
                None => {
                    o.jobs = None;
                    o.jobs_given = true;
                    o.jobs_on_command_line |= !self.from_env;
                }
                Some(Some(n)) => {
                    o.jobs = Some(n);
                    o.jobs_given = true;
                    o.jobs_on_command_line |= !self.from_env;
                }
                Some(None) => self
                    .errors
                    .push("the '-j' option requires a positive integer argument".into()),
            },
            Opt::OutputSync => match value.as_deref() {
                None => o.output_sync = Some("target".into()),
                Some("") => self
                    .errors
                    .push("the '-O' option requires a non-empty string argument".into()),
                Some(t) if OUTPUT_SYNC_TYPES.contains(&t) => o.output_sync = Some(t.into()),
                Some(t) => self.set_fatal(format!("unknown output-sync type '{}'", t)),
            },
            Opt::Sandbox => match value.as_deref() {
                Some(m) if SANDBOX_MODES.contains(&m) => o.sandbox = Some(m.to_string()),
                other => self.set_fatal(format!(
                    "unknown sandbox mode '{}' (expected enforce, require, audit or off)",
                    other.unwrap_or_default()
                )),
            },
            Opt::SandboxInfo => o.sandbox_info = true,
            Opt::ExplainSandbox => o.explain_sandbox.extend(file()),
            Opt::FixDeps => o.fix_deps = value,
            Opt::Report => o.report = value,
            Opt::CheckRepro => o.check_repro = true,
            Opt::ReproVary => o.repro_vary = value,
            Opt::Watch => o.watch = true,
            Opt::Progress => match value.as_deref() {
                Some(m) if PROGRESS_MODES.contains(&m) => o.progress = Some(m.to_string()),
                other => self.set_fatal(format!(
                    "unknown progress mode '{}' (expected auto, always or never)",
                    other.unwrap_or_default()
                )),
            },
            Opt::TraceJson => o.trace_json = value,
            Opt::Completions => match value.as_deref().and_then(crate::completions::shell_named) {
                Some(_) => self.generate = Some(Generate::Completions(value.unwrap_or_default())),
                None => self.set_fatal(format!(
                    "unknown shell '{}' (expected bash, zsh, fish, elvish or powershell)",
                    value.unwrap_or_default()
                )),
            },
            Opt::ManPage => self.generate = Some(Generate::ManPage),
            Opt::Graph => o.graph = value,
            Opt::GraphFormat => match value.as_deref() {
                Some(f) if GRAPH_FORMATS.contains(&f) => o.graph_format = Some(f.to_string()),
                other => self.set_fatal(format!(
                    "unknown graph format '{}' (expected dot or json)",
                    other.unwrap_or_default()
                )),
            },
            Opt::Debug => match value {
                None => o.debug_flags.push("basic".into()),
                Some(v) if v.is_empty() => self
                    .errors
                    .push("the '--debug' option requires a non-empty string argument".into()),
                Some(v) => match bad_debug_spec(&v) {
                    None => o.debug_flags.push(v),
                    Some(rest) => {
                        self.set_fatal(format!("unknown debug level specification '{}'", rest))
                    }
                },
            },
        }
    }
}

enum LongMatch {
    One(&'static str, Opt),
    Unknown,
    Ambiguous(Vec<&'static str>),
}

/// getopt_long's matching: an exact name, else a prefix of exactly one option.
fn find_long(name: &str) -> LongMatch {
    if let Some(&(full, opt)) = LONG_OPTIONS.iter().find(|(n, _)| *n == name) {
        return LongMatch::One(full, opt);
    }
    let found: Vec<&(&str, Opt)> = LONG_OPTIONS
        .iter()
        // hbuild's own options need their full name, so that abbreviations
        // mean exactly what they mean to make.
        .filter(|(n, opt)| n.starts_with(name) && !opt_is_hbuild_only(*opt))
        .collect();
    match found.as_slice() {
        [] => LongMatch::Unknown,
        [(full, opt), rest @ ..] if rest.iter().all(|(_, o)| o == opt) => {
            LongMatch::One(full, *opt)
        }
        _ => LongMatch::Ambiguous(found.iter().map(|(n, _)| *n).collect()),
    }
}

/// make's look-ahead for a separate `-j`/`-l` argument: only a number counts.
fn take_number(opt: Opt, args: &[String], next: &mut usize) -> Option<String> {
    let candidate = args.get(*next)?;
    let b = candidate.as_bytes();
    let is_number = match opt {
        Opt::Jobs => !b.is_empty() && b.iter().all(u8::is_ascii_digit),
        Opt::LoadAverage => {
            b.first().is_some_and(u8::is_ascii_digit)
                || (b.first() == Some(&b'.') && b.get(1).is_some_and(u8::is_ascii_digit))
        }
        _ => false,
    };
    if is_number {
        *next += 1;
        Some(candidate.clone())
    } else {
        None
    }
}

fn positive_number(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<usize>().ok().filter(|&n| n > 0)
}

/// C's `atof`: the longest leading decimal number, 0 when there is none.
fn leading_float(text: &str) -> f64 {
    let t = text.trim_start();
    let b = t.as_bytes();
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut end = 0;
    let mut i = if matches!(b.first(), Some(b'+' | b'-')) {
        1
    } else {
        0
    };
    let int_end = digits(i);
    let mut seen_digit = int_end > i;
    i = int_end;
    if b.get(i) == Some(&b'.') {
        let frac_end = digits(i + 1);
        seen_digit |= frac_end > i + 1;
        i = frac_end;
    }
    if seen_digit {
        end = i;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            let exp_end = digits(j);
            if exp_end > j {
                end = exp_end;
            }
        }
    }
    t[..end].parse().unwrap_or(0.0)
}

/// `--debug=FLAGS` words (split on commas and spaces) must start with one of
/// make's level letters; returns the text from the first bad word on.
fn bad_debug_spec(spec: &str) -> Option<&str> {
    let mut at = 0;
    for word in spec.split([',', ' ']) {
        if let Some(c) = word.chars().next() {
            if !"abvijmn".contains(c) {
                return Some(&spec[at..]);
            }
        }
        at += word.len() + 1;
    }
    None
}

/// The assignment operators a command-line variable can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    /// `=`
    Recursive,
    /// `:=` and `::=`
    Simple,
    /// `+=`
    Append,
    /// `?=`
    Conditional,
    /// `!=`
    Shell,
}

/// A command-line argument that assigns a variable, split into its parts
/// (the name is trimmed but not expanded; the value keeps its text after the
/// operator less leading blanks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub op: AssignOp,
    pub value: String,
}

/// Decide whether a non-option argument is a variable assignment, as make
/// reads it like a makefile line: the name ends at the first `=` (or `:=`,
/// `::=`, `+=`, `?=`, `!=`) outside `$(...)`; a `:` not starting an operator,
/// a `#`, or a blank not followed by an operator make it a goal instead.
pub fn parse_assignment(arg: &str) -> Option<Assignment> {
    let text = arg.trim_start();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' => i = skip_reference(b, i),
            b'#' => return None,
            b' ' | b'\t' => {
                let j = i + text[i..].len() - text[i..].trim_start().len();
                let (op, len) = operator_at(&b[j..])?;
                return Some(assignment(text, i, op, j + len));
            }
            _ => {
                if let Some((op, len)) = operator_at(&b[i..]) {
                    return Some(assignment(text, i, op, i + len));
                }
                if b[i] == b':' {
                    return None;
                }
                i += 1;
            }
        }
    }
    None
}

fn assignment(text: &str, name_end: usize, op: AssignOp, value_start: usize) -> Assignment {
    Assignment {
        name: text[..name_end].trim().to_string(),
        op,
        value: text[value_start..]
            .trim_start_matches([' ', '\t'])
            .to_string(),
    }
}

fn operator_at(b: &[u8]) -> Option<(AssignOp, usize)> {
    match b {
        [b'=', ..] => Some((AssignOp::Recursive, 1)),
        [b':', b'=', ..] => Some((AssignOp::Simple, 2)),
        [b':', b':', b'=', ..] => Some((AssignOp::Simple, 3)),
        [b'+', b'=', ..] => Some((AssignOp::Append, 2)),
        [b'?', b'=', ..] => Some((AssignOp::Conditional, 2)),
        [b'!', b'=', ..] => Some((AssignOp::Shell, 2)),
        _ => None,
    }
}

/// Skip a `$x` or `$(...)`/`${...}` reference starting at `b[at] == b'$'`.
fn skip_reference(b: &[u8], at: usize) -> usize {
    let (open, close) = match b.get(at + 1) {
        Some(b'(') => (b'(', b')'),
        Some(b'{') => (b'{', b'}'),
        _ => return at + 2,
    };
    let mut depth = 0;
    for (i, &c) in b.iter().enumerate().skip(at + 1) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
    }
    b.len()
}

/// A command-line variable as `MAKEFLAGS` lists it: its final flavour and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub name: String,
    pub simple: bool,
    pub value: String,
}

impl Options {
    /// The value of `MAKEFLAGS` for recipes and sub-makes, formatted as GNU make
    /// 4.3 does (single-letter flags first, then the others, then ` -- VAR=value`).
    /// The variables are worked out from `variables` as written (see
    /// [`Options::overrides`]); [`Options::makeflags_with`] takes the real ones.
    pub fn makeflags(&self) -> String {
        self.makeflags_with(&self.makeoverrides())
    }

    /// `MAKEFLAGS` with `makeoverrides` (the value of `$(MAKEOVERRIDES)`, which
    /// a makefile may change) after ` -- `; nothing is added when it is empty.
    pub fn makeflags_with(&self, makeoverrides: &str) -> String {
        let mut out = self.flag_words(true, true);
        if !makeoverrides.is_empty() {
            out.push_str(" -- ");
            out.push_str(makeoverrides);
        }
        out
    }

    /// `MAKEFLAGS` as make 4.3 shows it while it reads the makefiles: only the
    /// plain flags and `--eval`s; `-I`, `-j`, `-l`, `-O`, `--debug=`,
    /// `--jobserver-auth` and the variables appear only once recipes run.
    pub fn makeflags_while_reading(&self) -> String {
        self.flag_words(false, true)
    }

    /// The value of `MFLAGS`: the same flags with a leading dash, no `--eval`
    /// and no variables.
    pub fn mflags(&self) -> String {
        self.mflags_from(self.flag_words(true, false))
    }

    /// `MFLAGS` while the makefiles are read (see `makeflags_while_reading`).
    pub fn mflags_while_reading(&self) -> String {
        self.mflags_from(self.flag_words(false, false))
    }

    fn mflags_from(&self, words: String) -> String {
        match words.strip_prefix(' ') {
            Some(rest) => rest.to_string(),
            None if words.is_empty() => words,
            None => format!("-{}", words),
        }
    }

    /// The single letters run together, then each other flag after a space.
    fn flag_words(&self, with_arguments: bool, with_eval: bool) -> String {
        let letters = [
            ('B', self.always_make),
            ('d', self.debug),
            ('e', self.env_overrides),
            ('i', self.ignore_errors),
            ('k', self.keep_going),
            ('L', self.check_symlink_times),
            ('n', self.dry_run),
            ('p', self.print_data_base),
            ('q', self.question),
            ('r', self.no_builtin_rules || self.no_builtin_vars),
            ('R', self.no_builtin_vars),
            ('s', self.silent),
            ('t', self.touch),
            ('w', self.print_directory == Some(true)),
        ];
        let mut out: String = letters
            .iter()
            .filter(|(_, on)| *on)
            .map(|(c, _)| *c)
            .collect();
        let mut words = Vec::new();
        if with_arguments {
            for dir in &self.include_dirs {
                words.push(format!("-I{}", escape_blanks(dir)));
            }
            if self.jobs_given {
                words.push(match self.jobs {
                    Some(n) => format!("-j{}", n),
                    None => "-j".to_string(),
                });
            }
            if let Some(load) = self.load_average {
                words.push(format!("-l{}", format_g(load)));
            }
            if let Some(sync) = &self.output_sync {
                words.push(format!("-O{}", sync));
            }
            for flags in &self.debug_flags {
                words.push(format!("--debug={}", flags));
            }
            if let Some(auth) = &self.jobserver_auth {
                words.push(format!("--jobserver-auth={}", auth));
            }
        }
        if self.trace {
            words.push("--trace".into());
        }
        if self.no_print_directory {
            words.push("--no-print-directory".into());
        }
        if self.warn_undefined_variables {
            words.push("--warn-undefined-variables".into());
        }
        if with_eval {
            for text in &self.eval {
                words.push(format!("--eval={}", quote_value(text)));
            }
        }
        for w in words {
            out.push(' ');
            out.push_str(&w);
        }
        out
    }

    /// The command-line variables in `MAKEFLAGS` order (make lists each
    /// variable once, most recently first-defined first), with the flavour and
    /// value they end up with.  Best effort from the text: a `:=` value is not
    /// expanded and a `!=` one is left empty; the reader of the makefiles knows
    /// the real values and can pass them to [`format_overrides`].
    pub fn overrides(&self) -> Vec<Override> {
        let mut order: Vec<String> = Vec::new();
        let mut table: HashMap<String, (bool, String)> = HashMap::new();
        for arg in &self.variables {
            let Some(a) = parse_assignment(arg) else {
                continue;
            };
            let old = table.get(&a.name).cloned();
            let new = match (a.op, old) {
                (AssignOp::Recursive, _) => (false, a.value),
                (AssignOp::Simple, _) => (true, a.value),
                (AssignOp::Shell, _) => (false, String::new()),
                (AssignOp::Conditional, Some(old)) => old,
                (AssignOp::Append, Some((simple, v))) if !v.is_empty() => {
                    (simple, format!("{} {}", v, a.value))
                }
                (AssignOp::Append, Some((simple, _))) => (simple, a.value),
                (AssignOp::Conditional | AssignOp::Append, None) => (false, a.value),
            };
            if !table.contains_key(&a.name) {
                order.push(a.name.clone());
            }
            table.insert(a.name, new);
        }
        order
            .into_iter()
            .rev()
            .map(|name| {
                let (simple, value) = table.remove(&name).unwrap_or_default();
                Override {
                    name,
                    simple,
                    value,
                }
            })
            .collect()
    }

    /// The value of `MAKEOVERRIDES`: the variables part of `MAKEFLAGS`.
    pub fn makeoverrides(&self) -> String {
        format_overrides(&self.overrides())
    }
}

/// Format command-line variables as `MAKEFLAGS` lists them:
/// `NAME=value` or `NAME:=value`, `$` doubled and blanks backslash-escaped.
pub fn format_overrides(vars: &[Override]) -> String {
    vars.iter()
        .map(|v| {
            let op = if v.simple { ":=" } else { "=" };
            format!("{}{}{}", v.name, op, quote_value(&v.value))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// make 4.3 escapes blanks with a backslash in `MAKEFLAGS` words (but leaves
/// backslashes alone, so a value with `\` does not survive the round trip).
fn escape_blanks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, ' ' | '\t' | '\n') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Variable values and `--eval` texts also have `$` doubled, because make
/// expands `MAKEFLAGS` before reading it back.
fn quote_value(text: &str) -> String {
    escape_blanks(&text.replace('$', "$$"))
}

/// C's `%g`: six significant digits, trailing zeros dropped, exponent form for
/// very large or small values.
fn format_g(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return if x.is_finite() {
            "0".into()
        } else {
            x.to_string()
        };
    }
    let sci = format!("{:.5e}", x);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", trim(mantissa), sign, exp.abs())
    } else {
        trim(&format!("{:.*}", (5 - exp) as usize, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn outcome(line: &str, env: Option<&str>) -> Outcome {
        decide(&args(line), env)
    }

    /// Parse a command line that must be valid.
    fn opts_env(line: &str, env: Option<&str>) -> Options {
        match outcome(line, env) {
            Outcome::Build(o) => *o,
            other => panic!("{:?} gave {:?}", line, other),
        }
    }

    fn opts(line: &str) -> Options {
        opts_env(line, None)
    }

    fn errors(line: &str) -> Vec<String> {
        match outcome(line, None) {
            Outcome::BadUsage { errors, .. } => errors,
            other => panic!("{:?} gave {:?}", line, other),
        }
    }

    fn fatal(line: &str) -> String {
        match outcome(line, None) {
            Outcome::Fatal(msg) => msg,
            other => panic!("{:?} gave {:?}", line, other),
        }
    }

    #[test]
    fn jobs_from_the_command_line_are_told_apart_from_makeflags() {
        assert!(opts("-kj3").jobs_on_command_line);
        assert!(opts("--jobs=2").jobs_on_command_line);
        let inherited = opts_env("", Some(" -j4 --jobserver-auth=3,4"));
        assert_eq!(inherited.jobs, Some(4));
        assert!(!inherited.jobs_on_command_line);
    }

    #[test]
    fn hbuild_options_need_their_full_name_and_a_known_value() {
        let o = opts("--sandbox=audit --fix-deps=d.mk --explain-sandbox x --report=r.json");
        assert_eq!(o.sandbox.as_deref(), Some("audit"));
        assert_eq!(o.fix_deps.as_deref(), Some("d.mk"));
        assert_eq!(o.explain_sandbox, vec!["x".to_string()]);
        assert_eq!(o.report.as_deref(), Some("r.json"));
        assert!(fatal("--sandbox=maybe").contains("unknown sandbox mode 'maybe'"));
        assert!(fatal("--progress=often").contains("unknown progress mode"));
        // Never from MAKEFLAGS: make would not know them either.
        assert_eq!(opts_env("", Some(" --sandbox=off")).sandbox, None);
        // Abbreviations stay make's.
        assert!(!errors("--sand").is_empty());
    }

    #[test]
    fn defaults() {
        let o = opts("");
        assert_eq!(o.jobs, Some(1));
        assert!(!o.jobs_given);
        assert!(o.goals.is_empty() && o.variables.is_empty());
        assert_eq!(o.makeflags(), "");
        assert_eq!(o.mflags(), "");
    }

    #[test]
    fn boolean_flags_in_every_spelling() {
        type Field = fn(&Options) -> bool;
        let cases: &[(&str, Field)] = &[
            ("-k --keep-going --keep", |o| o.keep_going),
            ("-n --just-print --dry-run --recon", |o| o.dry_run),
            ("-B --always-make", |o| o.always_make),
            ("-s --silent --quiet", |o| o.silent),
            ("-q --question", |o| o.question),
            ("-t --touch", |o| o.touch),
            ("-i --ignore-errors", |o| o.ignore_errors),
            ("-e --environment-overrides", |o| o.env_overrides),
            ("-r --no-builtin-rules", |o| o.no_builtin_rules),
            ("-R --no-builtin-variables", |o| o.no_builtin_vars),
            ("-p --print-data-base", |o| o.print_data_base),
            ("--trace", |o| o.trace),
            ("-d", |o| o.debug),
            ("--warn-undefined-variables", |o| o.warn_undefined_variables),
            ("-L --check-symlink-times", |o| o.check_symlink_times),
            ("-w --print-directory", |o| o.print_directory == Some(true)),
            ("--no-print-directory", |o| o.no_print_directory),
        ];
        for (spellings, field) in cases {
            for s in spellings.split(' ') {
                assert!(field(&opts(s)), "{}", s);
            }
            assert!(!field(&opts("")), "{} is off by default", spellings);
        }
    }

    #[test]
    fn ignored_flags() {
        let o = opts("-b -m");
        assert_eq!(o.makeflags(), "");
    }

    #[test]
    fn options_with_arguments_in_every_spelling() {
        let o = opts("-f a -fb --file=c --file d --makefile=e --makefile f --fil g");
        assert_eq!(o.makefiles, ["a", "b", "c", "d", "e", "f", "g"]);
        assert_eq!(
            opts("-C x -Cy --directory=z --directory w").directories,
            ["x", "y", "z", "w"]
        );
        assert_eq!(
            opts("-I a -Ib --include-dir=c --include-dir d").include_dirs,
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            opts("-o a -ob --old-file=c --assume-old d").old_files,
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            opts("-W a -Wb --what-if=c --new-file d --assume-new=e").new_files,
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(
            opts("--eval=A=1 -E B=2 --eval C=3").eval,
            ["A=1", "B=2", "C=3"]
        );
        // Named files and goals are entered as make enters them: without `./`.
        let o = opts("-f ./m.mk -o ./a -W ././b ./g . ./ -C ./d");
        assert_eq!(
            (o.makefiles, o.old_files, o.new_files, o.goals),
            (
                vec!["m.mk".to_string()],
                vec!["a".to_string()],
                vec!["b".to_string()],
                vec!["g".to_string(), ".".to_string(), "./".to_string()]
            )
        );
        assert_eq!(o.directories, ["./d"]);
    }

    #[test]
    fn jobs_forms() {
        for line in ["-j4", "-j 4", "--jobs=4", "--jobs 4", "-j 04", "-j2 -j4"] {
            let o = opts(line);
            assert_eq!((o.jobs, o.jobs_given), (Some(4), true), "{}", line);
        }
        for line in ["-j", "--jobs", "-j4 -j", "-kj"] {
            let o = opts(line);
            assert_eq!((o.jobs, o.jobs_given), (None, true), "{}", line);
        }
        // Only a number is taken from the next argument; anything else is a goal.
        let o = opts("-j x");
        assert_eq!((o.jobs, o.goals.clone()), (None, vec!["x".to_string()]));
        assert_eq!(opts("-j 4x").goals, ["4x"]);
        assert_eq!(opts("-j 4 all").goals, ["all"]);
        assert_eq!(opts("-j -k").jobs, None);
        assert!(opts("-j -k").keep_going);
        let bad = "the '-j' option requires a positive integer argument";
        for line in ["-jk", "-j4k", "-j0", "--jobs=x", "--jobs=0", "-j+4", "-j 0"] {
            assert_eq!(errors(line), [bad], "{}", line);
        }
    }

    #[test]
    fn load_average_forms() {
        assert_eq!(opts("-l 2").load_average, Some(2.0));
        assert_eq!(opts("-l2.5").load_average, Some(2.5));
        assert_eq!(opts("-l .5").load_average, Some(0.5));
        assert_eq!(
            opts("--load-average=3 --max-load 4").load_average,
            Some(4.0)
        );
        assert_eq!(opts("-l 1e2").load_average, Some(100.0));
        assert_eq!(opts("-l2k").load_average, Some(2.0));
        assert_eq!(opts("-lk").load_average, Some(0.0));
        assert_eq!(opts("-l2 -l").load_average, None);
        let o = opts("-l x");
        assert_eq!(
            (o.load_average, o.goals.clone()),
            (None, vec!["x".to_string()])
        );
    }

    #[test]
    fn output_sync_forms() {
        assert_eq!(opts("-O").output_sync.as_deref(), Some("target"));
        assert_eq!(opts("--output-sync").output_sync.as_deref(), Some("target"));
        for t in ["none", "line", "target", "recurse"] {
            assert_eq!(opts(&format!("-O{}", t)).output_sync.as_deref(), Some(t));
            assert_eq!(
                opts(&format!("--output-sync={}", t)).output_sync.as_deref(),
                Some(t)
            );
        }
        // The type must be attached: a separate word is a goal.
        let o = opts("-O none");
        assert_eq!(
            (o.output_sync.as_deref(), o.goals.clone()),
            (Some("target"), vec!["none".into()])
        );
        assert_eq!(opts("-Oline -O").output_sync.as_deref(), Some("target"));
        assert_eq!(fatal("-Ofoo"), "unknown output-sync type 'foo'");
        assert_eq!(
            errors("--output-sync="),
            ["the '-O' option requires a non-empty string argument"]
        );
    }

    #[test]
    fn debug_forms() {
        assert_eq!(opts("--debug").debug_flags, ["basic"]);
        assert_eq!(opts("--debug=b --debug=v,i").debug_flags, ["b", "v,i"]);
        assert_eq!(
            opts("--debug=all --debug=bogus").debug_flags,
            ["all", "bogus"]
        );
        assert_eq!(fatal("--debug=z"), "unknown debug level specification 'z'");
        assert_eq!(
            fatal("--debug=b,zz,v"),
            "unknown debug level specification 'zz,v'"
        );
        assert_eq!(
            errors("--debug="),
            ["the '--debug' option requires a non-empty string argument"]
        );
    }

    #[test]
    fn combined_short_flags() {
        let o = opts("-kj4");
        assert!(o.keep_going);
        assert_eq!(o.jobs, Some(4));
        let o = opts("-ksj 3");
        assert!(o.keep_going && o.silent);
        assert_eq!(o.jobs, Some(3));
        for line in ["-sC dir", "-sCdir"] {
            let o = opts(line);
            assert!(o.silent);
            assert_eq!(o.directories, ["dir"]);
        }
        assert_eq!(opts("-fMakefile").makefiles, ["Makefile"]);
        let o = opts("-kfM2k");
        assert!(o.keep_going);
        assert_eq!(o.makefiles, ["M2k"]);
        assert_eq!(opts("-sIfoo").include_dirs, ["foo"]);
        assert_eq!(opts("-kOline").output_sync.as_deref(), Some("line"));
    }

    #[test]
    fn later_options_win() {
        assert!(!opts("-k -S").keep_going);
        assert!(!opts("-kS").keep_going);
        assert!(!opts("--keep-going --stop").keep_going);
        assert!(opts("-S -k").keep_going);
        assert!(!opts("-s --no-silent").silent);
        assert!(opts("--no-silent -s").silent);
        // --no-print-directory beats -w wherever it is.
        assert!(opts("-w --no-print-directory -w").no_print_directory);
        // -R implies -r.
        assert!(opts("-R").no_builtin_rules);
    }

    #[test]
    fn goals_variables_and_double_dash() {
        let o = opts("all VAR=1 -k install X:=2 Y+=3 Z::=4 W?=5 V!=echo");
        assert_eq!(o.goals, ["all", "install"]);
        assert_eq!(
            o.variables,
            ["VAR=1", "X:=2", "Y+=3", "Z::=4", "W?=5", "V!=echo"]
        );
        assert!(o.keep_going);
        let o = opts("-k -- -s B=1 x");
        assert!(!o.silent);
        assert_eq!(o.goals, ["-s", "x"]);
        assert_eq!(o.variables, ["B=1"]);
        assert!(opts("-").goals.is_empty());
        assert_eq!(fatal("=x"), "empty variable name");
    }

    #[test]
    fn assignment_detection() {
        let yes = |a: &str, name: &str, op: AssignOp, value: &str| {
            let got = parse_assignment(a).unwrap_or_else(|| panic!("{} is an assignment", a));
            assert_eq!(
                (got.name.as_str(), got.op, got.value.as_str()),
                (name, op, value),
                "{}",
                a
            );
        };
        yes("X=1", "X", AssignOp::Recursive, "1");
        yes("X:=1", "X", AssignOp::Simple, "1");
        yes("X::= 1", "X", AssignOp::Simple, "1");
        yes("X ::=1", "X", AssignOp::Simple, "1");
        yes("X+=1", "X", AssignOp::Append, "1");
        yes("X?=1", "X", AssignOp::Conditional, "1");
        yes("X!=echo hi", "X", AssignOp::Shell, "echo hi");
        yes(" X =a b", "X", AssignOp::Recursive, "a b");
        yes("a  =c", "a", AssignOp::Recursive, "c");
        yes("a$(x)b=c", "a$(x)b", AssignOp::Recursive, "c");
        yes("$(a:b=c)=1", "$(a:b=c)", AssignOp::Recursive, "1");
        yes("a/b=c", "a/b", AssignOp::Recursive, "c");
        yes(".X-Y=1", ".X-Y", AssignOp::Recursive, "1");
        yes("X=a=b", "X", AssignOp::Recursive, "a=b");
        yes("=x", "", AssignOp::Recursive, "x");
        for goal in [
            "all", "a b=c", "a#b=c", "a:b=c", "X :: = 1", "X:::=1", "X:$(y)=1", "-",
        ] {
            assert_eq!(parse_assignment(goal), None, "{}", goal);
        }
    }

    #[test]
    fn getopt_error_messages() {
        assert_eq!(errors("-x"), ["invalid option -- 'x'"]);
        assert_eq!(
            errors("-x -y --foo"),
            [
                "invalid option -- 'x'",
                "invalid option -- 'y'",
                "unrecognized option '--foo'"
            ]
        );
        assert_eq!(errors("-kx"), ["invalid option -- 'x'"]);
        assert_eq!(errors("-j -1"), ["invalid option -- '1'"]);
        assert_eq!(errors("-f"), ["option requires an argument -- 'f'"]);
        assert_eq!(errors("-C"), ["option requires an argument -- 'C'"]);
        assert_eq!(errors("--file"), ["option '--file' requires an argument"]);
        assert_eq!(errors("--fil"), ["option '--file' requires an argument"]);
        assert_eq!(errors("--eval"), ["option '--eval' requires an argument"]);
        assert_eq!(
            errors("--trace=1"),
            ["option '--trace' doesn't allow an argument"]
        );
        assert_eq!(errors("--="), ["option '--' doesn't allow an argument"]);
        assert_eq!(errors("--foo=bar"), ["unrecognized option '--foo=bar'"]);
        for (opt, name) in [
            ("-f", "-f"),
            ("-C", "-C"),
            ("-I", "-I"),
            ("--eval", "-E"),
            ("-o", "-o"),
        ] {
            let got = match decide(&[opt.to_string(), String::new()], None) {
                Outcome::BadUsage { errors, .. } => errors,
                other => panic!("{:?}", other),
            };
            assert_eq!(
                got,
                [format!(
                    "the '{}' option requires a non-empty string argument",
                    name
                )]
            );
        }
    }

    #[test]
    fn ambiguous_long_prefixes_list_make_s_candidates() {
        let cases = [
            ("--no", "'--no-builtin-rules' '--no-builtin-variables' '--no-keep-going' '--no-print-directory' '--no-silent'"),
            ("--j=2", "'--just-print' '--jobs' '--jobserver-auth' '--jobserver-fds'"),
            ("--e", "'--environment-overrides' '--eval'"),
            ("--a", "'--always-make' '--assume-new' '--assume-old'"),
            ("--p", "'--print-data-base' '--print-directory'"),
            ("--w", "'--what-if' '--warn-undefined-variables'"),
            ("--s", "'--silent' '--sync-mutex' '--stop'"),
            ("--d", "'--directory' '--debug' '--dry-run'"),
            ("--m", "'--max-load' '--makefile'"),
            ("--n", "'--no-builtin-rules' '--no-builtin-variables' '--no-keep-going' '--no-print-directory' '--no-silent' '--new-file'"),
            ("--o", "'--old-file' '--output-sync'"),
            ("--t", "'--touch' '--trace'"),
            ("--q", "'--question' '--quiet'"),
            ("--i", "'--ignore-errors' '--include-dir'"),
            ("--jobserver", "'--jobserver-auth' '--jobserver-fds'"),
        ];
        for (arg, list) in cases {
            assert_eq!(
                errors(arg),
                [format!(
                    "option '{}' is ambiguous; possibilities: {}",
                    arg, list
                )]
            );
        }
        // Unique prefixes are fine.
        assert!(opts("--keep").keep_going);
        assert!(opts("--r").dry_run);
        assert!(opts("--c").check_symlink_times);
        assert_eq!(opts("--dir=x").directories, ["x"]);
        assert_eq!(opts("--l").load_average, None);
    }

    #[test]
    fn help_and_version() {
        assert!(matches!(
            outcome("-h", None),
            Outcome::Help { version: false }
        ));
        assert!(matches!(
            outcome("--help", None),
            Outcome::Help { version: false }
        ));
        assert!(matches!(
            outcome("-v -h", None),
            Outcome::Help { version: true }
        ));
        assert!(matches!(outcome("-v", None), Outcome::Version));
        assert!(matches!(outcome("--version all", None), Outcome::Version));
        assert!(matches!(
            outcome("-x -v", None),
            Outcome::BadUsage { version: true, .. }
        ));
        // -v with -p prints the banner and goes on.
        assert!(opts("-v -p").print_version);
        assert!(version_text().starts_with("hbuild 0.1.0\n"));
        assert!(version_text().contains("GNU Make 4.3"));
        let usage = usage_text();
        assert!(usage.starts_with("Usage: hbuild [options] [target] ...\nOptions:\n"));
        assert!(usage.contains("\n  -B, --always-make           Remake"));
        assert!(
            usage.contains("\n  -e, --environment-overrides\n                              Let")
        );
        assert!(usage.contains("\n  --warn-undefined-variables  Warn"));
    }

    /// `MAKEFLAGS` strings confirmed with GNU make 4.3 (`$$MAKEFLAGS` in a recipe).
    #[test]
    fn makeflags_matches_make() {
        let cases = [
            ("-k", "k", "-k"),
            ("-s", "s", "-s"),
            ("-ks", "ks", "-ks"),
            ("-sk", "ks", "-ks"),
            ("-j", " -j", "-j"),
            ("-j1", " -j1", "-j1"),
            ("-j4 -k", "k -j4", "-k -j4"),
            ("-i -n", "in", "-in"),
            ("-t -n", "nt", "-nt"),
            ("-I dir", " -Idir", "-Idir"),
            ("-I /a -I /b", " -I/a -I/b", "-I/a -I/b"),
            ("-o x", "", ""),
            ("-W y", "", ""),
            ("-e", "e", "-e"),
            ("-r", "r", "-r"),
            ("-R", "rR", "-rR"),
            ("--trace", " --trace", "--trace"),
            ("-w", "w", "-w"),
            ("-w -s", "sw", "-sw"),
            ("--no-print-directory", " --no-print-directory", "--no-print-directory"),
            ("-w --no-print-directory", " --no-print-directory", "--no-print-directory"),
            ("VAR=value", " -- VAR=value", ""),
            ("A=1 B=2", " -- B=2 A=1", ""),
            ("A=1 B=2 C=3", " -- C=3 B=2 A=1", ""),
            ("A=1 A=2", " -- A=2", ""),
            ("A=1 B=2 A=3", " -- B=2 A=3", ""),
            ("X:=1", " -- X:=1", ""),
            ("X::=1", " -- X:=1", ""),
            ("X+=1", " -- X=1", ""),
            ("X?=1", " -- X=1", ""),
            ("--trace A=1", " --trace -- A=1", "--trace"),
            ("-k --eval=X=1 A=1", "k --eval=X=1 -- A=1", "-k"),
            ("--eval=A=1 --eval=B=2", " --eval=A=1 --eval=B=2", ""),
            ("-C dir", "", ""),
            ("-f Makefile", "", ""),
            ("-l 2", " -l2", "-l2"),
            ("-l2.5", " -l2.5", "-l2.5"),
            ("-l .5", " -l0.5", "-l0.5"),
            ("-l 1234567", " -l1.23457e+06", "-l1.23457e+06"),
            ("-l 0.1234567", " -l0.123457", "-l0.123457"),
            ("-l", "", ""),
            ("-l 2 -j3", " -j3 -l2", "-j3 -l2"),
            ("-O", " -Otarget", "-Otarget"),
            ("-Onone", " -Onone", "-Onone"),
            ("-O -j2", " -j2 -Otarget", "-j2 -Otarget"),
            ("-L", "L", "-L"),
            ("-d", "d", "-d"),
            ("--debug", " --debug=basic", "--debug=basic"),
            ("-d --debug=v", "d --debug=v", "-d --debug=v"),
            ("--debug=b --debug=v", " --debug=b --debug=v", "--debug=b --debug=v"),
            ("--warn-undefined-variables", " --warn-undefined-variables", "--warn-undefined-variables"),
            ("-S", "", ""),
            ("-k -S", "", ""),
            ("-B", "B", "-B"),
            ("-q", "q", "-q"),
            ("-p -q", "pq", "-pq"),
            ("-b -m", "", ""),
            ("--no-silent", "", ""),
            ("-BdeikLrRsw", "BdeikLrRsw", "-BdeikLrRsw"),
            ("-BdeikLnpqrRstw", "BdeikLnpqrRstw", "-BdeikLnpqrRstw"),
            (
                "-bBdeikrRsSwL -Ia -j2 -l3 -Oline --debug=b --warn-undefined-variables --trace --eval=Q=1 --no-print-directory -o x -W y Z=1",
                "BdeiLrRs -Ia -j2 -l3 -Oline --debug=b --trace --no-print-directory --warn-undefined-variables --eval=Q=1 -- Z=1",
                "-BdeiLrRs -Ia -j2 -l3 -Oline --debug=b --trace --no-print-directory --warn-undefined-variables",
            ),
        ];
        for (line, makeflags, mflags) in cases {
            let o = opts(line);
            assert_eq!(o.makeflags(), makeflags, "MAKEFLAGS for {}", line);
            assert_eq!(o.mflags(), mflags, "MFLAGS for {}", line);
        }
    }

    #[test]
    fn makeflags_quoting() {
        let one = |arg: &str| match decide(&[arg.to_string()], None) {
            Outcome::Build(o) => o.makeflags(),
            other => panic!("{:?}", other),
        };
        assert_eq!(one("VAR=a b"), " -- VAR=a\\ b");
        assert_eq!(one("A=a  b"), " -- A=a\\ \\ b");
        assert_eq!(one("A=a\tb"), " -- A=a\\\tb");
        assert_eq!(one("A=$$x"), " -- A=$$$$x");
        assert_eq!(one("A=a\\b"), " -- A=a\\b");
        assert_eq!(one("A=a#b"), " -- A=a#b");
        assert_eq!(one("X=1 2"), " -- X=1\\ 2");
        assert_eq!(one("--eval=A = 1"), " --eval=A\\ =\\ 1");
        assert_eq!(one("--eval=A=$$x"), " --eval=A=$$$$x");
        assert_eq!(one("-I$$x"), " -I$$x");
        assert_eq!(one("-Ia b"), " -Ia\\ b");
    }

    #[test]
    fn jobserver_auth_is_appended() {
        let mut o = opts("-j4 -k");
        o.jobserver_auth = Some("3,4".into());
        assert_eq!(o.makeflags(), "k -j4 --jobserver-auth=3,4");
        assert_eq!(o.mflags(), "-k -j4 --jobserver-auth=3,4");
        let mut o = opts("-sk -j4 -Ifoo --trace -- X=1");
        o.jobserver_auth = Some("3,4".into());
        assert_eq!(
            o.makeflags(),
            "ks -Ifoo -j4 --jobserver-auth=3,4 --trace -- X=1"
        );
        assert_eq!(o.mflags(), "-ks -Ifoo -j4 --jobserver-auth=3,4 --trace");
        let mut o = opts("-j2 -Oline --debug=b");
        o.jobserver_auth = Some("3,4".into());
        assert_eq!(o.makeflags(), " -j2 -Oline --debug=b --jobserver-auth=3,4");
        let o = opts_env("", Some("k --jobserver-auth=5,6 -j4"));
        assert_eq!(o.jobserver_auth.as_deref(), Some("5,6"));
        let o = opts_env("", Some("k --jobserver-fds=5,6 -j4"));
        assert_eq!(o.jobserver_auth.as_deref(), Some("5,6"));
    }

    #[test]
    fn makeflags_while_reading_matches_make() {
        let cases = [
            ("-k", "k", "-k"),
            ("-j4 -k", "k", "-k"),
            ("-I dir -l2 -O --debug", "", ""),
            ("A=1", "", ""),
            ("--trace", " --trace", "--trace"),
            ("-k --eval=X=1 A=1", "k --eval=X=1", "-k"),
            (
                "-BdeiknpqrsStwL -Ia -j2 -l3 -Oline --debug=b --warn-undefined-variables --trace --eval=Q=1 --no-print-directory",
                "BdeiLnpqrst --trace --no-print-directory --warn-undefined-variables --eval=Q=1",
                "-BdeiLnpqrst --trace --no-print-directory --warn-undefined-variables",
            ),
        ];
        for (line, makeflags, mflags) in cases {
            let o = opts(line);
            assert_eq!(o.makeflags_while_reading(), makeflags, "{}", line);
            assert_eq!(o.mflags_while_reading(), mflags, "{}", line);
        }
    }

    #[test]
    fn makeoverrides_can_be_replaced() {
        let o = opts("-k A=1");
        assert_eq!(o.makeoverrides(), "A=1");
        assert_eq!(o.makeflags_with(""), "k");
        let real = [Override {
            name: "X".into(),
            simple: false,
            value: "hi".into(),
        }];
        assert_eq!(o.makeflags_with(&format_overrides(&real)), "k -- X=hi");
        assert_eq!(opts("X!=echo").makeflags(), " -- X=");
        assert_eq!(opts("X=a X+=b").makeflags(), " -- X=a\\ b");
        assert_eq!(opts("X=a X?=b").makeflags(), " -- X=a");
    }

    /// Reading the environment's `MAKEFLAGS`, checked against make 4.3.
    #[test]
    fn makeflags_from_the_environment() {
        let env = |value: &str| opts_env("", Some(value));
        assert!(env("ks").keep_going && env("ks").silent);
        assert!(env("-ks").keep_going && env("-ks").silent);
        // Later words must be options: a bare `s` is ignored.
        let o = env("k s");
        assert!(o.keep_going && !o.silent && o.goals.is_empty());
        assert_eq!(env("kj4").jobs, Some(4));
        assert_eq!(env("k -j4").jobs, Some(4));
        assert_eq!(env(" -j4").jobs, Some(4));
        assert_eq!(env("k\t-j2").jobs, Some(2));
        assert_eq!(env("-j").jobs, None);
        assert_eq!(env("k -- A=1").variables, ["A=1"]);
        assert_eq!(env("A=1").variables, ["A=1"]);
        assert_eq!(env("k  -- A=1   B=2").variables, ["A=1", "B=2"]);
        assert_eq!(env("-- A=a\\ b").variables, ["A=a b"]);
        assert_eq!(env("-- A=a\\\\b").variables, ["A=a\\b"]);
        assert_eq!(env("-- A=a\\b").variables, ["A=ab"]);
        assert_eq!(env("-- A=a\\").variables, ["A=a\\"]);
        assert_eq!(env("-- A=$$$$x").variables, ["A=$$x"]);
        assert_eq!(env("k -- A=1 -s").variables, ["A=1"]);
        assert!(!env("k -- -s").silent);
        assert!(env(" --trace").trace);
        assert!(env(" --no-print-directory").no_print_directory);
        assert_eq!(env("k -Ia -I b").include_dirs, ["a", "b"]);
        assert_eq!(env(" -Ia\\ b").include_dirs, ["a b"]);
        assert_eq!(env("--eval=A=7").eval, ["A=7"]);
        // Unknown options are skipped silently; options make does not take
        // from the environment are ignored.
        assert!(env("kx").keep_going);
        let o = env("-x --foo fM2 C/tmp -o x Wy h");
        assert!(o.makefiles.is_empty() && o.directories.is_empty());
        assert!(o.old_files.is_empty() && o.new_files.is_empty());
        assert!(matches!(outcome("", Some("h")), Outcome::Build(_)));
        assert!(matches!(outcome("", Some("v")), Outcome::Version));
        assert!(!env("kS").keep_going);
        assert!(!env("s --no-silent").silent);
        assert!(env("").makeflags().is_empty());
    }

    #[test]
    fn environment_comes_before_the_command_line() {
        assert!(!opts_env("-S", Some("-k")).keep_going);
        assert!(opts_env("-s", Some(" --no-silent")).silent);
        let o = opts_env("-Ic", Some("k -Ia -Ib"));
        assert_eq!(o.include_dirs, ["a", "b", "c"]);
        assert_eq!(o.makeflags(), "k -Ia -Ib -Ic");
        let o = opts_env("B=3", Some("-- A=1 B=2"));
        assert_eq!(o.variables, ["A=1", "B=2", "B=3"]);
        assert_eq!(o.makeflags(), " -- B=3 A=1");
        assert_eq!(opts_env("A=2", Some("k -- A=1")).makeflags(), "k -- A=2");
        assert_eq!(opts_env("A:=x", Some("s")).makeflags(), "s -- A:=x");
        assert_eq!(
            opts_env("--eval=B=8", Some("k --eval=A=7")).makeflags(),
            "k --eval=A=7 --eval=B=8"
        );
        // The command line's errors still count after the environment's are dropped.
        assert!(matches!(
            outcome("-x", Some("-y")),
            Outcome::BadUsage { .. }
        ));
    }

    /// Whatever the command line, reading back its `MAKEFLAGS` gives the same flags.
    #[test]
    fn makeflags_round_trip() {
        let lines = [
            "-k",
            "-ks -j4",
            "-j",
            "-j1",
            "-i -n -I dir -Ia\u{1}b",
            "-e -r -R --trace -w",
            "--no-print-directory -L -d --debug=v,i",
            "-l 2.5 -Oline -B -q -t -p",
            "--warn-undefined-variables --eval=A=1 --eval=B\u{1}=\u{1}$$x",
            "VAR=value X:=1 Y=a\u{1}b Z=$$HOME",
            "-k -- A=1 -s",
        ];
        // `\u{1}` stands for a blank inside one argument.
        for line in lines {
            let a: Vec<String> = line.split(' ').map(|s| s.replace('\u{1}', " ")).collect();
            let first = match decide(&a, None) {
                Outcome::Build(o) => o,
                other => panic!("{:?}", other),
            };
            let again = opts_env("", Some(&first.makeflags()));
            assert_eq!(
                again.makeflags_with(""),
                first.makeflags_with(""),
                "{}",
                line
            );
            assert_eq!(again.mflags(), first.mflags(), "{}", line);
            // Each level lists the variables in reverse, as make's sub-makes do.
            let mut back = again.overrides();
            back.reverse();
            assert_eq!(back, first.overrides(), "{}", line);
        }
        // Confirmed with a make that runs $(MAKE): `A=1 B=2 C=3 -k` shows
        // `k -- C=3 B=2 A=1`, and the sub-make `k -- A=1 B=2 C=3`.
        let top = opts("A=1 B=2 C=3 -k");
        assert_eq!(top.makeflags(), "k -- C=3 B=2 A=1");
        assert_eq!(
            opts_env("", Some(&top.makeflags())).makeflags(),
            "k -- A=1 B=2 C=3"
        );
        // Values with blanks and dollars come back as they were given.
        let first = match decide(
            &["A=a b $$x".to_string(), "--eval=B = $$y".to_string()],
            None,
        ) {
            Outcome::Build(o) => o,
            other => panic!("{:?}", other),
        };
        let again = opts_env("", Some(&first.makeflags()));
        assert_eq!(again.variables, ["A=a b $$x"]);
        assert_eq!(again.eval, ["B = $$y"]);
    }

    #[test]
    fn percent_g_formatting() {
        for (x, s) in [
            (2.0, "2"),
            (2.5, "2.5"),
            (0.5, "0.5"),
            (100.0, "100"),
            (1234567.0, "1.23457e+06"),
            (0.1234567, "0.123457"),
            (0.00001, "1e-05"),
            (999999.0, "999999"),
            (0.0, "0"),
        ] {
            assert_eq!(format_g(x), s);
        }
    }

    #[test]
    fn leading_float_is_atof() {
        for (t, x) in [
            ("2", 2.0),
            ("2k", 2.0),
            ("k", 0.0),
            (".5", 0.5),
            ("1e2", 100.0),
            ("1e", 1.0),
            ("-1.5x", -1.5),
        ] {
            assert_eq!(leading_float(t), x, "{}", t);
        }
    }
}
