//! What one step may touch, as pure data: built from what the step declares
//! (targets, prerequisites, `.UNVEIL`, ...), printed by `--explain-sandbox`,
//! and turned into a Landlock ruleset by `apply`.

use super::presets;
use super::rights::Rights;
use super::rlimits::{self, Resource, Rlimit};
use super::unveil;
use crate::diag::{Fatal, Loc};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a policy entry came from, for `--explain-sandbox`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Prerequisite,
    Target,
    /// The directory a target is created in (or its nearest existing ancestor).
    TargetDirectory,
    /// The nearest existing ancestor of a writable `.UNVEIL` path that does
    /// not exist yet (an install prefix): it grants what creating it takes,
    /// as a target directory does, but declares nothing.
    UnveilAncestor(Loc),
    Shell,
    /// A preset the step gets by default (`system`, or `runtime` with `.STRICT`).
    Preset(&'static str),
    /// A preset named in `.UNVEIL`.
    UnveilPreset(&'static str, Loc),
    Unveil(Loc),
    Tmpdir,
    /// The project directory (`$(shell)` at parse time).
    Project,
}

impl Origin {
    /// Entries Landlock needs for tools to work (a target's directory, the
    /// ancestor of a new `.UNVEIL` path): they grant, but declare nothing,
    /// and the observer protects the existing files beneath them.
    pub fn grants_only(&self) -> bool {
        matches!(self, Origin::TargetDirectory | Origin::UnveilAncestor(_))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Prerequisite => write!(f, "prerequisite"),
            Origin::Target => write!(f, "target"),
            Origin::TargetDirectory => write!(f, "target directory"),
            Origin::UnveilAncestor(loc) => write!(f, "ancestor of a new .UNVEIL path at {}", loc),
            Origin::Shell => write!(f, "shell"),
            Origin::Preset(name) => write!(f, "preset:{}", name),
            Origin::UnveilPreset(name, loc) => write!(f, "preset:{} (.UNVEIL at {})", name, loc),
            Origin::Unveil(loc) => write!(f, ".UNVEIL at {}", loc),
            Origin::Tmpdir => write!(f, "tmpdir"),
            Origin::Project => write!(f, "project"),
        }
    }
}

/// One path and what a step may do with it (beneath it, for a directory).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: PathBuf,
    pub rights: Rights,
    pub origin: Origin,
    /// Why the entry is there, when the origin alone does not say.
    pub note: Option<&'static str>,
}

/// What a step declares, as the engine knows it.
#[derive(Clone, Debug, Default)]
pub struct StepDecl {
    /// Every target of the rule (grouped or multi-target rules included).
    pub targets: Vec<PathBuf>,
    /// Normal prerequisites; a directory opens its subtree.
    pub prereqs: Vec<PathBuf>,
    /// Order-only prerequisites: readable files, but a directory only to be
    /// listed (`| obj` says the step needs it to exist, not its files).
    pub order_only: Vec<PathBuf>,
    /// `.UNVEIL` words with the location of the assignment they came from.
    pub unveil: Vec<(String, Loc)>,
    /// `.STRICT`: no `system` preset, only the loader's `runtime`.
    pub strict: bool,
    /// `.INTERNET`: TCP is not restricted.
    pub internet: bool,
    /// `.UNSANDBOXED`: no Landlock at all (limits still apply).
    pub unsandboxed: bool,
    /// Unsandboxed because it is a clean or install target (see
    /// `runs_free_by_default`).
    pub free_by_default: bool,
    /// `.CPU .MEMORY .FSIZE .NPROC .NOFILE` values with their locations.
    pub rlimits: Vec<(Resource, String, Loc)>,
    pub shell: PathBuf,
    /// Only the limits and settings are wanted (the sandbox is off and no
    /// report shows the paths): the path entries are not worked out.
    pub limits_only: bool,
}

