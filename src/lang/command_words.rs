//! Splitting a command line into words when no shell is needed to run it, as
//! make does for recipes and `$(shell)` when `SHELL` is `/bin/sh`: plain words,
//! single quotes and backslashes, nothing the shell would interpret.

/// Shell built-ins and keywords: a line starting with one needs the shell.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "alias", "bg", "break", "case", "cd", "command", "continue", "eval", "exec", "exit",
    "export", "fc", "fg", "for", "getopts", "hash", "if", "jobs", "login", "logout", "read",
    "readonly", "return", "set", "shift", "test", "times", "trap", "type", "ulimit", "umask",
    "unalias", "unset", "wait", "while", "[", "then", "do", "done", "fi", "until", "esac",
];

/// The words of `text` if it can run without a shell: no metacharacters, no
/// built-in, no assignment. Single quotes and backslashes are handled here.
pub fn direct_argv(text: &str) -> Option<Vec<String>> {
    if text.contains(|c: char| "#;\"*?[]&|<>(){}$`^~!\n".contains(c)) {
        return None;
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return None,
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    let first = words.first()?;
    if first.contains('=') || SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}
