//! hbuild: a GNU Make compatible build runner that sandboxes every recipe.
//!
//! Layers, in the order data flows: `cli` → `lang` (makefiles → `Database`) →
//! `graph` (targets, implicit rules, up-to-date decisions) → `engine` (runs steps).

pub mod cli;
pub mod diag;
pub mod engine;
pub mod graph;
pub mod lang;

/// Run hbuild with the process's arguments and environment; returns the exit status.
pub fn run() -> i32 {
    0
}
