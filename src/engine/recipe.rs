//! Recipe lines: expansion (all lines before the first runs), the `@ - +`
//! prefixes, and what each line needs to run.

use crate::diag::{Loc, Result};
use crate::lang::rules::Recipe;
use crate::lang::vars::Scope;
use crate::lang::Database;

/// One command ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    /// The text given to the shell (prefixes removed).
    pub text: String,
    /// `@`: not echoed.
    pub silent: bool,
    /// `-`: a failure is reported and ignored.
    pub ignore: bool,
    /// `+` or a `$(MAKE)` reference: runs even under `-n`, `-t`.
    pub always: bool,
    pub loc: Loc,
}

/// Strip the leading blanks and `@ - +` prefixes of `text`, recording them.
pub fn strip_prefixes(text: &str, line: &mut CommandLine) -> String {
    let mut s = text;
    loop {
        let t = s.trim_start_matches([' ', '\t']);
        match t.chars().next() {
            Some('@') => line.silent = true,
            Some('-') => line.ignore = true,
            Some('+') => line.always = true,
            _ => return t.to_string(),
        }
        s = &t[1..];
    }
}

/// Split expanded recipe text at newlines not escaped by a backslash.
pub fn split_commands(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\n' {
            let backslashes = bytes[start..i]
                .iter()
                .rev()
                .take_while(|&&c| c == b'\\')
                .count();
            if backslashes % 2 == 0 {
                out.push(&text[start..i]);
                start = i + 1;
            }
        }
    }
    out.push(&text[start..]);
    out
}

/// True if a command line runs nothing: only blanks and backslash-newlines
/// (make skips it without echoing it).
pub fn is_blank(text: &str) -> bool {
    text.split("\\\n").all(|part| part.trim().is_empty())
}

/// True if the unexpanded line refers to `$(MAKE)` or `${MAKE}`.
pub fn mentions_make(raw: &str) -> bool {
    raw.contains("$(MAKE)") || raw.contains("${MAKE}")
}

/// True if the unexpanded line is recursive: a `+` among its leading prefix
/// characters, or a reference to `$(MAKE)`. Make decides this before any
/// expansion; `-t` expands a recipe only when one of its lines is.
pub fn raw_recursive(raw: &str) -> bool {
    let rest = raw.trim_start_matches([' ', '\t', '@', '-', '+']);
    raw[..raw.len() - rest.len()].contains('+') || mentions_make(raw)
}

/// A recipe line keeps its backslash-newlines for the shell, except inside
/// a variable reference or function call: there, as in the rest of a
/// makefile, one with the blanks around it becomes a single space.
pub fn join_continuations_in_references(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("\\\n") || !text.contains('$') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    // The closing character of each open reference, innermost last, and how
    // many plain opening ones of its kind are open inside it.
    let mut open: Vec<(char, usize)> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => {
                out.push(c);
                let close = match chars.peek() {
                    Some('(') => ')',
                    Some('{') => '}',
                    // (make looks no further: `$$(` opens one too.)
                    _ => continue,
                };
                out.extend(chars.next());
                open.push((close, 0));
            }
            '\\' if !open.is_empty() && chars.peek() == Some(&'\n') => {
                chars.next();
                out.truncate(out.trim_end_matches([' ', '\t']).len());
                while chars.next_if(|n| *n == ' ' || *n == '\t').is_some() {}
                out.push(' ');
            }
            '\\' => {
                // An escaped character (`\\`) stays as it is.
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            _ => {
                out.push(c);
                if let Some((close, nested)) = open.last_mut() {
                    let opener = if *close == ')' { '(' } else { '{' };
                    if c == opener {
                        *nested += 1;
                    } else if c == *close {
                        if *nested == 0 {
                            open.pop();
                        } else {
                            *nested -= 1;
                        }
                    }
                }
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Expand every line of `recipe` in `scope` (in order, before any runs, as
/// make does), and return the commands. Under `.ONESHELL` the whole recipe
/// becomes one command, with the first line's prefixes applying to it.
pub fn expand(
    db: &mut Database,
    recipe: &Recipe,
    scope: &Scope,
    one_shell: bool,
) -> Result<Vec<CommandLine>> {
    let saved = db.loc.take();
    let mut out = Vec::with_capacity(recipe.lines.len());
    for raw in &recipe.lines {
        // Under `.ONESHELL` the recipe is one command: make speaks of its
        // first line.
        let at = if one_shell { &recipe.lines[0] } else { raw };
        db.loc = Some(at.loc.clone());
        let text = join_continuations_in_references(&raw.text);
        let expanded = match db.expand(&text, scope) {
            Ok(t) => t,
            Err(e) => {
                db.loc = saved;
                return Err(e);
            }
        };
        let mut base = CommandLine {
            text: String::new(),
            silent: false,
            ignore: false,
            always: mentions_make(&raw.text),
            loc: raw.loc.clone(),
        };
        // Prefixes may come from the raw text or from the expansion; a
        // multi-line expansion (`define`) gives one command per line.
        let _ = strip_prefixes(&raw.text, &mut base);
        for piece in split_commands(&expanded) {
            let mut line = base.clone();
            line.text = strip_prefixes(piece, &mut line);
            out.push(line);
        }
    }
    db.loc = saved;
    if one_shell && !out.is_empty() {
        let mut first = out[0].clone();
        let rest: Vec<String> = out[1..]
            .iter()
            .map(|l| {
                let mut scratch = l.clone();
                strip_prefixes(&l.text, &mut scratch)
            })
            .collect();
        let mut text = first.text.clone();
        for r in rest {
            text.push('\n');
            text.push_str(&r);
        }
        first.text = text;
        first.always |= out.iter().any(|l| l.always);
        return Ok(vec![first]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> CommandLine {
        CommandLine {
            text: String::new(),
            silent: false,
            ignore: false,
            always: false,
            loc: Loc::new(&"M".into(), 1),
        }
    }

    #[test]
    fn continuations_join_only_inside_references() {
        let j = |t: &str| join_continuations_in_references(t).into_owned();
        assert_eq!(
            j("$(if $(X),\\\n    @echo yes,\\\n  @echo no)"),
            "$(if $(X), @echo yes, @echo no)"
        );
        assert_eq!(
            j("echo \"a \\\n  b\" $(x a \\\n\t b)"),
            "echo \"a \\\n  b\" $(x a b)"
        );
        assert_eq!(j("${f (a\\\nb)} $$(c\\\nd)"), "${f (a b)} $$(c d)");
        assert_eq!(j("$(f $(g a\\\nb))x\\\ny"), "$(f $(g a b))x\\\ny");
    }

    #[test]
    fn recursive_lines_are_known_before_expansion() {
        assert!(raw_recursive("+touch x"));
        assert!(raw_recursive(" @-+ echo"));
        assert!(raw_recursive("$(MAKE) -C sub"));
        assert!(!raw_recursive("echo a+b"));
        assert!(!raw_recursive("$(info x)@echo"));
    }

    #[test]
    fn prefixes_in_any_order() {
        let mut l = blank();
        assert_eq!(strip_prefixes("  @- +echo x", &mut l), "echo x");
        assert!(l.silent && l.ignore && l.always);
        let mut l = blank();
        assert_eq!(strip_prefixes("echo -x", &mut l), "echo -x");
        assert!(!l.silent && !l.ignore);
        assert!(mentions_make("cd d && ${MAKE} all"));
        assert_eq!(split_commands("a\\\nb\n@c"), vec!["a\\\nb", "@c"]);
    }
}
