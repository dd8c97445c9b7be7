//! The live status line on a terminal, as ninja shows it:
//!
//! ```text
//! [ 37/120] 4.2s, 3 running: out/foo.o
//! ```
//!
//! steps finished / steps known, time since the build started, how many
//! recipes run now, and the step started last. The line is redrawn in place
//! (`\r` then `ESC[K`, erase to end of line) and cut to the terminal's width so
//! it never wraps. Everything else hbuild prints while the line is shown goes
//! through `print_above`/`eprint_above`, which erase the line, write the text
//! and draw the line again below it: output is never torn or overwritten.
//!
//! Recipes' own output must reach the terminal through those calls too, so
//! while the line is on the engine captures each job's output (as
//! `--output-sync=target` does) and prints it when the job ends, as ninja does.
//!
//! When the line is off (`--progress=never`, not a terminal, `-s`), every call
//! writes the text unchanged: output is byte-for-byte make's.

use std::io::{self, Write};
use std::sync::Mutex;
use std::time::Instant;

/// Erase from the cursor to the end of the line.
const ERASE_LINE: &[u8] = b"\r\x1b[K";

/// Width assumed when the terminal does not say.
const DEFAULT_WIDTH: usize = 80;

/// Whether the status line is wanted: `--progress=always`, or `auto` (the
/// default) when stdout is a terminal that can redraw, `-s` is not given and
/// this is not a sub-make (whose parent owns the terminal line).
pub fn wanted(progress: Option<&str>, silent: bool, level: u32) -> bool {
    match progress {
        Some("always") => true,
        Some("never") => false,
        _ => {
            !silent
                && level == 0
                && stdout_is_terminal()
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

fn stdout_is_terminal() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(1) == 1 }
}

/// The terminal's width in columns (stdout, then stderr, then `COLUMNS`).
pub fn terminal_width() -> usize {
    for fd in [1, 2] {
        // SAFETY: TIOCGWINSZ fills a zeroed winsize; failure leaves it zero.
        let cols = unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) == 0 {
                ws.ws_col as usize
            } else {
                0
            }
        };
        if cols > 0 {
            return cols;
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

type Sink = Box<dyn Write + Send>;

/// The status line and the only writer of the terminal while it is shown.
pub struct Status {
    enabled: bool,
    out: Sink,
    err: Sink,
    /// Fixed width (tests); `None`: ask the terminal at each redraw, so a
    /// resized window is followed.
    width: Option<usize>,
    total: usize,
    started: usize,
    finished: usize,
    failed: usize,
    /// Running steps, oldest first.
    running: Vec<String>,
    start: Instant,
    drawn: bool,
}

impl Status {
    /// A status line on stdout (messages on stderr) expecting `total_steps`
    /// steps (0 when unknown: the count of steps started so far is shown).
    pub fn new(total_steps: usize, enabled: bool) -> Status {
        Status::with_writers(
            total_steps,
            enabled,
            None,
            Box::new(io::stdout()),
            Box::new(io::stderr()),
        )
    }

    /// A status line writing to `out` and `err`, `width` columns wide
    /// (`None`: the terminal's width).
    pub fn with_writers(
        total_steps: usize,
        enabled: bool,
        width: Option<usize>,
        out: Sink,
        err: Sink,
    ) -> Status {
        Status {
            enabled,
            out,
            err,
            width,
            total: total_steps,
            started: 0,
            finished: 0,
            failed: 0,
            running: Vec::new(),
            start: Instant::now(),
            drawn: false,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Steps finished so far, and how many of them failed.
    pub fn counts(&self) -> (usize, usize) {
        (self.finished, self.failed)
    }

    /// The number of steps the build will run, once known.
    pub fn set_total(&mut self, total_steps: usize) {
        self.total = total_steps;
        self.redraw();
    }

    pub fn step_started(&mut self, target: &str) {
        self.started += 1;
        self.running.push(target.to_string());
        self.redraw();
    }

    pub fn step_finished(&mut self, target: &str, ok: bool) {
        if let Some(i) = self.running.iter().rposition(|t| t == target) {
            self.running.remove(i);
        }
        self.finished += 1;
        if !ok {
            self.failed += 1;
        }
        self.redraw();
    }

    /// Write `bytes` to stdout above the status line.
    pub fn print_above(&mut self, bytes: &[u8]) {
        self.above(bytes, false);
    }

    /// Write `bytes` to stderr above the status line.
    pub fn eprint_above(&mut self, bytes: &[u8]) {
        self.above(bytes, true);
    }

    fn above(&mut self, bytes: &[u8], to_err: bool) {
        if bytes.is_empty() {
            return;
        }
        if !self.enabled {
            let w = if to_err { &mut self.err } else { &mut self.out };
            let _ = w.write_all(bytes).and_then(|_| w.flush());
            return;
        }
        self.erase();
        {
            let w = if to_err { &mut self.err } else { &mut self.out };
            let _ = w.write_all(bytes);
            // The line is drawn at the start of a line: text without a final
            // newline would be overwritten by it.
            if !bytes.ends_with(b"\n") {
                let _ = w.write_all(b"\n");
            }
            let _ = w.flush();
        }
        self.redraw();
    }

    /// Take the line off the screen for good (the build is over).
    pub fn finish(&mut self) {
        if self.enabled {
            self.erase();
            self.enabled = false;
        }
    }

    fn erase(&mut self) {
        if self.drawn {
            let _ = self
                .out
                .write_all(ERASE_LINE)
                .and_then(|_| self.out.flush());
            self.drawn = false;
        }
    }

    /// The status text, cut to `width` columns.
    pub fn line(&self, width: usize) -> String {
        let total = self.total.max(self.started);
        let digits = total.to_string().len();
        let mut head = format!(
            "[{:>w$}/{}] {:.1}s",
            self.finished,
            total,
            self.start.elapsed().as_secs_f64(),
            w = digits
        );
        if self.failed > 0 {
            head.push_str(&format!(", {} failed", self.failed));
        }
        if !self.running.is_empty() {
            head.push_str(&format!(", {} running", self.running.len()));
        }
        // Keep the last column free: writing there makes some terminals wrap.
        let room = width.saturating_sub(1);
        let Some(current) = self.running.last() else {
            return cut(&head, room);
        };
        let head = format!("{}: ", head);
        let head_len = head.chars().count();
        if head_len >= room {
            return cut(&head, room);
        }
        format!("{}{}", head, elide_middle(current, room - head_len))
    }

    fn redraw(&mut self) {
        if !self.enabled {
            return;
        }
        let width = self.width.unwrap_or_else(terminal_width);
        let line = self.line(width);
        let mut buf = Vec::with_capacity(line.len() + 4);
        buf.extend_from_slice(ERASE_LINE);
        buf.extend_from_slice(line.as_bytes());
        let _ = self.out.write_all(&buf).and_then(|_| self.out.flush());
        self.drawn = true;
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The first `n` characters of `s`.
fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// `s` in at most `n` characters, the middle replaced by `...` when too long
/// (both ends of a path say the most).
fn elide_middle(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n {
        return s.to_string();
    }
    if n <= 3 {
        return cut(s, n);
    }
    let keep = n - 3;
    let front = keep / 2;
    let back = keep - front;
    let head: String = s.chars().take(front).collect();
    let tail: String = s.chars().skip(len - back).collect();
    format!("{}...{}", head, tail)
}

/// The status line of this process, once the engine installs one; hbuild's
/// output goes through it so the line is never torn.
static GLOBAL: Mutex<Option<Status>> = Mutex::new(None);

/// Make `status` the process's status line (replacing any other).
pub fn install(status: Status) {
    let mut g = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
    *g = Some(status);
}

/// Remove the process's status line, erasing it from the screen.
pub fn uninstall() {
    let taken = GLOBAL.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mut s) = taken {
        s.finish();
    }
}

/// Run `f` on the process's status line, if one is installed.
pub fn with<R>(f: impl FnOnce(&mut Status) -> R) -> Option<R> {
    let mut g = GLOBAL.lock().unwrap_or_else(|p| p.into_inner());
    g.as_mut().map(f)
}

/// Write to stdout, above the status line when there is one.
pub fn write_stdout(bytes: &[u8]) {
    crate::engine::output::enter_directory();
    if with(|s| s.print_above(bytes)).is_none() {
        let mut out = io::stdout().lock();
        let _ = out.write_all(bytes).and_then(|_| out.flush());
    }
}

/// Write to stderr, above the status line when there is one.
pub fn write_stderr(bytes: &[u8]) {
    crate::engine::output::enter_directory();
    if with(|s| s.eprint_above(bytes)).is_none() {
        let _ = io::stderr().lock().write_all(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer tests can read back after the status line wrote into it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// What a terminal shows after `raw`: `\r` returns to the line start,
    /// `ESC[K` erases to its end, `\n` starts a new line.
    fn screen(raw: &str) -> Vec<String> {
        let mut lines = vec![String::new()];
        let mut col = 0;
        let mut rest = raw;
        while let Some(c) = rest.chars().next() {
            if let Some(r) = rest.strip_prefix("\x1b[K") {
                let cur = lines.last_mut().unwrap();
                *cur = cur.chars().take(col).collect();
                rest = r;
                continue;
            }
            rest = &rest[c.len_utf8()..];
            let cur = lines.last_mut().unwrap();
            match c {
                '\r' => col = 0,
                '\n' => {
                    lines.push(String::new());
                    col = 0;
                }
                c => {
                    let mut chars: Vec<char> = cur.chars().collect();
                    if col < chars.len() {
                        chars[col] = c;
                    } else {
                        chars.push(c);
                    }
                    *cur = chars.into_iter().collect();
                    col += 1;
                }
            }
        }
        lines
    }

    fn status(total: usize, enabled: bool, width: usize) -> (Status, Shared) {
        let out = Shared::default();
        let s = Status::with_writers(
            total,
            enabled,
            Some(width),
            Box::new(out.clone()),
            Box::new(out.clone()),
        );
        (s, out)
    }

    #[test]
    fn line_shows_counts_running_and_latest_step() {
        let (mut s, out) = status(120, true, 80);
        s.step_started("out/foo.o");
        let text = out.text();
        assert!(text.starts_with("\r\x1b[K[  0/120] "), "{:?}", text);
        assert!(text.ends_with("s, 1 running: out/foo.o"), "{:?}", text);
        s.step_finished("out/foo.o", true);
        assert!(
            out.text().ends_with("\r\x1b[K[  1/120] 0.0s"),
            "{:?}",
            out.text()
        );
    }

    #[test]
    fn output_goes_above_the_line_intact() {
        let (mut s, out) = status(3, true, 80);
        s.step_started("a");
        s.print_above(b"cc -c a.c\n");
        s.step_started("b");
        s.eprint_above(b"warning: no newline");
        s.step_finished("a", true);
        s.step_finished("b", false);
        s.finish();
        let shown = screen(&out.text());
        assert_eq!(shown, ["cc -c a.c", "warning: no newline", ""]);
    }

    #[test]
    fn line_never_exceeds_the_width() {
        let (mut s, out) = status(5, true, 40);
        let long = "very/long/directory/name/with/many/parts/file.o";
        s.step_started(long);
        let shown = screen(&out.text());
        let last = shown.last().unwrap();
        assert!(last.chars().count() <= 39, "{:?}", last);
        assert!(last.contains("..."), "{:?}", last);
        assert!(last.ends_with("file.o"), "{:?}", last);
        // A terminal too narrow for the counters still gets no wrap.
        assert!(s.line(5).chars().count() <= 4);
    }

    #[test]
    fn disabled_writes_exactly_the_output() {
        let (mut s, out) = status(2, false, 80);
        s.step_started("a");
        s.print_above(b"echo a\n");
        s.eprint_above(b"partial");
        s.step_finished("a", true);
        s.finish();
        assert_eq!(out.text(), "echo a\npartial");
    }

    #[test]
    fn unknown_total_counts_steps_started() {
        let (mut s, _out) = status(0, true, 80);
        s.step_started("a");
        s.step_started("b");
        s.step_finished("a", false);
        let line = s.line(80);
        assert!(line.starts_with("[1/2] "), "{}", line);
        assert!(line.contains("1 failed, 1 running: b"), "{}", line);
        assert_eq!(s.counts(), (1, 1));
    }

    #[test]
    fn elide_middle_keeps_both_ends() {
        assert_eq!(elide_middle("abcdefghij", 10), "abcdefghij");
        assert_eq!(elide_middle("abcdefghij", 7), "ab...ij");
        assert_eq!(elide_middle("abcdefghij", 2), "ab");
        assert_eq!(elide_middle("ééééé", 4), "...é");
    }

    #[test]
    fn wanted_follows_progress_setting() {
        assert!(wanted(Some("always"), true, 3));
        assert!(!wanted(Some("never"), false, 0));
        // `cargo test` output is captured, so stdout is no terminal here
        // unless run with --nocapture on one; `-s` disables it regardless.
        assert!(!wanted(Some("auto"), true, 0));
        assert!(!wanted(None, false, 1));
    }
}
