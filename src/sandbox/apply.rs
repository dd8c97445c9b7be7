//! Turning a [`Policy`] into a Landlock ruleset (in hbuild, before the fork)
//! and entering it in the child (after the fork, before exec).
//!
//! The split matters: opening paths and building the ruleset allocates, which
//! a forked child of a multi-threaded parent must not do. The child only
//! makes three kinds of system calls: `setrlimit`, `prctl`, `landlock_restrict_self`.

use super::kernel::{KernelSupport, Mode};
use super::policy::{Origin, Policy};
use crate::diag::Fatal;
use crate::engine::spawn::{ChildHook, ProcessSetup};
use landlock::{
    Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;

/// A step's sandbox, ready to enter: the ruleset descriptor and the limits.
#[derive(Debug)]
pub struct Prepared {
    ruleset: Option<OwnedFd>,
    rlimits: Vec<(libc::__rlimit_resource_t, libc::rlimit)>,
    tmpdir: Option<PathBuf>,
    /// Policy paths that did not exist (no rule could be made for them).
    pub missing: Vec<PathBuf>,
}

impl Prepared {
    /// Move the ruleset descriptor above the low numbers, which GNU make's
    /// jobserver takes (3 and 4) when it is created later in the run.
    pub fn move_fd_high(&mut self) {
        const FLOOR: libc::c_int = 64;
        if let Some(fd) = &self.ruleset {
            // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
            let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, FLOOR) };
            if high >= 0 {
                // SAFETY: `high` is a fresh descriptor owned by nobody else.
                self.ruleset =
                    Some(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(high) });
            }
        }
    }

    /// Whether Landlock restricts the step (false when off, unsandboxed or
    /// unsupported).
    pub fn enforced(&self) -> bool {
        self.ruleset.is_some()
    }
}

fn ruleset_error(e: impl std::fmt::Display) -> Fatal {
    Fatal::new(format!("cannot build the sandbox: {}", e))
}

