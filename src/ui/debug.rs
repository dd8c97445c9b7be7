//! `--debug=basic` (and `-d`, `--debug` without flags): make's account of
//! why each target is remade, on stdout, indented by how deep in the
//! dependency walk the target is:
//!
//! ```text
//! Updating goal targets....
//!  File 'all' does not exist.
//!      Prerequisite 'b.c' is newer than target 'b.o'.
//!     Must remake target 'b.o'.
//!     Successfully remade target file 'b.o'.
//! ```
//!
//! A target `L` levels below a goal says what it found at `2L+1` spaces and
//! what it does at `2L`, as make. Only the basic level is implemented: the
//! verbose, implicit-rule and job traces of `-d` are not printed.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static BASIC: AtomicBool = AtomicBool::new(false);

/// Turn the output on from the options: `-d`, or `--debug` flags of which
/// one asks for at least the basic level (make takes each word's first
/// letter: `a`ll, `b`asic, `v`erbose and `i`mplicit include basic).
pub fn configure(all: bool, flags: &[String]) {
    let mut on = all;
    for word in flags.iter().flat_map(|f| f.split([',', ' '])) {
        match word.chars().next() {
            Some('a' | 'b' | 'v' | 'i') => on = true,
            Some('n') => on = false,
            _ => {}
        }
    }
    BASIC.store(on, Ordering::Relaxed);
}

pub fn basic() -> bool {
    BASIC.load(Ordering::Relaxed)
}

/// Output off while it lives (remaking the makefiles), back on after.
pub struct Pause(bool);

impl Pause {
    /// Pause the output now.
    pub fn start() -> Pause {
        Pause(BASIC.swap(false, Ordering::Relaxed))
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        BASIC.store(self.0, Ordering::Relaxed);
    }
}

/// One line at `indent` spaces (flushed: it interleaves with recipe output).
pub fn say(indent: usize, text: std::fmt::Arguments) {
    if !basic() {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{:indent$}{}", "", text, indent = indent);
    let _ = out.flush();
}

/// A phase of the run: `Reading makefiles...`, `Updating goal targets....`.
pub fn phase(text: &str) {
    say(0, format_args!("{}", text));
}

/// What make prints first when any debugging output is on.
pub fn banner() {
    if basic() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(crate::cli::version_text().as_bytes());
        let _ = out.flush();
    }
}
