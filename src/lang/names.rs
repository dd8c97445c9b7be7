//! File names, stored once. A big makefile names each file many times: as a
//! target, in the prerequisite lists of its dependents, in the graph and in
//! the stat cache. Each copy of a `String` is its own allocation; a [`Name`]
//! is a shared, immutable one, and the [`Interner`] hands out the same one
//! for equal text, so 100,000 files cost 100,000 allocations, not a million.

use crate::graph::disk::FastSet;
use std::sync::Arc;

/// A file or target name as the makefiles spell it.
pub type Name = Arc<str>;

/// The set of names handed out so far.
#[derive(Debug, Default)]
pub struct Interner {
    names: FastSet<Name>,
}

impl Interner {
    /// The shared name for `text`.
    pub fn intern(&mut self, text: &str) -> Name {
        if let Some(n) = self.names.get(text) {
            return n.clone();
        }
        let n: Name = Arc::from(text);
        self.names.insert(n.clone());
        n
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
        self.names.insert(name.clone());
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
}
