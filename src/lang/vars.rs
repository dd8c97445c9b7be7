//! Variables: values, flavors, origins and the tables and scopes that hold them.

use crate::diag::Loc;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `=` and `define`: expanded each time it is referenced.
    Recursive,
    /// `:=`, `::=`, `!=`: expanded once, when assigned.
    Simple,
}

/// Where a variable's value came from, in make's precedence order (low to high,
/// except `Automatic`). Names are what `$(origin)` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    Default,
    Environment,
    File,
    EnvironmentOverride,
    CommandLine,
    Override,
    Automatic,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::Environment => "environment",
            Origin::EnvironmentOverride => "environment override",
            Origin::File => "file",
            Origin::CommandLine => "command line",
            Origin::Override => "override",
            Origin::Automatic => "automatic",
        }
    }
}

/// `export`/`unexport` state of one variable; `Default` follows the global rules
/// (environment and command-line variables, `.EXPORT_ALL_VARIABLES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    Default,
    Yes,
    No,
}

#[derive(Clone, Debug)]
pub struct Var {
    pub value: String,
    pub flavor: Flavor,
    pub origin: Origin,
    pub export: Export,
    /// `private`: not inherited by prerequisites (target-specific) ...
    pub private: bool,
    /// A target- or pattern-specific `+=` with no value of its own in that table:
    /// its value is appended to whatever the outer scope holds at expansion time.
    pub append: bool,
    pub loc: Option<Loc>,
}

impl Var {
    pub fn new(value: impl Into<String>, flavor: Flavor, origin: Origin) -> Var {
        Var {
            value: value.into(),
            flavor,
            origin,
            export: Export::Default,
            private: false,
            append: false,
            loc: None,
        }
    }
}

/// One table of variables: the global one, or the target-specific one of a target
/// or a pattern.
#[derive(Clone, Debug, Default)]
pub struct VarTable {
    map: HashMap<String, Var>,
}

impl VarTable {
    /// An empty table with room for `n` variables.
    pub fn with_capacity(n: usize) -> VarTable {
        VarTable {
            map: HashMap::with_capacity_and_hasher(n, Default::default()),
        }
    }
    pub fn get(&self, name: &str) -> Option<&Var> {
        self.map.get(name)
    }
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Var> {
        self.map.get_mut(name)
    }
    pub fn set(&mut self, name: impl Into<String>, var: Var) {
        self.map.insert(name.into(), var);
    }
    pub fn remove(&mut self, name: &str) -> Option<Var> {
        self.map.remove(name)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Var)> {
        self.map.iter()
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A table in a lookup chain. `inherited` frames come from a target that asked for
/// this one as a prerequisite; their `private` variables are invisible.
#[derive(Clone, Debug)]
pub struct Frame {
    pub vars: Arc<VarTable>,
    pub inherited: bool,
}

/// The variable tables searched before the global table, innermost first:
/// automatic variables, then the target's own, then pattern-specific ones, then
/// those inherited from the targets that needed it.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub frames: Vec<Frame>,
    /// Expanding for a target (its recipe or prerequisites): global `private`
    /// variables are invisible there, as in make.
    pub for_target: bool,
}

impl Scope {
    pub fn global() -> Scope {
        Scope::default()
    }
    /// A copy of this scope with `vars` searched first (`$(call)` arguments,
    /// `$(foreach)` variables, automatic variables).
    pub fn inner(&self, vars: VarTable) -> Scope {
        let mut frames = Vec::with_capacity(self.frames.len() + 1);
        frames.push(Frame {
            vars: Arc::new(vars),
            inherited: false,
        });
        frames.extend(self.frames.iter().cloned());
        Scope {
            frames,
            for_target: self.for_target,
        }
    }
    /// This scope with `vars` searched after the frames it already has.
    pub fn with(mut self, vars: Arc<VarTable>, inherited: bool) -> Scope {
        self.frames.push(Frame { vars, inherited });
        self
    }
    /// The first visible definition of `name` in the frames, with the index of its frame.
    pub fn find(&self, name: &str, from: usize) -> Option<(usize, &Var)> {
        for (i, f) in self.frames.iter().enumerate().skip(from) {
            if let Some(v) = f.vars.get(name) {
                if f.inherited && v.private {
                    continue;
                }
                return Some((i, v));
            }
        }
        None
    }
}

/// True if `name` can be passed to a POSIX shell in the environment.
pub fn is_env_name(name: &str) -> bool {
    // Bytes, not chars: it runs for every exported variable of every step.
    match name.as_bytes().split_first() {
        Some((first, rest)) => {
            (*first == b'_' || first.is_ascii_alphabetic())
                && rest.iter().all(|b| *b == b'_' || b.is_ascii_alphanumeric())
        }
        None => false,
    }
}
