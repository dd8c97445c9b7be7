//! Getting the seccomp listener from the child to the supervisor.
//!
//! The child (between fork and exec) installs the filter, which yields the
//! listener descriptor, and sends it over a `socketpair` prepared by the parent
//! with SCM_RIGHTS. Everything the child runs here must be async-signal-safe:
//! raw syscalls on buffers on the stack or allocated before the fork.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::Arc;

use libc::{c_int, c_void, sock_filter};

/// What the child reports: 0 with a descriptor attached, or the errno that
/// made installing the filter fail.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Message {
    errno: c_int,
    pid: c_int,
}

/// Room for one SCM_RIGHTS descriptor, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuf([u8; 64]);

/// The two ends of one step's socket pair.
pub struct Channel {
    /// Stays with the parent; the supervisor receives on it.
    pub parent: OwnedFd,
    /// Used by the children between fork and exec (close-on-exec).
    pub child: OwnedFd,
}

impl Channel {
    pub fn new() -> io::Result<Channel> {
        let mut fds = [0 as c_int; 2];
        let kind = libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC;
        // SAFETY: `fds` has room for the two descriptors socketpair writes.
        if unsafe { libc::socketpair(libc::AF_UNIX, kind, 0, fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and are owned here.
        let (parent, child) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // The supervisor must never block on it.
        // SAFETY: plain fcntl on a descriptor we own.
        unsafe {
            let fl = libc::fcntl(parent.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(parent.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        Ok(Channel { parent, child })
    }
}

/// Everything the pre-exec hook needs, built in the parent.
pub struct ChildSetup {
    pub program: Arc<Vec<sock_filter>>,
    pub socket: RawFd,
}

impl ChildSetup {
    /// Runs in the forked child before exec. Returns an error (making the
    /// spawn fail) only if the filter is installed but its listener could not
    /// be handed over: then every file syscall of the step would fail.
    /// When the filter cannot be installed, the step runs unobserved and the
    /// parent learns why.
    pub fn run_in_child(&self) -> io::Result<()> {
        // SAFETY: only raw syscalls on memory that stays valid across fork.
        unsafe {
            let pid = libc::getpid();
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return send(self.socket, errno(), pid, None, &[]);
            }
            let prog = libc::sock_fprog {
                len: self.program.len() as u16,
                filter: self.program.as_ptr() as *mut sock_filter,
            };
            let listener = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &prog as *const libc::sock_fprog,
            ) as c_int;
            if listener < 0 {
                return send(self.socket, errno(), pid, None, &[]);
            }
            // Where the process is now, on the stack: every process of this
            // listener starts there (see the supervisor's `start_cwd`).
            let mut cwd = [0u8; CWD_MAX];
            let n = libc::syscall(libc::SYS_getcwd, cwd.as_mut_ptr(), cwd.len());
            let cwd = match n {
                // The length includes the NUL; "(unreachable)/..." is no path.
                n if n > 1 && cwd[0] == b'/' => &cwd[..n as usize - 1],
                _ => &cwd[..0],
            };
            let sent = send(self.socket, 0, pid, Some(listener), cwd);
            libc::close(listener);
            sent
        }
    }
}

fn errno() -> c_int {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Longest working directory sent along (the kernel's PATH_MAX).
const CWD_MAX: usize = 4096;

/// Send a message, with `fd` attached when given and `cwd` after it.
/// Async-signal-safe.
unsafe fn send(
    socket: RawFd,
    err: c_int,
    pid: c_int,
    fd: Option<c_int>,
    cwd: &[u8],
) -> io::Result<()> {
    let mut msg_data = Message { errno: err, pid };
    let mut iov = [
        libc::iovec {
            iov_base: &mut msg_data as *mut Message as *mut c_void,
            iov_len: std::mem::size_of::<Message>(),
        },
        libc::iovec {
            iov_base: cwd.as_ptr() as *mut c_void,
            iov_len: cwd.len(),
        },
    ];
    let mut control = ControlBuf([0; 64]);
    let mut msg: libc::msghdr = std::mem::zeroed();
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = 2;
    if let Some(fd) = fd {
        let space = libc::CMSG_SPACE(std::mem::size_of::<c_int>() as u32) as usize;
        msg.msg_control = control.0.as_mut_ptr() as *mut c_void;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<c_int>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg) as *mut c_int, fd);
    }
    loop {
        if libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) >= 0 {
            return Ok(());
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(io::Error::from_raw_os_error(e));
        }
    }
}

/// One message received by the parent.
pub enum Received {
    /// A child's listener, and the working directory the child had.
    Listener { fd: OwnedFd, cwd: Option<PathBuf> },
    /// A child that could not install the filter, with the reason.
    Failed { pid: i32, error: io::Error },
}

/// Receive one pending message, if any (the socket is non-blocking).
pub fn receive(socket: RawFd) -> Option<Received> {
    let mut data = Message::default();
    // On the stack: the last call of each drain finds nothing.
    let mut cwd = [0u8; CWD_MAX];
    let mut iov = [
        libc::iovec {
            iov_base: &mut data as *mut Message as *mut c_void,
            iov_len: std::mem::size_of::<Message>(),
        },
        libc::iovec {
            iov_base: cwd.as_mut_ptr() as *mut c_void,
            iov_len: cwd.len(),
        },
    ];
    let mut control = ControlBuf([0; 64]);
    // SAFETY: msghdr points at live buffers of the stated sizes.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = 2;
        msg.msg_control = control.0.as_mut_ptr() as *mut c_void;
        msg.msg_controllen = control.0.len() as _;
        let n = loop {
            let n = libc::recvmsg(
                socket,
                &mut msg,
                libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT,
            );
            if n >= 0 || errno() != libc::EINTR {
                break n;
            }
        };
        if n <= 0 {
            return None;
        }
        let mut fd = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const c_int);
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        let header = std::mem::size_of::<Message>();
        let cwd = &cwd[..(n as usize).saturating_sub(header)];
        let cwd =
            (cwd.first() == Some(&b'/')).then(|| PathBuf::from(OsString::from_vec(cwd.to_vec())));
        Some(match fd {
            Some(fd) if data.errno == 0 => Received::Listener { fd, cwd },
            _ => Received::Failed {
                pid: data.pid,
                error: io::Error::from_raw_os_error(if data.errno == 0 {
                    libc::EPROTO
                } else {
                    data.errno
                }),
            },
        })
    }
}
