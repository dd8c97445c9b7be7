//! Small text operations of the Make language shared by expansion, functions and
//! the graph: words, `%` patterns and pattern substitution.

/// The whitespace-separated words of `s`.
pub fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

/// A `%` pattern split at its first unescaped `%`: `prefix%suffix`.
/// Backslashes that quote a `%` are removed from the prefix, as make does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub prefix: String,
    pub suffix: String,
}

impl Pattern {
    /// `None` if `pat` has no unescaped `%`.
    pub fn parse(pat: &str) -> Option<Pattern> {
        let bytes = pat.as_bytes();
        // Most words have no `%`, and most patterns no backslash.
        let first = bytes.iter().position(|&b| b == b'%')?;
        if !bytes[..first].contains(&b'\\') {
            return Some(Pattern {
                prefix: pat[..first].to_string(),
                suffix: pat[first + 1..].to_string(),
            });
        }
        let mut prefix = String::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'%' => {
                    return Some(Pattern {
                        prefix,
                        suffix: pat[i + 1..].to_string(),
                    })
                }
                b'\\' => {
                    // a run of backslashes before `%`: every pair is one backslash,
                    // an odd one quotes the `%`.
                    let start = i;
                    while i < bytes.len() && bytes[i] == b'\\' {
                        i += 1;
                    }
                    let n = i - start;
                    if i < bytes.len() && bytes[i] == b'%' {
                        prefix.push_str(&"\\".repeat(n / 2));
                        if n % 2 == 1 {
                            prefix.push('%');
                            i += 1;
                        }
                    } else {
                        prefix.push_str(&pat[start..i]);
                    }
                    continue;
                }
                _ => {
                    let ch = pat[i..].chars().next().unwrap_or('\0');
                    prefix.push(ch);
                    i += ch.len_utf8().max(1);
                    continue;
                }
            }
        }
        None
    }

    /// The stem if `word` matches.
    pub fn matches<'a>(&self, word: &'a str) -> Option<&'a str> {
        if word.len() >= self.prefix.len() + self.suffix.len()
            && word.starts_with(&self.prefix)
            && word.ends_with(&self.suffix)
        {
            Some(&word[self.prefix.len()..word.len() - self.suffix.len()])
        } else {
            None
        }
    }

    /// The pattern with `%` replaced by `stem`.
    pub fn fill(&self, stem: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + stem.len() + self.suffix.len());
        s.push_str(&self.prefix);
        s.push_str(stem);
        s.push_str(&self.suffix);
        s
    }
}

/// Unquote `\%` in a word that has no pattern role (`%` absent), as make does for
/// the replacement text of patsubst when the pattern has no `%`.
fn unescape_percent(s: &str) -> String {
    match Pattern::parse(s) {
        Some(_) => s.to_string(),
        None => s.replace("\\%", "%"),
    }
}

/// `$(patsubst PATTERN,REPLACEMENT,TEXT)`: words are rejoined with single spaces.
pub fn patsubst(pattern: &str, replacement: &str, text: &str) -> String {
    let mut out = String::new();
    let pat = Pattern::parse(pattern);
    let rep = Pattern::parse(replacement);
    for w in words(text) {
        if !out.is_empty() {
            out.push(' ');
        }
        match &pat {
            Some(p) => match p.matches(w) {
                Some(stem) => match &rep {
                    Some(r) => out.push_str(&r.fill(stem)),
                    None => out.push_str(&unescape_percent(replacement)),
                },
                None => out.push_str(w),
            },
            None => {
                if w == unescape_percent(pattern) {
                    out.push_str(&unescape_percent(replacement));
                } else {
                    out.push_str(w);
                }
            }
        }
    }
    out
}

/// A substitution reference `$(VAR:FROM=TO)`: `FROM` without `%` means a suffix.
pub fn subst_ref(from: &str, to: &str, text: &str) -> String {
    if Pattern::parse(from).is_some() {
        patsubst(from, to, text)
    } else {
        patsubst(&format!("%{}", from), &format!("%{}", to), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_parse_and_match() {
        let p = Pattern::parse("a%.c").unwrap();
        assert_eq!(p.matches("abc.c"), Some("bc"));
        assert_eq!(p.matches("b.c"), None);
        assert_eq!(p.fill("x"), "ax.c");
        assert!(Pattern::parse("abc").is_none());
        let q = Pattern::parse("x\\%y%z").unwrap();
        assert_eq!(q.prefix, "x%y");
    }

    #[test]
    fn patsubst_words() {
        assert_eq!(patsubst("%.c", "%.o", " a.c  b.h c.c "), "a.o b.h c.o");
        assert_eq!(subst_ref(".c", ".o", "a.c b.c.c d"), "a.o b.c.o d");
        assert_eq!(patsubst("a", "b", "a aa"), "b aa");
    }
}
