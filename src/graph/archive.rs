//! Archive members as targets: `lib.a(member.o)` names a member of an `ar`
//! archive, and its time is the member's date in the archive header.

use crate::graph::disk::MTime;
use std::io::Read;

/// `("lib.a", "member.o")` for `lib.a(member.o)`.
pub fn split_member(name: &str) -> Option<(&str, &str)> {
    let open = name.find('(')?;
    let inner = name[open + 1..].strip_suffix(')')?;
    (open > 0 && !inner.is_empty() && !inner.contains('(')).then(|| (&name[..open], inner))
}

/// Names with archive member groups written out: `lib.a(x.o y.o)` is
/// `lib.a(x.o) lib.a(y.o)`. A group runs from a word holding `(` and not
/// ending in `)` to the next word that ends in `)`; without one, the words
/// stay as they are.
pub fn split_groups(words: Vec<String>) -> Vec<String> {
    let opens = |w: &str| w.contains('(') && !w.ends_with(')');
    if !words.iter().any(|w| opens(w)) {
        return words;
    }
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let close = match opens(&words[i]) {
            true => words[i + 1..].iter().position(|w| w.ends_with(')')),
            false => None,
        };
        let Some(close) = close.map(|p| i + 1 + p) else {
            out.push(words[i].clone());
            i += 1;
            continue;
        };
        let (prefix, first) = words[i].split_at(words[i].find('(').unwrap_or(0) + 1);
        let last = &words[close][..words[close].len() - 1];
        let middle = words[i + 1..close].iter().map(String::as_str);
        let members = std::iter::once(first)
            .chain(middle)
            .chain(std::iter::once(last));
        out.extend(
            members
                .filter(|m| !m.is_empty())
                .map(|m| format!("{}{})", prefix, m)),
        );
        i = close + 1;
    }
    out
}

/// The date of `member` inside `archive`, in nanoseconds; `None` if either is
/// missing or the archive cannot be read.
pub fn member_mtime(archive: &str, member: &str) -> MTime {
    let mut data = Vec::new();
    std::fs::File::open(archive)
        .ok()?
        .read_to_end(&mut data)
        .ok()?;
    // A date of 0 (as deterministic `ar` writes) is "unknown" to make: the
    // member counts as missing.
    let secs = find_member_date(&data, member).filter(|&secs| secs != 0)?;
    Some(secs as i128 * 1_000_000_000)
}

/// The names of the members of `archive`, in archive order; empty if it
/// cannot be read.
pub fn member_names(archive: &str) -> Vec<String> {
    let Ok(data) = std::fs::read(archive) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    walk_members(&data, |name, _| {
        names.push(name.to_string());
        false
    });
    names
}

/// The date of `member` in the archive `data`, by its last path component.
fn find_member_date(data: &[u8], member: &str) -> Option<i64> {
    let want = member.rsplit('/').next().unwrap_or(member);
    let mut found = None;
    walk_members(data, |name, date| {
        found = (name == want).then_some(date);
        found.is_some()
    });
    found
}

/// Walk the `ar` headers (GNU and BSD long-name forms), calling `visit` with
/// each member's name and date until it returns true.
fn walk_members(data: &[u8], mut visit: impl FnMut(&str, i64) -> bool) -> Option<()> {
    let body = data.strip_prefix(b"!<arch>\n")?;
    let mut pos = 0usize;
    let mut long_names: &[u8] = &[];
    while pos + 60 <= body.len() {
        let h = &body[pos..pos + 60];
        let field = |a: usize, b: usize| std::str::from_utf8(&h[a..b]).unwrap_or("").trim_end();
        let raw_name = field(0, 16).to_string();
        let date: i64 = field(16, 28).parse().unwrap_or(0);
        let size: usize = field(48, 58).parse().ok()?;
        let content = body.get(pos + 60..pos + 60 + size)?;
        let name: String = if raw_name == "//" {
            long_names = content;
            String::new()
        } else if raw_name == "/" || raw_name == "/SYM64/" {
            String::new()
        } else if let Some(off) = raw_name.strip_prefix('/') {
            let off: usize = off.parse().ok()?;
            let rest = long_names.get(off..)?;
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end])
                .trim_end_matches('/')
                .to_string()
        } else if let Some(len) = raw_name.strip_prefix("#1/") {
            let len: usize = len.parse().ok()?;
            String::from_utf8_lossy(content.get(..len)?)
                .trim_end_matches('\0')
                .to_string()
        } else {
            raw_name.trim_end_matches('/').to_string()
        };
        if !name.is_empty() && visit(&name, date) {
            return Some(());
        }
        pos += 60 + size + (size & 1);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, date: i64, size: usize) -> Vec<u8> {
        format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name, date, 0, 0, 644, size
        )
        .into_bytes()
    }

    #[test]
    fn members_found_by_short_and_long_names() {
        let mut a = b"!<arch>\n".to_vec();
        a.extend(header("//", 0, 24));
        a.extend(b"a_very_long_member.o/\n\n\n");
        a.extend(header("x.o/", 77, 3));
        a.extend(b"abc\n");
        a.extend(header("/0", 99, 2));
        a.extend(b"zz");
        assert_eq!(find_member_date(&a, "x.o"), Some(77));
        assert_eq!(find_member_date(&a, "a_very_long_member.o"), Some(99));
        assert_eq!(find_member_date(&a, "y.o"), None);
        let mut names = Vec::new();
        walk_members(&a, |n, _| {
            names.push(n.to_string());
            false
        });
        assert_eq!(names, ["x.o", "a_very_long_member.o"]);
        assert_eq!(split_member("lib.a(x.o)"), Some(("lib.a", "x.o")));
        assert_eq!(split_member("plain.o"), None);
        let groups = |s: &str| split_groups(s.split(' ').map(str::to_string).collect());
        assert_eq!(groups("l(a b) c"), ["l(a)", "l(b)", "c"]);
        assert_eq!(groups("l( a ) l( )"), ["l(a)"]);
        assert_eq!(groups("l(a m(b) c)"), ["l(a)", "l(m(b)", "c)"]);
        assert_eq!(groups("l(a b)x"), ["l(a", "b)x"]);
    }
}
