//! Variable assignments, `define`, `undefine`, `export` and `unexport`.

use super::first_word;
use super::is_define_line;
use super::FileState;
use super::Modifiers;
use super::ASSIGN_OPS;
use crate::diag::message;
use crate::diag::Fatal;
use crate::diag::Loc;
use crate::diag::Result;
use crate::lang::database::Database;
use crate::lang::expand::find_close;
use crate::lang::reader::collapse_continuations;
use crate::lang::reader::strip_comment;
use crate::lang::reader::Reader;
use crate::lang::text::words;
use crate::lang::vars::Export;
use crate::lang::vars::Flavor;
use crate::lang::vars::Origin;
use crate::lang::vars::Var;
use std::sync::Arc;

impl Database {
    /// The origin an assignment read from a makefile gets.
    /// Special variables whose mere assignment (global or for a target)
    /// turns on work elsewhere.
    pub(super) fn note_assigned(&mut self, name: &str) {
        if name == ".EXTRA_PREREQS" {
            self.specials.extra_prereqs = true;
        }
    }

    pub(super) fn assignment_origin(&self, mods: Modifiers) -> Origin {
        if mods.override_ {
            Origin::Override
        } else {
            self.origin_override.unwrap_or(Origin::File)
        }
    }

    /// Define `name` from an assignment operator (`=`, `:=`, `::=`, `?=`, `+=`,
    /// `!=`) with the given origin, in the global table, obeying precedence.
    pub fn assign(&mut self, name: &str, op: &str, value: &str, origin: Origin) -> Result<()> {
        let loc = self.loc.clone().unwrap_or_else(|| Loc {
            file: Arc::from(crate::diag::COMMAND_LINE),
            line: 0,
        });
        self.assign_with(name, op, value, origin, Modifiers::default(), &loc)
    }

    pub(super) fn assign_with(
        &mut self,
        name: &str,
        op: &str,
        value: &str,
        origin: Origin,
        mods: Modifiers,
        loc: &Loc,
    ) -> Result<()> {
        self.note_assigned(name);
        let existing = self.globals.get(name);
        if let Some(old) = existing {
            if self.opts.env_overrides
                && old.origin == Origin::Environment
                && origin == Origin::File
            {
                // `-e`: the environment's value wins and says so in `$(origin)`.
                if let Some(v) = self.globals.get_mut(name) {
                    v.origin = Origin::EnvironmentOverride;
                }
                return Ok(());
            }
            if !may_replace(old.origin, origin) {
                // A lower-priority assignment is ignored, but `export` still applies.
                if let Some(e) = mods.export {
                    if let Some(v) = self.globals.get_mut(name) {
                        v.export = if e { Export::Yes } else { Export::No };
                    }
                }
                return Ok(());
            }
        }
        let scope = self.reading_scope();
        let new = match op {
            "?=" => {
                if existing.is_some() {
                    return Ok(());
                }
                Var::new(value, Flavor::Recursive, origin)
            }
            "=" => Var::new(value, Flavor::Recursive, origin),
            ":=" | "::=" => {
                let v = self.expand(value, &scope)?;
                Var::new(v, Flavor::Simple, origin)
            }
            "!=" => {
                let cmd = self.expand(value, &scope)?;
                let out = crate::lang::functions::shell_command::run(self, &cmd, &scope)?;
                Var::new(out, Flavor::Recursive, origin)
            }
            "+=" => match self.globals.get(name).cloned() {
                None => Var::new(value, Flavor::Recursive, origin),
                Some(old) => {
                    let add = match old.flavor {
                        Flavor::Simple => self.expand(value, &scope)?,
                        Flavor::Recursive => value.to_string(),
                    };
                    let mut v = old.clone();
                    if !v.value.is_empty() && !add.is_empty() {
                        v.value.push(' ');
                    }
                    v.value.push_str(&add);
                    // Appending keeps the stronger origin of the two.
                    v.origin = v.origin.max(origin);
                    v
                }
            },
            _ => {
                return Err(Fatal::at(
                    Some(loc),
                    format!("invalid assignment operator '{}'", op),
                ))
            }
        };
        let mut new = new;
        new.loc = Some(loc.clone());
        new.private = mods.private;
        new.export = match (mods.export, self.globals.get(name)) {
            (Some(true), _) => Export::Yes,
            (Some(false), _) => Export::No,
            // A variable from the environment stays exported when the
            // makefile gives it a new value.
            (None, Some(old))
                if old.export == Export::Default && old.origin == Origin::Environment =>
            {
                Export::Yes
            }
            (None, Some(old)) => old.export,
            (None, None) => Export::Default,
        };
        if name == ".DEFAULT_GOAL" {
            // Setting the default goal by hand.
        }
        self.globals.set(name, new);
        Ok(())
    }

