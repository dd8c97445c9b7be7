//! The built-in functions of GNU Make 4.3.

use crate::diag::Result;
use crate::lang::database::Database;
use crate::lang::vars::Scope;

/// A function's implementation: receives its arguments (expanded unless the spec
/// says `expand_args: false`) and returns its result text.
pub type FuncImpl = fn(&mut Database, &[String], &Scope) -> Result<String>;

pub struct FuncSpec {
    pub name: &'static str,
    pub min_args: usize,
    /// Arguments beyond this stay in the last one, commas included (0 = no limit).
    pub max_args: usize,
    /// False for functions that expand their arguments themselves, lazily
    /// (`if`, `or`, `and`, `foreach`).
    pub expand_args: bool,
    pub run: FuncImpl,
}

static FUNCTIONS: &[FuncSpec] = &[FuncSpec {
    name: "strip",
    min_args: 1,
    max_args: 1,
    expand_args: true,
    run: strip,
}];

/// The built-in function called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static FuncSpec> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

fn strip(_: &mut Database, args: &[String], _: &Scope) -> Result<String> {
    Ok(crate::lang::text::words(&args[0]).collect::<Vec<_>>().join(" "))
}
