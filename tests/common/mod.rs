//! Helpers for the differential harness: running a program with a timeout,
//! snapshotting a directory tree, normalising output, and line diffs.

#![allow(dead_code)]

pub mod project;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// What one invocation did, after normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// What ran: `args: ...` or the script's name.
    pub label: String,
    pub status: String,
    pub stdout: String,
    pub stderr: String,
}

/// One entry of a directory snapshot (relative path → entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir,
    File { contents: String, executable: bool },
    Symlink(String),
}

pub type Snapshot = BTreeMap<String, Entry>;

/// Run `program args` in `dir` with exactly `env`, stdin closed, killing the
/// whole process group after `timeout`. Output is returned raw (lossy UTF-8).
pub fn run_with_timeout(
    program: &str,
    args: &[String],
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> (String, String, String) {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group, so a timeout kills recipes' children too.
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (format!("spawn failed: {e}"), String::new(), String::new()),
    };
    let pgid = child.id() as i32;
    let out_reader = spawn_reader(child.stdout.take());
    let err_reader = spawn_reader(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break describe_status(st),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(pgid);
                let _ = child.wait();
                break format!("timeout after {}s (killed)", timeout.as_secs());
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(e) => break format!("wait failed: {e}"),
        }
    };
    // Stray background processes would keep the pipes open forever.
    kill_group(pgid);
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    (status, stdout, stderr)
}

fn spawn_reader<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn kill_group(pgid: i32) {
    // SAFETY: plain syscall on a process group we created; failure is harmless.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

fn describe_status(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".to_string(),
    }
}

/// Copy a fixture into `dst`, skipping the harness's control files at the top
/// level, then give every copied file and directory the same fixed mtime so
/// that up-to-date decisions never depend on copy order.
pub fn copy_fixture(src: &Path, dst: &Path, control: &[&str], mtime: SystemTime) {
    copy_tree(src, dst, control, true);
    set_mtimes(dst, mtime);
}

fn copy_tree(src: &Path, dst: &Path, control: &[&str], top: bool) {
    let mut entries: Vec<_> = fs::read_dir(src)
        .unwrap_or_else(|e| panic!("reading {}: {e}", src.display()))
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if top && control.iter().any(|c| name == *c) {
            continue;
        }
        let from = entry.path();
        let to = dst.join(&name);
        let meta = fs::symlink_metadata(&from).expect("fixture metadata");
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&from).expect("fixture symlink");
            std::os::unix::fs::symlink(target, &to).expect("copy symlink");
        } else if meta.is_dir() {
            fs::create_dir(&to).expect("copy dir");
            copy_tree(&from, &to, control, false);
        } else {
            fs::copy(&from, &to).expect("copy file");
        }
    }
}

fn set_mtimes(dir: &Path, mtime: SystemTime) {
    for entry in fs::read_dir(dir).expect("read copy").flatten() {
        let path = entry.path();
        let ft = entry.file_type().expect("file type");
        if ft.is_dir() {
            set_mtimes(&path, mtime);
        } else if ft.is_file() {
            if let Ok(f) = fs::File::options().write(true).open(&path) {
                let _ = f.set_modified(mtime);
            }
        }
    }
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.set_modified(mtime);
    }
}

/// Every file, directory and symlink under `root` (excluding `root`), with
/// contents passed through `normalise` when they are text.
pub fn snapshot(root: &Path, normalise: &dyn Fn(&str) -> String) -> Snapshot {
    let mut out = Snapshot::new();
    walk(root, root, normalise, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, normalise: &dyn Fn(&str) -> String, out: &mut Snapshot) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for entry in rd.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path).unwrap_or_default();
            out.insert(rel, Entry::Symlink(normalise(&target.to_string_lossy())));
        } else if meta.is_dir() {
            out.insert(rel, Entry::Dir);
            walk(root, &path, normalise, out);
        } else {
            let executable = meta.permissions().mode() & 0o111 != 0;
            let contents = match fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => normalise(&text),
                    Err(e) => describe_binary(e.as_bytes()),
                },
                Err(e) => format!("<unreadable: {e}>"),
            };
            out.insert(
                rel,
                Entry::File {
                    contents,
                    executable,
                },
            );
        }
    }
}

