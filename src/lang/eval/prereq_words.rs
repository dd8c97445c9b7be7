//! Prerequisite lists split into names: order-only ones, second expansion,
//! archive members and file patterns.

use crate::diag::Loc;
use crate::graph::archive;
use crate::lang::globbing::file_names;
use crate::lang::globbing::is_file_pattern;
use crate::lang::rules::DeferredDeps;
use crate::lang::rules::Dep;
use crate::lang::text::words;

/// True if prerequisite text waits for the second expansion.
pub(super) fn defers(text: &str, second: bool) -> bool {
    second && text.contains('$')
}

/// Prerequisites from their (first-expanded) text: normal ones, then order-only
/// after a `|` word. With second expansion, texts still holding `$` are kept.
/// `globs` expands `~` and wildcards in the words; `name` makes each name
/// from its word.
pub(super) fn split_deps(
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
pub(super) fn expand_file_patterns(words: Vec<String>) -> Vec<String> {
    if !words.iter().any(|w| is_file_pattern(w)) {
        return words;
    }
    words.iter().flat_map(|w| file_names(w)).collect()
}
