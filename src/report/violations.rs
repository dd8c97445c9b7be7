//! Judging one step: which of the accesses it made were not declared.
//!
//! Reads are judged access by access (anything not a prerequisite, target,
//! preset, `.UNVEIL` path or the step's TMPDIR). Writes are judged by their
//! outcome where Landlock let them happen (inside a target's directory): a
//! temporary file the step created and removed again is fine, a file it left
//! behind, changed or deleted is not. Writes Landlock stopped are reported as
//! denied.

use crate::observe::{normalize, Change, FileStamp, Operation, StepAccesses};
use crate::sandbox::{Origin, Policy, Rights};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What an undeclared access did.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Kind {
    Read,
    Exec,
    List,
    Write,
    Create,
    Truncate,
    Delete,
    /// Removed a directory.
    RemoveDir,
    Mkdir,
    Link,
    /// Opened for writing (or truncated), and changed since.
    Modified,
    /// Seen only by comparing the directory before and after the step.
    Replaced,
}

impl Kind {
    /// True for accesses that change the file system.
    pub fn is_output(self) -> bool {
        !matches!(self, Kind::Read | Kind::Exec | Kind::List)
    }

    /// The operation in one word, for machine-readable reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Exec => "exec",
            Kind::List => "list",
            Kind::Write => "write",
            Kind::Create => "create",
            Kind::Truncate => "truncate",
            Kind::Delete => "delete",
            Kind::RemoveDir => "rmdir",
            Kind::Mkdir => "mkdir",
            Kind::Link => "link",
            Kind::Modified => "modified",
            Kind::Replaced => "replaced",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Kind::Read => "read undeclared file",
            Kind::Exec => "executed undeclared file",
            Kind::List => "listed undeclared directory",
            Kind::Write => "wrote undeclared file",
            Kind::Create => "created undeclared file",
            Kind::Truncate => "truncated undeclared file",
            Kind::Delete => "deleted undeclared file",
            Kind::RemoveDir => "removed undeclared directory",
            Kind::Mkdir => "created undeclared directory",
            Kind::Link => "linked undeclared file",
            Kind::Modified => "modified undeclared file",
            Kind::Replaced => "replaced undeclared file",
        }
    }
}

/// One undeclared access of a step.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Violation {
    pub kind: Kind,
    /// As the user names it: relative to the project when inside it.
    pub path: PathBuf,
    /// For renames and links: the other name.
    pub to: Option<PathBuf>,
    /// Landlock refused it (the step saw EACCES, or ignored it).
    pub denied: bool,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} '{}'", self.kind.verb(), self.path.display())?;
        if let Some(to) = &self.to {
            write!(f, " to '{}'", to.display())?;
        }
        if self.denied {
            write!(f, " (denied by sandbox)")?;
        } else if self.kind == Kind::Delete {
            // Landlock allowed it (next to a target): the file is gone.
            write!(f, " (hbuild does not restore it)")?;
        }
        Ok(())
    }
}