/// Binary files (objects, archives) are compared by size and FNV-1a hash.
fn describe_binary(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("<binary: {} bytes, fnv1a {hash:016x}>", bytes.len())
}

/// Exact-string replacements, applied in order; longer paths must come first.
pub fn replace_all(text: &str, pairs: &[(String, String)]) -> String {
    let mut s = text.to_string();
    for (from, to) in pairs {
        if !from.is_empty() {
            s = s.replace(from.as_str(), to);
        }
    }
    s
}

/// Map make's own message prefix at the start of a line to hbuild's:
/// `make: ` → `hbuild: ` and `make[N]: ` → `hbuild[N]: `. Nothing else.
pub fn rename_make_prefixes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        out.push_str(&rename_line_prefix(line));
    }
    out
}

fn rename_line_prefix(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("make: ") {
        return format!("hbuild: {rest}");
    }
    if let Some(rest) = line.strip_prefix("make[") {
        if let Some(close) = rest.find("]: ") {
            let level = &rest[..close];
            if !level.is_empty() && level.bytes().all(|b| b.is_ascii_digit()) {
                return format!("hbuild[{level}]: {}", &rest[close + 3..]);
            }
        }
    }
    line.to_string()
}

/// A readable line diff (`-` left only, `+` right only, two lines of context),
/// capped at `max_lines` output lines (0 = no cap).
pub fn line_diff(left: &str, right: &str, max_lines: usize) -> Vec<String> {
    let a: Vec<&str> = left.lines().collect();
    let b: Vec<&str> = right.lines().collect();
    let mut ops = if a.len().saturating_mul(b.len()) > 4_000_000 {
        // Too big for the table: show both sides whole.
        let mut v: Vec<(char, &str)> = a.iter().map(|l| ('-', *l)).collect();
        v.extend(b.iter().map(|l| ('+', *l)));
        v
    } else {
        lcs_ops(&a, &b)
    };
    if !left.is_empty() && !right.is_empty() && left.ends_with('\n') != right.ends_with('\n') {
        ops.push(('!', "(one side lacks the final newline)"));
    }
    let mut out = Vec::new();
    let near_change = |i: usize| {
        let lo = i.saturating_sub(2);
        let hi = (i + 2).min(ops.len() - 1);
        (lo..=hi).any(|j| ops[j].0 != ' ')
    };
    let mut skipped = false;
    for (i, (tag, line)) in ops.iter().enumerate() {
        if *tag == ' ' && !near_change(i) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push("      ...".to_string());
            skipped = false;
        }
        out.push(format!("    {tag} {line}"));
    }
    if max_lines > 0 && out.len() > max_lines {
        let more = out.len() - max_lines;
        out.truncate(max_lines);
        out.push(format!(
            "      ... {more} more diff lines (DIFF_FULL=1 shows all)"
        ));
    }
    out
}

fn lcs_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(char, &'a str)> {
    let (n, m) = (a.len(), b.len());
    let mut table = vec![0u32; (n + 1) * (m + 1)];
    let idx = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            table[idx(i, j)] = if a[i] == b[j] {
                table[idx(i + 1, j + 1)] + 1
            } else {
                table[idx(i + 1, j)].max(table[idx(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || table[idx(i + 1, j)] >= table[idx(i, j + 1)]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    ops
}

/// The canonical form of a path as a string (falls back to the path itself).
pub fn canonical_string(p: &Path) -> String {
    fs::canonicalize(p)
        .unwrap_or_else(|_| PathBuf::from(p))
        .to_string_lossy()
        .into_owned()
}
