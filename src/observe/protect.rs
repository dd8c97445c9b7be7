//! Refusing, before they happen, the requests that would destroy a file the
//! step may not change (deleting, renaming away, replacing, truncating or
//! writing an existing file that is not one of its targets) or read one it
//! did not declare.
//!
//! Landlock grants rights on directories, not on names that do not exist
//! yet: a step whose target is new gets create, remove and read rights on
//! the target's whole directory (tools read back the scratch files they
//! write there), so Landlock alone would let a plain `rm *.o` in a
//! non-phony `clean` rule delete the user's files before the judge could
//! object, and in a flat project (targets next to the sources) let every
//! step read every source. The supervisor already stops each such request
//! to read its path; in enforce mode it answers EACCES instead of
//! "continue" when the request would change a file that existed before and
//! is neither declared writable nor made by the step itself, or would read
//! or run an existing file that is neither declared nor made by the step:
//! the tool sees the same refusal as for an undeclared file elsewhere.
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
/// writable `.UNVEIL` and preset paths) or read (what it declares readable),
/// as absolute normalised prefixes. Elsewhere Landlock decides alone.
/// `None`: protect nothing (audit mode, the sandbox off, `.UNSANDBOXED`).
#[derive(Clone, Debug, Default)]
pub struct Protected {
    scope: Option<Arc<Scope>>,
}

#[derive(Debug)]
struct Scope {
    dirs: Vec<PathBuf>,
    writable: Vec<PathBuf>,
    readable: Vec<PathBuf>,
}

impl Protected {
    /// Protect the existing files under `dirs`: those not under `writable`
    /// from changes, those under neither `writable` nor `readable` from
    /// reads and execs as well.
    pub fn within(dirs: Vec<PathBuf>, writable: Vec<PathBuf>, readable: Vec<PathBuf>) -> Protected {
        Protected {
            scope: (!dirs.is_empty()).then(|| {
                Arc::new(Scope {
                    dirs,
                    writable,
                    readable,
                })
            }),
        }
    }

    pub fn is_on(&self) -> bool {
        self.scope.is_some()
    }

    /// Whether a read or exec of `path` must be looked at before it is let
    /// go: it is under a target's directory, and neither declared nor made
    /// by the step. Only an existing file is then refused (a missing one
    /// fails with ENOENT anyway, as a search probe expects).
    pub(crate) fn guards_read(&self, path: &Path, made: &StepAccesses, root: &Path) -> bool {
        let Some(scope) = &self.scope else {
            return false;
        };
        let abs = normalize(path);
        scope.dirs.iter().any(|d| abs.starts_with(d))
            && !scope
                .writable
                .iter()
                .chain(&scope.readable)
                .any(|w| abs.starts_with(w))
            && !made.made_here(&relative_to(&abs, root))
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
        let guarded = |p: &Path| {
            let abs = normalize(p);
            scope.dirs.iter().any(|d| abs.starts_with(d))
                && !scope.writable.iter().any(|w| abs.starts_with(w))
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
                Access::Delete(p) | Access::RemoveDir(p) if guarded(p) => {
                    out.push((Operation::Delete, p.clone()))
                }
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
                Access::Read(p) if self.guards_read(p, made, root) => {
                    out.push((Operation::Read, p.clone()))
                }
                Access::Exec(p) if self.guards_read(p, made, root) => {
                    out.push((Operation::Exec, p.clone()))
                }
                _ => {}
            }
        }
        out
    }
}
