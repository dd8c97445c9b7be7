//! The dependency graph: goals to targets, implicit-rule search, up-to-date checks.
