//! What a build produced (every file that is not a copied source), hashed in
//! parallel, and how two builds' outputs differ.

use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::hash::Hasher;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// One output of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    File { size: u64, mode: u32, hash: u64 },
    Symlink(PathBuf),
}

/// The outputs of one build, by path relative to the project root.
pub type Snapshot = BTreeMap<PathBuf, Output>;

/// List and hash the outputs of the build in `dir`: files and symlinks that
/// are not among the copied `sources`.
pub fn snapshot(dir: &Path, sources: &HashSet<PathBuf>) -> Snapshot {
    let mut found = Vec::new();
    walk(dir, Path::new(""), sources, &mut found);
    found
        .into_par_iter()
        .filter_map(|(rel, is_link)| {
            let path = dir.join(&rel);
            let out = if is_link {
                Output::Symlink(fs::read_link(&path).ok()?)
            } else {
                let meta = fs::metadata(&path).ok()?;
                Output::File {
                    size: meta.len(),
                    mode: meta.permissions().mode() & 0o7777,
                    hash: hash_file(&path)?,
                }
            };
            Some((rel, out))
        })
        .collect()
}

fn walk(root: &Path, rel: &Path, sources: &HashSet<PathBuf>, out: &mut Vec<(PathBuf, bool)>) {
    let Ok(entries) = fs::read_dir(root.join(rel)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = rel.join(entry.file_name());
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                walk(root, &path, sources, out);
            }
        } else if (kind.is_file() || kind.is_symlink()) && !sources.contains(&path) {
            out.push((path, kind.is_symlink()));
        }
    }
}

/// A 64-bit SipHash of the contents (fixed keys, so stable within one run,
/// which is all a comparison needs); sizes are compared as well.
fn hash_file(path: &Path) -> Option<u64> {
    let mut file = fs::File::open(path).ok()?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.write(&buf[..n]);
    }
    Some(hasher.finish())
}

/// Mode bits that follow the umask of whoever builds (0022 vs 0002 differ
/// in group write only; other write is masked by both usual umasks): every
/// new file has them set or not, so comparing them would flag every output.
/// A mode that matters shows up once it is recorded in an output (an archive).
pub const UMASK_BITS: u32 = 0o022;

/// Whether two builds made the same output.
pub fn same(a: Option<&Output>, b: Option<&Output>) -> bool {
    match (a, b) {
        (
            Some(Output::File {
                size: s1,
                mode: m1,
                hash: h1,
            }),
            Some(Output::File {
                size: s2,
                mode: m2,
                hash: h2,
            }),
        ) => s1 == s2 && h1 == h2 && (m1 & !UMASK_BITS) == (m2 & !UMASK_BITS),
        (a, b) => a == b,
    }
}

/// The outputs that differ between two builds (in content, mode, or by being
/// made by only one of them), in path order.
pub fn differing(a: &Snapshot, b: &Snapshot) -> BTreeSet<PathBuf> {
    a.keys()
        .chain(b.keys())
        .filter(|k| !same(a.get(*k), b.get(*k)))
        .cloned()
        .collect()
}

/// Where two files first differ, and the bytes around that place.
pub struct ByteDiff {
    pub offset: u64,
    pub context: [String; 2],
}

/// Bytes shown on each side of the first difference.
const CONTEXT: u64 = 16;

/// Find the first differing byte of two files (`None` if the contents are
/// equal or unreadable).
pub fn first_difference(a: &Path, b: &Path) -> Option<ByteDiff> {
    let (mut fa, mut fb) = (fs::File::open(a).ok()?, fs::File::open(b).ok()?);
    let mut offset = 0u64;
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let na = read_full(&mut fa, &mut ba)?;
        let nb = read_full(&mut fb, &mut bb)?;
        let common = na.min(nb);
        if let Some(i) = (0..common).find(|&i| ba[i] != bb[i]) {
            offset += i as u64;
            break;
        }
        if na != nb {
            offset += common as u64;
            break;
        }
        if na == 0 {
            return None;
        }
        offset += na as u64;
    }
    let start = offset.saturating_sub(CONTEXT);
    Some(ByteDiff {
        offset,
        context: [context(a, start), context(b, start)],
    })
}

/// Fill `buf` as far as the file allows; returns how much was read.
fn read_full(file: &mut fs::File, buf: &mut [u8]) -> Option<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(filled)
}

fn context(path: &Path, start: u64) -> String {
    use std::io::{Seek, SeekFrom};
    let mut bytes = vec![0u8; (2 * CONTEXT) as usize];
    let n = fs::File::open(path)
        .and_then(|mut f| {
            f.seek(SeekFrom::Start(start))?;
            Ok(read_full(&mut f, &mut bytes).unwrap_or(0))
        })
        .unwrap_or(0);
    escape(&bytes[..n])
}

/// Bytes as readable text: printable ASCII as is, the rest escaped.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{:02x}", b)),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_first_difference_and_context() {
        let dir = std::env::temp_dir().join(format!("hbuild-cmp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a"), dir.join("b"));
        fs::write(&a, "built at 10:00\n").unwrap();
        fs::write(&b, "built at 11:00\n").unwrap();
        let d = first_difference(&a, &b).unwrap();
        assert_eq!(d.offset, 10);
        assert_eq!(d.context[0], "built at 10:00\\n");
        fs::write(&b, "built at 10:00\n").unwrap();
        assert!(first_difference(&a, &b).is_none());
        fs::write(&b, "built").unwrap();
        assert_eq!(first_difference(&a, &b).unwrap().offset, 5);
        fs::remove_dir_all(&dir).unwrap();
    }
}
