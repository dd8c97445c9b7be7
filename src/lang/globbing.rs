//! Shell wildcards in file names, with glibc `glob` semantics: each pattern's
//! matches sorted, a leading `.` matched only explicitly (then `.` and `..`
//! count too), names without wildcards kept when they exist (even as a
//! dangling link). Used by `$(wildcard)` and for the words of rule and
//! `include` lines.

use crate::graph::archive::{member_names, split_member};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// True if a word of a rule or `include` line may stand for other names than
/// itself: it starts with `~` or holds a wildcard character (make looks for
/// them without regard to backslashes, which only `glob` then honours).
pub fn is_file_pattern(word: &str) -> bool {
    word.starts_with('~') || has_wildcard_char(word)
}

fn has_wildcard_char(word: &str) -> bool {
    word.bytes().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// The names a word of a rule or `include` line stands for: a leading `~`
/// or `~user` becomes the home directory, then a word with wildcards becomes
/// the files it matches, sorted, or stays as it is if it matches none (so a
/// rule can still make it). In an archive member word `lib.a(m*.o)` the
/// archive part matches files and the member part the archives' members.
pub fn file_names(word: &str) -> Vec<String> {
    let word = expand_tilde(word);
    if !has_wildcard_char(&word) {
        return vec![word];
    }
    let found = match split_member(&word) {
        Some((archive, member)) => archive_members(archive, member),
        None => glob(&word),
    };
    if found.is_empty() {
        vec![word]
    } else {
        found
    }
}

/// `archive(member)` for each archive file `archive` matches; a `member` with
/// wildcards is matched against the members of each, and kept as it is for
/// an archive where it matches none.
fn archive_members(archive: &str, member: &str) -> Vec<String> {
    let mut out = Vec::new();
    for ar in glob(archive) {
        let mut found: Vec<String> = if has_magic(member) {
            member_names(&ar)
                .into_iter()
                .filter(|m| !m.starts_with('.') || member.starts_with('.'))
                .filter(|m| fnmatch(member.as_bytes(), m.as_bytes()))
                .collect()
        } else {
            Vec::new()
        };
        if found.is_empty() {
            found.push(member.to_string());
        }
        found.sort_unstable();
        found.dedup();
        out.extend(found.into_iter().map(|m| format!("{}({})", ar, m)));
    }
    out
}

/// `~` and `~user` at the start of `pat` replaced by the home directory.
pub fn expand_tilde(pat: &str) -> String {
    let Some(rest) = pat.strip_prefix('~') else {
        return pat.to_string();
    };
    let (user, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let home = if user.is_empty() {
        std::env::var("HOME").ok()
    } else {
        home_of(user)
    };
    match home {
        Some(h) => format!("{}{}", h, tail),
        None => pat.to_string(),
    }
}

fn home_of(user: &str) -> Option<String> {
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam returns null or a pointer to a static record whose
    // pw_dir is a NUL-terminated string; it is copied before any other call.
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() || (*pw).pw_dir.is_null() {
            return None;
        }
        let dir = std::ffi::CStr::from_ptr((*pw).pw_dir);
        Some(dir.to_string_lossy().into_owned())
    }
}

/// True if `s` has an unquoted `*`, `?` or a `[` closed later by `]`.
fn has_magic(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'*' | b'?' => return true,
            b'[' if b[i + 1..].contains(&b']') => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// `s` with its quoting backslashes removed.
fn unquote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn exists(p: &str) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

fn is_dir(p: &str) -> bool {
    Path::new(p).is_dir()
}

/// All matches of one pattern, sorted.
pub fn glob(pat: &str) -> Vec<String> {
    let mut found = glob_unsorted(pat);
    found.sort_unstable();
    found
}

fn glob_unsorted(pat: &str) -> Vec<String> {
    if !has_magic(pat) {
        let name = unquote(pat);
        return if exists(&name) {
            vec![name]
        } else {
            Vec::new()
        };
    }
    let body = pat.trim_end_matches('/');
    if body.len() < pat.len() {
        // A trailing slash asks for directories only, and is kept.
        let slashes = &pat[body.len()..];
        return glob_unsorted(body)
            .into_iter()
            .filter(|d| is_dir(d))
            .map(|d| format!("{}{}", d, slashes))
            .collect();
    }
    // Directories to search, each with the text that prefixes its matches.
    let (dirs, base): (Vec<(String, String)>, &str) = match pat.rfind('/') {
        None => (vec![(".".to_string(), String::new())], pat),
        Some(0) => (vec![("/".to_string(), "/".to_string())], &pat[1..]),
        Some(i) => {
            let dir_pat = &pat[..i];
            let dirs = if has_magic(dir_pat) {
                glob_unsorted(dir_pat)
                    .into_iter()
                    .filter(|d| is_dir(d))
                    .collect()
            } else {
                vec![unquote(dir_pat)]
            };
            let dirs = dirs
                .into_iter()
                .map(|d| {
                    let prefix = format!("{}/", d);
                    (d, prefix)
                })
                .collect();
            (dirs, &pat[i + 1..])
        }
    };
    let mut out = Vec::new();
    for (dir, prefix) in dirs {
        if !has_magic(base) {
            let name = format!("{}{}", prefix, unquote(base));
            if exists(&name) {
                out.push(name);
            }
            continue;
        }
        for name in matching_entries(&dir, base) {
            out.push(format!("{}{}", prefix, name));
        }
    }
    out
}

/// The names in directory `dir` that match the wildcard component `pat`.
fn matching_entries(dir: &str, pat: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let explicit_dot = pat.starts_with('.') || pat.starts_with("\\.");
    let mut names: Vec<Vec<u8>> = Vec::new();
    if explicit_dot {
        names.push(b".".to_vec());
        names.push(b"..".to_vec());
    }
    names.extend(entries.flatten().map(|e| e.file_name().as_bytes().to_vec()));
    names
        .into_iter()
        .filter(|n| (explicit_dot || !n.starts_with(b".")) && fnmatch(pat.as_bytes(), n))
        .map(|n| String::from_utf8_lossy(&n).into_owned())
        .collect()
}

/// Shell wildcard matching of one path component (no `/` in either).
pub fn fnmatch(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    // Where to resume after the last `*`: pattern index and name index.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let step = if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                b'?' if n < name.len() => Some(1),
                b'[' => match bracket(&pat[p..], name.get(n).copied()) {
                    Some((true, len)) => Some(len),
                    Some((false, _)) => None,
                    None if name.get(n) == Some(&b'[') => Some(1),
                    None => None,
                },
                b'\\' if p + 1 < pat.len() => (name.get(n) == Some(&pat[p + 1])).then_some(2),
                c => (name.get(n) == Some(&c)).then_some(1),
            }
        } else if n == name.len() {
            return true;
        } else {
            None
        };
        match step {
            Some(len) => {
                p += len;
                n += 1;
            }
            None => match star {
                Some((sp, sn)) if sn < name.len() => {
                    star = Some((sp, sn + 1));
                    p = sp;
                    n = sn + 1;
                }
                _ => return false,
            },
        }
    }
}

