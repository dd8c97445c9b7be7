//! A supervisor thread: waiting (epoll) on the hand-off sockets of the steps
//! given to it and their live seccomp listeners. Each notification is
//! decoded, recorded for its step and answered with "continue": observation
//! only.
//!
//! It never waits on a child: sockets are non-blocking, RECV is only called
//! when a notification is pending, and a listener whose processes all exited
//! (HUP) is closed. A slow supervisor only delays the child.
//!
//! Where the kernel hands the CPU over synchronously (`SYNC_WAKE_UP`, 6.6+),
//! a listener gets a thread of its own instead, blocked in RECV: that wake-up
//! goes straight to the current CPU, where one through epoll is an ordinary
//! one that lands on the idle CPU (tens of µs in a VM, for each notification
//! of a process that ran in between). That thread ends when RECV finds the
//! listener without processes.
//!
//! Its state is behind a mutex that it holds only while it handles events,
//! so the engine's thread can finish a step whose processes are all gone
//! itself (`try_finish`) instead of waking the supervisor and waiting to be
//! woken back: two cross-thread wake-ups per step.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::classify::{decode, Decoded};
use super::filter::{self, Syscall};
use super::handoff::{self, Received};
use super::protect::Protected;
use super::quiet::QuietPaths;
use super::record::StepAccesses;
use super::tracee::Process;

pub enum Request {
    /// A new step: the parent end of its hand-off socket.
    AddStep {
        id: u64,
        socket: OwnedFd,
        quiet: QuietPaths,
        protected: Protected,
    },
    /// Drain the step's pending work, wait up to `grace` for its processes
    /// to end, and send what was recorded.
    Finish {
        id: u64,
        grace: Duration,
        reply: Sender<StepAccesses>,
    },
    /// The step was dropped unfinished.
    Forget {
        id: u64,
    },
    Stop,
}

struct Step {
    socket: OwnedFd,
    quiet: QuietPaths,
    protected: Protected,
    accesses: StepAccesses,
    finishing: Option<(Instant, Sender<StepAccesses>)>,
}

struct Listener {
    /// Shared with its own thread, if it has one (`served`).
    fd: Arc<OwnedFd>,
    /// Its epoll token: descriptor numbers are reused, serials are not.
    serial: u64,
    /// None once its step finished: its leftover processes are still
    /// answered (closing the listener would make their syscalls fail).
    step: Option<u64>,
    dead: bool,
    /// Served by a thread of its own (blocked in RECV), not through epoll;
    /// its working directories are kept there.
    served: bool,
    cwds: Cwds,
}

/// Where the processes of one listener are.
#[derive(Default)]
struct Cwds {
    /// The working directory of every process of the listener until one of
    /// them calls `chdir` or `fchdir` (a child inherits its parent's): no
    /// `/proc/PID/cwd` lookup for each new process.
    start: Option<PathBuf>,
    /// Working directories of its processes, by pid, once `start` is gone
    /// (see `Syscall::Chdir`).
    by_pid: HashMap<i32, PathBuf>,
}

/// The thread side: requests, the wake pipe and the shared state.
pub struct Supervisor {
    requests: Receiver<Request>,
    wake: OwnedFd,
    state: Arc<Mutex<State>>,
}

