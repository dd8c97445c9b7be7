//! The state built by reading makefiles: variables, rules and special settings.
//! Reading (`eval.rs`), expansion (`expand.rs`) and functions (`functions.rs`) all
//! work on one `Database`; the graph and the engine query it afterwards.

use crate::diag::Loc;
use crate::lang::rules::{PatternRule, PatternVars, Recipe, Target, VpathEntry};
use crate::lang::vars::VarTable;
// Makefiles name tens of thousands of targets: a fast hash matters here
// (SipHash's resistance to crafted keys buys nothing for a build's own files).
use rustc_hash::FxHashMap;
use rustc_hash::FxHashSet as HashSet;
use std::path::PathBuf;
use std::sync::Arc;

/// Settings from the command line that change how makefiles are read.
#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// `-e`: environment variables override makefile assignments.
    pub env_overrides: bool,
    /// `-r`: no built-in rules.
    pub no_builtin_rules: bool,
    /// `-R`: no built-in variables (implies `-r`).
    pub no_builtin_vars: bool,
    /// `-I DIR`, in order.
    pub include_dirs: Vec<PathBuf>,
    /// The goals named on the command line (`MAKECMDGOALS`).
    pub goals: Vec<String>,
    /// `-s`: `.SILENT` for everything (also changes nothing in reading).
    pub silent: bool,
    /// `--warn-undefined-variables`: a reference to an undefined variable
    /// prints a warning at the line being read or the recipe line.
    pub warn_undefined: bool,
}

/// The special targets that set a list of files or apply to all when empty.
#[derive(Clone, Debug, Default)]
pub struct FileSet {
    /// Mentioned with no prerequisites: applies to every target.
    pub all: bool,
    pub names: HashSet<String>,
}

impl FileSet {
    pub fn contains(&self, name: &str) -> bool {
        self.all || self.names.contains(name)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Specials {
    pub phony: HashSet<String>,
    /// `.PRECIOUS` members; may hold patterns with `%`.
    pub precious: HashSet<String>,
    pub intermediate: HashSet<String>,
    pub secondary: FileSet,
    pub ignore: FileSet,
    pub silent: FileSet,
    pub delete_on_error: bool,
    pub export_all: bool,
    /// `.NOTPARALLEL` (4.3: with no prerequisites, the whole make runs serially).
    pub not_parallel: bool,
    pub one_shell: bool,
    pub posix: bool,
    /// Set by `.SECONDEXPANSION`: rules read after it keep their prerequisite text.
    pub second_expansion: bool,
    /// `.SUFFIXES` list, in order.
    pub suffixes: Vec<String>,
    /// `.DEFAULT` recipe.
    pub default_recipe: Option<Arc<Recipe>>,
    /// `.LOW_RESOLUTION_TIME` members.
    pub low_resolution_time: HashSet<String>,
    /// `.EXTRA_PREREQS` is assigned somewhere (globally or for a target):
    /// only then does the graph look it up for each target.
    pub extra_prereqs: bool,
}

impl Specials {
    /// The first `.SUFFIXES` suffix `name` ends in, with something before it.
    pub fn suffix_of(&self, name: &str) -> Option<&str> {
        self.suffixes
            .iter()
            .map(String::as_str)
            .find(|s| name.len() > s.len() && name.ends_with(s))
    }
}

/// Everything read from the makefiles.
#[derive(Debug, Default)]
pub struct Database {
    pub opts: ReadOptions,
    pub globals: VarTable,
    /// Targets by name; `target_order` keeps the order of first mention.
    pub targets: FxHashMap<crate::lang::names::Name, Target>,
    pub target_order: Vec<crate::lang::names::Name>,
    /// Something run while reading could have changed files: a `$(shell)`,
    /// a `!=` assignment, a `$(file >...)`, or a recipe run to remake a
    /// makefile. File times read before then are not to be trusted.
    pub side_effects: bool,
    /// Every name the makefiles mention as a target or as a prerequisite of
    /// an explicit rule, stored once (see `names`). Implicit rule search
    /// takes these as the files that "ought to exist": nothing else is
    /// interned.
    pub names: crate::lang::names::Interner,
    /// Pattern rules, in the order they are searched (user rules before built-in).
    pub pattern_rules: Vec<PatternRule>,
    pub pattern_vars: Vec<PatternVars>,
    pub vpaths: Vec<VpathEntry>,
    pub specials: Specials,
    /// The first target of the first rule that is not special or a pattern,
    /// unless `.DEFAULT_GOAL` says otherwise.
    pub default_goal: Option<String>,
    /// Makefiles read, in order (`MAKEFILE_LIST`), and those that must be
    /// remade before the build if they are targets.
    pub makefiles: Vec<String>,
    /// Included makefiles that were missing (with `-include`: `optional`).
    pub missing_includes: Vec<MissingInclude>,
    /// Makefiles read through `-include` (or `MAKEFILES`): failing to remake
    /// them is no error.
    pub optional_makefiles: Vec<String>,
    /// A `MAKEFILES` file is being read: as in make, its rules (and those of
    /// the files it includes) never make the default goal.
    pub reading_makefiles_var: bool,
    /// Variables currently being expanded, to detect self-reference.
    pub expanding: Vec<String>,
    /// The makefile location being read or whose recipe is being expanded,
    /// for `$(error)`, `$(warning)` and messages.
    pub loc: Option<Loc>,
    /// Where the variable whose value is being expanded was defined: syntax
    /// errors in a value are reported there, as make does.
    pub value_loc: Option<Loc>,
    /// While `$(eval)` reads text: the `$(foreach)` and `$(call)` variables
    /// around the call, which its lines see (assignments still go to the
    /// global table), as in make.
    pub eval_frames: Vec<crate::lang::vars::Frame>,
    /// Output of `$(info)`, `$(warning)` etc. goes straight to stdout/stderr;
    /// this counts `$(shell)` exit status for `.SHELLSTATUS`.
    pub shell_status: Option<i32>,
    /// While a sandboxed step's recipe is expanded: the target directories
    /// hbuild made for it just before (`engine::hermetic::make_target_dirs`),
    /// absolute and normalised.
    /// `$(wildcard)` and `$(realpath)` do not find them, as under make,
    /// which makes none (git's `$(if $(wildcard $(@D)),,...mkdir...)`).
    pub unmade_dirs: Vec<std::path::PathBuf>,
    /// While reading the built-in pattern rules after the makefiles: a rule is
    /// only added when the makefiles did not define one with the same patterns.
    pub installing_defaults: bool,
    /// Origin given to assignments while reading built-in variables or the
    /// command line (`None`: `file`).
    pub origin_override: Option<crate::lang::vars::Origin>,
    /// Environment entries recipes get regardless of variables (`MAKELEVEL`
    /// one deeper than this make's own).
    pub child_env: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct MissingInclude {
    pub name: String,
    pub optional: bool,
    pub loc: Loc,
    /// How many makefiles had been read when it was looked for: make
    /// remakes makefiles in the order they were named, missing ones included.
    pub after: usize,
}
