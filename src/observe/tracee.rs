//! Reading a stopped syscall's arguments out of the child: strings from its
//! memory (`process_vm_readv`), its cwd and descriptors from `/proc`.
//! Both need the same permission as ptrace, which a parent has over its own
//! descendants running as the same user.

use std::cell::OnceCell;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use libc::c_void;

use super::classify::{Found, Tracee};
use super::record::FileStamp;

const PATH_MAX: usize = 4096;
const PAGE: u64 = 4096;
/// Most paths fit in one read of this size.
const CHUNK: usize = 256;

/// The thread (`pid` as the notification gives it) that made the syscall.
pub struct Process {
    pub pid: i32,
    /// Its working directory, read from /proc at most once (the supervisor
    /// keeps it between syscalls until the process changes directory).
    cwd: OnceCell<PathBuf>,
}

impl Process {
    pub fn new(pid: i32, cwd: Option<PathBuf>) -> Process {
        Process {
            pid,
            cwd: cwd.map(OnceCell::from).unwrap_or_default(),
        }
    }

    /// The working directory, if it was known or looked up.
    pub fn known_cwd(self) -> Option<PathBuf> {
        self.cwd.into_inner()
    }

    fn cwd(&self) -> io::Result<PathBuf> {
        if let Some(c) = self.cwd.get() {
            return Ok(c.clone());
        }
        let c = self.proc_link("cwd")?;
        let _ = self.cwd.set(c.clone());
        Ok(c)
    }

    /// Copy `buf.len()` bytes at `addr`, or fewer at an unmapped boundary.
    fn read(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut c_void,
            iov_len: buf.len(),
        };
        let remote = libc::iovec {
            iov_base: addr as *mut c_void,
            iov_len: buf.len(),
        };
        // SAFETY: `local` describes `buf`; the remote side is checked by the kernel.
        let n = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// The NUL-terminated string at `addr`, read in chunks that never cross
    /// a page boundary, so a string ending just before an unmapped page is
    /// still read.
    fn cstring(&self, addr: u64) -> io::Result<Vec<u8>> {
        if addr == 0 {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        let mut out = Vec::with_capacity(128);
        let mut buf = [0u8; CHUNK];
        let mut at = addr;
        while out.len() < PATH_MAX {
            let to_page_end = (PAGE - at % PAGE) as usize;
            let want = to_page_end.min(CHUNK).min(PATH_MAX - out.len());
            let n = self.read(at, &mut buf[..want])?;
            if n == 0 {
                break;
            }
            if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..end]);
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
            at += n as u64;
        }
        Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG))
    }

    fn proc_link(&self, what: &str) -> io::Result<PathBuf> {
        let target = std::fs::read_link(format!("/proc/{}/{}", self.pid, what))?;
        if !target.is_absolute() {
            // "pipe:[123]", "anon_inode:..": not a directory.
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok(target)
    }
}

impl Process {
    /// `/proc/self/root/x`, `/proc/PID/cwd/x`, `/proc/self/fd/N/x`: the
    /// kernel follows these links to the file they name, and so must the
    /// observer, or `cat /proc/self/root/etc/secret` would be reported as
    /// a read of `/proc`, which is never judged. Other paths stand as they are.
    fn through_proc_links(&self, path: PathBuf) -> PathBuf {
        let Ok(rest) = path.strip_prefix("/proc") else {
            return path;
        };
        let names: Vec<&std::ffi::OsStr> = rest.iter().collect();
        let mut dir = match names.first().and_then(|n| n.to_str()) {
            // The thread's own /proc entry serves for the process too.
            Some("self") | Some("thread-self") => format!("/proc/{}", self.pid),
            Some(n) if n.parse::<u32>().is_ok() => format!("/proc/{n}"),
            _ => return path,
        };
        let mut i = 1;
        if names.get(i).and_then(|n| n.to_str()) == Some("task") && names.len() > i + 1 {
            dir = format!("{dir}/task/{}", names[i + 1].to_string_lossy());
            i += 2;
        }
        let link = match names.get(i).and_then(|n| n.to_str()) {
            Some(l @ ("root" | "cwd")) => {
                i += 1;
                format!("{dir}/{l}")
            }
            Some("fd") if names.len() > i + 1 => {
                i += 2;
                format!("{dir}/fd/{}", names[i - 1].to_string_lossy())
            }
            _ => return path,
        };
        match std::fs::read_link(&link) {
            Ok(target) if target.is_absolute() => {
                names[i..].iter().fold(target, |acc, n| acc.join(n))
            }
            _ => path,
        }
    }
}

impl Tracee for Process {
    fn path(&self, dirfd: Option<i32>, addr: u64) -> io::Result<PathBuf> {
        let raw = PathBuf::from(OsString::from_vec(self.cstring(addr)?));
        if raw.is_absolute() {
            return Ok(self.through_proc_links(raw));
        }
        let base = match dirfd {
            None | Some(libc::AT_FDCWD) => self.cwd()?,
            Some(fd) => self.proc_link(&format!("fd/{fd}"))?,
        };
        if raw.as_os_str().is_empty() {
            return Ok(base); // AT_EMPTY_PATH: the descriptor itself
        }
        Ok(base.join(raw))
    }

    fn text(&self, addr: u64) -> io::Result<PathBuf> {
        Ok(PathBuf::from(OsString::from_vec(self.cstring(addr)?)))
    }

    fn read_u64(&self, addr: u64) -> io::Result<u64> {
        let mut b = [0u8; 8];
        if self.read(addr, &mut b)? != 8 {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        Ok(u64::from_ne_bytes(b))
    }

    fn found(&self, path: &Path) -> Found {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Found::Dir,
            Ok(m) => Found::File(FileStamp::from_metadata(&m)),
            Err(_) => Found::Nothing,
        }
    }

    fn found_nofollow(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }
}
