//! Expansion of `$` references: variables, computed names, substitution
//! references and function calls.

use crate::diag::{Fatal, Result};
use crate::lang::database::Database;
use crate::lang::functions;
use crate::lang::text;
use crate::lang::vars::{Flavor, Scope, Var};

/// The index of the `close` that ends a reference opened just before `from`,
/// counting nested pairs of the same delimiters (as make does).
pub fn find_close(s: &str, from: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    for (i, &b) in s.as_bytes().iter().enumerate().skip(from) {
        if b == open {
            depth += 1;
        } else if b == close {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        }
    }
    None
}

/// Where a `$(` or `${` reference ends.
enum Reference {
    /// At this index (the closing delimiter).
    Inside(usize),
    /// Its parentheses do not balance before the end of the text: make then
    /// takes the text up to the first closing delimiter (this index) as the
    /// variable's name, as it is.
    Unbalanced(usize),
    Unterminated,
}

/// The extent of the reference opened just before `from`, found as make finds
/// it. A function call (`$(name ` with a known function) ends at its matching
/// delimiter. Any other reference ends at the first closing delimiter, unless
/// a `$` precedes that one: then nested pairs count.
fn reference_end(s: &str, from: usize, open: u8, close: u8) -> Reference {
    let bytes = s.as_bytes();
    let word_end = bytes[from..]
        .iter()
        .position(|b| !(b.is_ascii_lowercase() || *b == b'-'))
        .map_or(bytes.len(), |n| from + n);
    let is_call = matches!(bytes.get(word_end), Some(b' ' | b'\t'))
        && functions::lookup(&s[from..word_end]).is_some();
    if is_call {
        return find_close(s, from, open, close).map_or(Reference::Unterminated, Reference::Inside);
    }
    let Some(first) = bytes[from..]
        .iter()
        .position(|&b| b == close)
        .map(|n| from + n)
    else {
        return Reference::Unterminated;
    };
    if !bytes[from..first].contains(&b'$') {
        return Reference::Inside(first);
    }
    find_close(s, from, open, close).map_or(Reference::Unbalanced(first), Reference::Inside)
}

