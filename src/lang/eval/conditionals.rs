//! `ifeq`, `ifneq`, `ifdef`, `ifndef`: which branch of a conditional is read.

use super::first_word;
use super::Cond;
use super::FileState;
use crate::diag::message;
use crate::diag::Fatal;
use crate::diag::Loc;
use crate::diag::Result;
use crate::lang::database::Database;

impl Database {
    /// Handle `ifeq ifneq ifdef ifndef else endif`. Returns true if `line` was one.
    pub(super) fn conditional(
        &mut self,
        line: &str,
        st: &mut FileState,
        loc: &Loc,
    ) -> Result<bool> {
        let word = first_word(line);
        let rest = line[word.len()..].trim_start_matches([' ', '\t']);
        match word {
            "ifeq" | "ifneq" | "ifdef" | "ifndef" => {
                let outer = st.active();
                let active = outer && self.condition_holds(word, rest, loc)?;
                st.conds.push(Cond {
                    active,
                    taken: active,
                    final_else: false,
                    outer_active: outer,
                });
                Ok(true)
            }
            "else" => {
                let Some(top) = st.conds.last() else {
                    return Err(Fatal::at(Some(loc), "extraneous 'else'"));
                };
                if top.final_else {
                    return Err(Fatal::at(Some(loc), "only one 'else' per conditional"));
                }
                let (outer, taken) = (top.outer_active, top.taken);
                let rest = rest.trim_end();
                let branch = if rest.is_empty() {
                    if let Some(top) = st.conds.last_mut() {
                        top.final_else = true;
                    }
                    outer && !taken
                } else {
                    let w = first_word(rest);
                    if !matches!(w, "ifeq" | "ifneq" | "ifdef" | "ifndef") {
                        message(loc, "extraneous text after 'else' directive");
                        if let Some(top) = st.conds.last_mut() {
                            top.final_else = true;
                        }
                        outer && !taken
                    } else if outer && !taken {
                        let args = rest[w.len()..].trim_start_matches([' ', '\t']);
                        match self.test_condition(w, args, loc)? {
                            Some(holds) => holds,
                            None => {
                                // make takes a malformed condition after a
                                // taken `else` for extra text, and the
                                // `endif` after it for its own.
                                message(loc, "extraneous text after 'else' directive");
                                if let Some(top) = st.conds.last_mut() {
                                    top.active = true;
                                    top.taken = true;
                                    top.final_else = true;
                                }
                                st.conds.push(Cond {
                                    active: false,
                                    taken: true,
                                    final_else: false,
                                    outer_active: true,
                                });
                                return Ok(true);
                            }
                        }
                    } else {
                        false
                    }
                };
                if let Some(top) = st.conds.last_mut() {
                    top.active = branch;
                    top.taken |= branch;
                }
                Ok(true)
            }
            "endif" => {
                if st.conds.pop().is_none() {
                    return Err(Fatal::at(Some(loc), "extraneous 'endif'"));
                }
                if !rest.trim().is_empty() {
                    message(loc, "extraneous text after 'endif' directive");
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Whether the condition of `ifeq`/`ifdef`/... holds; malformed is fatal.
    fn condition_holds(&mut self, word: &str, args: &str, loc: &Loc) -> Result<bool> {
        self.test_condition(word, args, loc)?
            .ok_or_else(|| Fatal::at(Some(loc), "invalid syntax in conditional"))
    }

    /// Whether the condition holds; `None` if it is malformed.
    fn test_condition(&mut self, word: &str, args: &str, loc: &Loc) -> Result<Option<bool>> {
        let scope = self.reading_scope();
        match word {
            "ifdef" | "ifndef" => {
                let name = self.expand(args.trim_end(), &scope)?;
                let name = name.trim();
                if name.contains([' ', '\t']) {
                    // One variable name only, once expanded.
                    return Ok(None);
                }
                let defined = match self.globals.get(name) {
                    Some(v) => !v.value.is_empty(),
                    None => false,
                };
                Ok(Some(defined == (word == "ifdef")))
            }
            _ => {
                let Some((a, b, extra)) = split_ifeq_args(args) else {
                    return Ok(None);
                };
                if !extra.is_empty() {
                    message(loc, &format!("extraneous text after '{word}' directive"));
                }
                let a = self.expand(a, &scope)?;
                let b = self.expand(b, &scope)?;
                Ok(Some((a == b) == (word == "ifeq")))
            }
        }
    }
}

/// Split `ifeq` arguments: `(a,b)` or two quoted strings. The third value is
/// whatever follows them (make warns about it but goes on).
///
/// As make scans them: the comma of `(a,b)` is the first one not inside
/// parentheses opened after the `(` (a stray `)` does not hide it; braces do
/// not count), and `b` ends at its first `)` outside its own parentheses.
fn split_ifeq_args(args: &str) -> Option<(&str, &str, &str)> {
    let args = args.trim_end();
    if let Some(inner) = args.strip_prefix('(') {
        let b = inner.as_bytes();
        let mut depth = 0i32;
        let comma = b.iter().enumerate().find_map(|(i, &c)| {
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b',' if depth <= 0 => return Some(i),
                _ => {}
            }
            None
        })?;
        let second = &inner[comma + 1..];
        let mut depth = 0usize;
        let end = second.bytes().enumerate().find_map(|(i, c)| {
            match c {
                b'(' => depth += 1,
                b')' if depth == 0 => return Some(i),
                b')' => depth -= 1,
                _ => {}
            }
            None
        })?;
        let a = inner[..comma].trim_end_matches([' ', '\t']);
        let b = second[..end].trim_start_matches([' ', '\t']);
        return Some((a, b, second[end + 1..].trim()));
    }
    let (a, rest) = quoted(args)?;
    let (b, rest) = quoted(rest.trim_start_matches([' ', '\t']))?;
    Some((a, b, rest.trim()))
}

fn quoted(s: &str) -> Option<(&str, &str)> {
    let q = s.chars().next()?;
    if q != '"' && q != '\'' {
        return None;
    }
    let end = s[1..].find(q)? + 1;
    Some((&s[1..end], &s[end + 1..]))
}
