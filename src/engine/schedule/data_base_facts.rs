//! What the build learnt about each file, for `-p`'s data base.

use super::{Outcome, Scheduler, State};
use crate::graph::disk::RealDisk;

impl Scheduler<'_> {
    /// What the build learnt about each file it got to, for `-p`.
    pub fn file_facts(&self) -> crate::report::data_base::Facts {
        use crate::report::data_base::FileFacts;
        let mut facts = crate::report::data_base::Facts::default();
        for (i, node) in self.graph.nodes.iter().enumerate() {
            if node.double_colon_rule {
                continue;
            }
            let state = self.state.get(i).copied().unwrap_or(State::New);
            let considered = !matches!(state, State::New);
            let explicit = self
                .db
                .targets
                .get(&*node.name)
                .is_some_and(|t| t.recipe.is_some() || !t.double_colon.is_empty());
            // Looked at again: a recipe may have changed it since.
            let mtime = considered.then(|| match node.phony {
                true => None,
                false => crate::graph::disk::Disk::mtime(&RealDisk, &node.path),
            });
            // A recipe that was expanded had its `$*`: make keeps it as the
            // file's stem (empty for an explicit rule without a known suffix).
            let expanded = node.recipe.is_some()
                && !self.opts.question
                && matches!(state, State::Done(Outcome::Remade));
            let stem = self.graph.stem(self.db, i);
            let stem = (!stem.is_empty() || expanded).then(|| stem.into_owned());
            facts.insert(
                node.name.to_string(),
                FileFacts {
                    considered,
                    searched: considered && !node.phony && !explicit,
                    stem,
                    intermediate: node.intermediate,
                    mtime,
                    outcome: match state {
                        State::Done(o) => Some(o),
                        _ => None,
                    },
                    implicit: match &node.recipe {
                        Some(r) if !explicit && node.has_rule => {
                            let deps = node
                                .deps
                                .iter()
                                .filter(|e| !e.extra)
                                .map(|e| crate::lang::rules::Dep {
                                    name: self.graph.nodes[e.node].name.clone(),
                                    order_only: e.order_only,
                                })
                                .collect();
                            Some((deps, r.clone()))
                        }
                        _ => None,
                    },
                },
            );
        }
        facts
    }
}
