//! Copying the sources into a build directory, keeping modes, modification
//! times and symlinks. The entries of each directory are created in sorted or
//! reverse-sorted order: on tmpfs, `readdir` follows creation order, so this
//! varies the directory listing order a build sees.

use super::sources::Node;
use std::fs::{self, FileTimes};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Copy `node` (the tree read from `from`) to `to`, which must not exist.
pub fn copy_tree(node: &Node, from: &Path, to: &Path, reverse: bool) -> std::io::Result<()> {
    match node {
        Node::Dir {
            mode,
            mtime,
            children,
        } => {
            fs::create_dir(to)?;
            let ordered: Box<dyn Iterator<Item = _>> = if reverse {
                Box::new(children.iter().rev())
            } else {
                Box::new(children.iter())
            };
            for (name, child) in ordered {
                copy_tree(child, &from.join(name), &to.join(name), reverse)?;
            }
            // After the children: adding them changed the directory's time,
            // and a read-only directory could not have been filled.
            set_mtime(to, *mtime);
            fs::set_permissions(to, fs::Permissions::from_mode(*mode))?;
        }
        Node::File { mode, mtime } => {
            fs::copy(from, to)?;
            set_mtime(to, *mtime);
            fs::set_permissions(to, fs::Permissions::from_mode(*mode))?;
        }
        Node::Symlink(target) => std::os::unix::fs::symlink(target, to)?,
    }
    Ok(())
}

/// Keep the source's modification time: tools that record it (archives,
/// `__TIMESTAMP__`) would otherwise see the time of the copy. Best effort.
fn set_mtime(path: &Path, mtime: std::time::SystemTime) {
    if let Ok(file) = fs::File::open(path) {
        let _ = file.set_times(FileTimes::new().set_modified(mtime).set_accessed(mtime));
    }
}

/// Remove a tree the builds wrote, even where a build left directories
/// read-only.
pub fn remove_tree(path: &Path) {
    if fs::remove_dir_all(path).is_ok() || !path.exists() {
        return;
    }
    make_writable(path);
    let _ = fs::remove_dir_all(path);
}

fn make_writable(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode() | 0o700;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
    if let Ok(entries) = fs::read_dir(path) {
        for entry in entries.flatten() {
            make_writable(&entry.path());
        }
    }
}
