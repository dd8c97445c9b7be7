//! The sandbox settings a makefile gives one step: `.UNVEIL`, `.STRICT`,
//! `.INTERNET`, `.UNSANDBOXED` and the rlimit variables, read in the step's
//! variable scope (global, pattern-specific and target-specific values) with the
//! makefile line each came from.

use super::rlimits::Resource;
use crate::diag::{Fatal, Loc, Result};
use crate::lang::vars::{Scope, Var};
use crate::lang::Database;

/// What the makefile says about one step's sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MakefileSettings {
    pub unveil: Vec<(String, Loc)>,
    pub strict: bool,
    pub internet: bool,
    pub unsandboxed: bool,
    /// `.UNSANDBOXED` has a value for the step (even `0`): no default applies.
    pub unsandboxed_set: bool,
    pub rlimits: Vec<(Resource, String, Loc)>,
}

const RLIMIT_VARS: [&str; 5] = [".CPU", ".MEMORY", ".FSIZE", ".NPROC", ".NOFILE"];

/// Read the settings of a step whose variables are `scope`.
pub fn settings_for(db: &mut Database, scope: &Scope) -> Result<MakefileSettings> {
    let mut s = MakefileSettings {
        unveil: unveil_words(db, scope)?,
        strict: flag(db, scope, ".STRICT")?,
        internet: flag(db, scope, ".INTERNET")?,
        unsandboxed: flag(db, scope, ".UNSANDBOXED")?,
        unsandboxed_set: visible(db, scope, ".UNSANDBOXED").is_some(),
        rlimits: Vec::new(),
    };
    for name in RLIMIT_VARS {
        let Some(var) = visible(db, scope, name) else {
            continue;
        };
        let value = db.var_value(name, scope)?;
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Some(r) = Resource::from_variable(name) {
            s.rlimits.push((r, value.to_string(), loc_of(&var)));
        }
    }
    Ok(s)
}

/// `.UNVEIL` words from every level that sets it, outermost first: a level
/// that assigns (rather than appends with `+=`) replaces what came before, as
/// the variable's value would.
fn unveil_words(db: &mut Database, scope: &Scope) -> Result<Vec<(String, Loc)>> {
    const NAME: &str = ".UNVEIL";
    let mut levels: Vec<Var> = Vec::new();
    if let Some(v) = db.globals.get(NAME) {
        if !(v.private && scope.for_target) {
            levels.push(v.clone());
        }
    }
    for frame in scope.frames.iter().rev() {
        if let Some(v) = frame.vars.get(NAME) {
            if frame.inherited && v.private {
                continue;
            }
            if !v.append {
                levels.clear();
            }
            levels.push(v.clone());
        }
    }
    let mut out = Vec::new();
    for var in levels {
        let mut plain = var.clone();
        plain.append = false;
        let text = db.expand_var(NAME, &plain, scope)?;
        let loc = loc_of(&var);
        out.extend(
            super::unveil::split_words(&text)
                .into_iter()
                .map(|w| (w, loc.clone())),
        );
    }
    Ok(out)
}

/// A yes/no variable: empty or `0` is no, `1` is yes; anything else is an error
/// at the line that set it (a typo must not silently weaken the sandbox).
fn flag(db: &mut Database, scope: &Scope, name: &str) -> Result<bool> {
    let Some(var) = visible(db, scope, name) else {
        return Ok(false);
    };
    let value = db.var_value(name, scope)?;
    match value.trim() {
        "" | "0" => Ok(false),
        "1" => Ok(true),
        other => Err(Fatal::at(
            var.loc.as_ref(),
            format!("{} must be 0 or 1, not '{}'", name, other),
        )),
    }
}

/// The definition of `name` that the step sees, if any.
fn visible(db: &Database, scope: &Scope, name: &str) -> Option<Var> {
    match scope.find(name, 0) {
        Some((_, v)) => Some(v.clone()),
        None => db
            .globals
            .get(name)
            .filter(|v| !(v.private && scope.for_target))
            .cloned(),
    }
}

fn loc_of(var: &Var) -> Loc {
    var.loc.clone().unwrap_or_else(|| Loc {
        file: std::sync::Arc::from(crate::diag::COMMAND_LINE),
        line: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::database::ReadOptions;
    use std::sync::Arc;

    fn read(text: &str) -> Database {
        let mut db = Database::new(ReadOptions::default());
        let loc = Loc {
            file: Arc::from("Makefile"),
            line: 1,
        };
        db.eval_text(text, &loc).expect("reads");
        db
    }

    fn scope_of(db: &Database, target: &str) -> Scope {
        let mut scope = Scope::global();
        scope.for_target = true;
        match db.targets.get(target).and_then(|t| t.vars.clone()) {
            Some(v) => scope.with(v, false),
            None => scope,
        }
    }

    #[test]
    fn unveil_adds_up_with_locations() {
        let mut db = read(".UNVEIL = r:/etc/x\nall: .UNVEIL += rw:out preset:tty\nall:\n\ttrue\n");
        let scope = scope_of(&db, "all");
        let s = settings_for(&mut db, &scope).unwrap();
        let got: Vec<(String, usize)> = s.unveil.iter().map(|(w, l)| (w.clone(), l.line)).collect();
        assert_eq!(
            got,
            vec![
                ("r:/etc/x".to_string(), 1),
                ("rw:out".to_string(), 2),
                ("preset:tty".to_string(), 2)
            ]
        );
    }

    #[test]
    fn target_assignment_replaces_global_unveil() {
        let mut db = read(".UNVEIL = r:/etc/x\nall: .UNVEIL = r:/only\n");
        let scope = scope_of(&db, "all");
        let s = settings_for(&mut db, &scope).unwrap();
        assert_eq!(s.unveil.len(), 1);
        assert_eq!(s.unveil[0].0, "r:/only");
    }

    #[test]
    fn flags_and_limits() {
        let mut db = read(".STRICT = 1\nclean: .UNSANDBOXED = 1\n.MEMORY = 512m\n");
        let scope = scope_of(&db, "clean");
        let s = settings_for(&mut db, &scope).unwrap();
        assert!(s.strict && s.unsandboxed && !s.internet);
        assert_eq!(s.rlimits.len(), 1);
        assert_eq!(s.rlimits[0].1, "512m");
        assert_eq!(s.rlimits[0].2.line, 3);
    }

    #[test]
    fn bad_flag_value_is_an_error_at_its_line() {
        let mut db = read("X = 1\n.INTERNET = maybe\n");
        let e = settings_for(&mut db, &Scope::global()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Makefile:2: *** .INTERNET must be 0 or 1, not 'maybe'.  Stop."
        );
    }
}
