//! Before/after pictures of the directories a step may write: which names
//! exist and which file (inode) each names. They catch what no observed
//! syscall explains (files made or removed by processes whose paths could
//! not be read). Content changes of a file that keeps its inode are judged
//! from the observed write and the file's state before it (`FileStamp`,
//! see `report::violations`): the picture is one `getdents` per directory,
//! no `stat` per entry, because steps run next to hundreds of files.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirEntryExt;
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

/// The entries of the watched directories, by absolute path: their inode
/// number, as the directory listing gives it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    entries: BTreeMap<PathBuf, u64>,
}

/// One difference between two snapshots (paths relative to the project root
/// where inside it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Created(PathBuf),
    Deleted(PathBuf),
    /// The name now names another file (rename over it, or delete + create).
    Replaced(PathBuf),
}

impl Change {
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            Change::Created(p) | Change::Deleted(p) | Change::Replaced(p) => vec![p],
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
            let path = ent.path();
            // The type comes with the listing on most file systems; a
            // symlink is not followed.
            let descend = recursive && ent.file_type().is_ok_and(|t| t.is_dir());
            if self.entries.insert(path.clone(), ent.ino()).is_none() && descend {
                self.scan(&path, true);
            }
        }
    }

    /// What changed from `self` to `after`, in path order. A rename shows
    /// as a deletion and a creation: file systems reuse a freed inode
    /// number at once, so the number alone cannot pair them.
    pub fn diff(&self, after: &Snapshot, root: &Path) -> Vec<Change> {
        let rel = |p: &Path| relative_to(p, root);
        let mut changes = Vec::new();
        for (path, &old) in &self.entries {
            match after.entries.get(path) {
                None => changes.push(Change::Deleted(rel(path))),
                Some(&new) if new != old => changes.push(Change::Replaced(rel(path))),
                Some(_) => {}
            }
        }
        for path in after.entries.keys() {
            if !self.entries.contains_key(path) {
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
            Change::Created(PathBuf::from("new")),
            Change::Deleted(PathBuf::from("gone")),
            Change::Deleted(PathBuf::from("old")),
            Change::Replaced(PathBuf::from("over")),
        ];
        assert_eq!(
            changes, want,
            "flat: sub/inner is not watched; edit kept its inode"
        );
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