/// Whether a step making `targets` runs unsandboxed unless the makefile
/// sets `.UNSANDBOXED` for it: one that makes no file (each target phony,
/// or a plain name no file has) and is named for cleaning, installing,
/// packaging or scanning dependencies, targets that by their nature change
/// files no rule declares. A word of the name (split at `/ - _ .`) is
/// `clean...`, `install...`, `uninstall...`, `dist`, `distdir`,
/// `distcheck`, `clobber` or `depend`: `clean`, automake's `clean-am` and
/// `install-exec-am`, CMake's `CMakeFiles/x.dir/clean` and
/// `CMakeFiles/x.dir/depend`, MakeMaker's `pure_site_install`, gzip's
/// `remove-installed-links`, git's `cocciclean` (a word ending in `clean`); and CMake's `cmake_check_build_system`, which
/// regenerates the makefiles when their sources changed. Sandboxed, every
/// automake and CMake project's `clean` failed, and every CMake rebuild.
/// Prerequisites that make files (`install: all`) are still built
/// sandboxed.
pub fn runs_free_by_default(targets: &[&str], phony: impl Fn(&str) -> bool) -> bool {
    let named_for_it = |name: &str, separators: &[char]| {
        name.split(separators).any(|w| {
            [
                "clean",
                "mostlyclean",
                "distclean",
                "realclean",
                "install",
                "uninstall",
            ]
            .iter()
            .any(|p| w.starts_with(p))
                // git's `cocciclean`, `profile-clean`'s kin.
                || w.ends_with("clean")
                || matches!(w, "dist" | "distdir" | "distcheck" | "clobber" | "depend")
        }) || name == "cmake_check_build_system"
    };
    let free = |t: &str| {
        if phony(t) {
            named_for_it(t, &['/', '-', '_', '.'])
        } else {
            // A file target in a directory named `install` is a file.
            !t.contains('/') && !Path::new(t).exists() && named_for_it(t, &['-', '_', '.'])
        }
    };
    !targets.is_empty() && targets.iter().all(|t| free(t))
}

/// The complete sandbox of one step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub entries: Vec<Entry>,
    /// TCP bind and connect are allowed to any port.
    pub internet: bool,
    /// TCP ports a step may connect to without `internet` (from presets).
    pub connect_ports: Vec<u16>,
    /// Abstract UNIX sockets and signals limited to the step's own processes.
    pub scoped: bool,
    pub rlimits: Vec<Rlimit>,
    /// The step's private temporary directory, exported as TMPDIR.
    pub tmpdir: Option<PathBuf>,
    /// `.UNSANDBOXED`: only the limits apply.
    pub unsandboxed: bool,
    /// ... because the step is a clean or install target, which run
    /// free unless the makefile says otherwise.
    pub free_by_default: bool,
}

impl Policy {
    /// The policy of a step from its declaration. Errors (bad `.UNVEIL`
    /// words, malformed limits) carry the makefile location.
    pub fn for_step(decl: &StepDecl) -> Result<Policy, Fatal> {
        let home = std::env::var("HOME").ok();
        let mut p = Policy {
            scoped: true,
            internet: decl.internet,
            unsandboxed: decl.unsandboxed,
            free_by_default: decl.free_by_default,
            ..Policy::default()
        };
        for (resource, value, loc) in &decl.rlimits {
            if let Some(limit) = rlimits::parse(*resource, value, loc)? {
                p.rlimits.retain(|l| l.resource != limit.resource);
                p.rlimits.push(limit);
            }
        }
        // Parse `.UNVEIL` even when unsandboxed, so mistakes are reported.
        let (unveiled, ports) = unveil::entries(&decl.unveil, home.as_deref())?;
        if decl.unsandboxed || decl.limits_only {
            return Ok(p);
        }
        p.add(&decl.shell, Rights::RX, Origin::Shell);
        let base = if decl.strict { "runtime" } else { "system" };
        p.entries.extend(presets::entries(base).unwrap_or_default());
        for pre in &decl.prereqs {
            p.add(pre, Rights::RX, Origin::Prerequisite);
        }
        for pre in &decl.order_only {
            if pre.is_dir() {
                p.entries.push(Entry {
                    path: pre.clone(),
                    rights: Rights::LIST,
                    origin: Origin::Prerequisite,
                    note: Some(ORDER_ONLY_DIRECTORY_NOTE),
                });
            } else {
                p.add(pre, Rights::RX, Origin::Prerequisite);
            }
        }
        for t in &decl.targets {
            p.add_target(t);
        }
        for e in &unveiled {
            p.add_unveil_ancestor(e);
        }
        p.entries.extend(unveiled);
        p.connect_ports = ports;
        Ok(p)
    }

