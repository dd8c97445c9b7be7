//! The file system as the graph sees it: modification times with nanosecond
//! precision, behind a trait so up-to-date decisions can be tested in memory.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;

/// A file's modification time in nanoseconds since the epoch; `None`: missing.
pub type MTime = Option<i128>;

/// What the graph needs from a file system.
pub trait Disk {
    fn mtime(&self, path: &str) -> MTime;
    /// Set the modification time to now, creating an empty file if missing (`-t`).
    fn touch(&self, path: &str) -> io::Result<()>;
    fn remove(&self, path: &str) -> io::Result<()>;
}

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealDisk;

impl Disk for RealDisk {
    fn mtime(&self, path: &str) -> MTime {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).ok()?;
        Some(md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128)
    }
    fn touch(&self, path: &str) -> io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        f.set_modified(std::time::SystemTime::now())
    }
    fn remove(&self, path: &str) -> io::Result<()> {
        std::fs::remove_file(path)
    }
}

/// An in-memory file system for tests; `touch` advances a logical clock.
#[derive(Debug, Default)]
pub struct MemDisk {
    files: RefCell<HashMap<String, i128>>,
    clock: RefCell<i128>,
}

impl MemDisk {
    pub fn with(files: &[(&str, i128)]) -> MemDisk {
        let d = MemDisk::default();
        for (name, t) in files {
            d.set(name, *t);
        }
        d
    }
    pub fn set(&self, path: &str, t: i128) {
        self.files.borrow_mut().insert(path.to_string(), t);
        let mut c = self.clock.borrow_mut();
        *c = (*c).max(t);
    }
}

impl Disk for MemDisk {
    fn mtime(&self, path: &str) -> MTime {
        self.files.borrow().get(path).copied()
    }
    fn touch(&self, path: &str) -> io::Result<()> {
        let t = *self.clock.borrow() + 1;
        self.set(path, t);
        Ok(())
    }
    fn remove(&self, path: &str) -> io::Result<()> {
        match self.files.borrow_mut().remove(path) {
            Some(_) => Ok(()),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
}

/// Caches `mtime` answers so each file is stat'ed once; a target's entry is
/// dropped when its recipe runs so the new time is read afterwards.
pub struct StatCache {
    disk: Box<dyn Disk>,
    cache: HashMap<String, MTime>,
}

impl StatCache {
    pub fn new(disk: Box<dyn Disk>) -> StatCache {
        StatCache {
            disk,
            cache: HashMap::new(),
        }
    }
    pub fn mtime(&mut self, path: &str) -> MTime {
        if let Some(t) = self.cache.get(path) {
            return *t;
        }
        let t = self.disk.mtime(path);
        self.cache.insert(path.to_string(), t);
        t
    }
    pub fn exists(&mut self, path: &str) -> bool {
        self.mtime(path).is_some()
    }
    pub fn invalidate(&mut self, path: &str) {
        self.cache.remove(path);
    }
    pub fn touch(&mut self, path: &str) -> io::Result<()> {
        self.invalidate(path);
        self.disk.touch(path)
    }
    pub fn remove(&mut self, path: &str) -> io::Result<()> {
        self.invalidate(path);
        self.disk.remove(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_reads_once_until_invalidated() {
        let mut c = StatCache::new(Box::new(MemDisk::with(&[("a", 5)])));
        assert_eq!(c.mtime("a"), Some(5));
        assert_eq!(c.mtime("b"), None);
        c.touch("b").unwrap();
        assert_eq!(c.mtime("b"), Some(6));
        c.remove("a").unwrap();
        assert!(!c.exists("a"));
    }

    #[test]
    fn real_disk_has_nanoseconds() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let p = p.to_str().unwrap();
        assert_eq!(RealDisk.mtime(p), None);
        RealDisk.touch(p).unwrap();
        assert!(RealDisk.mtime(p).is_some());
    }
}