/// Everything the supervisor knows, shared with the engine's thread.
pub struct State {
    /// Readiness of the wake pipe, the hand-off sockets and the listeners,
    /// registered once each.
    epoll: OwnedFd,
    root: PathBuf,
    steps: HashMap<u64, Step>,
    listeners: Vec<Listener>,
    next_serial: u64,
    /// Counts `try_finish` calls: after one, readiness the supervisor's
    /// epoll reported may have been consumed by the engine's thread.
    engine_drains: u64,
    /// This state, for the threads of listeners served on their own.
    me: std::sync::Weak<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Register a new step from the calling thread: its hand-off socket joins
/// the supervisor's epoll set directly, so the supervisor need not be woken.
pub fn add_step(
    state: &Mutex<State>,
    id: u64,
    socket: OwnedFd,
    quiet: QuietPaths,
    protected: Protected,
) {
    lock(state).request(Request::AddStep {
        id,
        socket,
        quiet,
        protected,
    });
}

/// Finish step `id` on the calling thread if its processes are all gone:
/// take what is pending and return the record. `None` when it must be left
/// to the supervisor (processes still alive, or the step not registered yet).
pub fn try_finish(state: &Mutex<State>, id: u64) -> Option<StepAccesses> {
    let mut st = lock(state);
    if !st.steps.contains_key(&id) {
        return None;
    }
    st.engine_drains += 1;
    st.drain_step(id);
    if st.has_listeners(id) {
        return None;
    }
    let step = st.remove_step(id)?;
    st.detach(id);
    Some(step.accesses)
}

/// Take the listeners step `id`'s children handed over (call right after a
/// start, on the engine's thread).
pub fn take_handoffs(state: &Mutex<State>, id: u64) {
    lock(state).receive_handoffs(id);
}

/// Record execs of step `id` that its filter let through unnotified (the
/// engine's own, tagged): the same record a notification would have made.
pub fn note_execs(state: &Mutex<State>, id: u64, programs: &[&Path]) {
    let mut st = lock(state);
    let st = &mut *st;
    let Some(step) = st.steps.get_mut(&id) else {
        return;
    };
    for program in programs {
        let Ok(path) = std::path::absolute(program) else {
            continue;
        };
        if step.quiet.covers_exec(&path) {
            continue;
        }
        for a in Decoded::Exec(path).complete(&Process::new(0, None)) {
            step.accesses.record(a, &st.root);
        }
    }
}

/// Readiness of one descriptor right now.
fn poll_now(fd: RawFd) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut p, 1, 0) } {
        1 => p.revents,
        _ => 0,
    }
}

/// Ask the kernel (6.6+) to hand the CPU straight from the stopped child to
/// the supervisor and back, instead of waking an idle CPU each way: the
/// round trip is most of the cost per notification. Older kernels: ignored.
/// True if the kernel took the flag (and so also ends a blocked RECV once
/// the listener has no processes left).
fn prefer_sync_wakeups(listener: &OwnedFd) -> bool {
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: libc::c_ulong = 1;
    // SAFETY: SET_FLAGS takes the flags by value.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        ) == 0
    }
}

/// The thread of a listener served on its own: RECV (blocking, without the
/// state's lock), then decode, answer and record under the lock, until the
/// listener has no processes left.
fn serve(state: Arc<Mutex<State>>, fd: Arc<OwnedFd>, serial: u64, mut cwds: Cwds) {
    let raw = fd.as_raw_fd();
    loop {
        // SAFETY: the kernel requires a zeroed buffer of this exact type.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills `req`.
        if unsafe { libc::ioctl(raw, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // ENOENT: a caller died before we got its request, or no
                // process is left (then the listener hangs up).
                Some(libc::ENOENT) if poll_now(raw) & GONE == 0 => continue,
                _ => break,
            }
        }
        let mut st = lock(&state);
        let step = st
            .listeners
            .iter()
            .find(|l| l.serial == serial)
            .and_then(|l| l.step);
        st.answer(raw, step, &req, &mut cwds);
    }
    let mut st = lock(&state);
    if let Some(l) = st.listeners.iter_mut().find(|l| l.serial == serial) {
        l.dead = true;
    }
    st.remove_dead();
    // A step the engine waits for may be complete now.
    st.complete_finishes();
}

const GONE: i16 = libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;

/// epoll tokens: the wake pipe, a step's hand-off socket (tag | step id),
/// a listener (tag | serial).
const WAKE: u64 = u64::MAX;
const SOCKET: u64 = 1 << 62;
const LISTENER: u64 = 1 << 61;

impl Supervisor {
    pub fn new(
        requests: Receiver<Request>,
        wake: OwnedFd,
        root: PathBuf,
    ) -> io::Result<Supervisor> {
        // SAFETY: plain syscall; a valid descriptor is owned from here on.
        let epoll = unsafe {
            let fd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            OwnedFd::from_raw_fd(fd)
        };
        let state = Arc::new_cyclic(|me| {
            Mutex::new(State {
                epoll,
                root,
                steps: HashMap::new(),
                listeners: Vec::new(),
                next_serial: 0,
                engine_drains: 0,
                me: me.clone(),
            })
        });
        lock(&state).watch(wake.as_raw_fd(), WAKE);
        Ok(Supervisor {
            requests,
            wake,
            state,
        })
    }

