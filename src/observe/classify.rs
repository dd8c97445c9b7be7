//! Turning one intercepted syscall into the accesses it requests.
//!
//! Runs before the kernel carries the syscall out, so existence checks here
//! tell whether an `O_CREAT` open creates, and whether a read finds anything.

use std::io;
use std::path::{Path, PathBuf};

use super::filter::Syscall;
use super::record::{Access, FileStamp};

/// What is at a path right now (final symlink followed, as open does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    Nothing,
    Dir,
    /// A file (or anything else that is not a directory), as it is now.
    File(FileStamp),
}

/// The process that made the syscall, as the classifier needs it.
pub trait Tracee {
    /// The absolute path named by (`dirfd`, string at `addr`); `dirfd` None
    /// means the legacy calls' cwd. An empty string names `dirfd` itself.
    fn path(&self, dirfd: Option<i32>, addr: u64) -> io::Result<PathBuf>;
    /// The string at `addr`, unresolved (a symlink's target text).
    fn text(&self, addr: u64) -> io::Result<PathBuf>;
    /// A u64 from the tracee's memory.
    fn read_u64(&self, addr: u64) -> io::Result<u64>;
    fn found(&self, path: &std::path::Path) -> Found;
    /// Whether anything, even a dangling symlink, is at `path` (what unlink,
    /// rename and mkdir act on).
    fn found_nofollow(&self, path: &std::path::Path) -> bool;
}

fn fd(arg: u64) -> Option<i32> {
    Some(arg as i32)
}

/// A request read out of the stopped process. Reading its paths must happen
/// before the process is let go (its memory may change after); finding out
/// what is at them may wait for read-only requests, which change nothing.
pub enum Decoded {
    Done(Vec<Access>),
    /// A read-only open: path and flags.
    ReadOpen(PathBuf, u64),
    Exec(PathBuf),
}

impl Decoded {
    /// The path of a read-only open or exec, left to complete.
    pub fn read_path(&self) -> Option<&Path> {
        match self {
            Decoded::ReadOpen(p, _) | Decoded::Exec(p) => Some(p),
            Decoded::Done(_) => None,
        }
    }

    /// The accesses, looking at the file system where still needed.
    pub fn complete(self, t: &impl Tracee) -> Vec<Access> {
        match self {
            Decoded::Done(v) => v,
            Decoded::ReadOpen(path, flags) => open(path, flags, t),
            Decoded::Exec(path) => exec(path, t),
        }
    }
}

/// Decode `sys` called with `args`: everything that depends on the state
/// before the syscall (what a creation, deletion or write finds) is looked
/// at now; read-only opens and execs are left to [`Decoded::complete`].
pub fn decode(sys: Syscall, args: &[u64; 6], t: &impl Tracee) -> io::Result<Decoded> {
    use Syscall::*;
    let open_request = |path: PathBuf, flags: u64| {
        let f = flags as i32;
        if f & (libc::O_ACCMODE | libc::O_CREAT | libc::O_TRUNC) == libc::O_RDONLY {
            Decoded::ReadOpen(path, flags)
        } else {
            Decoded::Done(open(path, flags, t))
        }
    };
    Ok(match sys {
        Open => open_request(t.path(None, args[0])?, args[1]),
        Openat => open_request(t.path(fd(args[0]), args[1])?, args[2]),
        Openat2 => open_request(t.path(fd(args[0]), args[1])?, t.read_u64(args[2])?),
        Execve => Decoded::Exec(t.path(None, args[0])?),
        Execveat => Decoded::Exec(t.path(fd(args[0]), args[1])?),
        _ => Decoded::Done(classify(sys, args, t)?),
    })
}

