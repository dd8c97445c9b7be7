//! Errors and locations shared by every layer, printed in GNU make's words
//! with `hbuild` in place of `make`.

use std::fmt;
use std::sync::Arc;

use std::sync::OnceLock;

/// The program name used in messages (`hbuild: *** ...`).
pub const PROG: &str = "hbuild";

static PREFIX: OnceLock<String> = OnceLock::new();

/// Record the recursion level: sub-makes prefix messages with `hbuild[N]`.
pub fn set_level(level: u32) {
    let _ = PREFIX.set(if level == 0 {
        PROG.to_string()
    } else {
        format!("{}[{}]", PROG, level)
    });
}

/// The prefix of hbuild's own messages: `hbuild`, or `hbuild[N]` in a sub-make.
pub fn prog() -> &'static str {
    PREFIX.get().map(String::as_str).unwrap_or(PROG)
}

/// A fatal error as make prints it.
pub fn fatal_text(e: &Fatal) -> String {
    e.to_string()
}

/// A place in a makefile: the file name as the user wrote it and a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: usize,
}

/// The file name of what the command line assigns (`make X=1`).
pub const COMMAND_LINE: &str = "<command-line>";

impl Loc {
    pub fn new(file: &Arc<str>, line: usize) -> Loc {
        Loc {
            file: file.clone(),
            line,
        }
    }

    /// Of make's built-in rules and variables.
    pub fn is_builtin(&self) -> bool {
        &*self.file == crate::lang::eval::BUILTIN
    }

    /// Of a command-line assignment.
    pub fn is_command_line(&self) -> bool {
        &*self.file == COMMAND_LINE
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // make names its built-in rules without a line (`<builtin>: ...`).
        if self.is_builtin() {
            return write!(f, "{}", self.file);
        }
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A fatal error: make prints `LOC: *** MSG.  Stop.` (or `hbuild: *** MSG.  Stop.`
/// without a location) and exits with status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    pub loc: Option<Loc>,
    pub msg: String,
}

pub type Result<T> = std::result::Result<T, Fatal>;

impl Fatal {
    pub fn new(msg: impl Into<String>) -> Fatal {
        Fatal {
            loc: None,
            msg: msg.into(),
        }
    }
    pub fn at(loc: Option<&Loc>, msg: impl Into<String>) -> Fatal {
        Fatal {
            loc: loc.cloned(),
            msg: msg.into(),
        }
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.loc {
            Some(loc) => write!(f, "{}: *** {}.  Stop.", loc, self.msg),
            None => write!(f, "{}: *** {}.  Stop.", prog(), self.msg),
        }
    }
}

/// Print a warning the way make does: `LOC: warning: MSG` or `hbuild: MSG`.
pub fn warn(loc: Option<&Loc>, msg: &str) {
    crate::engine::output::enter_directory();
    match loc {
        Some(loc) => eprintln!("{}: warning: {}", loc, msg),
        None => eprintln!("{}: {}", prog(), msg),
    }
}

/// Print a message tied to a makefile line without the word "warning", as make
/// does for some diagnostics: `LOC: MSG`.
pub fn message(loc: &Loc, msg: &str) {
    crate::engine::output::enter_directory();
    eprintln!("{}: {}", loc, msg);
}