/// The undeclared accesses of one step, sorted, one per path and operation.
/// `root` is the project directory (observed relative paths are relative to
/// it); `enforced` says whether Landlock was on for the step; `alone` that no
/// other step ran at the same time, so changes seen only by comparing the
/// target directories before and after can be blamed on this one.
pub fn check_step(
    policy: &Policy,
    acc: &StepAccesses,
    root: &Path,
    enforced: bool,
    alone: bool,
) -> Vec<Violation> {
    let judge = Judge {
        root,
        entries: policy
            .entries
            .iter()
            .map(|e| (normalize(&root.join(&e.path)), e))
            .collect(),
        enforced: enforced && !policy.unsandboxed,
    };
    let mut out: Vec<Violation> = Vec::new();
    for (op, path) in acc.entries() {
        let (kind, right) = match op {
            Operation::Read | Operation::LinkFrom => (Kind::Read, Rights::READ),
            Operation::Exec => (Kind::Exec, Rights::EXEC),
            Operation::List => (Kind::List, Rights::LIST),
            Operation::Write => (Kind::Write, Rights::WRITE),
            Operation::Create => (Kind::Create, Rights::CREATE),
            Operation::Truncate => (Kind::Truncate, Rights::TRUNCATE),
            Operation::Delete | Operation::RenameFrom => (Kind::Delete, Rights::CREATE),
            Operation::RenameTo => (Kind::Create, Rights::CREATE),
            Operation::LinkTo | Operation::Symlink => (Kind::Link, Rights::CREATE),
            Operation::Mkdir => (Kind::Mkdir, Rights::CREATE),
            Operation::Missing => continue,
        };
        let abs = judge.absolute(path);
        if is_kernel_interface(&abs) {
            continue;
        }
        if !kind.is_output() {
            // What the step made itself (a scratch file, a link) is its own
            // to read; listing a directory Landlock lets it list (its
            // targets' directory) is no finding, in audit as in enforce.
            let fine = judge.declared_read(&abs, right)
                || (kind == Kind::List && judge.landlock_allows(&abs, right))
                || acc.made_here(path);
            if !fine {
                out.push(judge.violation(kind, path, &abs, right));
            }
            continue;
        }
        if judge.declared_write(&abs) || (kind == Kind::Mkdir && judge.holds_target(&abs)) {
            continue;
        }
        if !judge.landlock_allows(&abs, right) {
            // Creating in a directory that is not there fails before
            // Landlock is asked (ENOENT): nothing was refused, nothing made.
            let parent_missing = abs.parent().is_some_and(|d| d.symlink_metadata().is_err());
            if parent_missing && !acc.made_here(path.parent().unwrap_or(path)) {
                continue;
            }
            out.push(judge.violation(kind, path, &abs, right));
            continue;
        }
        // Landlock let it happen (inside a target's directory): the outcome
        // decides. What the step made itself (a file removed again or
        // renamed onto its target, a link) was a temporary file.
        let made_here = acc.made_here(path);
        let exists = abs.symlink_metadata().is_ok();
        // The observer sees requests, not results: an `O_TRUNC` open Landlock
        // refused still shows as a write. The file as the observer saw it
        // before the request says whether it really changed.
        let unchanged = acc
            .before
            .get(path)
            .is_some_and(|then| FileStamp::of(&abs).as_ref() == Some(then));
        let outcome = match kind {
            Kind::Create | Kind::Link | Kind::Mkdir if exists => Some(kind),
            Kind::Write | Kind::Truncate if exists && !made_here && !unchanged => {
                Some(Kind::Modified)
            }
            Kind::Delete if !exists && !made_here => Some(Kind::Delete),
            _ => None,
        };
        if let Some(kind) = outcome {
            out.push(Violation {
                kind,
                path: path.to_path_buf(),
                to: None,
                denied: false,
            });
        }
    }
    // What the observer refused before it happened (it would have changed
    // a file the step may not change).
    for (op, path) in &acc.refused {
        let kind = match op {
            Operation::RenameTo => Kind::Replaced,
            Operation::Truncate => Kind::Truncate,
            Operation::Write => Kind::Write,
            Operation::Read => Kind::Read,
            Operation::Exec => Kind::Exec,
            _ => Kind::Delete,
        };
        out.push(Violation {
            kind,
            path: path.clone(),
            to: None,
            denied: true,
        });
    }
    // What only the before/after comparison saw (processes whose paths
    // could not be read): blamed on this step only if it ran alone.
    if alone {
        for change in acc.unexplained_changes() {
            let (kind, path) = match change {
                Change::Created(p) => (Kind::Create, p),
                Change::Deleted(p) => (Kind::Delete, p),
                Change::Replaced(p) => (Kind::Replaced, p),
            };
            if !judge.declared_write(&judge.absolute(path)) {
                out.push(Violation {
                    kind,
                    path: path.clone(),
                    to: None,
                    denied: false,
                });
            }
        }
    }
    // A removal of a directory says so: the observer saw an `rmdir`, or a
    // refused one left the directory there.
    for v in &mut out {
        if v.kind == Kind::Delete
            && (acc.removed_dirs.contains(&v.path) || judge.absolute(&v.path).is_dir())
        {
            v.kind = Kind::RemoveDir;
        }
    }
    out.sort();
    out.dedup();
    // Creating a file opens it for writing: one line for the creation.
    let created: Vec<PathBuf> = out
        .iter()
        .filter(|v| v.kind == Kind::Create)
        .map(|v| v.path.clone())
        .collect();
    out.retain(|v| v.kind != Kind::Write || !created.contains(&v.path));
    out
}