/// Build the sandbox of `policy` for the kernel `k` in `mode`. Paths that do
/// not exist are skipped (listed in `missing`); every access right the
/// kernel's ABI knows is handled, so what is not granted is denied.
pub fn prepare(policy: &Policy, k: &KernelSupport, mode: Mode) -> Result<Prepared, Fatal> {
    let rlimits = policy
        .rlimits
        .iter()
        .map(|l| {
            let resource = l.resource.libc_resource();
            // CPU: SIGXCPU at the limit, SIGKILL one second later if ignored.
            let hard = if resource == libc::RLIMIT_CPU {
                l.value.saturating_add(1)
            } else {
                l.value
            };
            (
                resource,
                libc::rlimit {
                    rlim_cur: l.value,
                    rlim_max: hard,
                },
            )
        })
        .collect();
    let mut prepared = Prepared {
        ruleset: None,
        rlimits,
        tmpdir: policy.tmpdir.clone(),
        missing: Vec::new(),
    };
    if mode == Mode::Require && k.abi <= 0 {
        return Err(super::kernel::require_check(k).unwrap_err());
    }
    if !mode.enforces() || policy.unsandboxed || k.abi <= 0 {
        return Ok(prepared);
    }
    let abi = ABI::from(k.abi);
    let level = if mode == Mode::Require {
        CompatLevel::HardRequirement
    } else {
        CompatLevel::BestEffort
    };
    let mut ruleset = Ruleset::default()
        .set_compatibility(level)
        .handle_access(AccessFs::from_all(abi))
        .map_err(ruleset_error)?;
    if !policy.internet && k.abi >= 4 {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(ruleset_error)?;
    }
    if policy.scoped && k.abi >= 6 {
        ruleset = ruleset.scope(Scope::from_all(abi)).map_err(ruleset_error)?;
    }
    let mut created = ruleset
        .create()
        .map_err(ruleset_error)?
        .set_compatibility(CompatLevel::BestEffort);
    if !policy.internet && k.abi >= 4 {
        for port in &policy.connect_ports {
            created = created
                .add_rule(NetPort::new(*port, AccessNet::ConnectTcp))
                .map_err(ruleset_error)?;
        }
    }
    let Some(fd) = Option::<OwnedFd>::from(created) else {
        return Ok(prepared);
    };
    // Path rules are added directly: one open and one fstat per path, which
    // keeps a step with 100 paths well under a millisecond.
    let handled = AccessFs::from_all(abi);
    let covered = covered_presets(policy, handled);
    for (i, e) in policy.entries.iter().enumerate() {
        // The system paths of presets are the same for every step: their
        // descriptors are opened once per process.
        let opened;
        let (anchor, is_dir) = if matches!(e.origin, Origin::Preset(_)) {
            match preset_anchor(&e.path) {
                Some(_) if covered.contains(&i) => continue,
                Some(a) => (a.fd, a.is_dir),
                None => {
                    prepared.missing.push(e.path.clone());
                    continue;
                }
            }
        } else {
            match open_path(&e.path) {
                Some((fd, is_dir)) => {
                    opened = fd;
                    (opened.as_raw_fd(), is_dir)
                }
                None => {
                    prepared.missing.push(e.path.clone());
                    continue;
                }
            }
        };
        let access = e.rights.access_fs(is_dir) & handled;
        if access.is_empty() {
            continue;
        }
        add_path_rule(&fd, anchor, access.bits())
            .map_err(|err| ruleset_error(format_args!("{}: {}", e.path.display(), err)))?;
    }
    prepared.ruleset = Some(fd);
    Ok(prepared)
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's UAPI).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;

fn add_path_rule(
    ruleset: &OwnedFd,
    anchor: std::os::fd::RawFd,
    access: u64,
) -> std::io::Result<()> {
    let attr = PathBeneathAttr {
        allowed_access: access,
        parent_fd: anchor,
    };
    // SAFETY: `attr` is a valid path-beneath attribute for the call's duration.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A preset path opened as a rule anchor: its `O_PATH` descriptor, whether
/// it is a directory, and where it really is (symlinks resolved).
#[derive(Clone, Copy)]
struct Anchor {
    fd: std::os::fd::RawFd,
    is_dir: bool,
    real: &'static std::path::Path,
}

/// The anchor of a preset path, opened once per process and kept above the
/// low descriptor numbers (GNU make's jobserver takes 3 and 4).
fn preset_anchor(path: &std::path::Path) -> Option<Anchor> {
    use std::sync::Mutex;
    /// Paths and their anchors (`None`: missing). Anchors live as long as hbuild.
    type Anchors = Option<rustc_hash::FxHashMap<PathBuf, Option<Anchor>>>;
    static ANCHORS: Mutex<Anchors> = Mutex::new(None);
    let mut guard = ANCHORS.lock().ok()?;
    let cache = guard.get_or_insert_with(Default::default);
    if let Some(a) = cache.get(path) {
        return *a;
    }
    let anchor = open_path(path).map(|(fd, is_dir)| {
        // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor we then own.
        let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 64) };
        let fd = if high < 0 {
            fd
        } else {
            // SAFETY: `high` is a fresh descriptor owned by nobody else.
            unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(high) }
        };
        let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .unwrap_or_else(|_| path.to_path_buf());
        Anchor {
            // Kept open (and its path kept) for the rest of the process.
            fd: std::os::fd::IntoRawFd::into_raw_fd(fd),
            is_dir,
            real: Box::leak(real.into_boxed_path()),
        }
    });
    cache.insert(path.to_path_buf(), anchor);
    anchor
}

/// Indexes of preset entries whose rule another preset entry already grants:
/// one at or above where it really is, with at least its rights (`/lib`, a
/// link to `/usr/lib`, under `/usr`). Landlock rules only add, so the rule
/// would change nothing; each costs a `landlock_add_rule` per step.
fn covered_presets(policy: &Policy, handled: BitFlags<AccessFs>) -> Vec<usize> {
    use super::rights::Rights;
    use std::sync::Mutex;
    /// Every step of a build has the same preset entries: the answer is kept
    /// for the last list seen, as positions among the preset entries.
    type Answer = (Vec<(PathBuf, Rights)>, BitFlags<AccessFs>, Vec<usize>);
    static LAST: Mutex<Option<Answer>> = Mutex::new(None);
    let presets: Vec<(usize, &super::policy::Entry)> = policy
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.origin, Origin::Preset(_)))
        .collect();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let same = last.as_ref().is_some_and(|(key, h, _)| {
        *h == handled
            && key.len() == presets.len()
            && key
                .iter()
                .zip(&presets)
                .all(|((p, r), (_, e))| *r == e.rights && *p == e.path)
    });
    if !same {
        let key = presets
            .iter()
            .map(|(_, e)| (e.path.clone(), e.rights))
            .collect();
        *last = Some((key, handled, covered_positions(&presets, handled)));
    }
    let positions = last.as_ref().map(|(_, _, c)| c.as_slice()).unwrap_or(&[]);
    positions.iter().map(|&k| presets[k].0).collect()
}

