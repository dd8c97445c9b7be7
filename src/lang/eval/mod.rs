//! Reading makefiles: directives, conditionals, assignments and rules, evaluated
//! line by line into the `Database`, as make does (a line's meaning can depend on
//! everything read before it).
//!
//! This module reads lines and tells them apart (`eval_lines`, `statement`);
//! each kind has its own: `conditionals`, `assignments` (also `define`,
//! `export`), `directives` (`include`, `vpath`), `rule_lines` (a rule's
//! header and target-specific variables), `prereq_words` (prerequisite lists
//! into names), `record` (a finished rule into the database), `specials`
//! (special targets, the end of reading) and `environment` (what recipes
//! get exported).

mod assignments;
mod conditionals;
mod directives;
mod environment;
mod prereq_words;
mod record;
mod rule_lines;
mod specials;
#[cfg(test)]
mod tests;

pub use prereq_words::name_words;

use crate::diag::{Fatal, Loc, Result};
use crate::lang::database::{Database, ReadOptions};
use crate::lang::expand::find_close;
use crate::lang::names::strip_dot_slash;
use crate::lang::reader::{collapse_continuations, strip_comment, Reader};
use crate::lang::rules::RecipeLine;
use crate::lang::vars::{Flavor, Origin, Scope, Var};
use assignments::parse_assignment;
use std::sync::Arc;

/// One level of `ifeq`/`ifdef`… nesting.
struct Cond {
    /// Lines of the current branch are read.
    active: bool,
    /// Some branch of this conditional was taken already.
    taken: bool,
    /// `else` without a condition was seen.
    final_else: bool,
    /// The enclosing conditional is active.
    outer_active: bool,
}

/// How a makefile line begins, for make's hints when it cannot be parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Indent {
    RecipePrefix,
    EightSpaces,
    Other,
}

/// The shape of a rule line once its colon has been found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Colon {
    Single,
    Double,
    Grouped,
}

/// A rule whose recipe lines are still being read.
struct PendingRule {
    targets: Vec<String>,
    colon: Colon,
    /// For static pattern rules: the target pattern.
    static_pattern: Option<String>,
    /// Prerequisite text after the first expansion.
    prereqs: String,
    recipe: Vec<RecipeLine>,
    loc: Loc,
    second_expansion: bool,
}

impl PendingRule {
    /// A rule line whose targets expanded to nothing: it only collects the
    /// recipe lines that follow, to be dropped.
    fn without_targets(loc: &Loc) -> PendingRule {
        PendingRule {
            targets: Vec::new(),
            colon: Colon::Single,
            static_pattern: None,
            prereqs: String::new(),
            recipe: Vec::new(),
            loc: loc.clone(),
            second_expansion: false,
        }
    }
}

/// Modifiers that may precede an assignment or directive.
#[derive(Clone, Copy, Default)]
struct Modifiers {
    override_: bool,
    export: Option<bool>,
    private: bool,
}

/// The reading state of one makefile (or one `$(eval)` text).
struct FileState {
    file: Arc<str>,
    first_line: usize,
    /// Text of `$(eval)`: make gives all its lines the line of the call.
    one_line: bool,
    conds: Vec<Cond>,
    rule: Option<PendingRule>,
}

impl FileState {
    fn active(&self) -> bool {
        self.conds.last().is_none_or(|c| c.active)
    }
    fn loc(&self, line: usize) -> Loc {
        if self.one_line {
            return Loc::new(&self.file, self.first_line);
        }
        Loc::new(&self.file, line + self.first_line - 1)
    }
}

/// The file name given to built-in rules and variables.
pub const BUILTIN: &str = "<builtin>";

const ASSIGN_OPS: [&str; 6] = ["::=", ":=", "+=", "?=", "!=", "="];

impl Database {
    pub fn new(opts: ReadOptions) -> Database {
        Database {
            opts,
            ..Default::default()
        }
    }