/// Files a violating step created that were not there before: hbuild removes
/// them (it never removes what it did not see being created).
pub fn created_files(violations: &[Violation]) -> Vec<&Path> {
    violations
        .iter()
        .filter(|v| matches!(v.kind, Kind::Create | Kind::Link) && !v.denied)
        .map(|v| v.path.as_path())
        .collect()
}

struct Judge<'a> {
    root: &'a Path,
    /// The policy's entries with their paths absolute and normalised once.
    entries: Vec<(PathBuf, &'a crate::sandbox::Entry)>,
    enforced: bool,
}

/// Whether normalised absolute `path` is `dir` or below it: a byte prefix
/// at a component boundary (what `Path::starts_with` says, without parsing
/// components; this runs for every access against every policy entry).
fn is_under(path: &Path, dir: &Path) -> bool {
    let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    p.starts_with(d) && (p.len() == d.len() || d.ends_with(b"/") || p[d.len()] == b'/')
}

impl Judge<'_> {
    fn absolute(&self, p: &Path) -> PathBuf {
        normalize(&self.root.join(p))
    }

    fn violation(&self, kind: Kind, path: &Path, abs: &Path, right: Rights) -> Violation {
        Violation {
            kind,
            path: path.to_path_buf(),
            to: None,
            denied: self.enforced && !self.landlock_allows(abs, right),
        }
    }

    /// Entries whose path covers `abs` (the path itself or a directory above it).
    fn covering<'s>(
        &'s self,
        abs: &'s Path,
    ) -> impl Iterator<Item = &'s crate::sandbox::Entry> + 's {
        self.entries
            .iter()
            .filter(move |(path, _)| is_under(abs, path))
            .map(|(_, e)| *e)
    }

    /// Declared for reading: anything in the policy but the target
    /// directories, which are open only because tools need them.
    fn declared_read(&self, abs: &Path, right: Rights) -> bool {
        self.covering(abs)
            .any(|e| e.rights.contains(right) && declares_read(e))
            || self.covering(abs).any(|e| e.origin == Origin::Target)
    }

    /// Declared for writing: see [`declares_write`].
    fn declared_write(&self, abs: &Path) -> bool {
        self.covering(abs).any(declares_write)
    }

    /// A directory a target or another declared-writable path is (or will
    /// be) in: `mkdir -p $(@D)` or `mkdir -p $(PREFIX)/bin` makes it.
    fn holds_target(&self, abs: &Path) -> bool {
        self.entries
            .iter()
            .any(|(path, e)| declares_write(e) && is_under(path, abs))
    }

    fn landlock_allows(&self, abs: &Path, right: Rights) -> bool {
        self.covering(abs).any(|e| e.rights.contains(right))
    }
}

/// Whether a policy entry declares its path writable: a target, the TMPDIR,
/// or a writable `.UNVEIL` or preset path (such as `/dev/null`). Target
/// directories are open for writing only because tools need them.
pub fn declares_write(e: &crate::sandbox::Entry) -> bool {
    match e.origin {
        Origin::Target | Origin::Tmpdir => true,
        Origin::TargetDirectory
        | Origin::UnveilAncestor(_)
        | Origin::Prerequisite
        | Origin::Shell
        | Origin::Project => false,
        Origin::Preset(_) | Origin::UnveilPreset(..) | Origin::Unveil(_) => {
            e.rights.contains(Rights::WRITE) || e.rights.contains(Rights::CREATE)
        }
    }
}

