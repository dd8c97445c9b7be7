//! The status line: drawn on a terminal (run under a pseudo-terminal with
//! util-linux `script`), never when output is not a terminal, `-s` or
//! `--progress=never` — then the output is GNU make's, byte for byte.

use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_hbuild");

/// The ANSI sequence the status line redraws with.
const ERASE_LINE: &str = "\r\x1b[K";

const MAKEFILE: &str = "\
all: one two three
one two three:
\t@sleep 0.1
\techo building $@ with a fairly long recipe line
\t@echo done $@
";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Makefile"), MAKEFILE).unwrap();
    dir
}

fn run_piped(program: &str, args: &[&str], dir: &Path) -> (String, String, Option<i32>) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

/// Run `hbuild ARGS` on a pseudo-terminal; returns what the terminal got, or
/// `None` when `script` is not available.
fn run_on_pty(args: &str, dir: &Path) -> Option<String> {
    let cmd = format!("{} {}", BIN, args);
    let out = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .env("TERM", "xterm")
        .env("COLUMNS", "60")
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output();
    match out {
        Ok(o) => {
            assert!(o.status.success(), "{:?}", o);
            Some(String::from_utf8_lossy(&o.stdout).into_owned())
        }
        Err(e) => {
            eprintln!("skipped: cannot run script ({})", e);
            None
        }
    }
}

/// What a terminal shows after `raw`: `\r` returns to the line start,
/// `ESC[K` erases to the end of the line, `\n` starts a new one.
fn screen(raw: &str) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let mut col = 0;
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("\x1b[K") {
            lines.last_mut().unwrap().truncate(col);
            rest = r;
            continue;
        }
        rest = &rest[c.len_utf8()..];
        let cur = lines.last_mut().unwrap();
        match c {
            '\r' => col = 0,
            '\n' => {
                lines.push(Vec::new());
                col = 0;
            }
            c => {
                if col < cur.len() {
                    cur[col] = c;
                } else {
                    cur.push(c);
                }
                col += 1;
            }
        }
    }
    lines.into_iter().map(|l| l.into_iter().collect()).collect()
}

fn recipe_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for t in ["one", "two", "three"] {
        lines.push(format!(
            "echo building {} with a fairly long recipe line",
            t
        ));
        lines.push(format!("building {} with a fairly long recipe line", t));
        lines.push(format!("done {}", t));
    }
    lines
}

#[test]
fn without_a_terminal_the_output_is_make_s() {
    let dir = fixture();
    let (make_out, make_err, make_status) = run_piped("make", &[], dir.path());
    for args in [&[][..], &["--progress=auto"][..]] {
        let (out, err, status) = run_piped(BIN, args, dir.path());
        assert_eq!(out, make_out, "stdout with {:?}", args);
        assert_eq!(
            err,
            make_err.replace("make", "hbuild"),
            "stderr with {:?}",
            args
        );
        assert_eq!(status, make_status);
        assert!(!out.contains('\x1b'));
    }
}

#[test]
fn no_status_line_when_never_or_silent() {
    let dir = fixture();
    for args in ["--progress=never", "-s"] {
        let Some(raw) = run_on_pty(args, dir.path()) else {
            return;
        };
        assert!(
            !raw.contains(ERASE_LINE),
            "{} drew a status line: {:?}",
            args,
            raw
        );
    }
}

#[test]
fn status_line_on_a_terminal_keeps_recipe_lines_intact() {
    let dir = fixture();
    for args in ["-j2", "--progress=always -j3"] {
        let Some(raw) = run_on_pty(args, dir.path()) else {
            return;
        };
        assert!(
            raw.contains(ERASE_LINE),
            "no status line with {}: {:?}",
            args,
            raw
        );
        assert!(
            raw.contains("/3]"),
            "no step counter with {}: {:?}",
            args,
            raw
        );
        let shown = screen(&raw);
        for line in recipe_lines() {
            assert!(
                shown.iter().any(|l| l == &line),
                "line {:?} torn or missing with {}: {:#?}",
                line,
                args,
                shown
            );
        }
        // Nothing but recipe output is left once the build is over.
        let leftover: Vec<&String> = shown
            .iter()
            .filter(|l| !l.is_empty() && !recipe_lines().contains(l))
            .collect();
        assert!(leftover.is_empty(), "{:?}", leftover);
    }
}