    pub fn state(&self) -> Arc<Mutex<State>> {
        self.state.clone()
    }

    pub fn run(self) {
        // The state (and so the descriptor) lives as long as `self`.
        let ep = lock(&self.state).epoll.as_raw_fd();
        const ZERO: libc::epoll_event = libc::epoll_event { events: 0, u64: 0 };
        let mut events = [ZERO; 16];
        loop {
            let (timeout, drains) = {
                let mut st = lock(&self.state);
                loop {
                    match self.requests.try_recv() {
                        Ok(Request::Stop) | Err(TryRecvError::Disconnected) => return,
                        Ok(r) => st.request(r),
                        Err(TryRecvError::Empty) => break,
                    }
                }
                st.complete_finishes();
                (st.timeout(), st.engine_drains)
            };
            // SAFETY: `events` is a valid buffer of that many entries.
            let n =
                unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, timeout) };
            if n <= 0 {
                continue; // timeout or EINTR: the loop re-checks
            }
            let mut st = lock(&self.state);
            let stale = st.engine_drains != drains;
            for ev in &events[..n as usize] {
                let (token, bits) = (ev.u64, ev.events);
                if token == WAKE {
                    self.drain_wake_pipe();
                } else if token & SOCKET != 0 {
                    st.receive_handoffs(token & !SOCKET);
                } else if token & LISTENER != 0 {
                    st.listener_event(token & !LISTENER, bits, stale);
                }
            }
            st.remove_dead();
        }
    }

    fn drain_wake_pipe(&self) {
        let mut buf = [0u8; 64];
        // SAFETY: reading into a local buffer from our non-blocking pipe.
        while unsafe { libc::read(self.wake.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {
        }
    }
}

impl State {
    /// Register `fd` for readability under `token`.
    fn watch(&self, fd: RawFd, token: u64) {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: valid descriptors and event.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    }

    /// Unregister `fd` before it is closed: another process may still hold
    /// the same open file (a listener), which would keep it registered.
    fn unwatch(&self, fd: RawFd) {
        // SAFETY: valid descriptors; the event argument may be null for DEL.
        unsafe {
            libc::epoll_ctl(
                self.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
    }

    /// Drop the listeners marked dead.
    fn remove_dead(&mut self) {
        for l in self.listeners.iter().filter(|l| l.dead && !l.served) {
            self.unwatch(l.fd.as_raw_fd());
        }
        self.listeners.retain(|l| !l.dead);
    }

    fn remove_step(&mut self, id: u64) -> Option<Step> {
        let step = self.steps.remove(&id)?;
        self.unwatch(step.socket.as_raw_fd());
        Some(step)
    }

    /// An epoll event for the listener with this serial (gone already if
    /// the engine's thread finished its step meanwhile). `stale`: the engine's
    /// thread may have taken the notification since (RECV would then block
    /// until the next one), so look again first.
    fn listener_event(&mut self, serial: u64, bits: u32, stale: bool) {
        let Some(i) = self
            .listeners
            .iter()
            .position(|l| l.serial == serial && !l.dead)
        else {
            return;
        };
        if bits & libc::EPOLLIN as u32 != 0 {
            if !stale || poll_now(self.listeners[i].fd.as_raw_fd()) & libc::POLLIN != 0 {
                self.notification(i);
            }
        } else if bits & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0 {
            self.listeners[i].dead = true;
        }
    }

    fn request(&mut self, r: Request) {
        match r {
            Request::AddStep {
                id,
                socket,
                quiet,
                protected,
            } => {
                self.watch(socket.as_raw_fd(), SOCKET | id);
                let step = Step {
                    socket,
                    quiet,
                    protected,
                    accesses: StepAccesses::default(),
                    finishing: None,
                };
                self.steps.insert(id, step);
            }
            Request::Finish { id, grace, reply } => {
                self.drain_step(id);
                if let Some(step) = self.steps.get_mut(&id) {
                    step.finishing = Some((Instant::now() + grace, reply));
                }
            }
            Request::Forget { id } => self.close_step(id),
            Request::Stop => {}
        }
    }

    /// Take everything already pending for a step: listener hand-offs, then
    /// notifications, until none is ready.
    fn drain_step(&mut self, id: u64) {
        self.receive_handoffs(id);
        for i in 0..self.listeners.len() {
            if self.listeners[i].step != Some(id) {
                continue;
            }
            if self.listeners[i].served {
                // Its thread answers; it records under this lock, so a
                // listener without processes has nothing more to give.
                if poll_now(self.listeners[i].fd.as_raw_fd()) & GONE != 0 {
                    self.listeners[i].dead = true;
                }
                continue;
            }
            loop {
                let ready = poll_now(self.listeners[i].fd.as_raw_fd());
                if ready & libc::POLLIN != 0 {
                    self.notification(i);
                } else {
                    if ready & GONE != 0 {
                        self.listeners[i].dead = true;
                    }
                    break;
                }
            }
        }
        self.remove_dead();
    }

    fn receive_handoffs(&mut self, id: u64) {
        // The step (and so its socket) stays while this runs.
        let Some(socket) = self.steps.get(&id).map(|s| s.socket.as_raw_fd()) else {
            return;
        };
        while let Some(msg) = handoff::receive(socket) {
            match msg {
                Received::Listener { fd, cwd } => {
                    let fd = Arc::new(fd);
                    self.next_serial += 1;
                    let serial = self.next_serial;
                    let served = prefer_sync_wakeups(&fd) && self.serve_apart(&fd, serial, &cwd);
                    if !served {
                        self.watch(fd.as_raw_fd(), LISTENER | serial);
                    }
                    self.listeners.push(Listener {
                        fd,
                        serial,
                        step: Some(id),
                        dead: false,
                        served,
                        cwds: Cwds {
                            start: if served { None } else { cwd },
                            by_pid: HashMap::new(),
                        },
                    })
                }
                Received::Failed { pid, error } => {
                    if let Some(step) = self.steps.get_mut(&id) {
                        // EBUSY: an observer above this hbuild has the
                        // listener (hbuild runs inside another's step).
                        step.accesses.observed_above = error.raw_os_error() == Some(libc::EBUSY);
                        step.accesses.unobserved = Some(format!(
                            "process {pid} could not install the seccomp observer: {error}"
                        ))
                    }
                }
            }
        }
    }

    /// Start the thread that serves listener `serial` on its own; false if
    /// none could be started (epoll serves it then).
    fn serve_apart(&self, fd: &Arc<OwnedFd>, serial: u64, start: &Option<PathBuf>) -> bool {
        let Some(state) = self.me.upgrade() else {
            return false;
        };
        let fd = fd.clone();
        let cwds = Cwds {
            start: start.clone(),
            by_pid: HashMap::new(),
        };
        std::thread::Builder::new()
            .name("hbuild-observe".into())
            .stack_size(256 * 1024)
            .spawn(move || serve(state, fd, serial, cwds))
            .is_ok()
    }

    /// Reply to finishing steps whose processes are all gone or whose grace
    /// time is over.
    fn complete_finishes(&mut self) {
        let now = Instant::now();
        let done: Vec<u64> = self
            .steps
            .iter()
            .filter(|(id, s)| match &s.finishing {
                Some((deadline, _)) => *deadline <= now || !self.has_listeners(**id),
                None => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            let outlived = self.has_listeners(id);
            if let Some(mut step) = self.remove_step(id) {
                step.accesses.outlived = outlived;
                if let Some((_, reply)) = step.finishing.take() {
                    let _ = reply.send(step.accesses);
                }
            }
            self.detach(id);
        }
    }

    fn has_listeners(&self, id: u64) -> bool {
        self.listeners.iter().any(|l| l.step == Some(id))
    }

    fn detach(&mut self, id: u64) {
        for l in self.listeners.iter_mut().filter(|l| l.step == Some(id)) {
            l.step = None;
        }
    }

    fn close_step(&mut self, id: u64) {
        self.remove_step(id);
        self.detach(id);
    }

    /// Milliseconds until the nearest finishing step's grace time is over
    /// (-1: none).
    fn timeout(&self) -> i32 {
        self.steps
            .values()
            .filter_map(|s| s.finishing.as_ref().map(|(d, _)| *d))
            .min()
            .map(|d| {
                d.saturating_duration_since(Instant::now())
                    .as_millis()
                    .min(60_000) as i32
                    + 1
            })
            .unwrap_or(-1)
    }

    /// Receive, decode, record and answer one notification of listener `i`
    /// (served through epoll: one is pending).
    fn notification(&mut self, i: usize) {
        let fd = self.listeners[i].fd.as_raw_fd();
        // SAFETY: the kernel requires a zeroed buffer of this exact type.
        let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: RECV fills `req`.
        if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
            let e = io::Error::last_os_error().raw_os_error();
            // ENOENT: the caller died or was interrupted before we got it.
            if !matches!(e, Some(libc::ENOENT) | Some(libc::EINTR)) {
                self.listeners[i].dead = true;
            }
            return;
        }
        let step = self.listeners[i].step;
        let mut cwds = std::mem::take(&mut self.listeners[i].cwds);
        self.answer(fd, step, &req, &mut cwds);
        self.listeners[i].cwds = cwds;
    }

    /// Decode, answer and record notification `req` of a listener of step
    /// `step` (None: finished, only answered).
    fn answer(&mut self, fd: RawFd, step: Option<u64>, req: &libc::seccomp_notif, cwds: &mut Cwds) {
        let step = step.filter(|id| self.steps.contains_key(id));
        let pid = req.pid as i32;
        let sys = filter::lookup(req.data.nr);
        let known = cwds.by_pid.get(&pid).or(cwds.start.as_ref()).cloned();
        let process = Process::new(pid, known);
        let decoded = step.map(|_| match sys {
            Some(sys) => decode(sys, &req.data.args, &process),
            None => Ok(Decoded::Done(vec![])),
        });
        // A read or exec the step may have to be refused: what is at its
        // path is looked at now rather than after the answer.
        let decoded = match (decoded, step.and_then(|id| self.steps.get(&id))) {
            (Some(Ok(d)), Some(s))
                if d.read_path()
                    .is_some_and(|p| s.protected.guards_read(p, &s.accesses, &self.root)) =>
            {
                Some(Ok(Decoded::Done(d.complete(&process))))
            }
            (d, _) => d,
        };
        // Changes to files the step may not change, and reads of files it
        // did not declare next to its targets, are refused, not let go.
        let refused = match (&decoded, step.and_then(|id| self.steps.get(&id))) {
            (Some(Ok(Decoded::Done(accesses))), Some(s)) if s.protected.is_on() => {
                s.protected.refusals(accesses, &s.accesses, &self.root)
            }
            _ => Vec::new(),
        };
        let resp = if refused.is_empty() {
            libc::seccomp_notif_resp {
                id: req.id,
                val: 0,
                error: 0,
                flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            }
        } else {
            libc::seccomp_notif_resp {
                id: req.id,
                val: 0,
                error: -libc::EACCES,
                flags: 0,
            }
        };
        // SAFETY: SEND reads `resp`. It fails (ENOENT) if the caller died
        // meanwhile: its pid may have been reused, so what we read from it
        // is not trusted then.
        let valid = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) } == 0;
        match sys {
            Some(Syscall::Chdir | Syscall::Fchdir) => {
                cwds.start = None;
                cwds.by_pid.clear()
            }
            // A new program (or a new process that got a reused pid).
            Some(Syscall::Execve | Syscall::Execveat) => {
                cwds.by_pid.remove(&pid);
            }
            _ if cwds.start.is_some() => {}
            _ => {
                if let Some(cwd) = process.known_cwd() {
                    cwds.by_pid.insert(pid, cwd);
                }
            }
        }
        let (Some(id), Some(decoded), true) = (step, decoded, valid) else {
            return;
        };
        let Some(step) = self.steps.get_mut(&id) else {
            return;
        };
        if !refused.is_empty() {
            // It did not happen: only the refusal is recorded.
            for (op, path) in refused {
                let rel = super::record::as_recorded(&path, &self.root);
                step.accesses.refused.push((op, rel));
            }
            return;
        }
        match decoded {
            // Accepted whatever it found: no stat, no record.
            Ok(Decoded::ReadOpen(path, _)) if step.quiet.covers_read(&path) => {}
            Ok(Decoded::Exec(path)) if step.quiet.covers_exec(&path) => {}
            Ok(decoded) => {
                // Read-only requests are completed after the process was let
                // go: the step's next request waits for this thread anyway.
                for a in decoded.complete(&Process::new(pid, None)) {
                    step.accesses.record(a, &self.root);
                }
            }
            Err(_) => step.accesses.unresolved += 1,
        }
    }
}
