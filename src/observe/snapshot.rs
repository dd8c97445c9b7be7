//! Before/after pictures of the directories a step may write. They catch the
//! changes no syscall observation can: writes through an inherited descriptor
//! or a shared mapping, and anything done by unobserved processes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::record::{normalize, relative_to};

/// A directory to compare before and after a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchDir {
    pub path: PathBuf,
    /// Also the subdirectories (costs one `readdir` per directory).
    pub recursive: bool,
}

impl WatchDir {
    pub fn flat(path: impl Into<PathBuf>) -> WatchDir {
        WatchDir {
            path: path.into(),
            recursive: false,
        }
    }
    pub fn recursive(path: impl Into<PathBuf>) -> WatchDir {
        WatchDir {
            path: path.into(),
            recursive: true,
        }
    }
}

/// What identifies a file's state cheaply (from one `lstat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    mode: u32,
}

impl Entry {
    fn of(m: &fs::Metadata) -> Entry {
        Entry {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            mode: m.mode(),
        }
    }
    fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
}

/// The entries of the watched directories, by absolute path.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    entries: BTreeMap<PathBuf, Entry>,
}

/// One difference between two snapshots (paths relative to the project root
/// where inside it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Created(PathBuf),
    Deleted(PathBuf),
    /// Same file (inode), new size, mtime or mode. Directories are not
    /// reported as modified: their mtime moves with every entry change.
    Modified(PathBuf),
    /// The name now names another file (rename over it, or delete + create).
    Replaced(PathBuf),
    /// A file disappeared under one name and appeared under another.
    Renamed(PathBuf, PathBuf),
}

impl Change {
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            Change::Created(p) | Change::Deleted(p) | Change::Modified(p) | Change::Replaced(p) => {
                vec![p]
            }
            Change::Renamed(a, b) => vec![a, b],
        }
    }
}

impl Snapshot {
    /// Read the watched directories. Missing or unreadable ones are empty:
    /// a directory the step creates shows up in its parent's comparison.
    pub fn take(dirs: &[WatchDir]) -> Snapshot {
        let mut snap = Snapshot::default();
        for d in dirs {
            snap.scan(&normalize(&d.path), d.recursive);
        }
        snap
    }

    fn scan(&mut self, dir: &Path, recursive: bool) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for ent in rd.flatten() {
            // Relative to the open directory, and never following a symlink.
            let Ok(meta) = ent.metadata() else { continue };
            let path = ent.path();
            let entry = Entry::of(&meta);
            let descend = recursive && entry.is_dir();
            if self.entries.insert(path.clone(), entry).is_none() && descend {
                self.scan(&path, true);
            }
        }
    }

    /// What changed from `self` to `after`, in path order.
    pub fn diff(&self, after: &Snapshot, root: &Path) -> Vec<Change> {
        let rel = |p: &Path| relative_to(p, root);
        let mut changes = Vec::new();
        let mut gone: Vec<(&PathBuf, &Entry)> = Vec::new();
        for (path, old) in &self.entries {
            match after.entries.get(path) {
                None => gone.push((path, old)),
                Some(new) if (new.dev, new.ino) != (old.dev, old.ino) => {
                    changes.push(Change::Replaced(rel(path)))
                }
                Some(new) if new != old && !new.is_dir() => {
                    changes.push(Change::Modified(rel(path)))
                }
                Some(_) => {}
            }
        }
        // Files that appeared, by identity, to pair them with vanished ones.
        // Size and mtime are part of the key: a rename keeps them, while a
        // new file that got a freed inode number does not.
        let mut appeared: HashMap<(u64, u64, u64, i128), &PathBuf> = after
            .entries
            .iter()
            .filter(|(p, _)| !self.entries.contains_key(*p))
            .map(|(p, e)| ((e.dev, e.ino, e.size, e.mtime_ns), p))
            .collect();
        let mut renamed_to = HashSet::new();
        for (path, old) in gone {
            match appeared.remove(&(old.dev, old.ino, old.size, old.mtime_ns)) {
                Some(to) => {
                    changes.push(Change::Renamed(rel(path), rel(to)));
                    renamed_to.insert(to);
                }
                None => changes.push(Change::Deleted(rel(path))),
            }
        }
        for path in after.entries.keys() {
            if !self.entries.contains_key(path) && !renamed_to.contains(path) {
                changes.push(Change::Created(rel(path)));
            }
        }
        changes.sort();
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_finds_each_kind_of_change() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let p = |n: &str| root.join(n);
        fs::write(p("keep"), "k").unwrap();
        fs::write(p("edit"), "e").unwrap();
        fs::write(p("gone"), "g").unwrap();
        fs::write(p("old"), "o").unwrap();
        fs::write(p("over"), "v").unwrap();
        fs::create_dir(p("sub")).unwrap();
        let watch = [WatchDir::flat(root)];
        let before = Snapshot::take(&watch);
        fs::write(p("edit"), "edited").unwrap();
        fs::remove_file(p("gone")).unwrap();
        fs::rename(p("old"), p("new")).unwrap();
        fs::write(p("tmp"), "t").unwrap();
        fs::rename(p("tmp"), p("over")).unwrap();
        fs::write(p("made"), "m").unwrap();
        fs::write(p("sub/inner"), "i").unwrap();
        let after = Snapshot::take(&watch);
        let changes = before.diff(&after, root);
        let want = vec![
            Change::Created(PathBuf::from("made")),
            Change::Deleted(PathBuf::from("gone")),
            Change::Modified(PathBuf::from("edit")),
            Change::Replaced(PathBuf::from("over")),
            Change::Renamed(PathBuf::from("old"), PathBuf::from("new")),
        ];
        assert_eq!(changes, want, "flat: sub/inner is not watched");
        let deep = [WatchDir::recursive(root)];
        let before = Snapshot::take(&deep);
        fs::write(p("sub/inner2"), "i").unwrap();
        let after = Snapshot::take(&deep);
        assert_eq!(
            before.diff(&after, root),
            vec![Change::Created(PathBuf::from("sub/inner2"))]
        );
    }
}
