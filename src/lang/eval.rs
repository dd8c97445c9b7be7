//! Reading makefiles: directives, conditionals, assignments and rules, evaluated
//! line by line into the `Database`, as make does (a line's meaning can depend on
//! everything read before it).

use crate::diag::{message, warn, Fatal, Loc, Result};
use crate::graph::archive;
use crate::lang::database::{Database, MissingInclude, ReadOptions};
use crate::lang::expand::find_close;
use crate::lang::globbing::{file_names, is_file_pattern};
use crate::lang::names::strip_dot_slash;
use crate::lang::reader::{collapse_continuations, strip_comment, Reader};
use crate::lang::rules::{
    DeferredDeps, Dep, DoubleColonRule, PatternRule, PatternVars, Recipe, RecipeLine, Target,
    VpathEntry,
};
use crate::lang::text::{words, Pattern};
use crate::lang::vars::{is_env_name, Export, Flavor, Origin, Scope, Var, VarTable};
use std::collections::HashSet;
use std::path::Path;
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

    /// Handle `ifeq ifneq ifdef ifndef else endif`. Returns true if `line` was one.
    fn conditional(&mut self, line: &str, st: &mut FileState, loc: &Loc) -> Result<bool> {
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

    /// The origin an assignment read from a makefile gets.
    /// Special variables whose mere assignment (global or for a target)
    /// turns on work elsewhere.
    fn note_assigned(&mut self, name: &str) {
        if name == ".EXTRA_PREREQS" {
            self.specials.extra_prereqs = true;
        }
    }

    fn assignment_origin(&self, mods: Modifiers) -> Origin {
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

    fn assign_with(
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

    fn undefine(&mut self, name: &str, override_: bool) {
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

    fn export_names(&mut self, rest: &str, export: bool) -> Result<()> {
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
    fn define(
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

    fn include(&mut self, args: &str, optional: bool, loc: &Loc) -> Result<()> {
        let names = self.expand(args, &self.reading_scope())?;
        for name in words(&names).flat_map(file_names) {
            let name = strip_dot_slash(&name).to_string();
            let found = self.find_include(&name);
            match found {
                Some(path) => {
                    if optional {
                        self.optional_makefiles
                            .push(strip_dot_slash(&path).to_string());
                    }
                    self.read_makefile(&path)?;
                    self.loc = Some(loc.clone());
                }
                None => self.missing_includes.push(MissingInclude {
                    name,
                    optional,
                    loc: loc.clone(),
                    after: self.makefiles.len(),
                }),
            }
        }
        Ok(())
    }

    /// Where an included makefile is: as named, then in the `-I` directories and
    /// make's default include directories (only for relative names).
    fn find_include(&self, name: &str) -> Option<String> {
        if Path::new(name).exists() {
            return Some(name.to_string());
        }
        if name.starts_with('/') {
            return None;
        }
        let defaults = ["/usr/local/include", "/usr/include"];
        self.opts
            .include_dirs
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .chain(defaults.iter().map(|s| s.to_string()))
            .map(|d| format!("{}/{}", d.trim_end_matches('/'), name))
            .find(|p| Path::new(p).exists())
    }

    fn vpath(&mut self, args: &str) -> Result<()> {
        let text = self.expand(args, &self.reading_scope())?;
        let mut it = words(&text);
        match it.next() {
            None => self.vpaths.clear(),
            Some(pattern) => {
                let dirs: Vec<String> = it
                    .flat_map(|w| w.split(':'))
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect();
                if dirs.is_empty() {
                    self.vpaths.retain(|v| v.pattern != pattern);
                } else {
                    self.vpaths.push(VpathEntry {
                        pattern: pattern.to_string(),
                        dirs,
                    });
                }
            }
        }
        Ok(())
    }

    /// A rule line: `targets : prerequisites ; recipe`, a static pattern rule,
    /// or target-specific variables.
    fn rule_line(
        &mut self,
        line: &str,
        indent: Indent,
        st: &mut FileState,
        loc: &Loc,
    ) -> Result<()> {
        self.finish_rule(st)?;
        if matches!(indent, Indent::RecipePrefix) {
            // A recipe line where no rule is open: make refuses it before
            // looking at it, unless it was an assignment or a directive.
            return Err(Fatal::at(Some(loc), "recipe commences before first target"));
        }
        let scope = self.reading_scope();
        let (rule_part, inline_recipe) = match find_top_level(line, b';') {
            Some(i) => (&line[..i], Some(&line[i + 1..])),
            None => (line, None),
        };
        if inline_recipe.is_some() && rule_part.trim().is_empty() {
            return Err(Fatal::at(Some(loc), "missing rule before recipe"));
        }
        let (targets_text, colon, rest) = match find_top_level(rule_part, b':') {
            Some(i) => {
                let targets = self.expand(&rule_part[..i], &scope)?;
                let mut after = &rule_part[i + 1..];
                let mut colon = Colon::Single;
                let mut targets = targets;
                if after.starts_with(':') {
                    colon = Colon::Double;
                    after = &after[1..];
                    // `&::`: make takes the rule as double-colon. (Several
                    // explicit targets each get the recipe here, where make
                    // would also group them.)
                    if let Some(t) = targets.strip_suffix('&') {
                        targets = t.to_string();
                    }
                } else if let Some(t) = targets.strip_suffix('&') {
                    colon = Colon::Grouped;
                    targets = t.to_string();
                }
                (targets, colon, after.to_string())
            }
            None => {
                let expanded = self.expand(rule_part, &scope)?;
                if expanded.trim().is_empty() {
                    // Nothing left of the line (its `; recipe` included):
                    // make ignores it, and no rule is open after it.
                    return Ok(());
                }
                match find_unescaped_colon(&expanded) {
                    Some(i) => {
                        // The colon came from a variable's value.
                        let after = &expanded[i + 1..];
                        let (colon, after) = match after.strip_prefix(':') {
                            Some(a) => (Colon::Double, a),
                            None => (Colon::Single, after),
                        };
                        (expanded[..i].to_string(), colon, escape_dollars(after))
                    }
                    None => {
                        let msg = match indent {
                            Indent::RecipePrefix => "recipe commences before first target",
                            Indent::EightSpaces => {
                                "missing separator (did you mean TAB instead of 8 spaces?)"
                            }
                            Indent::Other => "missing separator",
                        };
                        return Err(Fatal::at(Some(loc), msg));
                    }
                }
            }
        };
        let names = archive::split_groups(name_words(&targets_text));
        let mut targets: Vec<String> = expand_file_patterns(names);
        for t in targets.iter_mut().filter(|t| t.starts_with("./")) {
            *t = strip_dot_slash(t).to_string();
        }
        if targets.is_empty() {
            // make drops a rule without targets whole, unexpanded, and the
            // recipe lines after it with it.
            st.rule = Some(PendingRule::without_targets(loc));
            return Ok(());
        }
        // Target-specific variable assignment?
        let rest_trim = rest.trim_start_matches([' ', '\t']);
        if defines_for_target(rest_trim) {
            return Err(Fatal::at(
                Some(loc),
                "Malformed target-specific variable definition",
            ));
        }
        if target_var_assignment(rest_trim).is_some() {
            // A `;` belongs to the value, not to a recipe (`x: V = a; b`).
            let full = match inline_recipe {
                Some(after) => format!("{rest_trim};{after}"),
                None => rest_trim.to_string(),
            };
            if let Some((mods, assign)) = target_var_assignment(&full) {
                return self.target_vars(&targets, mods, assign, loc);
            }
        }
        // Static pattern rule: a second colon.
        let (static_pattern, prereq_text) = match find_top_level(&rest, b':') {
            Some(i) => {
                let pat = self.expand(&rest[..i], &scope)?;
                let pat = strip_dot_slash(pat.trim()).to_string();
                let wrong = if pat.is_empty() {
                    Some("missing target pattern")
                } else if words(&pat).count() > 1 {
                    Some("multiple target patterns")
                } else if Pattern::parse(&pat).is_none() {
                    Some("target pattern contains no '%'")
                } else {
                    None
                };
                if let Some(msg) = wrong {
                    // make expands the prerequisites before it looks.
                    self.expand(&rest[i + 1..], &scope)?;
                    return Err(Fatal::at(Some(loc), msg));
                }
                (Some(pat), &rest[i + 1..])
            }
            None => (None, &rest[..]),
        };
        let second = self.specials.second_expansion;
        // With `.SECONDEXPANSION` this is only the first expansion; the second
        // happens when the target is considered.
        let prereqs = self.expand(prereq_text, &scope)?;
        let mut recipe = Vec::new();
        if let Some(r) = inline_recipe {
            recipe.push(RecipeLine {
                text: r.trim_start_matches([' ', '\t']).to_string(),
                loc: loc.clone(),
            });
        }
        st.rule = Some(PendingRule {
            targets,
            colon,
            static_pattern,
            prereqs,
            recipe,
            loc: loc.clone(),
            second_expansion: second,
        });
        Ok(())
    }

    /// `targets: [modifiers] VAR op value`.
    fn target_vars(
        &mut self,
        targets: &[String],
        mods: Modifiers,
        (name, op, value): (&str, &str, &str),
        loc: &Loc,
    ) -> Result<()> {
        let scope = self.reading_scope();
        let name = self.expand(name, &scope)?.trim().to_string();
        if name.is_empty() {
            return Err(Fatal::at(Some(loc), "empty variable name"));
        }
        self.note_assigned(&name);
        let origin = self.assignment_origin(mods);
        // The value is computed once; each target gets its own copy.
        let (value, flavor) = match op {
            ":=" | "::=" => (self.expand(value, &scope)?, Flavor::Simple),
            "!=" => {
                let cmd = self.expand(value, &scope)?;
                (
                    crate::lang::functions::shell_command::run(self, &cmd, &scope)?,
                    Flavor::Simple,
                )
            }
            _ => (value.to_string(), Flavor::Recursive),
        };
        // `+=` onto an existing simple target-specific value needs the addition
        // expanded; compute it once, only if some target has such a value.
        let appends_to_simple = op == "+="
            && targets.iter().any(|t| {
                self.targets
                    .get(t.as_str())
                    .and_then(|e| e.vars.as_ref())
                    .and_then(|v| v.get(&name))
                    .is_some_and(|v| v.flavor == Flavor::Simple)
            });
        let expanded = if appends_to_simple {
            Some(self.expand(&value, &scope)?)
        } else {
            None
        };
        let global = self.globals.get(&name);
        let globally_defined = global.is_some();
        let command_line = global
            .filter(|g| {
                !mods.override_
                    && matches!(g.origin, Origin::CommandLine | Origin::EnvironmentOverride)
            })
            .cloned();
        for t in targets {
            let is_pattern = Pattern::parse(t).is_some();
            let table: &mut Arc<VarTable> = if is_pattern {
                match self.pattern_vars.iter().position(|p| p.pattern == *t) {
                    Some(i) => &mut self.pattern_vars[i].vars,
                    None => {
                        self.pattern_vars.push(PatternVars {
                            pattern: t.clone(),
                            vars: Arc::new(VarTable::default()),
                        });
                        let last = self.pattern_vars.len() - 1;
                        &mut self.pattern_vars[last].vars
                    }
                }
            } else {
                let target = self.target_entry(t);
                target
                    .vars
                    .get_or_insert_with(|| Arc::new(VarTable::default()))
            };
            let table = Arc::make_mut(table);
            let mut var = match (op, table.get(&name)) {
                ("?=", Some(_)) => continue,
                ("?=", None) if globally_defined => continue,
                ("+=", Some(old)) => {
                    let mut v = old.clone();
                    // Appending to a simple value expands the addition now.
                    let add = match (&expanded, v.flavor) {
                        (Some(e), Flavor::Simple) => e.clone(),
                        _ => value.clone(),
                    };
                    if !v.value.is_empty() && !add.is_empty() {
                        v.value.push(' ');
                    }
                    v.value.push_str(&add);
                    v
                }
                ("+=", None) => {
                    let mut v = Var::new(value.clone(), flavor, origin);
                    v.append = true;
                    v
                }
                _ => Var::new(value.clone(), flavor, origin),
            };
            var.origin = origin;
            if let Some(g) = &command_line {
                // Without `override`, a target's definition does not change
                // a variable given on the command line (or by `-e`): it takes
                // that value. A pattern's `+=` stays an addition, so make
                // shows the value twice.
                var.value = g.value.clone();
                var.flavor = g.flavor;
                var.origin = g.origin;
                var.append &= is_pattern;
            }
            var.private = mods.private;
            if let Some(e) = mods.export {
                var.export = if e { Export::Yes } else { Export::No };
            }
            var.loc = Some(loc.clone());
            table.set(name.clone(), var);
        }
        Ok(())
    }

    /// The entry for `name`, created if needed.
    pub fn target_entry(&mut self, name: &str) -> &mut Target {
        use std::collections::hash_map::Entry;
        // One hash lookup whether or not the entry exists.
        let name = self.names.intern(name);
        match self.targets.entry(name.clone()) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => {
                self.target_order.push(name.clone());
                v.insert(Target {
                    name,
                    ..Default::default()
                })
            }
        }
    }

    /// Record the pending rule, if any, now that its recipe is complete.
    fn finish_rule(&mut self, st: &mut FileState) -> Result<()> {
        let Some(rule) = st.rule.take() else {
            return Ok(());
        };
        self.record_rule(rule)
    }

    fn record_rule(&mut self, rule: PendingRule) -> Result<()> {
        if rule.targets.is_empty() {
            return Ok(());
        }
        let recipe = if rule.recipe.is_empty() {
            None
        } else {
            // Kept for the whole run, once per rule: no spare capacity (a
            // one-line recipe would otherwise hold room for four).
            let mut lines = rule.recipe;
            lines.shrink_to_fit();
            Some(Arc::new(Recipe {
                lines,
                loc: rule.loc.clone(),
            }))
        };
        let loc = rule.loc;
        if rule.colon == Colon::Grouped && recipe.is_none() {
            return Err(Fatal::at(
                Some(&loc),
                "grouped targets must provide a recipe",
            ));
        }
        check_rule_kind(&rule.targets, rule.static_pattern.is_some(), &loc)?;
        let patterns = rule
            .targets
            .iter()
            .filter(|t| Pattern::parse(t).is_some())
            .count();
        if rule.static_pattern.is_none() && patterns == rule.targets.len() {
            let (deps, deferred) =
                split_deps(&rule.prereqs, rule.second_expansion, &loc, true, |w| {
                    strip_dot_slash(w).into()
                });
            return self.record_pattern_rule(PatternRule {
                targets: rule.targets,
                deps,
                deferred,
                recipe,
                terminal: rule.colon == Colon::Double,
                loc,
            });
        }
        // Most rules have one target: no table to allocate for them.
        let repeated: std::borrow::Cow<[bool]> = match rule.targets.len() {
            1 => std::borrow::Cow::Borrowed(&[false]),
            _ => std::borrow::Cow::Owned(repeated_names(&rule.targets)),
        };
        let group = if rule.colon == Colon::Grouped && !rule.targets.is_empty() {
            let once = rule
                .targets
                .iter()
                .zip(repeated.iter())
                .filter(|(_, r)| !**r);
            Some(Arc::new(once.map(|(t, _)| t.clone()).collect::<Vec<_>>()))
        } else {
            None
        };
        // Which targets of a grouped rule already belong to a group.
        let grouped_before: Option<Vec<bool>> = group.as_ref().map(|_| {
            let in_group = |t: &String| {
                self.targets
                    .get(t.as_str())
                    .is_some_and(|e| e.group.is_some())
            };
            rule.targets.iter().map(in_group).collect()
        });
        // A static rule's wildcards are expanded before the stem goes in: a
        // name the stem makes is taken as it is.
        let static_prereqs = match &rule.static_pattern {
            Some(_) if !defers(&rule.prereqs, rule.second_expansion) => {
                expand_file_patterns_in(&rule.prereqs)
            }
            _ => std::borrow::Cow::Borrowed(rule.prereqs.as_str()),
        };
        for (i, (t, &again)) in rule.targets.iter().zip(repeated.iter()).enumerate() {
            if i > 0 && Pattern::parse(t).is_some() {
                // After an ordinary first target make only complains, then
                // treats the pattern as a file name.
                crate::engine::output::enter_directory();
                eprintln!(
                    "{}: *** mixed implicit and normal rules: deprecated syntax",
                    loc
                );
            }
            // make notices the repetition only through the recipe the
            // target already got from this very rule.
            if again && rule.colon != Colon::Double && recipe.is_some() {
                message(
                    &loc,
                    &format!("target '{}' given more than once in the same rule", t),
                );
            }
            let (prereqs, stem) = match &rule.static_pattern {
                Some(pat) => {
                    let p = Pattern::parse(pat).expect("checked when read");
                    match p.matches(t) {
                        Some(stem) => {
                            let stem = stem.to_string();
                            (
                                std::borrow::Cow::Owned(fill_patterns(&static_prereqs, &stem)),
                                Some(stem),
                            )
                        }
                        None => {
                            message(
                                &loc,
                                &format!("target '{}' doesn't match the target pattern", t),
                            );
                            (std::borrow::Cow::Borrowed(""), None)
                        }
                    }
                }
                None => (std::borrow::Cow::Borrowed(rule.prereqs.as_str()), None),
            };
            if self.special_target(t, &prereqs, recipe.as_ref())? {
                continue;
            }
            // A static rule's patterns lost their `./` before the stem went
            // in (`fill_patterns`); one the stem brings stays, as in make.
            let filled = rule.static_pattern.is_some();
            let names = &mut self.names;
            let (deps, deferred) =
                split_deps(&prereqs, rule.second_expansion, &loc, !filled, |w| {
                    names.intern(if filled { w } else { strip_dot_slash(w) })
                });
            self.note_default_goal(t);
            let entry = self.target_entry(t);
            entry.is_target = true;
            if entry.loc.is_none() {
                entry.loc = Some(loc.clone());
            }
            if stem.is_some() {
                entry.static_stem = stem.map(String::into_boxed_str);
            }
            let double = rule.colon == Colon::Double;
            if double {
                if entry.single_colon {
                    return Err(Fatal::at(
                        Some(&loc),
                        format!("target file '{}' has both : and :: entries", t),
                    ));
                }
                entry.double_colon.push(DoubleColonRule {
                    deps,
                    deferred,
                    recipe: recipe.clone(),
                    loc: loc.clone(),
                });
                continue;
            }
            entry.single_colon = true;
            if !entry.double_colon.is_empty() {
                return Err(Fatal::at(
                    Some(&loc),
                    format!("target file '{}' has both : and :: entries", t),
                ));
            }
            merge_deps(&mut entry.deps, deps, recipe.is_some());
            entry.deferred.extend(deferred);
            if let Some(r) = &recipe {
                let old = entry.recipe.as_ref().filter(|o| !o.loc.is_builtin());
                // A name given twice in this rule already has this recipe.
                if let Some(old) = old.filter(|_| !again) {
                    // make names the first recipe line of each rule.
                    warn(
                        Some(r.first_line_loc()),
                        &format!("overriding recipe for target '{}'", t),
                    );
                    warn(
                        Some(old.first_line_loc()),
                        &format!("ignoring old recipe for target '{}'", t),
                    );
                }
                entry.recipe = Some(r.clone());
            }
            if group.is_some() {
                entry.group = group.clone();
            }
        }
        if let (Some(in_group), Some(_)) = (grouped_before, &group) {
            let at = recipe.as_ref().map_or(&loc, |r| r.first_line_loc());
            warn_group_overrides(&rule.targets, &in_group, at);
        }
        Ok(())
    }

    /// Make the first ordinary target the default goal, unless one is set.
    fn note_default_goal(&mut self, target: &str) {
        if target.starts_with('.') && !target.contains('/') {
            return;
        }
        let unset = self
            .globals
            .get(".DEFAULT_GOAL")
            .is_none_or(|v| v.value.is_empty());
        if unset {
            self.default_goal = Some(target.to_string());
            let mut v = Var::new(target, Flavor::Simple, Origin::File);
            if let Some(old) = self.globals.get(".DEFAULT_GOAL") {
                v.export = old.export;
            }
            self.globals.set(".DEFAULT_GOAL", v);
        }
    }

    fn record_pattern_rule(&mut self, rule: PatternRule) -> Result<()> {
        let same = |r: &PatternRule| same_pattern_rule(r, &rule);
        if self.installing_defaults {
            if !self.pattern_rules.iter().any(same) {
                self.pattern_rules.push(rule);
            }
            return Ok(());
        }
        // A rule without a recipe cancels the one it names; it stays in the
        // list (the graph skips it) so no built-in rule replaces it later.
        self.pattern_rules.retain(|r| !same(r));
        self.pattern_rules.push(rule);
        Ok(())
    }

    /// Handle a special target; returns true if `name` is one (it is then not an
    /// ordinary target).
    fn special_target(
        &mut self,
        name: &str,
        prereqs: &str,
        recipe: Option<&Arc<Recipe>>,
    ) -> Result<bool> {
        if !name.starts_with('.') {
            return Ok(false);
        }
        let names = || {
            words(prereqs)
                .flat_map(file_names)
                .map(|w| strip_dot_slash(&w).to_string())
        };
        let sp = &mut self.specials;
        match name {
            ".PHONY" => sp.phony.extend(names()),
            ".PRECIOUS" => sp.precious.extend(names()),
            ".INTERMEDIATE" => sp.intermediate.extend(names()),
            ".SECONDARY" => set_or_all(&mut sp.secondary, names()),
            ".IGNORE" => set_or_all(&mut sp.ignore, names()),
            ".SILENT" => set_or_all(&mut sp.silent, names()),
            ".DELETE_ON_ERROR" => sp.delete_on_error = true,
            ".EXPORT_ALL_VARIABLES" => sp.export_all = true,
            ".NOTPARALLEL" => sp.not_parallel = true,
            ".ONESHELL" => sp.one_shell = true,
            ".POSIX" => {
                sp.posix = true;
                let v = Var::new("-ec", Flavor::Simple, Origin::Default);
                if self
                    .globals
                    .get(".SHELLFLAGS")
                    .is_none_or(|v| v.origin == Origin::Default)
                {
                    self.globals.set(".SHELLFLAGS", v);
                }
            }
            ".SECONDEXPANSION" => sp.second_expansion = true,
            ".LOW_RESOLUTION_TIME" => sp.low_resolution_time.extend(names()),
            ".SUFFIXES" => {
                let list: Vec<String> = names().collect();
                if list.is_empty() {
                    sp.suffixes.clear();
                } else {
                    for s in list {
                        if !sp.suffixes.contains(&s) {
                            sp.suffixes.push(s);
                        }
                    }
                }
            }
            ".DEFAULT" => {
                sp.default_recipe = recipe.cloned();
            }
            ".NOTINTERMEDIATE" | ".KEEP_STATE" | ".LIBPATTERNS" => {}
            _ => return Ok(false),
        }
        // Their prerequisites are mentioned in the makefile, as any others:
        // an implicit rule may count on them (`.SECONDARY: x.y`).
        for n in names() {
            self.names.intern(&n);
        }
        Ok(true)
    }

    /// After all makefiles are read: convert suffix rules into pattern rules
    /// and add the built-in pattern rules (unless `-r`).
    pub fn finish_reading(&mut self, builtin_pattern_rules: Option<&str>) -> Result<()> {
        self.convert_suffix_rules();
        if let Some(text) = builtin_pattern_rules {
            self.installing_defaults = true;
            let loc = Loc {
                file: Arc::from(BUILTIN),
                line: 1,
            };
            // Built-in rules use a tab whatever `.RECIPEPREFIX` the makefile set.
            let prefix = self.globals.remove(".RECIPEPREFIX");
            let r = self.eval_text(text, &loc);
            if let Some(p) = prefix {
                self.globals.set(".RECIPEPREFIX", p);
            }
            self.installing_defaults = false;
            r?;
        }
        Ok(())
    }

    /// Old-style suffix rules (`.c.o:`, `.c:`) become pattern rules, for the
    /// suffixes known in `.SUFFIXES` at the end of reading.
    fn convert_suffix_rules(&mut self) {
        let suffixes = self.specials.suffixes.clone();
        // make's order: for each suffix S, the single-suffix rule `.S` first,
        // then each double-suffix rule `.S.T` in `.SUFFIXES` order.
        for s in &suffixes {
            let singles = std::iter::once((s.to_string(), "%".to_string()));
            let doubles = suffixes
                .iter()
                .map(|t| (format!("{}{}", s, t), format!("%{}", t)));
            for (name, target) in singles.chain(doubles) {
                let Some(t) = self.targets.get(name.as_str()) else {
                    continue;
                };
                if !t.deps.is_empty() {
                    continue;
                }
                let Some(recipe) = t.recipe.clone() else {
                    continue;
                };
                let rule = PatternRule {
                    targets: vec![target],
                    deps: vec![Dep {
                        name: format!("%{}", s).into(),
                        order_only: false,
                    }],
                    deferred: Vec::new(),
                    loc: recipe.loc.clone(),
                    recipe: Some(recipe),
                    terminal: false,
                };
                let same = |r: &PatternRule| same_pattern_rule(r, &rule);
                if !self.pattern_rules.iter().any(same) {
                    self.pattern_rules.push(rule);
                }
            }
        }
    }

    /// The environment of a recipe or `$(shell)` run in `scope`: the process
    /// environment plus exported variables, minus unexported ones.
    pub fn recipe_env(&mut self, scope: &Scope) -> Result<Vec<(String, String)>> {
        let mut env: Vec<(String, String)> = Vec::new();
        // Names whose value needs the full lookup: shadowed in `scope`, or
        // a recursive value with references.
        let mut names: Vec<String> = Vec::new();
        for (name, var) in self.globals.iter() {
            if !self.exported(name, var) {
                continue;
            }
            // A value from the environment goes back out as it came, even
            // with references in it (make exports `MAKEOVERRIDES` so).
            let from_env = matches!(
                var.origin,
                Origin::Environment | Origin::EnvironmentOverride
            );
            let plain = from_env || var.flavor == Flavor::Simple || !var.value.contains('$');
            if plain && scope.find(name, 0).is_none() {
                // What `var_value` would give, without looking it up again.
                let value = if var.private && scope.for_target {
                    String::new()
                } else {
                    var.value.clone()
                };
                env.push((name.clone(), value));
            } else {
                names.push(name.clone());
            }
        }
        for f in &scope.frames {
            for (name, var) in f.vars.iter() {
                // (A name taken directly above is in no frame.)
                if var.origin != Origin::Automatic
                    && self.exported(name, var)
                    && !names.contains(name)
                {
                    names.push(name.clone());
                }
            }
        }
        for name in names {
            // A variable unexported in the innermost definition stays out.
            let hidden = match scope.find(&name, 0) {
                Some((_, v)) => v.export == Export::No,
                None => false,
            };
            if hidden {
                continue;
            }
            // Messages from expanding it (`--warn-undefined-variables`)
            // name where it was defined, as make's do.
            let defined_at = scope
                .find(&name, 0)
                .map(|(_, v)| v)
                .or_else(|| self.globals.get(&name))
                .and_then(|v| v.loc.clone());
            let saved = match defined_at {
                Some(l) => self.loc.replace(l),
                None => self.loc.clone(),
            };
            let value = self.var_value(&name, scope);
            self.loc = saved;
            env.push((name, value?));
        }
        for (name, value) in &self.child_env {
            match env.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e.1 = value.clone(),
                None => env.push((name.clone(), value.clone())),
            }
        }
        Ok(env)
    }

    /// The flags first: this runs for every variable of every step started,
    /// and most (make's built-in defaults) are not exported.
    fn exported(&self, name: &str, var: &Var) -> bool {
        let flagged = match var.export {
            Export::Yes => true,
            Export::No => false,
            Export::Default => {
                matches!(
                    var.origin,
                    Origin::Environment | Origin::EnvironmentOverride | Origin::CommandLine
                ) || (self.specials.export_all && var.origin != Origin::Default)
            }
        };
        flagged && is_env_name(name)
    }
}

impl Modifiers {
    fn any(&self) -> bool {
        self.override_ || self.export.is_some() || self.private
    }
}

/// True if a value from `new` may replace one from `old`.
fn may_replace(old: Origin, new: Origin) -> bool {
    match old {
        Origin::Automatic => true,
        _ => new >= old || (old == Origin::Environment && new == Origin::File),
    }
}

fn set_or_all(set: &mut crate::lang::database::FileSet, names: impl Iterator<Item = String>) {
    let before = set.names.len();
    set.names.extend(names);
    if set.names.len() == before {
        set.all = true;
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

/// Split a line into `(name, op, value)` if it is a variable assignment: the
/// first top-level `=` decides, unless a `:` that is not part of `:=`/`::=`
/// comes first (then it is a rule). As in make, a name has no blanks outside
/// references: after a blank only an assignment operator may follow.
fn parse_assignment(line: &str) -> Option<(&str, &str, &str)> {
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

/// True if the text after a rule's colon is `define` or `undefine`, after any
/// modifiers: make refuses those for a target.
fn defines_for_target(rest: &str) -> bool {
    let mut s = rest;
    loop {
        let w = first_word(s);
        let after = s[w.len()..].trim_start_matches([' ', '\t']);
        match w {
            "override" | "export" | "unexport" | "private" if !after.is_empty() => s = after,
            "define" | "undefine" => return !starts_with_assign_or_colon(after),
            _ => return false,
        }
    }
}

/// The text after a rule's colon, if it is a target-specific assignment.
fn target_var_assignment(rest: &str) -> Option<(Modifiers, (&str, &str, &str))> {
    let mut mods = Modifiers::default();
    let mut s = rest;
    loop {
        let w = first_word(s);
        let after = s[w.len()..].trim_start_matches([' ', '\t']);
        let modifier: Option<fn(&mut Modifiers)> = match w {
            "override" => Some(|m: &mut Modifiers| m.override_ = true),
            "export" => Some(|m: &mut Modifiers| m.export = Some(true)),
            "unexport" => Some(|m: &mut Modifiers| m.export = Some(false)),
            "private" => Some(|m: &mut Modifiers| m.private = true),
            _ => None,
        };
        match modifier {
            Some(f) if !starts_with_assign_or_colon(after) && parse_assignment(after).is_some() => {
                f(&mut mods);
                s = after;
            }
            _ => break,
        }
    }
    // An empty name is make's "empty variable name" error, in `target_vars`.
    Some((mods, parse_assignment(s)?))
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

/// True if two pattern rules have the same target and prerequisite patterns
/// (the later one then replaces the earlier); prerequisites left for the
/// second expansion count by their words.
fn same_pattern_rule(a: &PatternRule, b: &PatternRule) -> bool {
    fn deferred(r: &PatternRule) -> impl Iterator<Item = &str> + '_ {
        r.deferred.iter().flat_map(|d| words(&d.text))
    }
    a.targets == b.targets && a.deps == b.deps && deferred(a).eq(deferred(b))
}

/// Replace `%` by `stem` in each word of a static pattern rule's
/// prerequisites, each without its leading `./` first.
fn fill_patterns(prereqs: &str, stem: &str) -> String {
    words(prereqs)
        .map(strip_dot_slash)
        .map(|w| match Pattern::parse(w) {
            Some(p) => p.fill(stem),
            None => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// True if prerequisite text waits for the second expansion.
fn defers(text: &str, second: bool) -> bool {
    second && text.contains('$')
}

/// Prerequisites from their (first-expanded) text: normal ones, then order-only
/// after a `|` word. With second expansion, texts still holding `$` are kept.
/// `globs` expands `~` and wildcards in the words; `name` makes each name
/// from its word.
fn split_deps(
    text: &str,
    second: bool,
    loc: &Loc,
    globs: bool,
    name: impl FnMut(&str) -> crate::lang::names::Name,
) -> (Vec<Dep>, Vec<DeferredDeps>) {
    if defers(text, second) {
        return (
            Vec::new(),
            vec![DeferredDeps {
                text: text.to_string(),
                loc: loc.clone(),
            }],
        );
    }
    (parse_deps_with(text, globs, name), Vec::new())
}

/// Parse a prerequisite list, `|` separating normal from order-only ones,
/// expanding `~` and wildcards if `globs`, making each name with `name`.
fn parse_deps_with(
    text: &str,
    globs: bool,
    mut name: impl FnMut(&str) -> crate::lang::names::Name,
) -> Vec<Dep> {
    let mut deps: Vec<Dep> = Vec::new();
    let special =
        |b: u8| matches!(b, b'\\' | b'|' | b'(') || globs && matches!(b, b'*' | b'?' | b'[' | b'~');
    if !text.bytes().any(special) {
        // The usual list: plain words.
        deps.extend(words(text).map(|w| Dep {
            name: name(w),
            order_only: false,
        }));
        return deps;
    }
    let (normal, order_only) = split_order_only(name_words(text));
    for (list, order_only) in [(normal, false), (order_only, true)] {
        for w in archive::split_groups(list) {
            if globs && is_file_pattern(&w) {
                deps.extend(file_names(&w).iter().map(|n| Dep {
                    name: name(n),
                    order_only,
                }));
            } else {
                deps.push(Dep {
                    name: name(&w),
                    order_only,
                });
            }
        }
    }
    deps
}

/// Words before and after the first `|` (which may be inside a word); later
/// ones are part of names.
fn split_order_only(words: Vec<String>) -> (Vec<String>, Vec<String>) {
    let (mut normal, mut order_only) = (Vec::new(), Vec::new());
    let mut after_bar = false;
    for w in words {
        if after_bar {
            order_only.push(w);
            continue;
        }
        let Some(bar) = w.find('|') else {
            normal.push(w);
            continue;
        };
        after_bar = true;
        let (before, after) = (&w[..bar], &w[bar + 1..]);
        normal.extend((!before.is_empty()).then(|| before.to_string()));
        order_only.extend((!after.is_empty()).then(|| after.to_string()));
    }
    (normal, order_only)
}

/// Add the prerequisites of another rule for the same target. Those of the
/// rule with the recipe come first (as in make's `$^`); duplicates are kept for
/// `$+`, and a name that is a normal prerequisite is not also order-only.
fn merge_deps(existing: &mut Vec<Dep>, new: Vec<Dep>, has_recipe: bool) {
    if existing.is_empty() {
        *existing = new;
        // Most targets get their one list here and keep it: exact size.
        existing.shrink_to_fit();
    } else if has_recipe {
        let old = std::mem::replace(existing, new);
        existing.extend(old);
    } else {
        existing.extend(new);
    }
    if existing.iter().any(|d| d.order_only) {
        let normal: HashSet<crate::lang::names::Name> = existing
            .iter()
            .filter(|d| !d.order_only)
            .map(|d| d.name.clone())
            .collect();
        let mut seen_oo = HashSet::new();
        existing.retain(|d| {
            !d.order_only || (!normal.contains(&d.name) && seen_oo.insert(d.name.clone()))
        });
    }
}

/// Split file names at blanks that are not escaped with a backslash; `\ `
/// stands for a space inside a name.
pub fn name_words(text: &str) -> Vec<String> {
    if !text.contains('\\') {
        return words(text).map(str::to_string).collect();
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // `\ ` and `\:` stand for a blank and a colon in a name.
            '\\' if matches!(chars.peek(), Some(' ') | Some('\t') | Some(':')) => {
                cur.push(chars.next().unwrap_or(' '));
            }
            c if c.is_ascii_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Words of a rule line with their `~` and wildcards expanded (see
/// `file_names`).
fn expand_file_patterns(words: Vec<String>) -> Vec<String> {
    if !words.iter().any(|w| is_file_pattern(w)) {
        return words;
    }
    words.iter().flat_map(|w| file_names(w)).collect()
}

/// A rule whose first target is a pattern is an implicit rule: every target
/// must then be a pattern, and it cannot be a static pattern rule.
fn check_rule_kind(targets: &[String], static_pattern: bool, loc: &Loc) -> Result<()> {
    let implicit = targets.first().is_some_and(|t| Pattern::parse(t).is_some());
    if !implicit {
        return Ok(());
    }
    if static_pattern {
        return Err(Fatal::at(
            Some(loc),
            "mixed implicit and static pattern rules",
        ));
    }
    if targets.iter().any(|t| Pattern::parse(t).is_none()) {
        return Err(Fatal::at(Some(loc), "mixed implicit and normal rules"));
    }
    Ok(())
}

/// For each name, whether it came earlier in the list.
fn repeated_names(names: &[String]) -> Vec<bool> {
    if names.len() < 2 {
        return vec![false; names.len()];
    }
    let mut seen: HashSet<&str> = HashSet::with_capacity(names.len());
    names.iter().map(|n| !seen.insert(n.as_str())).collect()
}

/// make's warning for each target of a grouped rule that was in a group
/// already: in an earlier rule (`in_group`) or given again in this one.
/// make takes the names from the last.
fn warn_group_overrides(targets: &[String], in_group: &[bool], at: &Loc) {
    let mut seen: HashSet<&str> = HashSet::with_capacity(targets.len());
    for (t, &before) in targets.iter().zip(in_group).rev() {
        if !seen.insert(t.as_str()) || before {
            warn(
                Some(at),
                &format!("overriding group membership for target '{}'", t),
            );
        }
    }
}

/// Prerequisite text with `~` and wildcards expanded word by word.
fn expand_file_patterns_in(text: &str) -> std::borrow::Cow<'_, str> {
    if !words(text).any(is_file_pattern) {
        return std::borrow::Cow::Borrowed(text);
    }
    let names: Vec<String> = words(text).flat_map(file_names).collect();
    std::borrow::Cow::Owned(names.join(" "))
}

/// Quote `$` so that text that is already expanded survives another expansion.
fn escape_dollars(s: &str) -> String {
    s.replace('$', "$$")
}

/// An I/O error in make's words (the C library message, without Rust's suffix).
pub fn io_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(text: &str) -> Database {
        let mut db = Database::new(ReadOptions::default());
        let loc = Loc {
            file: Arc::from("Makefile"),
            line: 1,
        };
        db.eval_text(text, &loc).expect("evaluates");
        db
    }

    fn val(db: &mut Database, name: &str) -> String {
        db.var_value(name, &Scope::global()).unwrap()
    }

    #[test]
    fn top_level_scans_skip_references() {
        assert_eq!(find_top_level("a: b", b':'), Some(1));
        assert_eq!(find_top_level("$(x:a=b) c: d", b':'), Some(10));
        assert_eq!(find_top_level("${x:a=b}: d", b':'), Some(8));
        assert_eq!(find_top_level("$(a $(b:c)):", b':'), Some(11));
        assert_eq!(find_top_level("$:a", b':'), None, "`$:` is a reference");
        assert_eq!(find_top_level("a $", b':'), None);
        assert_eq!(find_top_level("$(unclosed: x", b':'), None);
        assert_eq!(find_top_level("x; y: z", b';'), Some(1));
        assert_eq!(find_top_level("a\\:b: c", b':'), Some(4));
        assert_eq!(find_top_level("a\\\\:b", b':'), Some(3));
        assert_eq!(parse_assignment("A = 1"), Some(("A ", "=", "1")));
        assert_eq!(parse_assignment("A+=1"), Some(("A", "+=", "1")));
        assert_eq!(
            parse_assignment("$(X:a=b) := 2"),
            Some(("$(X:a=b) ", ":=", "2"))
        );
        assert_eq!(parse_assignment("A ::= 3"), Some(("A ", "::=", "3")));
        assert_eq!(parse_assignment("a: b = c"), None, "a rule comes first");
        assert_eq!(parse_assignment("$=x"), None, "`$=` is a reference");
        assert_eq!(parse_assignment("A $"), None);
        assert_eq!(parse_assignment("a b = c"), None, "no blank in a name");
        assert_eq!(parse_assignment("a b:= c"), None);
        assert_eq!(
            parse_assignment("$(a b) \t= c"),
            Some(("$(a b) \t", "=", "c"))
        );
        assert_eq!(first_word("abc\tdef"), "abc");
        assert_eq!(first_word("abc"), "abc");
    }

    #[test]
    fn assignments_and_flavors() {
        let mut d = db(
            "A = $(B)\nB = 1\nC := $(B)\nB = 2\nD ?= x\nD ?= y\nE = a\nE += b\nF := p\nF += $(B)\n",
        );
        assert_eq!(val(&mut d, "A"), "2");
        assert_eq!(val(&mut d, "C"), "1");
        assert_eq!(val(&mut d, "D"), "x");
        assert_eq!(val(&mut d, "E"), "a b");
        assert_eq!(d.globals.get("F").unwrap().value, "p 2");
    }

    #[test]
    fn conditionals() {
        let mut d = db("X = 1\nifeq ($(X),1)\nY = yes\nelse ifeq ($(X),2)\nY = two\nelse\nY = no\nendif\nifdef X\nZ = d\nendif\nifneq \"a\" 'a'\nW = bad\nendif\n");
        assert_eq!(val(&mut d, "Y"), "yes");
        assert_eq!(val(&mut d, "Z"), "d");
        assert_eq!(val(&mut d, "W"), "");
    }

    #[test]
    fn rules_recorded() {
        let d = db("all: a b | c\n\techo $@\n\techo two\n%.o: %.c\n\tcc -c $<\nx y &: z\n\tgen\n");
        let all = &d.targets["all"];
        assert_eq!(all.deps.len(), 3);
        assert!(all.deps[2].order_only);
        assert_eq!(all.recipe.as_ref().unwrap().lines.len(), 2);
        assert_eq!(all.recipe.as_ref().unwrap().loc.line, 1);
        assert_eq!(d.pattern_rules.len(), 1);
        assert_eq!(d.targets["x"].group.as_ref().unwrap().len(), 2);
        assert_eq!(d.default_goal.as_deref(), Some("all"));
    }

    #[test]
    fn errors_have_locations() {
        let mut d = Database::new(ReadOptions::default());
        let loc = Loc {
            file: Arc::from("Makefile"),
            line: 1,
        };
        let e = d.eval_text("A = 1\nfoo\n", &loc).unwrap_err();
        assert_eq!(e.to_string(), "Makefile:2: *** missing separator.  Stop.");
        let e = d.eval_text("ifeq (a,a)\n", &loc).unwrap_err();
        assert!(e.msg.contains("missing 'endif'"));
    }
}
