//! The words of `.UNVEIL`: `[rwxc:]PATH` (rights default to `r`; `~` is
//! $HOME; a path that does not exist is skipped when the sandbox is built)
//! and `preset:NAME`. A blank in a path is written `\ `, as in a list of
//! prerequisites.

use super::policy::{Entry, Origin};
use super::presets;
use super::rights::Rights;
use crate::diag::{Fatal, Loc};
use std::path::PathBuf;

/// The words of a `.UNVEIL` value: split as a list of prerequisites is, at
/// blanks except one after a backslash (`r:in\ dir/a\ b.txt`).
pub fn split_words(text: &str) -> Vec<String> {
    crate::lang::eval::name_words(text)
}

/// What one `.UNVEIL` word asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Word {
    Path(PathBuf, Rights),
    Preset(&'static str),
}

/// Parse one word; `home` replaces a leading `~`.
pub fn parse_word(word: &str, home: Option<&str>, loc: &Loc) -> Result<Word, Fatal> {
    if let Some(name) = word.strip_prefix("preset:") {
        return match presets::NAMES.iter().find(|n| **n == name) {
            Some(n) => Ok(Word::Preset(n)),
            None => Err(Fatal::at(
                Some(loc),
                format!(
                    "unknown .UNVEIL preset '{}' (known: {})",
                    name,
                    presets::NAMES.join(" ")
                ),
            )),
        };
    }
    let (rights, path) = match word.split_once(':') {
        Some((letters, path)) => {
            let mut rights = Rights::NONE;
            for c in letters.chars() {
                rights |= Rights::from_letter(c).ok_or_else(|| {
                    Fatal::at(
                        Some(loc),
                        format!(
                            "unknown .UNVEIL permission '{}' in '{}' (use r, w, x, c)",
                            c, word
                        ),
                    )
                })?;
            }
            (rights, path)
        }
        None => (Rights::READ, word),
    };
    if path.is_empty() {
        return Err(Fatal::at(
            Some(loc),
            format!(".UNVEIL word '{}' has no path", word),
        ));
    }
    let path = match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            PathBuf::from(format!("{}{}", home, rest))
        }
        (Some(rest), None) if rest.is_empty() || rest.starts_with('/') => {
            return Err(Fatal::at(
                Some(loc),
                format!(".UNVEIL word '{}' uses ~ but HOME is not set", word),
            ))
        }
        _ => PathBuf::from(path),
    };
    Ok(Word::Path(path, rights))
}

/// The entries for all `.UNVEIL` words (each with its location), plus the TCP
/// ports the named presets open.
pub fn entries(
    words: &[(String, Loc)],
    home: Option<&str>,
) -> Result<(Vec<Entry>, Vec<u16>), Fatal> {
    let mut out = Vec::new();
    let mut ports = Vec::new();
    for (word, loc) in words {
        match parse_word(word, home, loc)? {
            Word::Path(path, rights) => out.push(Entry {
                path,
                rights,
                origin: Origin::Unveil(loc.clone()),
                note: None,
            }),
            Word::Preset(name) => {
                for mut e in presets::entries(name).unwrap_or_default() {
                    e.origin = Origin::UnveilPreset(name, loc.clone());
                    out.push(e);
                }
                ports.extend_from_slice(presets::connect_ports(name));
            }
        }
    }
    Ok((out, ports))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn loc() -> Loc {
        Loc::new(&Arc::from("Makefile"), 12)
    }

    #[test]
    fn words_keep_escaped_blanks() {
        assert_eq!(
            split_words(" r:a\\ b.txt\trwc:in\\ dir/x  preset:tty \\ "),
            ["r:a b.txt", "rwc:in dir/x", "preset:tty", " "]
        );
        assert_eq!(split_words("a\\b c"), ["a\\b", "c"]);
    }

    fn p(w: &str) -> Result<Word, String> {
        parse_word(w, Some("/home/u"), &loc()).map_err(|e| e.to_string())
    }

    #[test]
    fn words() {
        assert_eq!(p("src"), Ok(Word::Path("src".into(), Rights::READ)));
        assert_eq!(p("rx:/opt/x"), Ok(Word::Path("/opt/x".into(), Rights::RX)));
        assert_eq!(
            p("rwc:~/cache"),
            Ok(Word::Path(
                "/home/u/cache".into(),
                Rights::RW | Rights::CREATE
            ))
        );
        assert_eq!(p("~user"), Ok(Word::Path("~user".into(), Rights::READ)));
        assert_eq!(p("r:a:b"), Ok(Word::Path("a:b".into(), Rights::READ)));
        assert_eq!(p("preset:tty"), Ok(Word::Preset("tty")));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            p("preset:foo"),
            Err("Makefile:12: *** unknown .UNVEIL preset 'foo' (known: system runtime tty dns certs vminfo tmp).  Stop.".into())
        );
        assert_eq!(
            p("q:/x"),
            Err("Makefile:12: *** unknown .UNVEIL permission 'q' in 'q:/x' (use r, w, x, c).  Stop.".into())
        );
        assert!(p("rw:").is_err());
    }
}
