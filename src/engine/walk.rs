//! What the scheduler's walk over the graph remembers between passes.
//!
//! make walks the graph from the goals again after every job that ends. Done
//! nodes end that walk at once, but a pending node would be walked again
//! with everything below it, once per path that reaches it. These marks let
//! a pass skip a pending node whose answer cannot have changed: nothing it
//! visited has finished since, and it does not wait for a job slot that may
//! now be free. The pass then starts the same recipes in the same order as a
//! full walk would.

use crate::graph::disk::FastMap;
use crate::graph::NodeId;

/// Walked, found pending, and nothing it visits has finished since.
const CLEAN: u8 = 1;
/// Something the node visits (or the node itself) is ready and waits only
/// for a job slot. May be stale-true (a harmless extra walk), never
/// stale-false while the node is clean.
const WAITS_SLOT: u8 = 2;
/// The node is recorded as a parent of each of its prerequisites.
const LINKED: u8 = 4;

#[derive(Default)]
pub struct WalkMarks {
    flags: Vec<u8>,
    /// Reverse edges of the nodes ever found pending (the only ones a
    /// finishing node has to tell). Done nodes never change again.
    parents: FastMap<NodeId, Vec<NodeId>>,
    /// Scratch stack for `changed`.
    todo: Vec<NodeId>,
}

impl WalkMarks {
    pub fn grow(&mut self, n: usize) {
        if self.flags.len() < n {
            self.flags.resize(n, 0);
        }
    }

    pub fn is_clean(&self, id: NodeId) -> bool {
        self.flags[id] & CLEAN != 0
    }

    pub fn waits_slot(&self, id: NodeId) -> bool {
        self.flags[id] & WAITS_SLOT != 0
    }

    /// Node `id` was walked and is pending; `deps` are its prerequisites
    /// that are not done yet (recorded the first time only: a node's
    /// prerequisites never grow once it has been walked).
    pub fn found_pending(
        &mut self,
        id: NodeId,
        waits_slot: bool,
        deps: impl Iterator<Item = NodeId>,
    ) {
        let f = &mut self.flags[id];
        *f = (*f & LINKED) | CLEAN | if waits_slot { WAITS_SLOT } else { 0 };
        if *f & LINKED == 0 {
            *f |= LINKED;
            for d in deps {
                self.parents.entry(d).or_default().push(id);
            }
        }
    }

    /// Node `id` finished: every node that visits it, directly or not, must
    /// be walked again.
    pub fn changed(&mut self, id: NodeId) {
        if self.parents.is_empty() {
            return;
        }
        self.todo.push(id);
        while let Some(n) = self.todo.pop() {
            let Some(ps) = self.parents.get(&n) else {
                continue;
            };
            for &p in ps {
                if self.flags[p] & CLEAN != 0 {
                    self.flags[p] &= !CLEAN;
                    self.todo.push(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishing_dirties_every_clean_ancestor_once() {
        let mut w = WalkMarks::default();
        w.grow(4);
        // 0 <- 1 <- 3 and 0 <- 2 <- 3 (3 is the goal).
        w.found_pending(1, false, [0].into_iter());
        w.found_pending(2, true, [0].into_iter());
        w.found_pending(3, false, [1, 2].into_iter());
        assert!(w.is_clean(3) && w.waits_slot(2) && !w.waits_slot(1));
        w.changed(0);
        assert!(!w.is_clean(1) && !w.is_clean(2) && !w.is_clean(3));
        // Links are recorded once: walking again adds no duplicate parent.
        w.found_pending(1, false, [0].into_iter());
        assert_eq!(w.parents[&0], vec![1, 2]);
    }
}
