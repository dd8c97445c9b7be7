//! Paths whose reads and execs a step's judge would accept whatever they
//! were: the system preset the step may read (the loader, libraries, locale
//! files, compilers' own headers). The supervisor lets such requests go
//! without a `stat` or a record; they are most of what a step asks (27 of
//! the 35 requests of `sh -c 'cksum a b c > x'` are locale files). The audit
//! report leaves them out as well; only `--report` in audit mode, which lists
//! every access, has them all recorded.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct QuietPaths {
    /// Absolute prefixes a read under is always accepted.
    pub read: Vec<PathBuf>,
    /// Absolute prefixes an exec under is always accepted.
    pub exec: Vec<PathBuf>,
    /// Declared prerequisites under those prefixes: their reads are kept, as
    /// the audit tells a prerequisite never read (or an order-only one read).
    pub loud: Vec<PathBuf>,
}

impl QuietPaths {
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.exec.is_empty()
    }

    pub fn covers_read(&self, path: &Path) -> bool {
        Self::covers(&self.read, path) && !Self::covers(&self.loud, path)
    }

    pub fn covers_exec(&self, path: &Path) -> bool {
        Self::covers(&self.exec, path) && !Self::covers(&self.loud, path)
    }

    /// Only plain absolute paths qualify: `/usr/../home/x` starts with `/usr`
    /// but is not under it; such a path gets the full treatment. Compared
    /// as bytes: this runs for most requests, and component-wise comparison
    /// was a tenth of the supervisor's time.
    fn covers(prefixes: &[PathBuf], path: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let p = path.as_os_str().as_bytes();
        if prefixes.is_empty() || p.first() != Some(&b'/') || !is_plain(p) {
            return false;
        }
        prefixes.iter().any(|q| {
            let q = q.as_os_str().as_bytes();
            p.starts_with(q) && (p.len() == q.len() || p[q.len()] == b'/' || q == b"/")
        })
    }
}

/// No `.` or `..` component and no doubled slash.
fn is_plain(p: &[u8]) -> bool {
    p.split(|&b| b == b'/')
        .skip(1)
        .enumerate()
        .all(|(i, c)| !matches!(c, b"." | b"..") && (!c.is_empty() || i == 0 && p.len() == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_under_a_prefix_are_quiet() {
        let q = QuietPaths {
            read: vec![PathBuf::from("/usr"), PathBuf::from("/etc/ld.so.cache")],
            exec: vec![PathBuf::from("/usr/bin")],
            loud: vec![
                PathBuf::from("/usr/include/zlib.h"),
                PathBuf::from("/usr/share/x"),
            ],
        };
        assert!(!q.covers_read(Path::new("/usr/include/zlib.h")));
        assert!(!q.covers_read(Path::new("/usr/share/x/y")));
        assert!(q.covers_read(Path::new("/usr/share/xy")));
        assert!(q.covers_read(Path::new("/usr/lib/locale/C.utf8/LC_CTYPE")));
        assert!(q.covers_read(Path::new("/etc/ld.so.cache")));
        assert!(!q.covers_read(Path::new("/etc/ld.so.cache2")));
        assert!(!q.covers_read(Path::new("/usrx/lib")));
        assert!(!q.covers_read(Path::new("/usr/../home/secret")));
        assert!(!q.covers_read(Path::new("usr/lib/x")));
        assert!(!q.covers_read(Path::new("/usr/./lib/x")));
        assert!(!q.covers_read(Path::new("/usr//lib/x")));
        assert!(!q.covers_read(Path::new("/usr/lib/..")));
        assert!(q.covers_read(Path::new("/usr")));
        assert!(!q.covers_read(Path::new("/home/me/src/a.c")));
        assert!(q.covers_exec(Path::new("/usr/bin/cksum")));
        assert!(!q.covers_exec(Path::new("/usr/lib/x")));
        assert!(!QuietPaths::default().covers_read(Path::new("/usr/lib/x")));
    }
}