    /// Landlock rules need existing files, and removing or replacing a file
    /// is a right of its directory: a `c` `.UNVEIL` path that does not exist
    /// yet (`rwc:$(PREFIX)/bin` on a fresh prefix) is made possible through
    /// its nearest existing ancestor, and an existing file through its
    /// directory, which get what creating it takes. Only the path itself
    /// counts as declared; the observer protects the other existing files
    /// there as it does a target directory's.
    fn add_unveil_ancestor(&mut self, e: &Entry) {
        let Origin::Unveil(loc) = &e.origin else {
            return;
        };
        if !e.rights.contains(Rights::CREATE) {
            return;
        }
        // An existing directory carries its own rights. An existing file
        // cannot: removing or replacing it is a right of its directory.
        if e.path.is_dir() {
            return;
        }
        let (dir, _) = nearest_existing_dir(parent_of(&e.path));
        if self
            .entries
            .iter()
            .any(|x| x.path == dir && x.origin.grants_only())
        {
            return;
        }
        self.entries.push(Entry {
            path: dir.to_path_buf(),
            rights: DIRECTORY_RIGHTS,
            origin: Origin::UnveilAncestor(loc.clone()),
            note: None,
        });
    }

    /// The policy of `$(shell ...)` while makefiles are read: read and run
    /// what the system preset and the project (`dirs`, the make's directory
    /// among them) hold, write only `tmp`.
    pub fn for_parse_shell(dirs: &[PathBuf], tmp: Option<&Path>) -> Policy {
        let mut p = Policy {
            scoped: true,
            ..Policy::default()
        };
        p.entries
            .extend(presets::entries("system").unwrap_or_default());
        for dir in dirs {
            p.add(dir, Rights::RX, Origin::Project);
        }
        if let Some(tmp) = tmp {
            p.set_tmpdir(tmp);
        }
        p
    }

    /// The policy of a step that runs a sub-make (`$(MAKE)`): the sub-make
    /// reads its makefiles and sandboxes each of its own steps, so this step
    /// gets the whole project (`roots`: where the top-level make works, and
    /// the directories sub-makes run in outside it) on top of what it
    /// declares, and may read everything, as a make does: Landlock layers
    /// only narrow, so what the sub-make's steps declare outside the
    /// project (the source tree of an out-of-source CMake build, next to
    /// the build directory) must stay readable here. A nested hbuild adds
    /// its own Landlock layer beneath this one.
    pub fn for_recursive_step(roots: &[PathBuf], declared: &Policy, make: Option<&Path>) -> Policy {
        let mut p = declared.clone();
        if !p.unsandboxed {
            if let Some(make) = make {
                p.add(make, Rights::RX, Origin::Shell);
            }
            p.add_noted(
                Path::new("/"),
                Rights::RX,
                "the step runs a sub-make, which reads what its steps declare, wherever it is",
            );
            let all = Rights::RW | Rights::EXEC | Rights::CREATE;
            for root in roots {
                p.entries.push(Entry {
                    path: root.to_path_buf(),
                    rights: all,
                    origin: Origin::Project,
                    note: Some("the step runs a sub-make, which sandboxes its own steps"),
                });
            }
        }
        p
    }

    /// Let the step read the makefiles `MAKEFILES` names: every make reads
    /// them, also one a step runs without `$(MAKE)` (automake's
    /// `config.status` runs `make -f - am--depfiles`), and the audit's
    /// workflow for generated makefiles sets `MAKEFILES=deps.mk`. A relative
    /// name is this make's file, as it read it.
    pub fn allow_makefiles_env(&mut self) {
        // Read once: the variable and the files do not change in a build.
        static FILES: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
        let files = FILES.get_or_init(|| {
            let list = std::env::var_os("MAKEFILES").unwrap_or_default();
            list.to_string_lossy()
                .split_whitespace()
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .collect()
        });
        for f in files {
            let why = "MAKEFILES: every make reads it, those the step runs too";
            self.add_noted(f, Rights::READ, why);
        }
    }

