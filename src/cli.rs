//! The command line: GNU make's options (also read from `MAKEFLAGS`), variable
//! assignments and goals.

/// Everything the command line asked for.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-f FILE`, in order.
    pub makefiles: Vec<String>,
    /// `-C DIR`, applied in order (relative ones relative to the previous).
    pub directories: Vec<String>,
    /// `-j N`: `Some(n)`; `-j` alone: `None` (no limit). Default `Some(1)`.
    pub jobs: Option<usize>,
    /// `-l N`.
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
    pub no_builtin_vars: bool,
    pub include_dirs: Vec<String>,
    /// `-o FILE`: treated as very old, never remade.
    pub old_files: Vec<String>,
    /// `-W FILE`: treated as infinitely new.
    pub new_files: Vec<String>,
    /// `-w` (`Some(true)`) / `--no-print-directory` (`Some(false)`).
    pub print_directory: Option<bool>,
    pub print_data_base: bool,
    pub trace: bool,
    /// `-O[TYPE]`.
    pub output_sync: Option<String>,
    /// `VAR=value` (and `VAR:=value` etc.) arguments, as written.
    pub variables: Vec<String>,
    pub goals: Vec<String>,
}

/// What the command line asks hbuild to do.
#[derive(Clone, Debug)]
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
    let _ = makeflags;
    let mut opts = Options {
        jobs: Some(1),
        ..Default::default()
    };
    for a in args {
        if a.contains('=') {
            opts.variables.push(a.clone());
        } else if let Some(f) = a.strip_prefix("-f") {
            opts.makefiles.push(f.to_string());
        } else {
            opts.goals.push(a.clone());
        }
    }
    Command::Build(opts)
}

impl Options {
    /// The value of `MAKEFLAGS` for recipes and sub-makes, formatted as GNU make
    /// 4.3 does (single-letter flags first, then long ones, then ` -- VAR=value`).
    pub fn makeflags(&self) -> String {
        String::new()
    }
}