    pub(super) fn undefine(&mut self, name: &str, override_: bool) {
        if let Some(v) = self.globals.get(name) {
            let origin = if override_ {
                Origin::Override
            } else {
                Origin::File
            };
            if may_replace(v.origin, origin) {
                self.globals.remove(name);
            }
        }
    }

    pub(super) fn export_names(&mut self, rest: &str, export: bool) -> Result<()> {
        let names = self.expand(rest, &self.reading_scope())?;
        let names: Vec<&str> = words(&names).collect();
        if names.is_empty() {
            self.specials.export_all = export;
            return Ok(());
        }
        for n in names {
            match self.globals.get_mut(n) {
                Some(v) => v.export = if export { Export::Yes } else { Export::No },
                None => {
                    let mut v = Var::new("", Flavor::Simple, Origin::File);
                    v.export = if export { Export::Yes } else { Export::No };
                    self.globals.set(n, v);
                }
            }
        }
        Ok(())
    }

    /// `define NAME [op]` … `endef`.
    pub(super) fn define(
        &mut self,
        header: &str,
        mods: Modifiers,
        reader: &mut Reader,
        st: &FileState,
        loc: &Loc,
    ) -> Result<()> {
        let header = header.trim();
        let (name_text, op) = match ASSIGN_OPS
            .iter()
            .find_map(|op| header.strip_suffix(op).map(|n| (n, *op)))
        {
            Some((n, op)) => (n.trim_end(), op),
            None => (header, "="),
        };
        let name = self.expand(name_text, &self.reading_scope())?;
        let name = name.trim().to_string();
        if name.is_empty() {
            return Err(Fatal::at(Some(loc), "empty variable name"));
        }
        let mut depth = 0usize;
        let mut body: Vec<String> = Vec::new();
        let mut closed = false;
        while let Some(l) = reader.next_raw(None) {
            let text = collapse_continuations(&l.text);
            let t = text.trim_start_matches([' ', '\t']);
            let w = first_word(t);
            if w == "endef" {
                if depth == 0 {
                    let after = strip_comment(&t[5..]);
                    if !after.trim().is_empty() {
                        message(&st.loc(l.line), "extraneous text after 'endef' directive");
                    }
                    closed = true;
                    break;
                }
                depth -= 1;
            } else if w == "define" || is_define_line(t) {
                depth += 1;
            }
            body.push(text);
        }
        if !closed {
            return Err(Fatal::at(
                Some(loc),
                "missing 'endef', unterminated 'define'",
            ));
        }
        let value = body.join("\n");
        let origin = self.assignment_origin(mods);
        self.assign_with(&name, op, &value, origin, mods, loc)
    }
}

/// True if a value from `new` may replace one from `old`.
fn may_replace(old: Origin, new: Origin) -> bool {
    match old {
        Origin::Automatic => true,
        _ => new >= old || (old == Origin::Environment && new == Origin::File),
    }
}

/// Split a line into `(name, op, value)` if it is a variable assignment: the
/// first top-level `=` decides, unless a `:` that is not part of `:=`/`::=`
/// comes first (then it is a rule). As in make, a name has no blanks outside
/// references: after a blank only an assignment operator may follow.
pub(super) fn parse_assignment(line: &str) -> Option<(&str, &str, &str)> {
    let b = line.as_bytes();
    // The operator starting at `i`, if any.
    let operator_at = |i: usize| -> Option<&'static str> {
        ASSIGN_OPS.into_iter().find(|op| line[i..].starts_with(op))
    };
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if i + 1 < b.len() => {
                if let open @ (b'(' | b'{') = b[i + 1] {
                    let close = if open == b'(' { b')' } else { b'}' };
                    i = find_close(line, i + 2, open, close)? + 1;
                } else {
                    i += 2;
                }
                continue;
            }
            b' ' | b'\t' => {
                let after = i + line[i..].len() - line[i..].trim_start_matches([' ', '\t']).len();
                let op = operator_at(after)?;
                return Some((&line[..after], op, trim_value(&line[after + op.len()..])));
            }
            b'=' | b':' | b'+' | b'?' | b'!' => {
                if let Some(op) = operator_at(i) {
                    return Some((&line[..i], op, trim_value(&line[i + op.len()..])));
                }
                if b[i] == b':' {
                    return None;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// An assignment value: leading blanks removed, trailing kept (as make does).
fn trim_value(s: &str) -> &str {
    s.trim_start_matches([' ', '\t'])
}
