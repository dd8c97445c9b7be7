//! The engine: decides what is out of date and runs recipes.

use crate::cli::Options;
use crate::lang::Database;

/// Update `goals`; returns make's exit status (0 done, 1 `-q` out of date, 2 failure).
pub fn build(_db: &mut Database, _opts: &Options, _goals: &[String]) -> i32 {
    0
}

/// What `remake_makefiles` did.
pub enum Remake {
    Unchanged,
    Remade,
    Failed(i32),
}

/// Update the makefiles that are targets before the real build.
pub fn remake_makefiles(_db: &mut Database, _opts: &Options) -> Remake {
    Remake::Unchanged
}