    /// Let the step create and write files in `dir` (a directory hbuild
    /// collects something in, such as the sub-makes' build report steps).
    pub fn allow_collecting(&mut self, dir: &Path, why: &'static str) {
        self.add_noted(dir, Rights::RW | Rights::CREATE, why);
    }

    /// An entry for something the step needs beyond what it declares,
    /// with why (`--explain-sandbox` shows it).
    fn add_noted(&mut self, path: &Path, rights: Rights, why: &'static str) {
        self.entries.push(Entry {
            path: path.to_path_buf(),
            rights,
            origin: Origin::Project,
            note: Some(why),
        });
    }

    /// Add the step's private TMPDIR: everything is allowed beneath it.
    pub fn set_tmpdir(&mut self, dir: &Path) {
        self.entries.retain(|e| e.origin != Origin::Tmpdir);
        self.tmpdir = Some(dir.to_path_buf());
        let all = Rights::RW | Rights::EXEC | Rights::CREATE;
        self.add(dir, all, Origin::Tmpdir);
    }

    fn add(&mut self, path: &Path, rights: Rights, origin: Origin) {
        self.entries.push(Entry {
            path: path.to_path_buf(),
            rights,
            origin,
            note: None,
        });
    }

    /// A target: its directory may gain and lose files (tools unlink and
    /// re-create or rename over their output), is readable (GNU ld opens a
    /// new output read-write) and grants writing and truncating: a file
    /// the recipe creates gets its rights only from its directory, and `ar`
    /// re-opens the archive it just created with O_TRUNC, also after
    /// `rm -f $@` removed the old one (whose own rule then names a file
    /// that is gone). Existing files of that directory that are not
    /// targets are kept safe from these rights by the observer, which
    /// refuses writes, truncations and deletions of them (`Protected`).
    fn add_target(&mut self, target: &Path) {
        let mut rights = Rights::RW;
        if target.is_dir() {
            rights |= Rights::CREATE;
        }
        self.add(target, rights, Origin::Target);
        let (dir, moved_up) = nearest_existing_dir(parent_of(target));
        let note = Some(if moved_up {
            ANCESTOR_NOTE
        } else {
            DIRECTORY_NOTE
        });
        if self
            .entries
            .iter()
            .any(|e| e.origin == Origin::TargetDirectory && e.path == dir)
        {
            return;
        }
        self.entries.push(Entry {
            path: dir.to_path_buf(),
            rights: DIRECTORY_RIGHTS,
            origin: Origin::TargetDirectory,
            note,
        });
    }
}

/// What a directory that files are created in must grant (see `add_target`).
const DIRECTORY_RIGHTS: Rights = Rights::READ
    .union(Rights::WRITE)
    .union(Rights::EXEC)
    .union(Rights::CREATE)
    .union(Rights::TRUNCATE);

/// The directory `path` is in (`.` for a bare name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `dir` if it exists, else its nearest existing ancestor (a directory that
/// does not exist yet cannot carry a Landlock rule: the recipe creates it),
/// and whether that was an ancestor.
fn nearest_existing_dir(dir: &Path) -> (&Path, bool) {
    let mut d = dir;
    while !d.is_dir() && d != Path::new(".") && d != Path::new("/") {
        d = parent_of(d);
    }
    (d, d != dir)
}

const ANCESTOR_NOTE: &str =
    "nearest existing ancestor: the recipe creates the rest; files already there only as declared";
/// The rights of a target directory cover the files the step makes; the
/// observer keeps the others to what the step declares (`Protected`).
const DIRECTORY_NOTE: &str = "new files; files already there only as declared";
/// An order-only directory is there to exist: its files are no inputs.
const ORDER_ONLY_DIRECTORY_NOTE: &str = "order-only: listed, its files only as declared";