    /// Read the makefile at `path` (as named by the user). Returns `Ok(false)` if it
    /// does not exist.
    pub fn read_makefile(&mut self, path: &str) -> Result<bool> {
        // `-f ./x`, `include ./x` and `-I ./dir` all read (and list) `x`.
        let path = strip_dot_slash(path);
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => {
                return Err(Fatal::at(
                    self.loc.as_ref(),
                    format!("{}: {}", path, io_message(&e)),
                ))
            }
        };
        self.makefiles.push(path.to_string());
        self.append_makefile_list(path);
        let saved = self.loc.take();
        let file: Arc<str> = Arc::from(path);
        let r = self.eval_lines(&text, &file, 1, false);
        self.loc = saved;
        r.map(|_| true)
    }

    /// Evaluate makefile text (`$(eval)`, built-in rules). `loc` names the origin of
    /// the text for messages; lines are numbered from `loc.line`.
    pub fn eval_text(&mut self, text: &str, loc: &Loc) -> Result<()> {
        let saved = self.loc.clone();
        let r = self.eval_lines(text, &loc.file, loc.line.max(1), false);
        self.loc = saved;
        r
    }

    /// Read the text of a `$(eval)` called at `loc` in `scope`.
    pub fn eval_call(&mut self, text: &str, loc: &Loc, scope: &Scope) -> Result<()> {
        let saved = self.loc.clone();
        let frames = std::mem::replace(&mut self.eval_frames, scope.frames.clone());
        let r = self.eval_lines(text, &loc.file, loc.line.max(1), true);
        self.eval_frames = frames;
        self.loc = saved;
        r
    }

    /// The scope makefile lines are expanded in: the global table, and the
    /// variables around a `$(eval)` being read.
    fn reading_scope(&self) -> Scope {
        Scope {
            frames: self.eval_frames.clone(),
            for_target: false,
        }
    }

    fn append_makefile_list(&mut self, path: &str) {
        let list = match self.globals.get("MAKEFILE_LIST") {
            Some(v) if !v.value.is_empty() => format!("{} {}", v.value, path),
            _ => path.to_string(),
        };
        let mut var = Var::new(list, Flavor::Simple, Origin::File);
        if let Some(old) = self.globals.get("MAKEFILE_LIST") {
            var.export = old.export;
        }
        self.globals.set("MAKEFILE_LIST", var);
    }

    fn recipe_prefix(&self) -> char {
        self.globals
            .get(".RECIPEPREFIX")
            .and_then(|v| v.value.chars().next())
            .unwrap_or('\t')
    }

    fn eval_lines(
        &mut self,
        text: &str,
        file: &Arc<str>,
        first_line: usize,
        one_line: bool,
    ) -> Result<()> {
        let mut reader = Reader::new(text);
        let mut st = FileState {
            file: file.clone(),
            first_line,
            one_line,
            conds: Vec::new(),
            rule: None,
        };
        loop {
            let prefix = self.recipe_prefix();
            let Some(peek) = reader.peek() else { break };
            if st.rule.is_some() && peek.starts_with(prefix) {
                let Some(l) = reader.next_raw(Some(prefix)) else {
                    break;
                };
                if !st.active() {
                    continue;
                }
                let text = l.text[prefix.len_utf8()..].to_string();
                let here = st.loc(l.line);
                if let Some(rule) = st.rule.as_mut() {
                    // make numbers a recipe's lines from its first one, one
                    // per command: continuations, blank lines, comments and
                    // conditionals in between do not count.
                    let loc = match rule.recipe.first() {
                        Some(first) => {
                            Loc::new(&first.loc.file, first.loc.line + rule.recipe.len())
                        }
                        None => here,
                    };
                    rule.recipe.push(RecipeLine { text, loc });
                }
                continue;
            }
            let Some(l) = reader.next_raw(None) else {
                break;
            };
            let loc = st.loc(l.line);
            self.loc = Some(loc.clone());
            let indent = if l.text.starts_with(prefix) {
                Indent::RecipePrefix
            } else if l.text.starts_with("        ") {
                Indent::EightSpaces
            } else {
                Indent::Other
            };
            let line = strip_comment(&collapse_continuations(&l.text));
            let body = line.trim_start_matches([' ', '\t']);
            if body.trim().is_empty() {
                continue;
            }
            if self.conditional(body, &mut st, &loc)? {
                continue;
            }
            if !st.active() {
                // Inside a false branch, `define` bodies must still be skipped
                // whole, so an `endif` in them does not count.
                if first_word(body) == "define"
                    || body.split_whitespace().any(|w| w == "define") && is_define_line(body)
                {
                    skip_define_body(&mut reader);
                }
                continue;
            }
            self.statement(body, indent, &mut st, &mut reader, &loc)?;
        }
        self.finish_rule(&mut st)?;
        if !st.conds.is_empty() {
            // make reports the end of the file: the line after the last one.
            let loc = st.loc(reader_line_count(text) + 1);
            return Err(Fatal::at(Some(&loc), "missing 'endif'"));
        }
        Ok(())
    }

    /// Everything that is not a conditional or a recipe line.
    fn statement(
        &mut self,
        line: &str,
        indent: Indent,
        st: &mut FileState,
        reader: &mut Reader,
        loc: &Loc,
    ) -> Result<()> {
        let mut mods = Modifiers::default();
        let mut rest = line;
        loop {
            let w = first_word(rest);
            let after = rest[w.len()..].trim_start_matches([' ', '\t']);
            let is_directive = !w.is_empty() && !starts_with_assign_or_colon(after);
            if !is_directive {
                break;
            }
            match w {
                "override" => mods.override_ = true,
                "export" => mods.export = Some(true),
                "unexport" => mods.export = Some(false),
                "private" => mods.private = true,
                "define" => {
                    self.finish_rule(st)?;
                    return self.define(after, mods, reader, st, loc);
                }
                "undefine" => {
                    self.finish_rule(st)?;
                    let name = self.expand(after.trim(), &self.reading_scope())?;
                    self.undefine(name.trim(), mods.override_);
                    return Ok(());
                }
                "include" | "-include" | "sinclude" if !mods.any() => {
                    self.finish_rule(st)?;
                    return self.include(after, w != "include", loc);
                }
                "vpath" if !mods.any() => {
                    self.finish_rule(st)?;
                    return self.vpath(after);
                }
                "load" | "-load" if !mods.any() => {
                    return Err(Fatal::at(
                        Some(loc),
                        "the 'load' directive is not supported by hbuild",
                    ));
                }
                _ => break,
            }
            rest = after;
        }
        if let Some((name, op, value)) = parse_assignment(rest) {
            self.finish_rule(st)?;
            let name = self.expand(name, &self.reading_scope())?;
            let name = name.trim();
            if name.is_empty() {
                return Err(Fatal::at(Some(loc), "empty variable name"));
            }
            let origin = self.assignment_origin(mods);
            self.assign_with(name, op, value, origin, mods, loc)?;
            return Ok(());
        }
        if mods.export.is_some() {
            // `export`, `export A B`, `unexport A`: no assignment. A colon
            // does not make a rule of it (`export A: B` exports `A:` and `B`).
            self.finish_rule(st)?;
            self.export_names(rest, mods.export == Some(true))?;
            return Ok(());
        }
        // `override` or `private` without an assignment: make reads the
        // whole line as a rule (`override a: b` has a target `override`).
        self.rule_line(line, indent, st, loc)
    }
}

