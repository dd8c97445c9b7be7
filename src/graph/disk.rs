//! The file system as the graph sees it: modification times with nanosecond
//! precision, behind a trait so up-to-date decisions can be tested in memory.

use crate::lang::names::Name;
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

impl RealDisk {
    /// The time of `path` (`Ok(None)`: absent), or the error that kept it
    /// from being looked at (a symlink loop, a directory without search
    /// permission), without a word: for the threads that stat ahead of need,
    /// which leave such names to be asked again, and reported, later.
    fn checked_mtime(&self, path: &str) -> io::Result<MTime> {
        if let Some((archive, member)) = crate::graph::archive::split_member(path) {
            return Ok(crate::graph::archive::member_mtime(archive, member));
        }
        let followed = match std::fs::metadata(path) {
            Ok(md) => Some(stamp(&md)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => None,
            Err(e) => return Err(e),
        };
        if CHECK_SYMLINK_TIMES.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(newest_along_links(path, followed));
        }
        Ok(followed)
    }
}

impl Disk for RealDisk {
    /// A file that cannot be looked at is taken as missing, and said so on
    /// stderr each time, as make does.
    fn mtime(&self, path: &str) -> MTime {
        self.checked_mtime(path).unwrap_or_else(|e| {
            let why = crate::lang::eval::io_message(&e);
            crate::engine::output::enter_directory();
            eprintln!("{}: stat: {}: {}", crate::diag::prog(), path, why);
            None
        })
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

/// `-L`: a file's time is the newest of its own and of every symbolic link
/// on the way to it. A process-wide flag, as the option is for make.
static CHECK_SYMLINK_TIMES: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Turn `-L` on or off for every later look at the disk.
pub fn set_check_symlink_times(on: bool) {
    CHECK_SYMLINK_TIMES.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn stamp(md: &std::fs::Metadata) -> i128 {
    use std::os::unix::fs::MetadataExt;
    md.mtime() as i128 * 1_000_000_000 + md.mtime_nsec() as i128
}

/// `followed` (the time of what `path` finally names) or the time of a link
/// on the way, whichever is newer. Each link's target is taken relative to
/// the link's directory. A dangling link still has its own time, so under
/// `-L` it counts as existing, as it does for make. The walk stops at the
/// first name that is not a link, or after 40 links (a loop).
fn newest_along_links(path: &str, followed: MTime) -> MTime {
    let mut newest = followed;
    let mut at = std::path::PathBuf::from(path);
    for _ in 0..40 {
        let Ok(md) = std::fs::symlink_metadata(&at) else {
            break;
        };
        if !md.file_type().is_symlink() {
            break;
        }
        let t = stamp(&md);
        if newest.is_none_or(|n| t > n) {
            newest = Some(t);
        }
        let Ok(target) = std::fs::read_link(&at) else {
            break;
        };
        at = match at.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    newest
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

/// A fast, non-cryptographic hasher for the file-name maps of one build
/// (names come from the user's own makefiles: no flooding concern).
#[derive(Clone, Copy, Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
}

pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;
pub type FastSet<K> = std::collections::HashSet<K, std::hash::BuildHasherDefault<FastHasher>>;

const MISSING: i64 = i64::MIN;
/// The epoch of a missing file's entry that never goes stale.
const KEPT: u32 = u32::MAX;

/// Fewer stats than this are made on the calling thread.
const PARALLEL_MIN: usize = 256;

/// A time as the cache keeps it; `None` for one that does not fit (then it
/// is not cached: nanoseconds since 1970 fit until the year 2262).
fn pack(t: MTime) -> Option<i64> {
    match t {
        None => Some(MISSING),
        Some(t) => i64::try_from(t).ok().filter(|&t| t != MISSING),
    }
}

fn unpack(t: i64) -> MTime {
    (t != MISSING).then_some(t as i128)
}

fn name_hash(name: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = FastHasher::default();
    h.write(name);
    h.finish()
}

/// A worker thread that stats file names as the makefiles are read, on the
/// CPU the reader leaves idle, so the build starts with most times known.
/// The reader sends it every new name (`Interner::watch`). When reading is
/// done, the reader's thread takes a share of what is still queued instead
/// of waiting (`adopt`). Their answers are taken only if nothing run
/// meanwhile could have changed files (`Database::side_effects`).
pub struct EarlyStats {
    handle: std::thread::JoinHandle<EarlyFound>,
    queue: crossbeam_channel::Receiver<Vec<Name>>,
    claimed: std::sync::Arc<std::sync::Mutex<FastSet<String>>>,
}

/// Times packed as the cache keeps them (8 bytes, not 32: a big build has
/// one per file), and listings.
type EarlyFound = (Vec<(Name, i64)>, Vec<(String, Listing)>);

/// Stat every queued name and list each directory no other thread claimed,
/// until the queue is empty and its senders are gone.
fn stat_queued(
    queue: &crossbeam_channel::Receiver<Vec<Name>>,
    claimed: &std::sync::Mutex<FastSet<String>>,
) -> EarlyFound {
    let mut times = Vec::new();
    let mut listings: Vec<(String, Listing)> = Vec::new();
    // Directories this thread already looked up in `claimed`: the shared
    // set is locked once per directory, not once per name.
    let mut seen: FastSet<String> = FastSet::default();
    for name in queue.iter().flatten() {
        if let Some((dir, _)) = split_dir(&name) {
            if !seen.contains(dir) {
                seen.insert(dir.to_string());
                let mine = claimed
                    .lock()
                    .map(|mut c| c.insert(dir.to_string()))
                    .unwrap_or(false);
                if mine {
                    if let Some(l) = listing_of(dir) {
                        listings.push((dir.to_string(), l));
                    }
                }
            }
        }
        if let Some(t) = RealDisk.checked_mtime(&name).ok().and_then(pack) {
            times.push((name, t));
        }
    }
    (times, listings)
}

impl EarlyStats {
    /// Start the worker; it ends when every sender is dropped.
    pub fn start() -> Option<(crossbeam_channel::Sender<Vec<Name>>, EarlyStats)> {
        let (tx, rx) = crossbeam_channel::unbounded::<Vec<Name>>();
        let claimed = std::sync::Arc::new(std::sync::Mutex::new(FastSet::default()));
        let (queue, shared) = (rx.clone(), claimed.clone());
        let handle = std::thread::Builder::new()
            .name("hbuild-stat".into())
            .spawn(move || stat_queued(&queue, &shared))
            .ok()?;
        Some((
            tx,
            EarlyStats {
                handle,
                queue: rx,
                claimed,
            },
        ))
    }

    /// Help the worker with what is still queued (its senders must be gone),
    /// then wait for it and take both threads' answers.
    fn finish(self) -> Option<EarlyFound> {
        let (mut times, mut listings) = stat_queued(&self.queue, &self.claimed);
        let (more_times, more_listings) = self.handle.join().ok()?;
        times.extend(more_times);
        listings.extend(more_listings);
        Some((times, listings))
    }
}

/// A directory's listing as the cache keeps it: `None` when the directory
/// does not exist.
type Listing = Option<FastSet<u64>>;

/// `path` as (directory, file name) for a listing lookup; `None` for names
/// a listing cannot answer for (archive members, a trailing slash).
fn split_dir(path: &str) -> Option<(&str, &str)> {
    let (dir, file) = match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (".", path),
    };
    if file.is_empty() || file.contains('(') || dir.contains('(') {
        return None;
    }
    Some((dir, file))
}

/// True when `listing` (of the directory `file` is in) shows it absent: the
/// directory is missing, or no entry has the file name's hash.
fn proves_missing(listing: &Listing, file: &str) -> bool {
    match listing {
        None => true,
        Some(names) => !names.contains(&name_hash(file.as_bytes())),
    }
}

/// The listing of `dir`, or `None` when it cannot be read (then stat).
fn listing_of(dir: &str) -> Option<Listing> {
    match read_listing(dir) {
        Ok(names) => Some(Some(names)),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Some(None)
        }
        // Unreadable (but perhaps searchable): stat instead.
        Err(_) => None,
    }
}

/// The hashes of the names in directory `dir`, read without an allocation
/// per entry (a directory of a big project holds thousands).
fn read_listing(dir: &str) -> io::Result<FastSet<u64>> {
    let path =
        std::ffi::CString::new(dir).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `path` is a valid C string; the stream is closed below and
    // every entry is read before the next call to readdir.
    unsafe {
        let d = libc::opendir(path.as_ptr());
        if d.is_null() {
            return Err(io::Error::last_os_error());
        }
        let mut names = FastSet::default();
        loop {
            let e = libc::readdir64(d);
            if e.is_null() {
                break;
            }
            let name = std::ffi::CStr::from_ptr((*e).d_name.as_ptr());
            names.insert(name_hash(name.to_bytes()));
        }
        libc::closedir(d);
        Ok(names)
    }
}

/// Caches `mtime` answers so each file is stat'ed once; a target's entry is
/// dropped when its recipe runs so the new time is read afterwards.
///
/// On the real disk, the names in a directory are also read once (as make
/// does): a name missing from its directory's listing is missing without a
/// stat, which is what implicit-rule search asks about most. Listings are
/// dropped as soon as anything may create files (a recipe starts, `-t`).
pub struct StatCache {
    disk: Box<dyn Disk>,
    /// Times packed in 8 bytes (`MISSING` for none): a big build has one
    /// entry per file.
    cache: FastMap<Name, i64>,
    /// Directory → hashes of its entries' names (`None`: the directory does
    /// not exist). A hash that is absent proves a name absent; a present
    /// one is only a hint, and the file is stat'ed.
    dirs: FastMap<String, Listing>,
    use_listings: bool,
    /// Names found missing, with the epoch they were found in: once a
    /// recipe may have run (a new epoch), they are looked at again, as make
    /// looks at a file only when it gets to it (a recipe may create it).
    missing: FastMap<Name, u32>,
    epoch: u32,
}

impl StatCache {
    pub fn new(disk: Box<dyn Disk>) -> StatCache {
        StatCache {
            disk,
            cache: FastMap::default(),
            dirs: FastMap::default(),
            use_listings: false,
            missing: FastMap::default(),
            epoch: 0,
        }
    }

    /// A cache of the real file system, with directory listings.
    pub fn real() -> StatCache {
        StatCache {
            use_listings: true,
            ..StatCache::new(Box::new(RealDisk))
        }
    }

    pub fn mtime(&mut self, path: &str) -> MTime {
        if let Some(&t) = self.cache.get(path) {
            return unpack(t);
        }
        if let Some(&e) = self.missing.get(path) {
            if e == self.epoch || e == KEPT {
                return None;
            }
        }
        if self.use_listings && self.listed_missing(path) {
            // The listing is the cache for what does not exist (most of what
            // implicit-rule search asks about): no entry per name.
            return None;
        }
        let t = self.disk.mtime(path);
        self.remember(path.into(), t);
        t
    }

    /// The time of a file the build looks at as make would (a target, a
    /// prerequisite it gets to): its absence is kept like any reading, as
    /// make keeps it, even if a recipe creates the file later.
    pub fn examine(&mut self, path: &str) -> MTime {
        let t = self.mtime(path);
        if t.is_none() {
            self.missing.insert(path.into(), KEPT);
        }
        t
    }

    fn remember(&mut self, name: Name, t: MTime) {
        match t {
            None => {
                self.missing.insert(name, self.epoch);
            }
            Some(_) => {
                if let Some(packed) = pack(t) {
                    self.missing.remove(&name);
                    self.cache.insert(name, packed);
                }
            }
        }
    }

    /// True when the directory listing proves `path` does not exist.
    fn listed_missing(&mut self, path: &str) -> bool {
        let Some((dir, file)) = split_dir(path) else {
            return false;
        };
        let listing = match self.dirs.get(dir) {
            Some(l) => l,
            None => {
                let Some(listing) = listing_of(dir) else {
                    return false;
                };
                self.dirs.entry(dir.to_string()).or_insert(listing)
            }
        };
        proves_missing(listing, file)
    }

    /// Stat `names` in parallel (on the real disk) and remember the answers:
    /// the initial up-to-date analysis then never waits on the file system.
    /// The names are shared with the makefiles' (see `lang::names`), so the
    /// cache adds no copy of them.
    pub fn prefetch(&mut self, names: Vec<Name>) {
        use rayon::prelude::*;
        if !self.use_listings {
            return;
        }
        let todo: Vec<Name> = names
            .into_iter()
            .filter(|n| !self.cache.contains_key(&**n) && !self.known_missing(n))
            .collect();
        // Names that could not be looked at are left for `mtime` to report.
        let stat = |n: Name| {
            let t = RealDisk.checked_mtime(&n).ok()?;
            Some((n, t))
        };
        // Starting the thread pool costs more than a few stats.
        let found: Vec<(Name, MTime)> = if todo.len() < PARALLEL_MIN {
            todo.into_iter().filter_map(stat).collect()
        } else {
            todo.into_par_iter().filter_map(stat).collect()
        };
        for (n, t) in found {
            self.remember(n, t);
        }
    }

    /// Take what an [`EarlyStats`] worker found while the makefiles were read.
    /// True when its answers were taken.
    pub fn adopt(&mut self, early: EarlyStats) -> bool {
        let Some((times, listings)) = early.finish() else {
            return false;
        };
        if !self.use_listings {
            return false;
        }
        for (dir, listing) in listings {
            self.dirs.entry(dir).or_insert(listing);
        }
        // At its final size at once: growing would hold two tables at the peak.
        self.cache.reserve(times.len());
        for (name, packed) in times {
            if packed == MISSING {
                self.missing.entry(name).or_insert(self.epoch);
            } else {
                self.cache.entry(name).or_insert(packed);
            }
        }
        true
    }

    /// True when a listing already read proves `path` missing (no I/O).
    fn known_missing(&self, path: &str) -> bool {
        let Some((dir, file)) = split_dir(path) else {
            return false;
        };
        self.dirs
            .get(dir)
            .is_some_and(|listing| proves_missing(listing, file))
    }

    /// Read the listings of the directories `names` are in, in parallel:
    /// implicit-rule search asks about names next to them.
    pub fn prefetch_listings<'n>(&mut self, names: impl Iterator<Item = &'n str>) {
        use rayon::prelude::*;
        if !self.use_listings {
            return;
        }
        let mut dirs: FastSet<&str> = FastSet::default();
        for n in names {
            if let Some((dir, _)) = split_dir(n) {
                if !self.dirs.contains_key(dir) {
                    dirs.insert(dir);
                }
            }
        }
        let list = |d: &str| Some((d.to_string(), listing_of(d)?));
        let read: Vec<(String, Listing)> = if dirs.len() < PARALLEL_MIN / 8 {
            dirs.into_iter().filter_map(list).collect()
        } else {
            dirs.into_par_iter().filter_map(list).collect()
        };
        self.dirs.extend(read);
    }

    pub fn exists(&mut self, path: &str) -> bool {
        self.mtime(path).is_some()
    }
    pub fn invalidate(&mut self, path: &str) {
        self.cache.remove(path);
        self.missing.remove(path);
    }
    /// Something may create files from now on: stop trusting listings, and
    /// what was found missing so far.
    pub fn forget_listings(&mut self) {
        self.use_listings = false;
        self.dirs.clear();
        self.epoch = (self.epoch + 1) % KEPT;
    }
    pub fn touch(&mut self, path: &str) -> io::Result<()> {
        self.invalidate(path);
        self.forget_listings();
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
