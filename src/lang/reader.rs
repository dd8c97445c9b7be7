//! Splits makefile text into logical lines: joins continuations the way make
//! does for makefile lines and for recipe lines, and strips comments.

/// A makefile's text and a cursor over its physical lines. Lines are kept
/// as ranges of the text, not one allocation each: a generated makefile can
/// have hundreds of thousands.
pub struct Reader {
    text: String,
    lines: Vec<std::ops::Range<usize>>,
    next: usize,
}

/// One logical line and the number of its first physical line (1-based).
pub struct Logical {
    pub text: String,
    pub line: usize,
}

impl Reader {
    pub fn new(text: &str) -> Reader {
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split('\n') {
            let end = start + line.len();
            let trimmed = if line.ends_with('\r') { end - 1 } else { end };
            lines.push(start..trimmed);
            start = end + 1;
        }
        if text.ends_with('\n') {
            lines.pop();
        }
        Reader {
            text: text.to_string(),
            lines,
            next: 0,
        }
    }

    fn line(&self, i: usize) -> Option<&str> {
        self.lines.get(i).map(|r| &self.text[r.clone()])
    }

    /// The next physical line, without consuming it.
    pub fn peek(&self) -> Option<&str> {
        self.line(self.next)
    }

    pub fn at_end(&self) -> bool {
        self.next >= self.lines.len()
    }

    /// The next line with its continuations, backslash-newlines kept as they are.
    /// Continuation lines of a recipe lose their leading recipe prefix.
    pub fn next_raw(&mut self, recipe_prefix: Option<char>) -> Option<Logical> {
        let first = self.next;
        let mut text = self.line(first)?.to_string();
        self.next += 1;
        while ends_with_continuation(&text) && self.next < self.lines.len() {
            text.push('\n');
            let cont = &self.text[self.lines[self.next].clone()];
            let cont = match recipe_prefix {
                Some(p) => cont.strip_prefix(p).unwrap_or(cont),
                None => cont,
            };
            text.push_str(cont);
            self.next += 1;
        }
        if ends_with_continuation(&text) && self.text.ends_with('\n') {
            // The last line ends in a backslash-newline: as in make, it
            // continues onto an empty line.
            text.push('\n');
        }
        Some(Logical {
            text,
            line: first + 1,
        })
    }
}

/// True if the line ends with an odd number of backslashes.
pub fn ends_with_continuation(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Collapse backslash-newlines of a makefile (non-recipe) line: the backslash,
/// the newline and the whitespace around them become one space.
pub fn collapse_continuations(s: &str) -> String {
    if !s.contains("\\\n") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\n') {
        let (head, tail) = rest.split_at(pos);
        // `head` ends with the continuation backslash (only newlines that follow
        // an odd run of backslashes are in the text).
        let mut h = head.strip_suffix('\\').unwrap_or(head);
        // An even run before the final backslash means backslashes are literal,
        // but make still joins: keep them.
        h = h.trim_end_matches([' ', '\t']);
        out.push_str(h);
        out.push(' ');
        rest = tail[1..].trim_start_matches([' ', '\t']);
    }
    out.push_str(rest);
    // Collapsing may leave a trailing space where the last line was empty.
    out
}

/// Remove a comment: the first `#` that is not escaped by a backslash and not
/// inside a `$(...)`/`${...}` reference. `\#` becomes `#`.
pub fn strip_comment(s: &str) -> String {
    if !s.contains('#') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut closers: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if i + 1 < bytes.len() && (bytes[i + 1] == b'(' || bytes[i + 1] == b'{') => {
                closers.push(if bytes[i + 1] == b'(' { b')' } else { b'}' });
                i += 2;
                continue;
            }
            b'(' | b'{' if !closers.is_empty() => {
                closers.push(if bytes[i] == b'(' { b')' } else { b'}' });
            }
            b')' | b'}' if closers.last() == Some(&bytes[i]) => {
                closers.pop();
            }
            b'\\' if closers.is_empty() => {
                let start = i;
                while i < bytes.len() && bytes[i] == b'\\' {
                    i += 1;
                }
                if i < bytes.len() && bytes[i] == b'#' {
                    let n = i - start;
                    out.push_str(&s[copied..start]);
                    out.push_str(&"\\".repeat(n / 2));
                    if n % 2 == 1 {
                        out.push('#');
                        i += 1;
                        copied = i;
                    } else {
                        return out;
                    }
                }
                continue;
            }
            b'#' if closers.is_empty() => {
                out.push_str(&s[copied..i]);
                return out;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&s[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_comments() {
        let mut r = Reader::new("A = x  \\\n   y\n\tcmd \\\n\tmore\n");
        let l = r.next_raw(None).unwrap();
        assert_eq!(collapse_continuations(&l.text), "A = x y");
        let l = r.next_raw(Some('\t')).unwrap();
        assert_eq!(l.text, "\tcmd \\\nmore");
        assert_eq!(l.line, 3);
        assert!(r.next_raw(None).is_none());
        assert_eq!(strip_comment("a = b # c"), "a = b ");
        assert_eq!(strip_comment("a = b\\#c"), "a = b#c");
        assert_eq!(strip_comment("x = $(f a#b) c#d"), "x = $(f a#b) c");
        assert_eq!(strip_comment("W = {#}"), "W = {");
    }
}
