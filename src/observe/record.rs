//! What one step touched: the observed file operations and the directory
//! changes, with paths normalised so the caller can compare them with the
//! declared prerequisites and targets.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::snapshot::Change;

/// One observed operation, as the step asked for it (the observer sees the
/// request before the kernel runs it, never its result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Opened an existing file for reading.
    Read(PathBuf),
    /// Opened an existing directory for reading (a listing).
    List(PathBuf),
    /// Opened an existing file for writing.
    Write(PathBuf),
    /// Created a file that did not exist (open with O_CREAT, creat, mknod).
    Create(PathBuf),
    /// Emptied a file (O_TRUNC on an existing file, truncate()).
    Truncate(PathBuf),
    /// Executed a file.
    Exec(PathBuf),
    /// Removed a file (`unlink`).
    Delete(PathBuf),
    /// Removed an empty directory (`rmdir`).
    RemoveDir(PathBuf),
    Rename(PathBuf, PathBuf),
    /// A hard link: existing path, new name.
    Link(PathBuf, PathBuf),
    /// A symbolic link: the new link, and its target text as written.
    Symlink(PathBuf, PathBuf),
    Mkdir(PathBuf),
    /// Tried to read or execute a path that did not exist (a search probe:
    /// the step's result may depend on its absence).
    Missing(PathBuf),
    /// The state of an existing file about to be opened for writing or
    /// truncated, so the judge can tell whether it really changed.
    Before(PathBuf, FileStamp),
}

/// What identifies a file's content state cheaply (one `stat`): any write,
/// truncation or replacement changes one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl FileStamp {
    pub fn from_metadata(m: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        }
    }

    /// The file at `path` now (not following a final symlink), if any.
    pub fn of(path: &Path) -> Option<FileStamp> {
        std::fs::symlink_metadata(path)
            .ok()
            .map(|m| FileStamp::from_metadata(&m))
    }
}