/// Match `c` against the bracket expression at the start of `pat`:
/// `Some((matched, length))`, or `None` if it is not closed (then `[` is
/// an ordinary character).
fn bracket(pat: &[u8], c: Option<u8>) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let b = *pat.get(i)?;
        if b == b']' && !first {
            break;
        }
        first = false;
        if b == b'[' && pat.get(i + 1) == Some(&b':') {
            if let Some(end) = pat[i + 2..].windows(2).position(|w| w == b":]") {
                let class = &pat[i + 2..i + 2 + end];
                hit |= c.is_some_and(|c| in_class(class, c));
                i += end + 4;
                continue;
            }
        }
        let (lo, mut next) = if b == b'\\' && i + 1 < pat.len() {
            (pat[i + 1], i + 2)
        } else {
            (b, i + 1)
        };
        let mut hi = lo;
        if pat.get(next) == Some(&b'-') && pat.get(next + 1).is_some_and(|&e| e != b']') {
            hi = pat[next + 1];
            next += 2;
            if hi == b'\\' {
                hi = *pat.get(next)?;
                next += 1;
            }
        }
        hit |= c.is_some_and(|c| lo <= c && c <= hi);
        i = next;
    }
    Some((c.is_some() && hit != negate, i + 1))
}

fn in_class(class: &[u8], c: u8) -> bool {
    match class {
        b"alpha" => c.is_ascii_alphabetic(),
        b"digit" => c.is_ascii_digit(),
        b"alnum" => c.is_ascii_alphanumeric(),
        b"upper" => c.is_ascii_uppercase(),
        b"lower" => c.is_ascii_lowercase(),
        b"space" => c.is_ascii_whitespace() || c == 0x0b,
        b"blank" => c == b' ' || c == b'\t',
        b"punct" => c.is_ascii_punctuation(),
        b"xdigit" => c.is_ascii_hexdigit(),
        b"cntrl" => c.is_ascii_control(),
        b"print" => (0x20..0x7f).contains(&c),
        b"graph" => c.is_ascii_graphic(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_words_become_files_or_stay() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().to_str().unwrap();
        for f in ["b.c", "a.c", ".h.c"] {
            std::fs::write(format!("{root}/{f}"), "").unwrap();
        }
        let at = |names: &[&str]| -> Vec<String> {
            names.iter().map(|n| format!("{root}/{n}")).collect()
        };
        assert_eq!(file_names(&format!("{root}/*.c")), at(&["a.c", "b.c"]));
        assert_eq!(file_names(&format!("{root}/.*.c")), at(&[".h.c"]));
        assert_eq!(file_names(&format!("{root}/*.x")), at(&["*.x"]));
        assert_eq!(file_names(&format!("{root}/\\a.c")), at(&["\\a.c"]));
        assert_eq!(file_names(&format!("{root}/\\a.?")), at(&["a.c"]));
        // A member without wildcards is not looked for.
        assert_eq!(
            file_names(&format!("{root}/*.c(x.o)")),
            at(&["a.c(x.o)", "b.c(x.o)"])
        );
        assert_eq!(file_names("~root/x"), ["/root/x"]);
        assert_eq!(file_names("plain"), ["plain"]);
        assert!(!is_file_pattern("a/b.c") && is_file_pattern("~/x") && is_file_pattern("a["));
    }

    #[test]
    fn tilde_and_fnmatch() {
        assert_eq!(expand_tilde("~root/x"), "/root/x");
        assert_eq!(expand_tilde("~no_such_user_hb/x"), "~no_such_user_hb/x");
        assert_eq!(expand_tilde("a~"), "a~");
        let m = |p: &str, n: &str| fnmatch(p.as_bytes(), n.as_bytes());
        assert!(m("*.c", "a.c") && m("a*b*c", "axxbyyc") && !m("a*b*c", "axxbyy"));
        assert!(m("[]]", "]") && m("[!]]", "a") && !m("[!]]", "]"));
        assert!(m("[a-]", "-") && m("x[", "x[") && m("\\*", "*") && !m("\\*", "a"));
        assert!(m("[[:digit:]x]", "7") && m("[[:digit:]x]", "x") && !m("[[:digit:]x]", "y"));
        assert!(m("*", "") && !m("?", ""));
    }
}
