//! The project's sources: the tree as it is, minus `.git` and the files the
//! makefile would build (so each check builds from scratch).

use crate::lang::Database;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One entry of the source tree; children are sorted by name.
#[derive(Debug)]
pub enum Node {
    Dir {
        mode: u32,
        mtime: SystemTime,
        children: Vec<(OsString, Node)>,
    },
    File {
        mode: u32,
        mtime: SystemTime,
    },
    Symlink(PathBuf),
}

/// What the copy of the project holds.
pub struct Sources {
    pub root: PathBuf,
    pub tree: Node,
    /// Relative paths of the copied files and symlinks: anything else found
    /// after a build is an output.
    pub files: HashSet<PathBuf>,
    /// How many files and directories were left out because the makefile
    /// builds them.
    pub skipped: usize,
    /// The newest modification time of a copied file, in seconds.
    pub newest_mtime: u64,
}

/// Version-control directories are never part of the build.
const SKIPPED_DIRS: [&str; 4] = [".git", ".hg", ".svn", ".bzr"];

/// Read the whole tree under `root` (without version-control directories,
/// sockets, fifos and devices).
pub fn read_tree(root: &Path) -> std::io::Result<Node> {
    let meta = fs::metadata(root)?;
    Ok(Node::Dir {
        mode: meta.permissions().mode() & 0o7777,
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        children: read_children(root)?,
    })
}

fn read_children(dir: &Path) -> std::io::Result<Vec<(OsString, Node)>> {
    let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    let mut children = Vec::new();
    for entry in entries {
        let name = entry.file_name();
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)?;
        let kind = meta.file_type();
        let mode = meta.permissions().mode() & 0o7777;
        let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let node = if kind.is_dir() {
            if SKIPPED_DIRS.iter().any(|d| name.as_bytes() == d.as_bytes()) {
                continue;
            }
            Node::Dir {
                mode,
                mtime,
                children: read_children(&path)?,
            }
        } else if kind.is_symlink() {
            Node::Symlink(fs::read_link(&path)?)
        } else if kind.is_file() {
            Node::File { mode, mtime }
        } else {
            continue;
        };
        children.push((name, node));
    }
    Ok(children)
}

/// Every path of the tree, relative to its root.
fn all_paths(node: &Node, rel: &Path, out: &mut Vec<PathBuf>) {
    if let Node::Dir { children, .. } = node {
        for (name, child) in children {
            let path = rel.join(name);
            out.push(path.clone());
            all_paths(child, &path, out);
        }
    }
}

/// The sources of the project in `root` (read as `tree`): the tree without the
/// files `db` says are built. `db` may have been read in a copy of the project
/// at `read_root`; target names under either root are understood.
/// `protected`: files kept even if they are targets (the makefiles given).
pub fn without_generated(
    root: &Path,
    tree: Node,
    db: &Database,
    read_root: &Path,
    protected: &HashSet<PathBuf>,
) -> Sources {
    let mut all = Vec::new();
    all_paths(&tree, Path::new(""), &mut all);
    let generated = Generated::new(db, &[root, read_root], &all, protected);
    let mut sources = Sources {
        root: root.to_path_buf(),
        tree: Node::Symlink(PathBuf::new()),
        files: HashSet::new(),
        skipped: 0,
        newest_mtime: 0,
    };
    sources.tree = filter(tree, Path::new(""), &generated, &mut sources);
    sources
}

fn filter(node: Node, rel: &Path, generated: &Generated, sources: &mut Sources) -> Node {
    match node {
        Node::Dir {
            mode,
            mtime,
            children,
        } => {
            let mut kept = Vec::new();
            for (name, child) in children {
                let path = rel.join(&name);
                if generated.paths.contains(&path) {
                    sources.skipped += 1;
                    continue;
                }
                kept.push((name, filter(child, &path, generated, sources)));
            }
            Node::Dir {
                mode,
                mtime,
                children: kept,
            }
        }
        Node::File { mode, mtime } => {
            let secs = mtime
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            sources.newest_mtime = sources.newest_mtime.max(secs);
            sources.files.insert(rel.to_path_buf());
            Node::File { mode, mtime }
        }
        Node::Symlink(target) => {
            sources.files.insert(rel.to_path_buf());
            Node::Symlink(target)
        }
    }
}

/// The files of the tree that the makefile builds: explicit targets with a
/// recipe, and files a pattern rule (user or built-in) would make from other
/// files of the tree, such as `main.o` beside `main.c`.
struct Generated {
    paths: HashSet<PathBuf>,
}