/// The accesses `sys` called with `args` requests.
pub fn classify(sys: Syscall, args: &[u64; 6], t: &impl Tracee) -> io::Result<Vec<Access>> {
    use Syscall::*;
    let creat_flags = (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64;
    if touches_nothing(sys, args, t) {
        return Ok(vec![]);
    }
    Ok(match sys {
        Open => open(t.path(None, args[0])?, args[1], t),
        Openat => open(t.path(fd(args[0]), args[1])?, args[2], t),
        Openat2 => open(t.path(fd(args[0]), args[1])?, t.read_u64(args[2])?, t),
        Creat => open(t.path(None, args[0])?, creat_flags, t),
        Execve => exec(t.path(None, args[0])?, t),
        Execveat => exec(t.path(fd(args[0]), args[1])?, t),
        Unlink => delete(t.path(None, args[0])?, false, t),
        Rmdir => delete(t.path(None, args[0])?, true, t),
        Unlinkat => delete(
            t.path(fd(args[0]), args[1])?,
            args[2] & libc::AT_REMOVEDIR as u64 != 0,
            t,
        ),
        Rename => rename(t.path(None, args[0])?, t.path(None, args[1])?, 0, t),
        Renameat => rename(
            t.path(fd(args[0]), args[1])?,
            t.path(fd(args[2]), args[3])?,
            0,
            t,
        ),
        Renameat2 => rename(
            t.path(fd(args[0]), args[1])?,
            t.path(fd(args[2]), args[3])?,
            args[4],
            t,
        ),
        Link => link(t.path(None, args[0])?, t.path(None, args[1])?, t),
        Linkat => link(
            t.path(fd(args[0]), args[1])?,
            t.path(fd(args[2]), args[3])?,
            t,
        ),
        Symlink => symlink(t.path(None, args[1])?, t.text(args[0])?, t),
        Symlinkat => symlink(t.path(fd(args[1]), args[2])?, t.text(args[0])?, t),
        Mkdir => make(t.path(None, args[0])?, t, Access::Mkdir),
        Mkdirat => make(t.path(fd(args[0]), args[1])?, t, Access::Mkdir),
        Mknod => make(t.path(None, args[0])?, t, Access::Create),
        Mknodat => make(t.path(fd(args[0]), args[1])?, t, Access::Create),
        Chdir | Fchdir => vec![],
        Truncate => {
            let path = t.path(None, args[0])?;
            match t.found(&path) {
                Found::File(stamp) => {
                    vec![Access::Before(path.clone(), stamp), Access::Truncate(path)]
                }
                _ => vec![],
            }
        }
    })
}

fn open(path: PathBuf, flags: u64, t: &impl Tracee) -> Vec<Access> {
    let flags = flags as i32;
    if flags & libc::O_PATH != 0 {
        return vec![]; // a handle for metadata, no content access
    }
    let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
    let creates = flags & libc::O_CREAT != 0;
    match t.found(&path) {
        Found::Nothing if creates => {
            let mut v = vec![Access::Create(path.clone())];
            if writes {
                v.push(Access::Write(path));
            }
            v
        }
        Found::Nothing => vec![Access::Missing(path)],
        // Fails with EEXIST without touching the file.
        _ if creates && flags & libc::O_EXCL != 0 => vec![],
        Found::Dir if !writes => vec![Access::List(path)],
        Found::File(stamp) if writes && flags & libc::O_TRUNC != 0 => vec![
            Access::Before(path.clone(), stamp),
            Access::Write(path.clone()),
            Access::Truncate(path),
        ],
        Found::File(stamp) if writes => {
            vec![Access::Before(path.clone(), stamp), Access::Write(path)]
        }
        // A directory opened for writing: the kernel refuses (EISDIR), as
        // it refuses an empty path (ENOENT), which resolves to the directory.
        _ if writes => vec![],
        _ => vec![Access::Read(path)],
    }
}

fn exec(path: PathBuf, t: &impl Tracee) -> Vec<Access> {
    match t.found(&path) {
        Found::Nothing => vec![Access::Missing(path)],
        _ => vec![Access::Exec(path)],
    }
}

/// Whether the kernel refuses `sys` on its path names alone, before any
/// file is looked at or permission checked: nothing is accessed.
fn touches_nothing(sys: Syscall, args: &[u64; 6], t: &impl Tracee) -> bool {
    use Syscall::*;
    // Removing or renaming `/`, `.` or `..` fails before any permission
    // check (EBUSY, EINVAL, ENOTEMPTY): nothing is touched (gnulib's rmdir
    // and rename tests try exactly that).
    let removed: Vec<u64> = match sys {
        Unlink | Rmdir => vec![args[0]],
        Rename => vec![args[0], args[1]],
        Unlinkat => vec![args[1]],
        Renameat | Renameat2 => vec![args[1], args[3]],
        _ => vec![],
    };
    // An empty path fails with ENOENT; only `execveat` and `linkat`'s
    // source may name a descriptor so (AT_EMPTY_PATH). (An open of one,
    // `echo x > ""`, resolves to the directory, which `open` judges.)
    let named: Vec<u64> = match sys {
        Unlink | Rmdir | Mkdir | Mknod | Truncate => vec![args[0]],
        Unlinkat | Mkdirat | Mknodat => vec![args[1]],
        Rename | Link => vec![args[0], args[1]],
        Renameat | Renameat2 => vec![args[1], args[3]],
        Linkat => vec![args[3]],
        Symlink => vec![args[1]],
        Symlinkat => vec![args[2]],
        _ => vec![],
    };
    let raw = |a: &u64| t.text(*a);
    removed
        .iter()
        .any(|a| raw(a).is_ok_and(|p| names_no_entry(&p)))
        || named
            .iter()
            .any(|a| raw(a).is_ok_and(|p| p.as_os_str().is_empty()))
}

/// Whether a path as written names the root or ends in `.` or `..`: no
/// directory entry a removal or rename could act on.
fn names_no_entry(raw: &Path) -> bool {
    let bytes = raw.as_os_str().as_encoded_bytes();
    if bytes.is_empty() {
        return false;
    }
    let trimmed = match bytes.iter().rposition(|b| *b != b'/') {
        Some(end) => &bytes[..=end],
        None => return true, // only slashes: the root
    };
    let last = match trimmed.iter().rposition(|b| *b == b'/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    };
    last == b"." || last == b".."
}

fn delete(path: PathBuf, dir: bool, t: &impl Tracee) -> Vec<Access> {
    match (t.found_nofollow(&path), dir) {
        (true, false) => vec![Access::Delete(path)],
        (true, true) => vec![Access::RemoveDir(path)],
        (false, _) => vec![],
    }
}

fn rename(from: PathBuf, to: PathBuf, flags: u64, t: &impl Tracee) -> Vec<Access> {
    if !t.found_nofollow(&from) {
        return vec![];
    }
    if flags & libc::RENAME_EXCHANGE as u64 != 0 {
        return vec![
            Access::Rename(from.clone(), to.clone()),
            Access::Rename(to, from),
        ];
    }
    vec![Access::Rename(from, to)]
}

fn link(from: PathBuf, to: PathBuf, t: &impl Tracee) -> Vec<Access> {
    match t.found_nofollow(&from) {
        true => vec![Access::Link(from, to)],
        false => vec![],
    }
}

fn symlink(link: PathBuf, target: PathBuf, t: &impl Tracee) -> Vec<Access> {
    match t.found_nofollow(&link) {
        false => vec![Access::Symlink(link, target)],
        true => vec![],
    }
}

fn make(path: PathBuf, t: &impl Tracee, access: fn(PathBuf) -> Access) -> Vec<Access> {
    match t.found_nofollow(&path) {
        false => vec![access(path)],
        true => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::Path;

    /// A fake process: addresses map to strings, cwd is /w.
    struct Fake {
        strings: HashMap<u64, &'static str>,
        files: Vec<&'static str>,
        dirs: Vec<&'static str>,
    }

    impl Tracee for Fake {
        fn path(&self, dirfd: Option<i32>, addr: u64) -> io::Result<PathBuf> {
            let s = self.strings[&addr];
            let base = match dirfd {
                None | Some(libc::AT_FDCWD) => "/w".to_string(),
                Some(n) => format!("/fd{n}"),
            };
            Ok(Path::new(&base).join(s))
        }
        fn text(&self, addr: u64) -> io::Result<PathBuf> {
            Ok(PathBuf::from(self.strings[&addr]))
        }
        fn read_u64(&self, addr: u64) -> io::Result<u64> {
            Ok(addr)
        }
        fn found(&self, path: &Path) -> Found {
            let p = path.to_str().unwrap();
            if self.dirs.contains(&p) {
                Found::Dir
            } else if self.files.contains(&p) {
                Found::File(STAMP)
            } else {
                Found::Nothing
            }
        }
        fn found_nofollow(&self, path: &Path) -> bool {
            self.found(path) != Found::Nothing
        }
    }

    fn fake() -> Fake {
        Fake {
            strings: HashMap::from([(1, "old"), (2, "new"), (3, "sub"), (4, "/abs")]),
            files: vec!["/w/old", "/abs"],
            dirs: vec!["/w/sub"],
        }
    }

    const STAMP: FileStamp = FileStamp {
        ino: 1,
        size: 0,
        mtime_ns: 0,
        ctime_ns: 0,
    };

    fn openat(flags: i32, addr: u64) -> Vec<Access> {
        let args = [libc::AT_FDCWD as u64, addr, flags as u64, 0, 0, 0];
        classify(Syscall::Openat, &args, &fake()).unwrap()
    }

    #[test]
    fn empty_paths_and_removing_the_root_dot_or_dot_dot_touch_nothing() {
        for raw in [
            "/",
            "//",
            ".",
            "..",
            "sub/.",
            "sub/..",
            "/w/sub/../",
            "a/./",
        ] {
            assert!(names_no_entry(Path::new(raw)), "{raw}");
        }
        for raw in ["", "sub", "sub/", "..a", "a.", "/abs"] {
            assert!(!names_no_entry(Path::new(raw)), "{raw}");
        }
        let mut t = fake();
        t.strings.extend([(5, "/"), (6, "sub/.."), (7, "")]);
        let fdcwd = libc::AT_FDCWD as u64;
        let mkdir_empty = [fdcwd, 7, 0o777, 0, 0, 0];
        assert_eq!(
            classify(Syscall::Mkdirat, &mkdir_empty, &t).unwrap(),
            vec![]
        );
        // Opening a directory (or "", which resolves to one) for writing.
        let flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u64;
        let open_dir = [fdcwd, 3, flags, 0o666, 0, 0];
        assert_eq!(classify(Syscall::Openat, &open_dir, &t).unwrap(), vec![]);
        let rmdir = |addr| classify(Syscall::Rmdir, &[addr, 0, 0, 0, 0, 0], &t).unwrap();
        assert_eq!(rmdir(5), vec![]);
        assert_eq!(rmdir(6), vec![]);
        assert_eq!(rmdir(3), vec![Access::RemoveDir(PathBuf::from("/w/sub"))]);
        let rename =
            |from, to| classify(Syscall::Renameat2, &[fdcwd, from, fdcwd, to, 0, 0], &t).unwrap();
        assert_eq!(rename(6, 2), vec![]);
        assert_eq!(rename(1, 2).len(), 1);
    }

    #[test]
    fn open_flags_decide_the_operation() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(openat(libc::O_RDONLY, 1), vec![Access::Read(p("/w/old"))]);
        assert_eq!(
            openat(libc::O_RDONLY, 2),
            vec![Access::Missing(p("/w/new"))]
        );
        assert_eq!(
            openat(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 2),
            vec![Access::Create(p("/w/new")), Access::Write(p("/w/new"))]
        );
        assert_eq!(
            openat(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 1),
            vec![
                Access::Before(p("/w/old"), STAMP),
                Access::Write(p("/w/old")),
                Access::Truncate(p("/w/old"))
            ]
        );
        assert_eq!(
            openat(libc::O_RDWR, 4),
            vec![Access::Before(p("/abs"), STAMP), Access::Write(p("/abs"))]
        );
        assert_eq!(
            openat(libc::O_RDONLY | libc::O_DIRECTORY, 3),
            vec![Access::List(p("/w/sub"))]
        );
        assert_eq!(openat(libc::O_PATH, 1), vec![]);
        assert_eq!(
            openat(libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 1),
            vec![]
        );
        // openat2: the flags come from `struct open_how` (the fake returns the address).
        let args = [libc::AT_FDCWD as u64, 1, libc::O_RDWR as u64, 24, 0, 0];
        assert_eq!(
            classify(Syscall::Openat2, &args, &fake()).unwrap(),
            vec![
                Access::Before(p("/w/old"), STAMP),
                Access::Write(p("/w/old"))
            ]
        );
        let args = [7, 1, 0, 0, 0, 0];
        assert_eq!(
            classify(Syscall::Openat, &args, &fake()).unwrap(),
            vec![Access::Missing(p("/fd7/old"))]
        );
    }

    #[test]
    fn path_operations_on_existing_paths_only() {
        let p = |s: &str| PathBuf::from(s);
        let at = libc::AT_FDCWD as u64;
        let run = |sys, args: [u64; 6]| classify(sys, &args, &fake()).unwrap();
        assert_eq!(
            run(Syscall::Unlinkat, [at, 1, 0, 0, 0, 0]),
            vec![Access::Delete(p("/w/old"))]
        );
        assert_eq!(
            run(Syscall::Unlinkat, [at, 2, 0, 0, 0, 0]),
            vec![],
            "rm -f of nothing"
        );
        assert_eq!(
            run(Syscall::Renameat2, [at, 1, at, 2, 0, 0]),
            vec![Access::Rename(p("/w/old"), p("/w/new"))]
        );
        assert_eq!(
            run(
                Syscall::Renameat2,
                [at, 1, at, 4, libc::RENAME_EXCHANGE as u64, 0]
            )
            .len(),
            2
        );
        assert_eq!(
            run(Syscall::Linkat, [at, 1, at, 2, 0, 0]),
            vec![Access::Link(p("/w/old"), p("/w/new"))]
        );
        assert_eq!(
            run(Syscall::Symlinkat, [1, at, 2, 0, 0, 0]),
            vec![Access::Symlink(p("/w/new"), p("old"))]
        );
        assert_eq!(
            run(Syscall::Mkdirat, [at, 3, 0, 0, 0, 0]),
            vec![],
            "exists already"
        );
        assert_eq!(
            run(Syscall::Mkdirat, [at, 2, 0, 0, 0, 0]),
            vec![Access::Mkdir(p("/w/new"))]
        );
        assert_eq!(
            run(Syscall::Execve, [2, 0, 0, 0, 0, 0]),
            vec![Access::Missing(p("/w/new"))]
        );
        assert_eq!(
            run(Syscall::Execve, [4, 0, 0, 0, 0, 0]),
            vec![Access::Exec(p("/abs"))]
        );
        assert_eq!(
            run(Syscall::Truncate, [1, 0, 0, 0, 0, 0]),
            vec![
                Access::Before(p("/w/old"), STAMP),
                Access::Truncate(p("/w/old"))
            ]
        );
    }
}
