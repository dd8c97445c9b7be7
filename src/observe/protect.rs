//! Refusing, before they happen, the requests that would destroy a file the
//! step may not change: deleting, renaming away, replacing, truncating or
//! writing an existing file that is not one of its targets.
//!
//! Landlock grants rights on directories, not on names that do not exist
//! yet: a step whose target is new gets create and remove rights on the
//! target's whole directory, so Landlock alone would let a plain `rm *.o`
//! in a non-phony `clean` rule delete the user's files before the judge
//! could object. The supervisor already stops each such request to read its
//! path; in enforce mode it answers EACCES instead of "continue" when the
//! request would change a file that existed before and is neither declared
//! writable nor made by the step itself.
//!
//! This is a safeguard against accidents, not a security boundary: a
//! process can change the path in its memory after the supervisor read it
//! (seccomp's TOCTOU). Landlock stays the boundary; the judge still sees
//! what happened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{normalize, relative_to, Access, Operation, StepAccesses};

/// Where Landlock grants a step rights on whole directories (its targets'
/// directories) and, within them, what it may change (targets, its TMPDIR,
/// writable `.UNVEIL` and preset paths), as absolute normalised prefixes.
/// Elsewhere Landlock decides alone. `None`: protect nothing (audit mode, the
/// sandbox off, `.UNSANDBOXED`).
#[derive(Clone, Debug, Default)]
pub struct Protected {
    scope: Option<Arc<(Vec<PathBuf>, Vec<PathBuf>)>>,
}

impl Protected {
    /// Protect the existing files under `dirs`, except those under `writable`.
    pub fn within(dirs: Vec<PathBuf>, writable: Vec<PathBuf>) -> Protected {
        Protected {
            scope: (!dirs.is_empty()).then(|| Arc::new((dirs, writable))),
        }
    }

    pub fn is_on(&self) -> bool {
        self.scope.is_some()
    }

    /// The (operation, path) pairs of one request's `accesses` that must be
    /// refused; empty when it may go on. `made` is what the step did so far
    /// (files it created itself are its own to change).
    pub(crate) fn refusals(
        &self,
        accesses: &[Access],
        made: &StepAccesses,
        root: &Path,
    ) -> Vec<(Operation, PathBuf)> {
        let Some(scope) = &self.scope else {
            return Vec::new();
        };
        let (dirs, writable) = &**scope;
        let guarded = |p: &Path| {
            let abs = normalize(p);
            dirs.iter().any(|d| abs.starts_with(d))
                && !writable.iter().any(|w| abs.starts_with(w))
                && !made.made_here(&relative_to(&abs, root))
        };
        // Writes and truncations of a file that existed come with its
        // stamp (`Before`); of a new file, with `Create`.
        let existed = |p: &PathBuf| {
            accesses
                .iter()
                .any(|a| matches!(a, Access::Before(b, _) if b == p))
        };
        let mut out = Vec::new();
        for a in accesses {
            match a {
                Access::Delete(p) if guarded(p) => out.push((Operation::Delete, p.clone())),
                Access::Rename(from, to) => {
                    if guarded(from) {
                        out.push((Operation::RenameFrom, from.clone()));
                    }
                    if to.symlink_metadata().is_ok() && guarded(to) {
                        out.push((Operation::RenameTo, to.clone()));
                    }
                }
                Access::Truncate(p) if existed(p) && guarded(p) => {
                    out.push((Operation::Truncate, p.clone()))
                }
                // An `O_TRUNC` open is refused once, as a truncation.
                Access::Write(p)
                    if existed(p)
                        && !accesses.contains(&Access::Truncate(p.clone()))
                        && guarded(p) =>
                {
                    out.push((Operation::Write, p.clone()))
                }
                _ => {}
            }
        }
        out
    }
}