impl Generated {
    fn new(
        db: &Database,
        roots: &[&Path],
        all: &[PathBuf],
        protected: &HashSet<PathBuf>,
    ) -> Generated {
        let mut paths: HashSet<PathBuf> = HashSet::new();
        let mut explicit: HashSet<String> = HashSet::new();
        for (name, target) in &db.targets {
            if !target.is_target || db.specials.phony.contains(&**name) {
                continue;
            }
            let has_recipe = target.recipe.is_some()
                || target.double_colon.iter().any(|r| r.recipe.is_some())
                || target.static_stem.is_some();
            let Some(rel) = roots.iter().find_map(|r| relative(name, r)) else {
                continue;
            };
            explicit.insert(rel.clone());
            if has_recipe {
                paths.insert(PathBuf::from(rel));
            }
        }
        let existing: HashSet<String> = all
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        // A chain (`x.c` from `x.y`, then `x.o` from `x.c`) needs a few passes.
        for _ in 0..3 {
            let before = paths.len();
            for file in all {
                let name = file.to_string_lossy();
                if paths.contains(file)
                    || !is_made_by_pattern(db, &name, &existing, &explicit, &paths)
                {
                    continue;
                }
                paths.insert(file.clone());
            }
            if paths.len() == before {
                break;
            }
        }
        for p in protected {
            paths.remove(p);
        }
        Generated { paths }
    }
}

/// A target name as a path relative to the project root (`./x` → `x`);
/// `None` for names outside the project.
pub fn relative(name: &str, root: &Path) -> Option<String> {
    let mut rel = if Path::new(name).is_absolute() {
        let stripped = Path::new(name).strip_prefix(root).ok()?;
        stripped.to_string_lossy().into_owned()
    } else {
        name.to_string()
    };
    while let Some(rest) = rel.strip_prefix("./") {
        rel = rest.to_string();
    }
    let rel = rel.trim_end_matches('/').to_string();
    (!rel.is_empty() && !rel.starts_with("../")).then_some(rel)
}

fn is_made_by_pattern(
    db: &Database,
    name: &str,
    existing: &HashSet<String>,
    explicit: &HashSet<String>,
    generated: &HashSet<PathBuf>,
) -> bool {
    // A prerequisite that is itself built counts: chains are followed.
    let available = |dep: &str| {
        let dep = dep.strip_prefix("./").unwrap_or(dep);
        existing.contains(dep) || explicit.contains(dep) || generated.contains(Path::new(dep))
    };
    db.pattern_rules
        .iter()
        .filter(|r| r.recipe.is_some())
        .any(|rule| {
            rule.targets.iter().any(|pattern| {
                let Some((dir, stem)) = match_pattern(pattern, name) else {
                    return false;
                };
                // A match-anything rule applies to any name: only count it
                // when its prerequisites are real files.
                rule.deps.iter().all(|d| {
                    if d.name.contains('(') {
                        return false;
                    }
                    let dep = match d.name.split_once('%') {
                        Some((pre, post)) => format!("{}{}{}{}", dir, pre, stem, post),
                        None => d.name.to_string(),
                    };
                    available(&dep)
                }) && !rule.deps.is_empty()
            })
        })
}

/// Match `name` against a pattern with one `%`. A pattern without a slash
/// matches the file name alone, as make does; the directory is returned to be
/// put in front of the prerequisites.
fn match_pattern<'a>(pattern: &str, name: &'a str) -> Option<(&'a str, &'a str)> {
    if pattern.contains('(') {
        return None;
    }
    let (pre, post) = pattern.split_once('%')?;
    let (dir, base) = if pattern.contains('/') {
        ("", name)
    } else {
        match name.rfind('/') {
            Some(i) => name.split_at(i + 1),
            None => ("", name),
        }
    };
    if base.len() < pre.len() + post.len() || !base.starts_with(pre) || !base.ends_with(post) {
        return None;
    }
    Some((dir, &base[pre.len()..base.len() - post.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_file_names_in_directories() {
        assert_eq!(match_pattern("%.o", "src/a.o"), Some(("src/", "a")));
        assert_eq!(match_pattern("out/%.o", "out/a.o"), Some(("", "a")));
        assert_eq!(match_pattern("%.o", "a.c"), None);
        assert_eq!(
            relative("./out/x", Path::new("/p")).as_deref(),
            Some("out/x")
        );
        assert_eq!(
            relative("/p/out/x", Path::new("/p")).as_deref(),
            Some("out/x")
        );
        assert_eq!(relative("/elsewhere/x", Path::new("/p")), None);
    }
}