/// Whether a policy entry declares its path readable (or runnable): all
/// but the target directories and new `.UNVEIL` paths' ancestors, which are
/// open only because tools need them. A target is always readable.
pub fn declares_read(e: &crate::sandbox::Entry) -> bool {
    e.origin == Origin::Target
        || (!e.origin.grants_only()
            && (e.rights.contains(Rights::READ) || e.rights.contains(Rights::EXEC)))
}

/// `/proc`, `/sys` and `/dev` are the kernel's interfaces, not files a build
/// can depend on: tools probe them (`cp` reads `/proc/filesystems`, `bash`
/// opens `/dev/tty`) and cope when the sandbox refuses. Landlock still decides;
/// they are just not reported.
fn is_kernel_interface(abs: &Path) -> bool {
    ["/proc", "/sys", "/dev"].iter().any(|d| abs.starts_with(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::StepDecl;

    /// A project with `src/` and `out/` and a policy over absolute paths in
    /// it (policies look at which directories exist).
    fn policy(targets: &[&str], prereqs: &[&str]) -> (tempfile::TempDir, Policy) {
        let dir = tempfile::tempdir().unwrap();
        for d in ["src", "out"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let abs = |v: &[&str]| v.iter().map(|p| dir.path().join(p)).collect();
        let p = Policy::for_step(&StepDecl {
            targets: abs(targets),
            prereqs: abs(prereqs),
            shell: PathBuf::from("/bin/sh"),
            ..Default::default()
        })
        .unwrap();
        (dir, p)
    }

    fn acc(reads: &[&str], creates: &[&str], changes: Vec<Change>) -> StepAccesses {
        StepAccesses {
            reads: reads.iter().map(PathBuf::from).collect(),
            creates: creates.iter().map(PathBuf::from).collect(),
            changes,
            ..Default::default()
        }
    }

    #[test]
    fn declared_accesses_pass() {
        let (d, p) = policy(&["out/a.o"], &["src/a.c"]);
        let a = acc(
            &["src/a.c", "/usr/include/stdio.h"],
            &["out/a.o"],
            vec![Change::Created("out/a.o".into())],
        );
        assert!(check_step(&p, &a, d.path(), true, true).is_empty());
    }

    #[test]
    fn undeclared_read_is_named_and_denied() {
        let (d, p) = policy(&["out/a.o"], &["src/a.c"]);
        let a = acc(&["src/a.c", "src/a.h", "out/other.o"], &[], vec![]);
        let v = check_step(&p, &a, d.path(), true, true);
        assert_eq!(v.len(), 2);
        // Next to the target Landlock cannot refuse the read; it is still reported.
        assert_eq!(v[0].to_string(), "read undeclared file 'out/other.o'");
        assert_eq!(
            v[1].to_string(),
            "read undeclared file 'src/a.h' (denied by sandbox)"
        );
        let v = check_step(&p, &a, d.path(), false, true);
        assert_eq!(v[1].to_string(), "read undeclared file 'src/a.h'");
    }

    #[test]
    fn temporary_files_next_to_the_target_are_fine_but_leftovers_are_not() {
        let (d, p) = policy(&["out/a"], &[]);
        // Created and renamed over the target: only the target changed.
        let a = acc(&[], &["out/tmp123"], vec![Change::Created("out/a".into())]);
        assert!(check_step(&p, &a, d.path(), true, true).is_empty());
        // Left behind.
        std::fs::write(d.path().join("out/extra"), "x").unwrap();
        let a = acc(
            &[],
            &["out/extra"],
            vec![
                Change::Created("out/a".into()),
                Change::Created("out/extra".into()),
            ],
        );
        let v = check_step(&p, &a, d.path(), true, true);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].to_string(), "created undeclared file 'out/extra'");
        assert_eq!(created_files(&v), vec![Path::new("out/extra")]);
        // The same change made while another step ran, and not observed as
        // this step's: not blamed on it.
        let a = acc(&[], &[], vec![Change::Created("out/extra".into())]);
        assert!(check_step(&p, &a, d.path(), true, false).is_empty());
        assert_eq!(check_step(&p, &a, d.path(), true, true).len(), 1);
    }

    #[test]
    fn writes_elsewhere_are_denied_and_deletions_reported() {
        let (d, p) = policy(&["out/a"], &["src/a"]);
        // (A directory that exists: creating in a missing one fails before
        // Landlock is asked.)
        std::fs::create_dir_all(d.path().join("other")).unwrap();
        let mut a = acc(
            &[],
            &["other/x"],
            vec![Change::Deleted("out/sibling".into())],
        );
        a.reads.insert("src/a".into());
        let v: Vec<String> = check_step(&p, &a, d.path(), true, true)
            .iter()
            .map(|v| v.to_string())
            .collect();
        assert_eq!(
            v,
            vec![
                "created undeclared file 'other/x' (denied by sandbox)".to_string(),
                "deleted undeclared file 'out/sibling' (hbuild does not restore it)".to_string()
            ]
        );
    }
    #[test]
    fn one_line_per_path_and_no_false_modification() {
        let (d, _) = policy(&["out/a"], &[]);
        std::fs::write(d.path().join("out/a"), "a").unwrap();
        std::fs::write(d.path().join("out/sib"), "s").unwrap();
        let p = Policy::for_step(&StepDecl {
            targets: vec![d.path().join("out/a")],
            shell: PathBuf::from("/bin/sh"),
            ..Default::default()
        })
        .unwrap();
        let lines = |a: &StepAccesses| -> Vec<String> {
            check_step(&p, a, d.path(), true, true)
                .iter()
                .map(|v| v.to_string())
                .collect()
        };
        // `echo x > out/sib`, refused by the observer before it happened:
        // one line, and no modification (the file is as it was).
        let mut a = acc(&[], &[], vec![]);
        a.refused.push((Operation::Truncate, "out/sib".into()));
        assert_eq!(
            lines(&a),
            vec!["truncated undeclared file 'out/sib' (denied by sandbox)".to_string()]
        );
        // Requested and let through (the target directory allows it), but
        // the file is unchanged: nothing to say.
        let mut a = acc(&[], &[], vec![]);
        a.writes.insert("out/sib".into());
        a.truncates.insert("out/sib".into());
        let sib = d.path().join("out/sib");
        let stamp = FileStamp::of(&sib).unwrap();
        a.before.insert("out/sib".into(), stamp);
        assert!(lines(&a).is_empty(), "{:?}", lines(&a));
        // The same request, and the file did change: one modification.
        a.before.insert(
            "out/sib".into(),
            FileStamp {
                size: stamp.size + 1,
                ..stamp
            },
        );
        assert_eq!(
            lines(&a),
            vec!["modified undeclared file 'out/sib'".to_string()]
        );
        // Creating elsewhere is one line, not a write and a creation.
        std::fs::create_dir_all(d.path().join("src")).unwrap();
        let mut a = acc(&[], &["src/new"], vec![]);
        a.writes.insert("src/new".into());
        let v = check_step(&p, &a, d.path(), true, true);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].kind, Kind::Create);
    }

    #[test]
    fn making_a_targets_directory_is_declared() {
        let (d, p) = policy(&["out/deep/er/a.o"], &[]);
        let mut a = acc(&[], &[], vec![]);
        a.mkdirs.insert("out/deep".into());
        a.mkdirs.insert("out/deep/er".into());
        assert!(check_step(&p, &a, d.path(), false, true).is_empty());
        a.mkdirs.insert("out/other".into());
        std::fs::create_dir(d.path().join("out/other")).unwrap();
        assert_eq!(check_step(&p, &a, d.path(), false, true).len(), 1);
    }
}
