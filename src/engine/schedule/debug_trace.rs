//! `--debug=basic`: make's trace of what the walk looks at and why a target is remade.

use super::Scheduler;
use crate::graph::NodeId;
use crate::ui::debug;

impl Scheduler<'_> {
    /// `--debug=basic`: the first look at `id` fixes its depth and says
    /// whether its file is missing.
    pub(super) fn debug_first_look(&mut self, id: NodeId, parent: Option<NodeId>) {
        if self.debug_level[id].is_some() {
            return;
        }
        let n = &self.graph.nodes[id];
        // make walks the rules of a double-colon target as the target itself;
        // hbuild's node for the whole target only waits for them.
        let level = match parent {
            None => 0,
            Some(_) if n.double_colon_rule => self.depth.saturating_sub(1),
            Some(_) => self.depth,
        };
        self.debug_level[id] = Some(level);
        // An intermediate file is looked at after the others, half a level
        // deeper in make's trace, and only if it is made (see `debug_skip`).
        if self.is_double_colon_whole(id) || self.defers(id) {
            return;
        }
        if n.phony || self.disk.mtime(&n.path).is_none() {
            let name = &self.graph.nodes[id].name;
            debug::say(
                2 * level + 1,
                format_args!("File '{}' does not exist.", name),
            );
        }
    }

    /// `--debug=basic`: why `id` is remade (the newer prerequisites of an
    /// existing target), then that it is.
    pub(super) fn debug_must_remake(&mut self, id: NodeId, exists: bool, newer: &[String]) {
        if self.is_double_colon_whole(id) {
            return;
        }
        let mut level = self.debug_level[id].unwrap_or(0);
        if self.made_late(id) && !exists {
            let name = &self.graph.nodes[id].name;
            debug::say(2 * level, format_args!("File '{}' does not exist.", name));
            // make's trace shows it half a level up from here on.
            level = level.saturating_sub(1);
            self.debug_level[id] = Some(level);
            self.debug_half[id] = true;
        }
        let indent = 2 * level + usize::from(self.debug_half[id]);
        let name = &self.graph.nodes[id].name;
        if exists && !self.graph.nodes[id].phony {
            for d in newer {
                debug::say(
                    indent + 1,
                    format_args!("Prerequisite '{}' is newer than target '{}'.", d, name),
                );
            }
        }
        debug::say(indent, format_args!("Must remake target '{}'.", name));
        self.debug_must[id] = true;
    }

    /// `--debug=basic`: a missing intermediate prerequisite that is not made.
    pub(super) fn debug_skip(&self, id: NodeId) {
        let n = &self.graph.nodes[id];
        if let Some(parent) = n.parent {
            let level = self.debug_level[parent].unwrap_or(0);
            let p = &self.graph.nodes[parent].name;
            debug::say(
                2 * level + 1,
                format_args!(
                    "Prerequisite '{}' of target '{}' does not exist.",
                    n.name, p
                ),
            );
        }
    }
}