/// The kind of an operation, for messages (`target, path, operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Read,
    List,
    Write,
    Create,
    Truncate,
    Exec,
    Delete,
    RenameFrom,
    RenameTo,
    LinkFrom,
    LinkTo,
    Symlink,
    Mkdir,
    Missing,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::List => "list",
            Operation::Write => "write",
            Operation::Create => "create",
            Operation::Truncate => "truncate",
            Operation::Exec => "exec",
            Operation::Delete => "delete",
            Operation::RenameFrom => "rename from",
            Operation::RenameTo => "rename to",
            Operation::LinkFrom => "link from",
            Operation::LinkTo => "link to",
            Operation::Symlink => "symlink",
            Operation::Mkdir => "mkdir",
            Operation::Missing => "probe missing",
        }
    }

    /// Whether the operation changes the file system.
    pub fn modifies(self) -> bool {
        !matches!(
            self,
            Operation::Read
                | Operation::List
                | Operation::Exec
                | Operation::Missing
                | Operation::LinkFrom
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything one step (all its processes) was seen doing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepAccesses {
    pub reads: BTreeSet<PathBuf>,
    pub lists: BTreeSet<PathBuf>,
    pub execs: BTreeSet<PathBuf>,
    pub writes: BTreeSet<PathBuf>,
    pub creates: BTreeSet<PathBuf>,
    pub truncates: BTreeSet<PathBuf>,
    pub deletes: BTreeSet<PathBuf>,
    pub mkdirs: BTreeSet<PathBuf>,
    /// Those of `deletes` that were directories.
    pub removed_dirs: BTreeSet<PathBuf>,
    pub missing: BTreeSet<PathBuf>,
    /// In the order they happened.
    pub renames: Vec<(PathBuf, PathBuf)>,
    pub links: Vec<(PathBuf, PathBuf)>,
    /// (new link, target text).
    pub symlinks: Vec<(PathBuf, PathBuf)>,
    /// What the before/after comparison of the watched directories found.
    pub changes: Vec<Change>,
    /// Existing files the step opened for writing or truncated, as they
    /// were the first time (before the kernel ran the request).
    pub before: BTreeMap<PathBuf, FileStamp>,
    /// Why the step's processes were not observed at all (e.g. seccomp not
    /// available, or an outer observer already owns the listener).
    pub unobserved: Option<String>,
    /// Not observed because an hbuild above this one observes the step's
    /// processes (this hbuild runs inside one of its steps): changes found
    /// by comparing directories may be another step's of that build.
    pub observed_above: bool,
    /// Requests refused before they happened because they would have
    /// changed a file the step may not change (see `observe::Protected`),
    /// relative to the project like the rest.
    pub refused: Vec<(Operation, PathBuf)>,
    /// Notifications whose path could not be read or resolved.
    pub unresolved: usize,
    /// Some of the step's processes were still running at `finish`: what they
    /// do afterwards is not recorded.
    pub outlived: bool,
}

impl StepAccesses {
    /// Add one observed access, its paths made relative to `root`.
    pub(crate) fn record(&mut self, access: Access, root: &Path) {
        let rel = |p: PathBuf| as_recorded(&p, root);
        // A file the step made itself and then reads, runs or lists (a
        // scratch file, a test's own directory) is not an input: requests
        // arrive in causal order, so the making was recorded first.
        let input = |me: &mut Self, set: fn(&mut Self) -> &mut BTreeSet<PathBuf>, p: PathBuf| {
            let p = rel(p);
            if !me.made_here(&p) {
                insert(set(me), p);
            }
        };
        match access {
            Access::Read(p) => input(self, |s| &mut s.reads, p),
            Access::List(p) => input(self, |s| &mut s.lists, p),
            Access::Write(p) => insert(&mut self.writes, rel(p)),
            Access::Create(p) => insert(&mut self.creates, rel(p)),
            Access::Truncate(p) => insert(&mut self.truncates, rel(p)),
            Access::Exec(p) => input(self, |s| &mut s.execs, p),
            Access::Delete(p) => insert(&mut self.deletes, rel(p)),
            Access::RemoveDir(p) => {
                let p = rel(p);
                insert(&mut self.removed_dirs, p.clone());
                insert(&mut self.deletes, p);
            }
            Access::Mkdir(p) => insert(&mut self.mkdirs, rel(p)),
            Access::Missing(p) => input(self, |s| &mut s.missing, p),
            Access::Rename(a, b) => self.renames.push((rel(a), rel(b))),
            Access::Link(a, b) => self.links.push((rel(a), rel(b))),
            Access::Symlink(l, t) => self.symlinks.push((rel(l), t)),
            Access::Before(p, stamp) => {
                self.before.entry(rel(p)).or_insert(stamp);
            }
        }
    }

    /// Whether `p` (relative, normalised) is something the step created so
    /// far: a new file, a rename's or link's new name, or anything under a
    /// directory it made.
    pub(crate) fn made_here(&self, p: &Path) -> bool {
        self.creates.contains(p)
            || (!self.mkdirs.is_empty() && p.ancestors().any(|a| self.mkdirs.contains(a)))
            || self.renames.iter().any(|(_, to)| to == p)
            || self.links.iter().any(|(_, to)| to == p)
            || self.symlinks.iter().any(|(l, _)| l == p)
    }

    /// Every observed (operation, path), for reports; pairs give two entries.
    pub fn entries(&self) -> Vec<(Operation, &Path)> {
        let mut out = Vec::new();
        let sets = [
            (Operation::Read, &self.reads),
            (Operation::List, &self.lists),
            (Operation::Exec, &self.execs),
            (Operation::Write, &self.writes),
            (Operation::Create, &self.creates),
            (Operation::Truncate, &self.truncates),
            (Operation::Delete, &self.deletes),
            (Operation::Mkdir, &self.mkdirs),
            (Operation::Missing, &self.missing),
        ];
        for (op, set) in sets {
            out.extend(set.iter().map(|p| (op, p.as_path())));
        }
        let pairs = [
            (Operation::RenameFrom, Operation::RenameTo, &self.renames),
            (Operation::LinkFrom, Operation::LinkTo, &self.links),
        ];
        for (from_op, to_op, list) in pairs {
            for (a, b) in list {
                out.push((from_op, a.as_path()));
                out.push((to_op, b.as_path()));
            }
        }
        out.extend(
            self.symlinks
                .iter()
                .map(|(l, _)| (Operation::Symlink, l.as_path())),
        );
        out
    }

    /// Keep only the paths `keep` accepts (the caller drops system paths and
    /// the step's TMPDIR). A pair stays when either side is kept; directory
    /// changes are filtered the same way.
    pub fn retain(&mut self, keep: impl Fn(&Path) -> bool) {
        for set in [
            &mut self.reads,
            &mut self.lists,
            &mut self.execs,
            &mut self.writes,
            &mut self.creates,
            &mut self.truncates,
            &mut self.deletes,
            &mut self.mkdirs,
            &mut self.missing,
        ] {
            set.retain(|p| keep(p));
        }
        for list in [&mut self.renames, &mut self.links] {
            list.retain(|(a, b)| keep(a) || keep(b));
        }
        self.symlinks.retain(|(l, _)| keep(l));
        self.changes.retain(|c| c.paths().iter().any(|p| keep(p)));
    }

    /// Paths the step changed in any way, observed or found by the snapshot.
    pub fn modified_paths(&self) -> BTreeSet<&Path> {
        let mut out: BTreeSet<&Path> = self
            .entries()
            .into_iter()
            .filter(|(op, _)| op.modifies())
            .map(|(_, p)| p)
            .collect();
        for c in &self.changes {
            out.extend(c.paths());
        }
        out
    }

    /// Directory changes that no observed syscall explains: writes through
    /// inherited descriptors, mmap, or processes that were not observed.
    pub fn unexplained_changes(&self) -> Vec<&Change> {
        let observed: BTreeSet<&Path> = self
            .entries()
            .into_iter()
            .filter(|(op, _)| op.modifies())
            .map(|(_, p)| p)
            .collect();
        self.changes
            .iter()
            .filter(|c| c.paths().iter().any(|p| !observed.contains(p)))
            .collect()
    }
}

fn insert(set: &mut BTreeSet<PathBuf>, p: PathBuf) {
    set.insert(p);
}

/// Lexical normalisation: drop `.`, apply `..` to the preceding component
/// (never above the root). Symlinks are not consulted, on purpose: the path is
/// reported as the step spelled it.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !p.is_absolute() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `p` (relative to `root`, or absolute) as records name it: normalised,
/// relative to `root` when inside it, absolute otherwise.
pub fn as_recorded(p: &Path, root: &Path) -> PathBuf {
    relative_to(&normalize(&root.join(p)), root)
}

/// `p` relative to `root` when inside it (`root` itself becomes `.`),
/// unchanged otherwise.
pub fn relative_to(p: &Path, root: &Path) -> PathBuf {
    match p.strip_prefix(root) {
        Ok(rest) if rest.as_os_str().is_empty() => PathBuf::from("."),
        Ok(rest) => rest.to_path_buf(),
        Err(_) => p.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../x")), PathBuf::from("/x"));
        assert_eq!(normalize(Path::new("/a//b/")), PathBuf::from("/a/b"));
    }

    #[test]
    fn relative_inside_root_only() {
        let root = Path::new("/p/root");
        assert_eq!(
            relative_to(Path::new("/p/root/x/y"), root),
            PathBuf::from("x/y")
        );
        assert_eq!(relative_to(Path::new("/p/root"), root), PathBuf::from("."));
        assert_eq!(
            relative_to(Path::new("/p/rootless"), root),
            PathBuf::from("/p/rootless")
        );
    }

    #[test]
    fn retain_filters_sets_and_pairs() {
        let root = Path::new("/r");
        let mut a = StepAccesses::default();
        a.record(Access::Read(PathBuf::from("/usr/include/stdio.h")), root);
        a.record(Access::Read(PathBuf::from("/r/x.c")), root);
        a.record(
            Access::Rename(PathBuf::from("/tmp/t"), PathBuf::from("/r/x.o")),
            root,
        );
        a.retain(|p| !p.starts_with("/usr") && !p.starts_with("/tmp"));
        assert_eq!(a.reads.iter().collect::<Vec<_>>(), vec![Path::new("x.c")]);
        assert_eq!(
            a.renames.len(),
            1,
            "kept: the destination is in the project"
        );
        let ops: Vec<String> = a
            .entries()
            .iter()
            .map(|(o, p)| format!("{o} {}", p.display()))
            .collect();
        assert_eq!(ops, vec!["read x.c", "rename from /tmp/t", "rename to x.o"]);
    }
}
