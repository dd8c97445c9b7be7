//! File names, stored once. A big makefile names each file many times: as a
//! target, in the prerequisite lists of its dependents, in the graph and in
//! the stat cache. Each copy of a `String` is its own allocation; a [`Name`]
//! is a shared, immutable one, and the [`Interner`] hands out the same one
//! for equal text, so 100,000 files cost 100,000 allocations, not a million.

use crate::graph::disk::FastSet;
use std::sync::Arc;

/// A file or target name as the makefiles spell it.
pub type Name = Arc<str>;

/// `name` as make enters it in its database: without leading `./`, so that
/// `./x` and `x` are one file. Slashes after a `./` go with it (`.//x` is
/// `x`); a name that would be left empty stays `./`. Only the front is
/// touched (`a/./b` stays), and only names read from makefiles and the
/// command line pass here: `$(wildcard ./x)` and vpath results keep theirs.
pub fn strip_dot_slash(name: &str) -> &str {
    let mut rest = name;
    while let Some(after) = rest.strip_prefix("./") {
        let after = after.trim_start_matches('/');
        if after.is_empty() {
            return "./";
        }
        rest = after;
    }
    rest
}

/// The set of names handed out so far.
#[derive(Debug, Default)]
pub struct Interner {
    names: FastSet<Name>,
    /// Told about new names while set (see `watch`), in batches: a message
    /// per name would wake the receiver for each one.
    watch: Option<crossbeam_channel::Sender<Vec<Name>>>,
    batch: Vec<Name>,
    /// Names added while nobody watched.
    unwatched: usize,
}

/// Names per message to the watcher.
const BATCH: usize = 512;

impl Interner {
    /// The shared name for `text`.
    pub fn intern(&mut self, text: &str) -> Name {
        if let Some(n) = self.names.get(text) {
            return n.clone();
        }
        let n: Name = Arc::from(text);
        self.added(&n);
        n
    }

    fn added(&mut self, n: &Name) {
        self.names.insert(n.clone());
        if let Some(tx) = &self.watch {
            self.batch.push(n.clone());
            if self.batch.len() >= BATCH {
                let _ = tx.send(std::mem::take(&mut self.batch));
            }
        } else {
            self.unwatched += 1;
        }
    }

    /// How many names were added while no watcher was told (see `watch`).
    pub fn unwatched(&self) -> usize {
        self.unwatched
    }

    /// Send every name from now on to `tx` (the build stats them while the
    /// makefiles are still being read); `None` sends what is pending and
    /// stops.
    pub fn watch(&mut self, tx: Option<crossbeam_channel::Sender<Vec<Name>>>) {
        if let Some(old) = &self.watch {
            if !self.batch.is_empty() {
                let _ = old.send(std::mem::take(&mut self.batch));
            }
        }
        self.watch = tx;
    }

    pub fn contains(&self, text: &str) -> bool {
        self.names.contains(text)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Name> {
        self.names.iter()
    }

    /// The shared name for `text` if there is one already.
    pub fn get(&self, text: &str) -> Option<Name> {
        self.names.get(text).cloned()
    }

    /// As [`intern`](Self::intern), reusing `name`'s allocation when the
    /// text is new.
    pub fn intern_name(&mut self, name: &Name) -> Name {
        if let Some(n) = self.names.get(&**name) {
            return n.clone();
        }
        self.added(name);
        name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_text_gives_the_same_allocation() {
        let mut i = Interner::default();
        let a = i.intern("src/a.c");
        let b = i.intern(&String::from("src/a.c"));
        assert!(Arc::ptr_eq(&a, &b));
        let own: Name = Arc::from("src/b.c");
        let c = i.intern_name(&own);
        assert!(Arc::ptr_eq(&c, &own));
        assert!(Arc::ptr_eq(&i.intern("src/b.c"), &own));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn leading_dot_slash_is_dropped() {
        for (given, entered) in [
            ("./x", "x"),
            ("././x", "x"),
            (".//x", "x"),
            (".//./x", "x"),
            ("./.c", ".c"),
            ("./.", "."),
            ("./..", ".."),
            ("./", "./"),
            (".//", "./"),
            ("././/", "./"),
            ("./a/", "a/"),
            ("a/./b", "a/./b"),
            ("../x", "../x"),
            (".x", ".x"),
            ("x", "x"),
            ("", ""),
        ] {
            assert_eq!(strip_dot_slash(given), entered, "{given}");
        }
    }
}