impl Modifiers {
    fn any(&self) -> bool {
        self.override_ || self.export.is_some() || self.private
    }
}

/// The first word of a line (up to a blank).
fn first_word(s: &str) -> &str {
    let end = memchr::memchr2(b' ', b'\t', s.as_bytes()).unwrap_or(s.len());
    &s[..end]
}

/// True if a directive word is followed by an assignment operator or a colon,
/// which makes the word a variable or target name instead (`export := 1`).
fn starts_with_assign_or_colon(after: &str) -> bool {
    after.starts_with('=')
        || after.starts_with(':')
        || ["+=", "?=", "!="].iter().any(|op| after.starts_with(op))
}

fn is_define_line(s: &str) -> bool {
    let mut ws = s.split_whitespace();
    loop {
        match ws.next() {
            Some("override" | "export" | "private" | "unexport") => continue,
            Some("define") => return true,
            _ => return false,
        }
    }
}

/// Skip a `define` body inside a false conditional branch.
fn skip_define_body(reader: &mut Reader) {
    let mut depth = 0usize;
    while let Some(l) = reader.next_raw(None) {
        let t = l.text.trim_start();
        if first_word(t) == "endef" {
            if depth == 0 {
                return;
            }
            depth -= 1;
        } else if is_define_line(t) {
            depth += 1;
        }
    }
}

fn reader_line_count(text: &str) -> usize {
    let n = text.matches('\n').count();
    if text.ends_with('\n') {
        n
    } else {
        n + 1
    }
}

/// The index of the first `ch` outside `$(...)`/`${...}` references.
fn find_top_level(s: &str, ch: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    // Jump between `$` and `ch` (memchr: most lines are scanned whole).
    while let Some(off) = memchr::memchr2(b'$', ch, &b[i..]) {
        i += off;
        if b[i] == b'$' && i + 1 < b.len() {
            match b[i + 1] {
                open @ (b'(' | b'{') => {
                    let close = if open == b'(' { b')' } else { b'}' };
                    i = find_close(s, i + 2, open, close)? + 1;
                }
                _ => i += 2,
            }
            continue;
        }
        if b[i] == ch && !(ch == b':' && escaped(b, i)) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// True if the byte at `i` follows an odd run of backslashes: a colon so
/// escaped is part of a name (`a\:b`).
fn escaped(b: &[u8], i: usize) -> bool {
    b[..i].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1
}

/// The first colon not escaped by a backslash, in expanded text.
fn find_unescaped_colon(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&i| b[i] == b':' && !escaped(b, i))
}

/// An I/O error in make's words (the C library message, without Rust's suffix).
pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