/// The `--explain-sandbox` text: one line per path, then network, scopes,
/// limits and TMPDIR.
impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.free_by_default {
            writeln!(
                f,
                "unsandboxed (a clean or install target; '.UNSANDBOXED = 0' sandboxes it): every path and the network are open"
            )?;
        } else if self.unsandboxed {
            writeln!(
                f,
                "unsandboxed (.UNSANDBOXED): every path and the network are open"
            )?;
        } else {
            writeln!(
                f,
                "paths (r read, w write, x execute, c create/remove/rename, t truncate):"
            )?;
            let width = self
                .entries
                .iter()
                .map(|e| e.path.as_os_str().len())
                .max()
                .unwrap_or(0);
            for e in &self.entries {
                let path = e.path.display().to_string();
                write!(f, "  {}  {:<w$}  {}", e.rights, path, e.origin, w = width)?;
                match e.note {
                    Some(note) => writeln!(f, ": {}", note)?,
                    None => writeln!(f)?,
                }
            }
            writeln!(
                f,
                "  everything else: denied (existence and metadata stay visible)"
            )?;
            if self.internet {
                writeln!(f, "network: open (.INTERNET)")?;
            } else if self.connect_ports.is_empty() {
                writeln!(f, "network: TCP bind and connect denied")?;
            } else {
                let ports: Vec<String> = self.connect_ports.iter().map(|p| p.to_string()).collect();
                writeln!(
                    f,
                    "network: TCP bind denied; connect only to port {}",
                    ports.join(", ")
                )?;
            }
            if self.scoped {
                writeln!(
                    f,
                    "scopes: signals and abstract UNIX sockets only within the step"
                )?;
            }
        }
        if self.rlimits.is_empty() {
            writeln!(f, "limits: none")?;
        }
        for l in &self.rlimits {
            writeln!(f, "limit: {}", l)?;
        }
        if let Some(t) = &self.tmpdir {
            writeln!(f, "TMPDIR: {}", t.display())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn loc(line: usize) -> Loc {
        Loc::new(&Arc::from("Makefile"), line)
    }

    #[test]
    fn clean_and_install_targets_by_name() {
        let phony = |_: &str| true;
        for t in [
            "clean",
            "clean-am",
            "distclean-generic",
            "install",
            "install-exec-am",
            "uninstall-local",
            "maintainer-clean",
            "dist-gzip",
            "distcheck",
            "installdirs",
            "CMakeFiles/x.dir/clean",
            "pure_site_install",
            "remove-installed-links",
            "depend",
            "CMakeFiles/x.dir/depend",
            "cmake_check_build_system",
            "cocciclean",
            "testclean",
        ] {
            assert!(runs_free_by_default(&[t], phony), "{t}");
        }
        for t in [
            "all",
            "check",
            "wipe",
            "distro",
            "reinstate",
            "build/stamp",
            "dependencies",
        ] {
            assert!(!runs_free_by_default(&[t], phony), "{t}");
        }
        assert!(!runs_free_by_default(&["clean", "all"], phony));
        assert!(!runs_free_by_default(&[], phony));
        // Not phony: a plain name no file has, never a path.
        let file = |_: &str| false;
        assert!(runs_free_by_default(&["install-data-yes"], file));
        assert!(!runs_free_by_default(&["build/install/bin"], file));
    }

    fn decl() -> StepDecl {
        StepDecl {
            targets: vec![
                "/nonexistent-hb/a/b.o".into(),
                "/nonexistent-hb/a/b.d".into(),
            ],
            prereqs: vec!["b.c".into()],
            shell: "/bin/sh".into(),
            ..StepDecl::default()
        }
    }

    fn rights_of(p: &Policy, origin: &Origin) -> Vec<(String, String)> {
        p.entries
            .iter()
            .filter(|e| &e.origin == origin)
            .map(|e| (e.path.display().to_string(), e.rights.to_string()))
            .collect()
    }

    #[test]
    fn every_target_is_writable_and_its_directory_creatable() {
        let p = Policy::for_step(&decl()).unwrap();
        assert_eq!(
            rights_of(&p, &Origin::Target),
            vec![
                ("/nonexistent-hb/a/b.o".into(), "rw--t".into()),
                ("/nonexistent-hb/a/b.d".into(), "rw--t".into())
            ]
        );
        // One directory entry, on the nearest ancestor that exists.
        assert_eq!(
            rights_of(&p, &Origin::TargetDirectory),
            vec![("/".into(), "rwxct".into())]
        );
        assert_eq!(
            rights_of(&p, &Origin::Prerequisite),
            vec![("b.c".into(), "r-x--".into())]
        );
        assert!(p.scoped && !p.internet);
        assert!(p
            .entries
            .iter()
            .any(|e| e.origin == Origin::Preset("system")));
    }

    #[test]
    fn a_target_directory_allows_truncation_even_for_an_existing_target() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("lib.a");
        std::fs::write(&t, "").unwrap();
        let p = Policy::for_step(&StepDecl {
            targets: vec![t.clone()],
            ..decl()
        })
        .unwrap();
        let d = dir.path().display().to_string();
        // `rm -f $@; ar cq $@ ...` truncates a new file of that directory.
        assert_eq!(
            rights_of(&p, &Origin::TargetDirectory),
            vec![(d, "rwxct".into())]
        );
        assert_eq!(
            rights_of(&p, &Origin::Target),
            vec![(t.display().to_string(), "rw--t".into())]
        );
    }

    #[test]
    fn strict_drops_the_system_preset() {
        let p = Policy::for_step(&StepDecl {
            strict: true,
            ..decl()
        })
        .unwrap();
        assert!(!p
            .entries
            .iter()
            .any(|e| e.origin == Origin::Preset("system")));
        assert!(p
            .entries
            .iter()
            .any(|e| e.origin == Origin::Preset("runtime")));
        assert!(!p.entries.iter().any(|e| e.path == Path::new("/usr")));
    }

    #[test]
    fn unveil_and_limits_keep_their_location() {
        let p = Policy::for_step(&StepDecl {
            unveil: vec![("rw:/srv/x".into(), loc(3)), ("preset:dns".into(), loc(4))],
            rlimits: vec![(Resource::Cpu, "2".into(), loc(5))],
            ..decl()
        })
        .unwrap();
        let text = p.to_string();
        assert!(text.contains("rw--t  /srv/x"), "{}", text);
        assert!(text.contains(".UNVEIL at Makefile:3"), "{}", text);
        assert!(
            text.contains("preset:dns (.UNVEIL at Makefile:4)"),
            "{}",
            text
        );
        assert!(text.contains("connect only to port 53"), "{}", text);
        assert!(
            text.contains("limit: .CPU = 2 s  (.CPU at Makefile:5)"),
            "{}",
            text
        );
    }

    #[test]
    fn bad_declarations_are_fatal_even_unsandboxed() {
        let e = Policy::for_step(&StepDecl {
            unsandboxed: true,
            unveil: vec![("preset:foo".into(), loc(12))],
            ..decl()
        })
        .unwrap_err();
        assert_eq!(e.loc, Some(loc(12)));
        let e = Policy::for_step(&StepDecl {
            rlimits: vec![(Resource::Memory, "lots".into(), loc(7))],
            ..decl()
        })
        .unwrap_err();
        assert_eq!(e.loc, Some(loc(7)));
    }

    #[test]
    fn parse_shell_writes_only_its_tmp() {
        let p = Policy::for_parse_shell(&[PathBuf::from("/proj")], Some(Path::new("/run/t")));
        let writable: Vec<_> = p
            .entries
            .iter()
            .filter(|e| e.rights.contains(Rights::WRITE) && e.path != Path::new("/dev/null"))
            .filter(|e| e.path != Path::new("/dev/full"))
            .map(|e| e.path.clone())
            .collect();
        assert_eq!(writable, vec![PathBuf::from("/run/t")]);
        assert_eq!(p.tmpdir.as_deref(), Some(Path::new("/run/t")));
    }
}
