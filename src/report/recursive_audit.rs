//! An audit across recursive makes: the outermost auditing hbuild owns a
//! small "sink" file that the hbuilds run as `$(MAKE)` below it append to.
//!
//! A sub-make that found undeclared accesses says so there and exits 0, so
//! the recipe that ran it goes on and the rest of the tree is audited too;
//! the outermost one then exits 1 for all of them. Each make writes its own
//! `--fix-deps` fragment (a relative name is relative to its own directory,
//! the one its makefile includes from); when two makes of one build write the
//! same file, the later one merges instead of overwriting.
//!
//! Audit mode applies no Landlock, so sub-makes can write the sink. Lines are
//! appended with one `write` each (`O_APPEND`), so concurrent sub-makes do not
//! interleave them; a fragment is merged and written under a lock on the sink.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The sink's path, for sub-makes.
pub const SINK_ENV: &str = "HBUILD_AUDIT_SINK";
/// `--fix-deps` as given to the outermost make, for sub-makes.
pub const FIX_DEPS_ENV: &str = "HBUILD_FIX_DEPS";
/// The directory of the make that was given an absolute `--fix-deps`.
pub const FIX_DEPS_DIR_ENV: &str = "HBUILD_FIX_DEPS_DIR";
/// The process id of the sink's owner: an hbuild that re-executes itself
/// after remaking its makefiles keeps its pid, and stays the owner.
pub const OWNER_PID_ENV: &str = "HBUILD_AUDIT_OWNER_PID";

/// This make's place in a recursive audit.
pub enum Role {
    /// The outermost auditing make: it owns the sink and removes it at the end.
    Owner(PathBuf),
    /// A sub-make of an auditing make.
    Nested(PathBuf),
    /// No sink could be made (e.g. no writable temporary directory).
    Alone,
}

static ROLE: std::sync::OnceLock<Role> = std::sync::OnceLock::new();

/// Join the parent's sink, or start one: once per process, in audit mode.
pub fn start() {
    ROLE.get_or_init(|| {
        if let Some(p) = std::env::var_os(SINK_ENV).filter(|p| !p.is_empty()) {
            let me = std::process::id().to_string();
            if std::env::var(OWNER_PID_ENV).is_ok_and(|pid| pid == me) {
                return Role::Owner(PathBuf::from(p));
            }
            return Role::Nested(PathBuf::from(p));
        }
        match tempfile::Builder::new().prefix("hbuild-audit-").tempfile() {
            Ok(f) => f.into_temp_path().keep().map_or(Role::Alone, Role::Owner),
            Err(_) => Role::Alone,
        }
    });
}

/// The role taken by [`start`], if the build audits.
pub fn role() -> Option<&'static Role> {
    ROLE.get()
}

/// The `--fix-deps` file of this make: its own option, else the one the
/// outermost make was given. A relative name means this make's directory;
/// so does an absolute one for a sub-make working in another directory than
/// the make it was given to (its file name there): a fragment's paths are
/// relative to the make that writes it, and each directory's makefile
/// includes its own.
pub fn fix_deps_file(own: Option<&str>) -> Option<String> {
    if let Some(own) = own {
        return Some(own.to_string());
    }
    let given = role()
        .filter(|r| r.is_nested())
        .and(std::env::var(FIX_DEPS_ENV).ok())
        .filter(|f| !f.is_empty())?;
    let path = Path::new(&given);
    let there = std::env::var_os(FIX_DEPS_DIR_ENV).map(PathBuf::from);
    let here = std::env::current_dir().ok();
    match (path.is_absolute(), path.file_name()) {
        (true, Some(name)) if there.is_some() && there != here => {
            Some(name.to_string_lossy().into_owned())
        }
        _ => Some(given),
    }
}

impl Role {
    /// The sink's owner is done with it.
    pub fn finish(&self) {
        if let Role::Owner(p) = self {
            let _ = std::fs::remove_file(p);
        }
    }

    /// The sink file (which the steps running sub-makes write).
    pub fn sink(&self) -> Option<&Path> {
        self.path()
    }

    fn path(&self) -> Option<&Path> {
        match self {
            Role::Owner(p) | Role::Nested(p) => Some(p),
            Role::Alone => None,
        }
    }

    /// What recipes' environments get so their sub-makes join, and write
    /// their fragments under the same name.
    pub fn child_env(&self, fix_deps: Option<&str>) -> Vec<(String, String)> {
        let mut env = Vec::new();
        if let Some(p) = self.path() {
            env.push((SINK_ENV.to_string(), p.to_string_lossy().into_owned()));
        }
        if let Some(f) = fix_deps {
            env.push((FIX_DEPS_ENV.to_string(), f.to_string()));
            if let (true, Ok(dir)) = (Path::new(f).is_absolute(), std::env::current_dir()) {
                env.push((
                    FIX_DEPS_DIR_ENV.to_string(),
                    dir.to_string_lossy().into_owned(),
                ));
            }
        }
        env
    }

    pub fn is_nested(&self) -> bool {
        matches!(self, Role::Nested(_))
    }

    fn append(&self, line: &str) {
        let Some(p) = self.path() else { return };
        if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(p) {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }

    fn lines(&self) -> Vec<String> {
        self.path()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// A sub-make found undeclared accesses (in directory `dir`).
    pub fn note_findings(&self, dir: &str) {
        self.append(&format!("findings {dir}"));
    }

    /// The directories of sub-makes that found undeclared accesses.
    pub fn nested_findings(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|l| l.strip_prefix("findings "))
            .map(str::to_string)
            .collect()
    }

    /// Whether another make of this build already wrote fragment `file`.
    pub fn written_before(&self, file: &Path) -> bool {
        let want = format!("wrote {}", file.display());
        self.lines().contains(&want)
    }

    pub fn note_written(&self, file: &Path) {
        self.append(&format!("wrote {}", file.display()));
    }

    /// What the re-executed hbuild needs to go on with this audit, after the
    /// steps that remade the makefiles (see [`Role::carry_over`]).
    pub fn restart_env(&self) -> Vec<(String, String)> {
        match self {
            Role::Owner(p) => vec![
                (SINK_ENV.to_string(), p.to_string_lossy().into_owned()),
                (OWNER_PID_ENV.to_string(), std::process::id().to_string()),
            ],
            // A sub-make keeps its environment across the exec.
            Role::Nested(_) | Role::Alone => Vec::new(),
        }
    }

    /// Before re-executing itself: every audit of this process so far (those
    /// carried from before earlier restarts included), for the next run.
    pub fn carry_over(&self, audits: &[crate::report::audit::TargetAudit]) {
        let mut all = self.carried();
        all.extend_from_slice(audits);
        if let Ok(json) = serde_json::to_string(&all) {
            self.append(&format!("audits {} {}", std::process::id(), json));
        }
    }

    /// What this process carried over from before its last re-execution.
    pub fn carried(&self) -> Vec<crate::report::audit::TargetAudit> {
        let tag = format!("audits {} ", std::process::id());
        self.lines()
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix(&tag))
            .and_then(|json| serde_json::from_str(json).ok())
            .unwrap_or_default()
    }

    /// Run `f` while no other make of this build runs its own: parallel
    /// sub-makes that merge into the same `--fix-deps` fragment read,
    /// merge and write it one after the other (an exclusive `flock` on the
    /// sink, which they all share).
    pub fn exclusively<T>(&self, f: impl FnOnce() -> T) -> T {
        let lock = self
            .path()
            .and_then(|p| std::fs::OpenOptions::new().append(true).open(p).ok())
            .and_then(|file| {
                nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).ok()
            });
        let out = f();
        drop(lock);
        out
    }
}
