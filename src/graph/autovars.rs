//! Automatic variables (`$@ $< $^ $+ $| $? $* $%` and their `D`/`F` forms).

use crate::lang::vars::{Flavor, Origin, Var, VarTable};

/// The inputs automatic variables are computed from.
#[derive(Clone, Debug, Default)]
pub struct AutoInputs<'a> {
    pub target: &'a str,
    pub stem: &'a str,
    pub member: &'a str,
    /// Normal prerequisites (resolved paths), in order, duplicates kept.
    pub deps: Vec<&'a str>,
    pub order_only: Vec<&'a str>,
    pub newer: Vec<&'a str>,
}

/// The directory part of a file name as `$(@D)` shows it (`.` without one).
pub fn dir_part(w: &str) -> &str {
    match w.rfind('/') {
        Some(0) => "/",
        Some(i) => &w[..i],
        None => ".",
    }
}

/// The file part of a name as `$(@F)` shows it.
pub fn file_part(w: &str) -> &str {
    match w.rfind('/') {
        Some(i) => &w[i + 1..],
        None => w,
    }
}

/// The names of `v`, each once, in order of first appearance.
pub fn dedup<'a>(v: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::with_capacity(v.len());
    // A scan is cheapest for the usual few names; a set keeps long lists
    // (the Linux kernel's objects list a thousand headers) linear.
    if v.len() <= 16 {
        for w in v {
            if !out.contains(w) {
                out.push(w);
            }
        }
    } else {
        let mut seen = crate::graph::disk::FastSet::default();
        seen.reserve(v.len());
        out.extend(v.iter().filter(|w| seen.insert(**w)));
    }
    out
}

/// The table of automatic variables, with the `D` and `F` variants as
/// separate names.
pub fn table(i: &AutoInputs) -> VarTable {
    let first = i.deps.first().copied().unwrap_or("");
    let values: [Vec<&str>; 8] = [
        vec![i.target],
        vec![i.member],
        vec![first],
        dedup(&i.deps),
        i.deps.clone(),
        dedup(&i.order_only),
        dedup(&i.newer),
        vec![i.stem],
    ];
    // Built for every recipe run: names are static, and a list's D and F
    // forms are only joined when it has words.
    const NAMES: [[&str; 3]; 8] = [
        ["@", "@D", "@F"],
        ["%", "%D", "%F"],
        ["<", "<D", "<F"],
        ["^", "^D", "^F"],
        ["+", "+D", "+F"],
        ["|", "|D", "|F"],
        ["?", "?D", "?F"],
        ["*", "*D", "*F"],
    ];
    let mut t = VarTable::with_capacity(3 * NAMES.len());
    let mut put = |name: &str, v: String| {
        t.set(
            name.to_string(),
            Var::new(v, Flavor::Simple, Origin::Automatic),
        )
    };
    let joined = |ws: &[&str], part: fn(&str) -> &str| -> String {
        let mut out = String::new();
        for (i, w) in ws.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(part(w));
        }
        out
    };
    for (names, ws) in NAMES.iter().zip(values) {
        let ws: Vec<&str> = ws.into_iter().filter(|w| !w.is_empty()).collect();
        put(names[0], joined(&ws, |w| w));
        put(names[1], joined(&ws, dir_part));
        put(names[2], joined(&ws, file_part));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_first_appearances_in_order_short_or_long() {
        assert_eq!(dedup(&["b", "a", "b", "c", "a"]), ["b", "a", "c"]);
        let long: Vec<String> = (0..40).map(|i| format!("h{}", i % 25)).collect();
        let words: Vec<&str> = long.iter().map(String::as_str).collect();
        let expected: Vec<String> = (0..25).map(|i| format!("h{i}")).collect();
        assert_eq!(dedup(&words), expected);
    }

    #[test]
    fn forms() {
        let t = table(&AutoInputs {
            target: "sub/foo.o",
            stem: "foo",
            deps: vec!["a.c", "d/b.h", "a.c"],
            order_only: vec!["dir"],
            ..Default::default()
        });
        let v = |n: &str| t.get(n).unwrap().value.clone();
        assert_eq!(v("@D"), "sub");
        assert_eq!(v("@F"), "foo.o");
        assert_eq!(v("^"), "a.c d/b.h");
        assert_eq!(v("+"), "a.c d/b.h a.c");
        assert_eq!(v("^D"), ". d");
        assert_eq!(v("*D"), ".");
        assert_eq!(v("<"), "a.c");
        assert_eq!(v("|"), "dir");
        assert_eq!(v("?"), "");
    }
}