/// Positions in `presets` of the entries another one already grants.
fn covered_positions(
    presets: &[(usize, &super::policy::Entry)],
    handled: BitFlags<AccessFs>,
) -> Vec<usize> {
    let anchored: Vec<(usize, Anchor, BitFlags<AccessFs>)> = presets
        .iter()
        .enumerate()
        .filter_map(|(k, (_, e))| {
            let a = preset_anchor(&e.path)?;
            Some((k, a, e.rights.access_fs(a.is_dir) & handled))
        })
        .collect();
    anchored
        .iter()
        .filter(|(i, a, access)| {
            anchored.iter().any(|(j, b, other)| {
                j != i
                    && other.contains(*access)
                    && a.real.starts_with(b.real)
                    // Of two equal rules, the first stays.
                    && (a.real != b.real || other != access || j < i)
            })
        })
        .map(|(k, _, _)| *k)
        .collect()
}

fn open_path(path: &std::path::Path) -> Option<(OwnedFd, bool)> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let is_dir = file.metadata().ok()?.is_dir();
    Some((OwnedFd::from(file), is_dir))
}

/// Enter the sandbox in a forked child, before exec. Async-signal-safe: no
/// allocation, no locks; errors are plain errno values.
pub fn apply_in_child(p: &Prepared) -> Result<(), i32> {
    for (resource, limit) in &p.rlimits {
        // SAFETY: `limit` points to a valid rlimit for the duration of the call.
        if unsafe { libc::setrlimit(*resource, limit) } != 0 {
            return Err(errno());
        }
    }
    if let Some(fd) = &p.ruleset {
        // SAFETY: prctl with these integer arguments has no memory effects.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(errno());
        }
        // SAFETY: the descriptor is a Landlock ruleset kept open by `p`.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd.as_raw_fd(), 0u32) } != 0 {
            return Err(errno());
        }
    }
    Ok(())
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}

impl ChildHook for Prepared {
    fn run_in_child(&self) -> Result<(), i32> {
        apply_in_child(self)
    }
}

/// Make `cmd` start inside the sandbox: a hook run before exec enters it,
/// and TMPDIR is set to the step's private directory. Call after the engine
/// has set the environment (it may `env_clear`).
pub fn install(cmd: &mut impl ProcessSetup, prepared: Arc<Prepared>) {
    if let Some(t) = &prepared.tmpdir {
        cmd.set_env("TMPDIR", t.as_os_str());
    }
    cmd.add_child_hook(prepared);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::Rights;

    fn preset(path: &str, rights: Rights) -> super::super::policy::Entry {
        super::super::policy::Entry {
            path: PathBuf::from(path),
            rights,
            origin: Origin::Preset("system"),
            note: None,
        }
    }

    #[test]
    fn preset_rules_under_a_broader_one_are_dropped() {
        let policy = Policy {
            entries: vec![
                preset("/usr", Rights::RX),
                preset("/usr/lib", Rights::RX),
                preset("/usr/lib", Rights::READ),
                preset("/usr/bin", Rights::RX),
                preset("/etc/passwd", Rights::READ),
                preset("/dev/null", Rights::READ.union(Rights::WRITE)),
                preset("/usr/./bin", Rights::RX),
            ],
            ..Policy::default()
        };
        let handled = AccessFs::from_all(ABI::V1);
        let covered = covered_presets(&policy, handled);
        assert_eq!(covered, vec![1, 2, 3, 6]);
        // Alone, an entry is kept; of two equal ones, the first.
        let twice = Policy {
            entries: vec![
                preset("/usr/bin", Rights::RX),
                preset("/usr/bin", Rights::RX),
            ],
            ..Policy::default()
        };
        assert_eq!(covered_presets(&twice, handled), vec![1]);
    }
}
