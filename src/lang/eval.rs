//! Reading makefiles: directives, conditionals, assignments and rules, evaluated
//! line by line into the `Database`.

use crate::diag::{Loc, Result};
use crate::lang::database::{Database, ReadOptions};
use crate::lang::vars::{Origin, Scope};

impl Database {
    pub fn new(opts: ReadOptions) -> Database {
        Database {
            opts,
            ..Default::default()
        }
    }

    /// Read the makefile at `path` (as named by the user). Returns `Ok(false)` if it
    /// does not exist.
    pub fn read_makefile(&mut self, _path: &str) -> Result<bool> {
        Ok(true)
    }

    /// Evaluate makefile text (`$(eval)`, built-in rules). `loc` names the origin of
    /// the text for messages; lines are numbered from `loc.line`.
    pub fn eval_text(&mut self, _text: &str, _loc: &Loc) -> Result<()> {
        Ok(())
    }

    /// Define `name` from an assignment operator (`=`, `:=`, `::=`, `?=`, `+=`,
    /// `!=`) with the given origin, in the global table, obeying precedence.
    pub fn assign(&mut self, _name: &str, _op: &str, _value: &str, _origin: Origin) -> Result<()> {
        Ok(())
    }

    /// The environment of a recipe or `$(shell)` run in `scope`: the process
    /// environment plus exported variables, minus unexported ones.
    pub fn recipe_env(&mut self, _scope: &Scope) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }
}
