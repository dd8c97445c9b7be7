//! Private temporary directories: one per build (owned by hbuild, mode 0700)
//! and one per step beneath it, exported to the step as TMPDIR and emptied
//! when the step ends, so steps cannot see each other's temporary files.
//! A directory its step left empty is handed to the next step instead of
//! being removed and made again: on a journalled file system the pair costs
//! more than the rest of a trivial step's set-up.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The per-build directory (`$XDG_RUNTIME_DIR/hbuild-PID-N` or
/// `/tmp/hbuild-PID-N`), removed with everything in it on drop.
#[derive(Debug)]
pub struct BuildTmp {
    root: PathBuf,
    next: AtomicU64,
    /// Step directories that were left empty, ready for another step.
    free: Arc<Mutex<Vec<PathBuf>>>,
}

static BUILDS: AtomicU64 = AtomicU64::new(0);

impl BuildTmp {
    /// Create a fresh directory. `create_dir` (not `create_dir_all`) so a
    /// name planted by someone else in a shared /tmp is never reused.
    ///
    /// An hbuild run by a step of another hbuild uses the `$TMPDIR` that
    /// step got: a sandboxed step may not write `/tmp`, and an observed one
    /// would have these directories counted among its outputs. Otherwise
    /// `$TMPDIR` is the last resort.
    pub fn new() -> io::Result<BuildTmp> {
        let env_dir = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_dir())
        };
        let in_step = std::env::var_os(crate::driver::PROJECT_ROOT_ENV).is_some();
        let bases = [
            env_dir("TMPDIR").filter(|_| in_step),
            env_dir("XDG_RUNTIME_DIR"),
            Some(PathBuf::from("/tmp")),
            env_dir("TMPDIR"),
        ];
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no temporary directory");
        for base in bases.iter().flatten() {
            match Self::under(base) {
                Ok(b) => return Ok(b),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Create it under `base`.
    pub fn under(base: &Path) -> io::Result<BuildTmp> {
        let pid = std::process::id();
        for _ in 0..100 {
            let n = BUILDS.fetch_add(1, Ordering::Relaxed);
            let root = base.join(format!("hbuild-{}-{}", pid, n));
            match DirBuilder::new().mode(0o700).create(&root) {
                Ok(()) => {
                    return Ok(BuildTmp {
                        root,
                        next: AtomicU64::new(0),
                        free: Arc::default(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no free name for hbuild's temporary directory",
        ))
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    /// An empty private directory for one step.
    pub fn step(&self) -> io::Result<StepTmp> {
        let reused = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let path = match reused {
            Some(p) => p,
            None => {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                let path = self.root.join(format!("step-{}", n));
                DirBuilder::new().mode(0o700).create(&path)?;
                path
            }
        };
        Ok(StepTmp {
            path,
            free: self.free.clone(),
        })
    }
}

impl Drop for BuildTmp {
    fn drop(&mut self) {
        remove_tree(&self.root);
    }
}

/// A step's TMPDIR; emptied on drop (after the step's processes are gone).
#[derive(Debug)]
pub struct StepTmp {
    path: PathBuf,
    free: Arc<Mutex<Vec<PathBuf>>>,
}

impl StepTmp {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StepTmp {
    /// Back to the pool if the step left it as it got it (empty, 0700);
    /// otherwise removed with what is in it.
    fn drop(&mut self) {
        let pristine = fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o7777 == 0o700)
            && fs::read_dir(&self.path).is_ok_and(|mut rd| rd.next().is_none());
        if pristine {
            let path = std::mem::take(&mut self.path);
            self.free
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(path);
        } else {
            remove_tree(&self.path);
        }
    }
}

/// Remove a tree even if a step left directories without write permission.
fn remove_tree(path: &Path) {
    if fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    make_writable(path);
    let _ = fs::remove_dir_all(path);
}

fn make_writable(dir: &Path) {
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                make_writable(&e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_dirs_are_private_and_removed() {
        let base = tempfile::tempdir().unwrap();
        let build = BuildTmp::under(base.path()).unwrap();
        let root = build.path().to_path_buf();
        let step = build.step().unwrap();
        let p = step.path().to_path_buf();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::create_dir(p.join("locked")).unwrap();
        fs::write(p.join("locked/f"), "x").unwrap();
        fs::set_permissions(p.join("locked"), fs::Permissions::from_mode(0o500)).unwrap();
        drop(step);
        assert!(!p.exists());
        assert_ne!(build.step().unwrap().path(), p);
        // A directory left empty serves the next step; one with a changed
        // mode does not.
        let step = build.step().unwrap();
        let q = step.path().to_path_buf();
        drop(step);
        let step = build.step().unwrap();
        assert_eq!(step.path(), q);
        fs::set_permissions(&q, fs::Permissions::from_mode(0o755)).unwrap();
        drop(step);
        assert!(!q.exists());
        drop(build);
        assert!(!root.exists());
    }
}
