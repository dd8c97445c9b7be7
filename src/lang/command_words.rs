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
    // A newline is a metacharacter, unless a backslash before it makes the
    // shell join the lines (recipes continued with `\`, as the Linux
    // kernel's `$(MAKE)` lines are).
    let bare_newline = text
        .match_indices('\n')
        .any(|(i, _)| !text[..i].ends_with('\\'));
    if bare_newline || text.contains(|c: char| "#;\"*?[]&|<>(){}$`^~!".contains(c)) {
        return None;
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => return None,
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
                        // (A backslash-newline is kept inside quotes.)
                        Some('\n') => return None,
                        Some(ch) => cur.push(ch),
                        None => return None,
                    }
                }
            }
            '\\' => match chars.next()? {
                // The shell removes a backslash-newline: the words around it
                // join unless blanks separate them.
                '\n' => {}
                ch => {
                    in_word = true;
                    cur.push(ch);
                }
            },
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
