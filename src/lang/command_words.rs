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

/// Characters the shell would interpret when they stand outside quotes.
const META: &str = "#;\"*?[]&|<>(){}$`^~!";

/// The words of `text` if it can run without a shell: nothing the shell
/// would interpret outside single quotes, no built-in, no assignment. Inside
/// single quotes every character is literal; outside, a backslash makes the
/// next one literal and a backslash-newline joins the lines (recipes
/// continued with `\`, as the Linux kernel's `$(MAKE)` lines are). make
/// splits the same lines itself, so `sh -c 'kill $$$$'` runs no extra shell.
pub fn direct_argv(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    // An unquoted `=` in the first word makes it an assignment.
    let mut assignment = false;
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
                    match chars.next()? {
                        '\'' => break,
                        // Only a backslash-newline can be part of a line.
                        '\n' if !cur.ends_with('\\') => return None,
                        ch => cur.push(ch),
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
            '\n' => return None,
            c if META.contains(c) => return None,
            c => {
                assignment |= c == '=' && words.is_empty();
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    let first = words.first()?;
    if assignment || SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}