/// Split function arguments at top-level commas, at most `max` pieces (0 = no
/// limit): the last piece keeps the remaining commas.
pub fn split_args(s: &str, open: u8, close: u8, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if b == open {
            depth += 1;
        } else if b == close {
            depth = depth.saturating_sub(1);
        } else if b == b',' && depth == 0 && (max == 0 || out.len() + 1 < max) {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

impl Database {
    /// Expand `text` in `scope`.
    pub fn expand(&mut self, text: &str, scope: &Scope) -> Result<String> {
        if !text.contains('$') {
            return Ok(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        self.expand_into(text, scope, &mut out)?;
        Ok(out)
    }

    /// Expand `text` in `scope`, appending to `out`.
    pub fn expand_into(&mut self, text: &str, scope: &Scope, out: &mut String) -> Result<()> {
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(off) = text[i..].find('$') {
            out.push_str(&text[i..i + off]);
            let p = i + off + 1;
            if p >= bytes.len() {
                // A lone `$` at the end stays, as in make.
                out.push('$');
                return Ok(());
            }
            match bytes[p] {
                b'$' => {
                    out.push('$');
                    i = p + 1;
                }
                open @ (b'(' | b'{') => {
                    let close = if open == b'(' { b')' } else { b'}' };
                    match reference_end(text, p + 1, open, close) {
                        Reference::Inside(end) => {
                            self.expand_reference(&text[p + 1..end], open, close, scope, out)?;
                            i = end + 1;
                        }
                        Reference::Unbalanced(first) => {
                            // As make: the text up to the first closing
                            // delimiter names the variable, unexpanded, and
                            // the rest of the text is dropped.
                            self.expand_named(&text[p + 1..first], scope, out)?;
                            return Ok(());
                        }
                        Reference::Unterminated => {
                            return Err(self.unterminated(&text[p + 1..], close))
                        }
                    }
                }
                _ => {
                    let ch = text[p..].chars().next().unwrap_or(' ');
                    let mut buf = [0u8; 4];
                    let value = self.referenced(ch.encode_utf8(&mut buf), scope)?;
                    out.push_str(&value);
                    i = p + ch.len_utf8();
                }
            }
        }
        out.push_str(&text[i..]);
        Ok(())
    }

    /// Expand the inside of `$(...)`: a function call, a substitution reference
    /// or a (possibly computed) variable name.
    fn expand_reference(
        &mut self,
        inner: &str,
        open: u8,
        close: u8,
        scope: &Scope,
        out: &mut String,
    ) -> Result<()> {
        let name_end = inner.find([' ', '\t']).unwrap_or(inner.len());
        if name_end < inner.len() {
            if let Some(spec) = functions::lookup(&inner[..name_end]) {
                let rest = inner[name_end..].trim_start_matches([' ', '\t']);
                let raw = split_args(rest, open, close, spec.max_args);
                if raw.len() < spec.min_args {
                    return Err(Fatal::at(
                        self.value_loc.as_ref().or(self.loc.as_ref()),
                        format!(
                            "insufficient number of arguments ({}) to function '{}'",
                            raw.len(),
                            spec.name
                        ),
                    ));
                }
                let args = if spec.expand_args {
                    let mut v = Vec::with_capacity(raw.len());
                    for a in raw {
                        v.push(self.expand(a, scope)?);
                    }
                    v
                } else {
                    raw.into_iter().map(str::to_string).collect()
                };
                let result = (spec.run)(self, &args, scope)?;
                out.push_str(&result);
                return Ok(());
            }
        }
        let name = if inner.contains('$') {
            self.expand(inner, scope)?
        } else {
            inner.to_string()
        };
        self.expand_named(&name, scope, out)
    }

    /// The value of the variable `name` (or substitution reference
    /// `NAME:a=b`), appended to `out`.
    fn expand_named(&mut self, name: &str, scope: &Scope, out: &mut String) -> Result<()> {
        if let Some(colon) = name.find(':') {
            if let Some(eq) = name[colon + 1..].find('=') {
                let var = &name[..colon];
                let from = &name[colon + 1..colon + 1 + eq];
                let to = &name[colon + 2 + eq..];
                let value = self.referenced(var, scope)?;
                out.push_str(&text::subst_ref(from, to, &value));
                return Ok(());
            }
        }
        let value = self.referenced(name, scope)?;
        out.push_str(&value);
        Ok(())
    }

    /// The value of a variable the makefile refers to (`$(NAME)`, `$N`,
    /// `$(NAME:a=b)`): as `var_value`, with the warning of
    /// `--warn-undefined-variables`. hbuild's own lookups do not warn.
    fn referenced(&mut self, name: &str, scope: &Scope) -> Result<String> {
        if self.opts.warn_undefined {
            self.warn_if_undefined(name, scope);
        }
        self.var_value(name, scope)
    }

    /// Print `FILE:LINE: warning: undefined variable 'NAME'` if `name` is
    /// not defined in `scope`. `$(@D)` and the like outside a recipe are
    /// named after their automatic variable (`@`), as make names them.
    pub fn warn_if_undefined(&mut self, name: &str, scope: &Scope) {
        let defined = name == ".VARIABLES"
            || scope.find(name, 0).is_some()
            || self.globals.get(name).is_some();
        if defined {
            return;
        }
        let b = name.as_bytes();
        let shown = if b.len() == 2 && b"@%<^+|?*".contains(&b[0]) && matches!(b[1], b'D' | b'F') {
            &name[..1]
        } else {
            name
        };
        let _ = std::io::Write::flush(&mut std::io::stdout());
        crate::diag::warn(
            self.loc.as_ref(),
            &format!("undefined variable '{}'", shown),
        );
    }

    /// The expanded value of variable `name` as seen from `scope`.
    pub fn var_value(&mut self, name: &str, scope: &Scope) -> Result<String> {
        self.value_from(name, scope, 0)
    }

    fn value_from(&mut self, name: &str, scope: &Scope, from: usize) -> Result<String> {
        if let Some((i, var)) = scope.find(name, from) {
            let var = var.clone();
            let own = self.expand_var(name, &var, scope)?;
            if !var.append {
                return Ok(own);
            }
            // As make: a space follows any outer value, even when the
            // addition expands to nothing.
            let mut outer = self.value_from(name, scope, i + 1)?;
            if !outer.is_empty() {
                outer.push(' ');
            }
            outer.push_str(&own);
            return Ok(outer);
        }
        if name == ".VARIABLES" {
            let mut names: Vec<&str> = self.globals.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            return Ok(names.join(" "));
        }
        match self.globals.get(name) {
            Some(var) if var.private && scope.for_target => Ok(String::new()),
            Some(var) if var.flavor == Flavor::Simple => Ok(var.value.clone()),
            Some(var) => {
                let var = var.clone();
                self.expand_var(name, &var, scope)
            }
            None => Ok(String::new()),
        }
    }

    /// Expand one variable's own value, detecting self-reference.
    pub fn expand_var(&mut self, name: &str, var: &Var, scope: &Scope) -> Result<String> {
        match var.flavor {
            Flavor::Simple => Ok(var.value.clone()),
            Flavor::Recursive => {
                if !var.value.contains('$') {
                    return Ok(var.value.clone());
                }
                // Errors in a variable's value are reported where it was defined.
                let here = var.loc.as_ref().or(self.loc.as_ref());
                if self.expanding.iter().any(|n| n == name) {
                    return Err(Fatal::at(
                        here,
                        format!(
                            "Recursive variable '{}' references itself (eventually)",
                            name
                        ),
                    ));
                }
                let saved = match &var.loc {
                    Some(l) => self.value_loc.replace(l.clone()),
                    None => self.value_loc.clone(),
                };
                self.expanding.push(name.to_string());
                let r = self.expand(&var.value, scope);
                self.expanding.pop();
                self.value_loc = saved;
                r
            }
        }
    }
}

impl Database {
    /// The error for a `$(` or `${` without its closing delimiter; a function
    /// call is named as make names it.
    fn unterminated(&self, after_open: &str, close: u8) -> Fatal {
        let loc = self.value_loc.as_ref().or(self.loc.as_ref());
        let name_end = after_open.find([' ', '\t']).unwrap_or(after_open.len());
        match functions::lookup(&after_open[..name_end]) {
            Some(f) if name_end < after_open.len() => Fatal::at(
                loc,
                format!(
                    "unterminated call to function '{}': missing '{}'",
                    f.name, close as char
                ),
            ),
            _ => Fatal::at(loc, "unterminated variable reference"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_split_respects_nesting_and_max() {
        assert_eq!(
            split_args("a,$(f x,y),c", b'(', b')', 0),
            vec!["a", "$(f x,y)", "c"]
        );
        assert_eq!(split_args("a,b,c,d", b'(', b')', 3), vec!["a", "b", "c,d"]);
        assert_eq!(find_close("a(b)c)d", 0, b'(', b')'), Some(5));
    }
}
