//! Before/after pictures of the directories a step may write: which names
//! exist and which file (inode) each names. They catch what no observed
//! syscall explains (files made or removed by processes whose paths could
//! not be read). Content changes of a file that keeps its inode are judged
//! from the observed write and the file's state before it (`FileStamp`,
//! see `report::violations`): the picture is one `getdents` per directory,
//! no `stat` per entry, because steps run next to hundreds of files.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
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

/// The entries of the watched directories: per directory, each name and
/// its inode number as the listing gives it. Taken before every step, so it
/// is cheap: names go into one buffer per directory, not an allocation each.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    dirs: BTreeMap<PathBuf, Listing>,
}

/// One directory's names (bytes, back to back) and (start, end, inode) per
/// entry, sorted by name.
#[derive(Clone, Debug, Default)]
struct Listing {
    names: Vec<u8>,
    entries: Vec<(u32, u32, u64)>,
}

impl Listing {
    fn name(&self, e: &(u32, u32, u64)) -> &[u8] {
        &self.names[e.0 as usize..e.1 as usize]
    }

    fn get(&self, name: &[u8]) -> Option<u64> {
        self.entries
            .binary_search_by(|e| self.name(e).cmp(name))
            .ok()
            .map(|i| self.entries[i].2)
    }
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
        if self.dirs.contains_key(dir) {
            return;
        }
        let (listing, subdirs) = read_listing(dir, recursive);
        self.dirs.insert(dir.to_path_buf(), listing);
        for sub in subdirs {
            self.scan(&dir.join(OsStr::from_bytes(&sub)), true);
        }
    }

    /// What changed from `self` to `after`, in path order. A rename shows
    /// as a deletion and a creation: file systems reuse a freed inode
    /// number at once, so the number alone cannot pair them.
    pub fn diff(&self, after: &Snapshot, root: &Path) -> Vec<Change> {
        let empty = Listing::default();
        let rel = |dir: &Path, name: &[u8]| relative_to(&dir.join(OsStr::from_bytes(name)), root);
        let mut changes = Vec::new();
        for (dir, old) in &self.dirs {
            let new = after.dirs.get(dir).unwrap_or(&empty);
            for e in &old.entries {
                let name = old.name(e);
                match new.get(name) {
                    None => changes.push(Change::Deleted(rel(dir, name))),
                    Some(ino) if ino != e.2 => changes.push(Change::Replaced(rel(dir, name))),
                    Some(_) => {}
                }
            }
        }
        for (dir, new) in &after.dirs {
            let old = self.dirs.get(dir).unwrap_or(&empty);
            for e in &new.entries {
                let name = new.name(e);
                if old.get(name).is_none() {
                    changes.push(Change::Created(rel(dir, name)));
                }
            }
        }
        changes.sort();
        changes
    }
}

/// The entries of `dir` (without `.` and `..`), and the names of its
/// subdirectories when `recursive` (a symlink is not followed). Read with
/// `readdir`, which hands out each name without an allocation.
fn read_listing(dir: &Path, recursive: bool) -> (Listing, Vec<Vec<u8>>) {
    let mut listing = Listing::default();
    let mut subdirs = Vec::new();
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return (listing, subdirs);
    };
    // SAFETY: `c` is a valid C string; every entry is copied out before
    // the next readdir, and the stream is closed below.
    unsafe {
        let d = libc::opendir(c.as_ptr());
        if d.is_null() {
            return (listing, subdirs);
        }
        loop {
            let e = libc::readdir64(d);
            if e.is_null() {
                break;
            }
            let name = std::ffi::CStr::from_ptr((*e).d_name.as_ptr()).to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            if recursive {
                let is_dir = match (*e).d_type {
                    libc::DT_DIR => true,
                    // Some file systems leave the type out of the listing.
                    libc::DT_UNKNOWN => {
                        std::fs::symlink_metadata(dir.join(OsStr::from_bytes(name)))
                            .is_ok_and(|m| m.is_dir())
                    }
                    _ => false,
                };
                if is_dir {
                    subdirs.push(name.to_vec());
                }
            }
            let start = listing.names.len() as u32;
            listing.names.extend_from_slice(name);
            listing
                .entries
                .push((start, listing.names.len() as u32, (*e).d_ino));
        }
        libc::closedir(d);
    }
    let Listing { names, entries } = &mut listing;
    entries.sort_unstable_by(|a, b| {
        names[a.0 as usize..a.1 as usize].cmp(&names[b.0 as usize..b.1 as usize])
    });
    (listing, subdirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

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
