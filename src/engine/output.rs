//! Where a job's output goes: straight to hbuild's stdout/stderr, or under
//! `--output-sync` into anonymous in-memory files that are copied out in one
//! piece (per command line for `line`, per recipe for `target`/`recurse`), so
//! jobs never interleave. hbuild's own messages for a job (the echoed command,
//! errors) go the same way so they stay next to the output they explain.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::OnceLock;

/// How make prints `Entering`/`Leaving directory`, when it does: around each
/// block of synced output (`-Otarget`/`-Oline` run in parallel), or once
/// for the run, lazily: only when it first prints something or starts a
/// process (whose output may follow), so a run that shows nothing says
/// nothing, and `Leaving` only after `Entering`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectoryLines {
    PerBlock,
    Once,
}

const NO_LINES: u8 = 0;
const PER_BLOCK: u8 = 1;
const ONCE: u8 = 2;
static DIRECTORY_MODE: AtomicU8 = AtomicU8::new(NO_LINES);
/// The `Entering`/`Leaving` lines, once set.
static DIRECTORY_LINES: OnceLock<(String, String)> = OnceLock::new();
static DIRECTORY_ENTERED: AtomicBool = AtomicBool::new(false);

/// Print the directory lines for this run; `entered`: a run before a
/// re-execution already printed `Entering`.
pub fn announce_directory(prog: &str, dir: &str, how: DirectoryLines, entered: bool) {
    let _ = DIRECTORY_LINES.set((
        format!("{}: Entering directory '{}'\n", prog, dir),
        format!("{}: Leaving directory '{}'\n", prog, dir),
    ));
    DIRECTORY_ENTERED.store(entered, Ordering::SeqCst);
    DIRECTORY_MODE.store(mode_of(how), Ordering::SeqCst);
}

fn mode_of(how: DirectoryLines) -> u8 {
    match how {
        DirectoryLines::PerBlock => PER_BLOCK,
        DirectoryLines::Once => ONCE,
    }
}

/// Change how the lines are printed (make drops output sync once it knows
/// it runs one job at a time).
pub fn set_directory_lines(how: DirectoryLines) {
    let mode = mode_of(how);
    // Only a run that prints the directory at all changes mode.
    let _ = DIRECTORY_MODE.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| {
        (m != NO_LINES).then_some(mode)
    });
}

/// The directory lines, if they are printed as `how` says.
fn directory_lines(how: u8) -> Option<&'static (String, String)> {
    (DIRECTORY_MODE.load(Ordering::SeqCst) == how)
        .then(|| DIRECTORY_LINES.get())
        .flatten()
}

/// Print `Entering directory` if it is due and not printed yet: call before
/// any output of hbuild's own and before starting any process.
pub fn enter_directory() {
    let Some((enter, _)) = directory_lines(ONCE) else {
        return;
    };
    if !DIRECTORY_ENTERED.swap(true, Ordering::SeqCst) {
        crate::ui::status::write_stdout(enter.as_bytes());
    }
}

/// True once `Entering directory` was printed for the run.
pub fn directory_entered() -> bool {
    DIRECTORY_ENTERED.load(Ordering::SeqCst)
}

/// Print `Leaving directory` if `Entering` was printed for the run.
pub fn leave_directory() {
    if let Some((_, leave)) = directory_lines(ONCE) {
        if directory_entered() {
            crate::ui::status::write_stdout(leave.as_bytes());
        }
    }
}

/// Run `print` (which writes one message) inside the directory lines when
/// blocks are announced.
pub fn in_block(print: impl FnOnce()) {
    enter_directory();
    let lines = directory_lines(PER_BLOCK);
    if let Some((enter, _)) = lines {
        crate::ui::status::write_stdout(enter.as_bytes());
    }
    print();
    if let Some((_, leave)) = lines {
        crate::ui::status::write_stdout(leave.as_bytes());
    }
}

/// `-O`/`--output-sync` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    None,
    Line,
    Target,
    Recurse,
}

impl Sync {
    /// The mode named by `-O[TYPE]` (`-O` alone is `target`); unknown names
    /// are the CLI's to reject.
    pub fn parse(v: Option<&str>) -> Sync {
        match v.map(str::trim) {
            None => Sync::None,
            Some("none") => Sync::None,
            Some("line") => Sync::Line,
            Some("recurse") => Sync::Recurse,
            Some(_) => Sync::Target,
        }
    }
}

/// One job's captured output.
#[derive(Debug, Default)]
pub struct Capture {
    pub out: Option<File>,
    pub err: Option<File>,
}

fn memfd(name: &str) -> Option<File> {
    use std::os::fd::FromRawFd;
    let cname = std::ffi::CString::new(name).ok()?;
    // SAFETY: memfd_create returns a new descriptor we then own.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor owned by nothing else.
    Some(unsafe { File::from_raw_fd(fd) })
}

/// True if stdout and stderr are the same open file (a terminal, one log):
/// then one capture keeps their relative order.
fn same_stream() -> bool {
    let md = |fd: i32| {
        // SAFETY: fstat into a zeroed struct.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            (libc::fstat(fd, &mut st) == 0).then_some((st.st_dev, st.st_ino))
        }
    };
    matches!((md(1), md(2)), (Some(a), Some(b)) if a == b)
}

impl Capture {
    /// A capture for one job, or a pass-through one when `sync` is `None`.
    pub fn new(sync: Sync) -> Capture {
        if sync == Sync::None {
            return Capture::default();
        }
        let out = memfd("hbuild-out");
        let err = if same_stream() {
            out.as_ref().and_then(|f| f.try_clone().ok())
        } else {
            memfd("hbuild-err")
        };
        Capture { out, err }
    }

    pub fn active(&self) -> bool {
        self.out.is_some()
    }

    /// Write an echoed command line (stdout side).
    pub fn say(&mut self, text: &str) {
        let line = format!("{}\n", text);
        match &mut self.out {
            Some(f) => {
                let _ = f.write_all(line.as_bytes());
            }
            None => crate::ui::status::write_stdout(line.as_bytes()),
        }
    }

    /// Write one of hbuild's messages about the job (stderr side).
    pub fn say_err(&mut self, text: &str) {
        match &mut self.err {
            Some(f) => {
                let _ = f.write_all(format!("{}\n", text).as_bytes());
            }
            None => crate::engine::say_err(text),
        }
    }

    fn take_all(&mut self) -> (Vec<u8>, Vec<u8>) {
        let shared = matches!((&self.out, &self.err), (Some(_), Some(_))) && same_stream();
        let out = self.out.as_mut().map(take).unwrap_or_default();
        let err = if shared {
            Vec::new()
        } else {
            self.err.as_mut().map(take).unwrap_or_default()
        };
        (out, err)
    }

    /// Copy what was captured to hbuild's stdout and stderr, each in one
    /// write, as one block (inside directory lines, when blocks are
    /// announced): at the end of the job, and of each line under `-Oline`.
    pub fn flush(&mut self) {
        let (out, err) = self.take_all();
        if out.is_empty() && err.is_empty() {
            return;
        }
        in_block(|| {
            crate::ui::status::write_stdout(&out);
            crate::ui::status::write_stderr(&err);
        });
    }
}

fn take(f: &mut File) -> Vec<u8> {
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(0)).is_ok() {
        let _ = f.read_to_end(&mut buf);
    }
    let _ = f.set_len(0);
    let _ = f.seek(SeekFrom::Start(0));
    buf
}
