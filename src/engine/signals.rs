//! Fatal signals (SIGINT, SIGTERM, SIGHUP) turned into an event the scheduler
//! polls for. A process-wide handler records the signal and writes a byte to a
//! self-pipe; whichever thread the kernel picks to run it, the scheduler's wait
//! loop (on any thread) wakes up. The same pipe wakes the loop when a jobserver
//! token arrives.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

/// The signals that stop a build.
pub const FATAL: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

static PENDING: AtomicI32 = AtomicI32::new(0);
static WAKE_READ: AtomicI32 = AtomicI32::new(-1);
static WAKE_WRITE: AtomicI32 = AtomicI32::new(-1);
static INSTALL: Once = Once::new();

extern "C" fn on_signal(sig: libc::c_int) {
    PENDING.store(sig, Ordering::SeqCst);
    wake();
}

/// Install the handlers (once per process) and create the wake pipe. Signals
/// the parent set to be ignored stay ignored, as make leaves them.
pub fn install() {
    INSTALL.call_once(|| {
        let mut fds = [-1; 2];
        // SAFETY: pipe2 fills the array with two new descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } == 0 {
            WAKE_READ.store(fds[0], Ordering::SeqCst);
            WAKE_WRITE.store(fds[1], Ordering::SeqCst);
        }
        for sig in FATAL {
            // SAFETY: plain sigaction calls with a handler that is async-signal-safe
            // (an atomic store and a write(2)).
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                    || old.sa_sigaction == libc::SIG_IGN
                {
                    continue;
                }
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                new.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                libc::sigaction(sig, &new, std::ptr::null_mut());
            }
        }
        crate::engine::spawn::signal_handlers_changed();
    });
}

/// The descriptor that becomes readable when a signal or a token arrives.
pub fn wake_fd() -> RawFd {
    WAKE_READ.load(Ordering::SeqCst)
}

/// Make the wait loop return (from a signal handler or another thread).
pub fn wake() {
    let fd = WAKE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) of one byte from a static buffer; async-signal-safe.
        unsafe {
            libc::write(fd, b"!".as_ptr().cast(), 1);
        }
    }
}

/// Empty the wake pipe after the loop woke up.
pub fn drain_wake() {
    let fd = wake_fd();
    if fd < 0 {
        return;
    }
    let mut buf = [0u8; 64];
    // SAFETY: reading into a local buffer from our own non-blocking pipe.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// The fatal signal received so far, if any.
pub fn pending() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Die of `sig` as make does once its clean-up is done: default action, signal
/// unblocked, sent to ourselves.
pub fn die_by(sig: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: restoring the default action and raising a signal.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
    }
    // The signal's default action ends the process; should it not, still exit.
    std::process::exit(128 + sig)
}
