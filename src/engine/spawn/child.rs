//! Starting a process with `clone(CLONE_VM | CLONE_VFORK)`: the child runs
//! on a small stack of its own but in hbuild's memory, and hbuild's thread
//! waits until the child has called `execve` (or exited). No page table is
//! copied, so the cost does not grow with hbuild's size, unlike `fork`.
//!
//! Everything the child needs (the program's path, argv and envp as C
//! strings, descriptors, the hooks) is built here beforehand. The child itself
//! only makes system calls on that data: no allocation, no lock, no panic,
//! no buffered output. Sharing memory also lets it report a failure by
//! storing errno where the parent reads it once it resumes.

use super::{ChildHook, Collected, Invocation};
use nix::unistd::Pid;
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, RawFd};
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;

/// What became of a start. With it, the programs the child passed to
/// `execve` (tagged with [`super::exec_tag`]).
pub enum Outcome {
    Running(Pid, Vec<PathBuf>),
    /// The program could not be started: its errno.
    Failed(i32, Vec<PathBuf>),
    /// This path cannot start it (clone refused, a NUL in a string): use
    /// `Command` instead.
    Unsupported,
}

/// Usable stack of the child. Its deepest call (the observer's `sendmsg`)
/// needs a few hundred bytes; the rest is margin for unoptimised builds.
const STACK_SIZE: usize = 64 * 1024;
/// An inaccessible page below the stack: an overflow faults in the child
/// instead of writing over hbuild's heap.
const GUARD_SIZE: usize = 4096;

/// The child's stack, mapped once per thread and reused: a thread waits for
/// its child to exec or exit before it can start another.
struct ChildStack {
    base: *mut c_void,
}

impl ChildStack {
    fn new() -> Option<ChildStack> {
        // SAFETY: an anonymous private mapping; the guard page is protected
        // before the mapping is used.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                GUARD_SIZE + STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return None;
            }
            libc::mprotect(base, GUARD_SIZE, libc::PROT_NONE);
            Some(ChildStack { base })
        }
    }

    /// The initial stack pointer (the stack grows down), 16-byte aligned.
    fn top(&self) -> *mut c_void {
        let end = self.base as usize + GUARD_SIZE + STACK_SIZE;
        (end & !15) as *mut c_void
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; no child runs on it any more.
        unsafe { libc::munmap(self.base, GUARD_SIZE + STACK_SIZE) };
    }
}

thread_local! {
    static STACK: Option<ChildStack> = ChildStack::new();
}

/// The shell that runs an executable file without `#!`.
const SHELL: &std::ffi::CStr = c"/bin/sh";

/// Everything the child reads, built by the parent. The pointer arrays point
/// into C strings the caller keeps alive until the child has exec'd.
struct Plan<'a> {
    path: &'a CString,
    argv: Vec<*const c_char>,
    /// `/bin/sh PATH ARGS...`, for a file without `#!` (as `execvp` does).
    script_argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
    inherit: Option<[RawFd; 2]>,
    hooks: &'a [Arc<dyn ChildHook>],
    /// Written by the child when it fails: the errno.
    error: AtomicI32,
    /// Set by the child before its `execve` of the program, and before it
    /// runs a script without `#!` with SHELL.
    tried: AtomicBool,
    script: AtomicBool,
    tag: u64,
    /// Signals to set back to the default before the exec.
    reset: Vec<c_int>,
}

/// Start `argv` for `inv`, with the environment changes and hooks of `setup`.
pub fn start(inv: &Invocation, argv: &[String], setup: &Collected) -> Outcome {
    let Some(env) = cached_environment(inv, setup) else {
        return Outcome::Unsupported;
    };
    let search = env
        .iter()
        .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
        .map(OsStr::from_bytes);
    let path = match resolve(OsStr::new(&argv[0]), search) {
        Ok(p) => p,
        Err(errno) => return Outcome::Failed(errno, Vec::new()),
    };
    let Ok(args) = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Outcome::Unsupported;
    };
    let argv = null_terminated(&args);
    let mut script_argv = vec![SHELL.as_ptr(), path.as_ptr()];
    script_argv.extend_from_slice(&argv[1..]);
    let plan = Plan {
        path: &path,
        argv,
        script_argv,
        envp: null_terminated(&env),
        stdout: inv.stdout.as_ref().map(|f| f.as_raw_fd()),
        stderr: inv.stderr.as_ref().map(|f| f.as_raw_fd()),
        inherit: inv.jobserver_fds.map(|(r, w)| [r, w]),
        hooks: &setup.hooks,
        error: AtomicI32::new(0),
        tried: AtomicBool::new(false),
        script: AtomicBool::new(false),
        tag: super::exec_tag(),
        reset: signals_to_reset(),
    };
    let Some(pid) = STACK.with(|s| s.as_ref().and_then(|s| clone_child(&plan, s))) else {
        return Outcome::Unsupported;
    };
    // Only hooks (the observer) want to know; most starts have none.
    let mut execs = Vec::new();
    if !setup.hooks.is_empty() {
        execs.push(PathBuf::from(OsStr::from_bytes(path.as_bytes())));
        if plan.script.load(Ordering::SeqCst) {
            execs.push(PathBuf::from(OsStr::from_bytes(SHELL.to_bytes())));
        }
    }
    match plan.error.load(Ordering::SeqCst) {
        0 => Outcome::Running(Pid::from_raw(pid), execs),
        errno => {
            reap(pid);
            // Unless a hook failed first, the exec itself was refused.
            let tried = plan.tried.load(Ordering::SeqCst);
            Outcome::Failed(errno, if tried { execs } else { Vec::new() })
        }
    }
}

/// Run the child on `stack`; returns once it exec'd or exited. All signals
/// are blocked meanwhile, so none runs one of hbuild's handlers on the
/// child's stack (the child restores the defaults before unblocking).
fn clone_child(plan: &Plan, stack: &ChildStack) -> Option<libc::pid_t> {
    // SAFETY: the child only reads `plan` (alive until clone returns, since
    // CLONE_VFORK suspends us until the child exec'd or exited) and writes
    // its atomic; the stack is ours and unused by anyone else.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child_main,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            plan as *const Plan as *mut c_void,
        );
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        (pid > 0).then_some(pid)
    }
}

/// The child's entry point: set up, exec, or report why not.
extern "C" fn child_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's `Plan`, alive while we run.
    let plan = unsafe { &*(arg as *const Plan) };
    // SAFETY: `Plan::exec` is async-signal-safe and allocation-free.
    let errno = match unsafe { plan.exec() } {
        Err(0) | Ok(()) => libc::EIO,
        Err(e) => e,
    };
    plan.error.store(errno, Ordering::SeqCst);
    // SAFETY: leaves the child at once, without running any exit handler.
    unsafe { libc::_exit(127) }
}

impl Plan<'_> {
    /// In the child: descriptors, process group, signals, hooks, `execve`.
    /// Returns only on failure.
    unsafe fn exec(&self) -> Result<(), i32> {
        if let Some(fd) = self.stdout {
            redirect(fd, libc::STDOUT_FILENO)?;
        }
        if let Some(fd) = self.stderr {
            redirect(fd, libc::STDERR_FILENO)?;
        }
        // Each recipe runs in its own process group so that an interrupted
        // build can signal the recipe and everything it started.
        check(libc::setpgid(0, 0))?;
        if let Some(fds) = &self.inherit {
            inherit_fds(fds);
        }
        reset_signals(&self.reset);
        for hook in self.hooks {
            hook.run_in_child()?;
        }
        self.tried.store(true, Ordering::SeqCst);
        self.execve(self.path.as_ptr(), self.argv.as_ptr());
        if errno() == libc::ENOEXEC {
            self.script.store(true, Ordering::SeqCst);
            self.execve(SHELL.as_ptr(), self.script_argv.as_ptr());
        }
        Err(errno())
    }

    /// `execve` with the tag as an extra argument (see [`super::exec_tag`]);
    /// returns only on failure.
    unsafe fn execve(&self, path: *const c_char, argv: *const *const c_char) {
        libc::syscall(libc::SYS_execve, path, argv, self.envp.as_ptr(), self.tag);
    }
}

/// Make `fd` the child's descriptor `target`.
unsafe fn redirect(fd: RawFd, target: RawFd) -> Result<(), i32> {
    if fd == target {
        // dup2 would do nothing: keep it open across exec.
        let flags = libc::fcntl(fd, libc::F_GETFD);
        return check(libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC));
    }
    loop {
        if libc::dup2(fd, target) >= 0 {
            return Ok(());
        }
        if errno() != libc::EINTR {
            return Err(errno());
        }
    }
}

/// Let a sub-make inherit the jobserver descriptors. Async-signal-safe.
pub fn inherit_fds(fds: &[RawFd]) {
    for &fd in fds {
        // SAFETY: fcntl on integers has no memory effects.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
        }
    }
}

/// Counts changes of this process's signal handlers (see
/// [`signal_handlers_changed`]); the handled set below is asked again after one.
static HANDLERS_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Call after installing a signal handler: children must reset it.
pub fn signal_handlers_changed() {
    HANDLERS_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The signals a child must set back to the default before it unblocks
/// signals and execs: those with a handler in hbuild (its own, Rust's
/// SIGSEGV/SIGBUS, the jobserver helper's), and SIGPIPE, which Rust ignores.
/// Signals hbuild inherited as ignored stay ignored, as `Command` leaves them.
/// Asked of the kernel in hbuild, once per change of handlers, rather than
/// by each child: that was 64 `sigaction` calls while hbuild waited in `vfork`.
fn signals_to_reset() -> Vec<c_int> {
    use std::sync::Mutex;
    static CACHE: Mutex<Option<(u64, Vec<c_int>)>> = Mutex::new(None);
    let generation = HANDLERS_GENERATION.load(Ordering::SeqCst);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((g, sigs)) = cache.as_ref() {
        if *g == generation {
            return sigs.clone();
        }
    }
    let mut sigs = Vec::new();
    for sig in 1..=libc::SIGRTMAX() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: querying a disposition into a local struct.
        let caught = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
                && old.sa_sigaction != libc::SIG_IGN
        };
        if caught || sig == libc::SIGPIPE {
            sigs.push(sig);
        }
    }
    *cache = Some((generation, sigs.clone()));
    sigs
}

/// Give the program the signal state `Command` gives: `reset` (see
/// [`signals_to_reset`]) back to the default, nothing blocked.
unsafe fn reset_signals(reset: &[c_int]) {
    let mut dfl: libc::sigaction = std::mem::zeroed();
    dfl.sa_sigaction = libc::SIG_DFL;
    for &sig in reset {
        libc::sigaction(sig, &dfl, std::ptr::null_mut());
    }
    let mut none: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut none);
    libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
}

fn check(r: c_int) -> Result<(), i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Wait for a child that exited before its exec.
fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid on our own child, with a local status word.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 && errno() == libc::EINTR {}
}

/// Pointers to `strings`, then a null pointer, as execve wants.
fn null_terminated(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The environment block of `inv`, reused when the same shared environment
/// (the same `Arc`, see the scheduler's `shared_env`) comes back with the
/// same additions: most steps of a build have the same environment, and
/// making its C strings was a third of hbuild's own work per command. The
/// cache holds the `Arc`, so its address cannot be reused by another.
fn cached_environment(inv: &Invocation, setup: &Collected) -> Option<Arc<Vec<CString>>> {
    use std::sync::Mutex;
    type Key = (Arc<Vec<(String, String)>>, Vec<(String, OsString)>);
    /// A few entries: at `-jN` the steps alternate between TMPDIRs.
    const ENTRIES: usize = 8;
    static CACHE: Mutex<Vec<(Key, Arc<Vec<CString>>)>> = Mutex::new(Vec::new());
    let Some(shared) = &inv.env else {
        return environment(inv, setup).map(Arc::new);
    };
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = cache
        .iter()
        .position(|((e, add), _)| Arc::ptr_eq(e, shared) && *add == setup.env)
    {
        let hit = cache.remove(i);
        let block = hit.1.clone();
        cache.push(hit);
        return Some(block);
    }
    let block = Arc::new(environment(inv, setup)?);
    if cache.len() >= ENTRIES {
        cache.remove(0);
    }
    cache.push(((shared.clone(), setup.env.clone()), block.clone()));
    Some(block)
}

/// The child's environment as `KEY=value` strings, as `Command` would pass
/// it: hbuild's own unchanged, otherwise sorted by name, the set-up's
/// settings winning. `None` if a string holds a NUL.
fn environment(inv: &Invocation, setup: &Collected) -> Option<Vec<CString>> {
    let pair = |k: &[u8], v: &[u8]| {
        let mut bytes = Vec::with_capacity(k.len() + v.len() + 1);
        bytes.extend_from_slice(k);
        bytes.push(b'=');
        bytes.extend_from_slice(v);
        CString::new(bytes).ok()
    };
    if inv.env.is_none() && setup.env.is_empty() {
        return std::env::vars_os()
            .map(|(k, v)| pair(k.as_bytes(), v.as_bytes()))
            .collect();
    }
    let inherited;
    let base: Vec<(&[u8], &[u8])> = match &inv.env {
        Some(env) => env
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .collect(),
        None => {
            inherited = std::env::vars_os().collect::<Vec<_>>();
            inherited
                .iter()
                .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                .collect()
        }
    };
    // The set-up's variables (TMPDIR) win; sorted by name, one per name,
    // without copying the strings before the final block.
    let mut vars: Vec<(&[u8], &[u8])> = setup
        .env
        .iter()
        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
        .collect();
    vars.extend(base);
    vars.sort_by(|a, b| a.0.cmp(b.0));
    vars.dedup_by(|later, first| later.0 == first.0);
    vars.iter().map(|(k, v)| pair(k, v)).collect()
}

/// Where `execvp` would find `prog` in `search` (a `PATH` value; the C
/// library's default when unset), or the errno it would fail with.
fn resolve(prog: &OsStr, search: Option<&OsStr>) -> Result<CString, i32> {
    if prog.is_empty() {
        return Err(libc::ENOENT);
    }
    if prog.as_bytes().contains(&b'/') {
        return CString::new(prog.as_bytes()).map_err(|_| libc::ENOENT);
    }
    let search = search.unwrap_or(OsStr::new("/bin:/usr/bin"));
    let mut denied = false;
    for dir in search.as_bytes().split(|&b| b == b':') {
        let mut candidate = dir.to_vec();
        if !candidate.is_empty() && !candidate.ends_with(b"/") {
            candidate.push(b'/');
        }
        candidate.extend_from_slice(prog.as_bytes());
        let Ok(candidate) = CString::new(candidate) else {
            continue;
        };
        match executable(&candidate) {
            Ok(true) => return Ok(candidate),
            Ok(false) => denied = true,
            Err(e) if e == libc::EACCES => denied = true,
            Err(_) => {}
        }
    }
    Err(if denied { libc::EACCES } else { libc::ENOENT })
}

/// Whether `path` is a regular file we may execute; an errno if it cannot
/// be looked at.
fn executable(path: &CString) -> Result<bool, i32> {
    // SAFETY: stat and access on a NUL-terminated path, into a local buffer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::stat(path.as_ptr(), &mut st) != 0 {
            return Err(errno());
        }
        Ok(st.st_mode & libc::S_IFMT == libc::S_IFREG
            && libc::access(path.as_ptr(), libc::X_OK) == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn invocation(text: &str, stdout: Option<std::fs::File>) -> Invocation {
        Invocation {
            shell: "/bin/sh".into(),
            shell_flags: vec!["-c".into()],
            text: text.into(),
            env: Some(Arc::new(vec![
                ("PATH".into(), "/usr/bin:/bin".into()),
                ("GREETING".into(), "hello".into()),
            ])),
            stdout,
            stderr: None,
            jobserver_fds: None,
            guard: None,
        }
    }

    fn wait(pid: Pid) -> i32 {
        let mut status = 0;
        // SAFETY: waiting for our own child into a local.
        unsafe { libc::waitpid(pid.as_raw(), &mut status, 0) };
        libc::WEXITSTATUS(status)
    }

    fn argv(inv: &Invocation) -> Vec<String> {
        super::super::command_words(inv)
    }

    struct Fails(i32);
    impl ChildHook for Fails {
        fn run_in_child(&self) -> Result<(), i32> {
            Err(self.0)
        }
    }

    #[test]
    fn runs_with_its_environment_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let file = std::fs::File::create(&out).unwrap();
        let inv = invocation("echo $GREETING; exit 3", Some(file));
        let Outcome::Running(pid, _) = start(&inv, &argv(&inv), &Collected::default()) else {
            panic!("not started");
        };
        assert_eq!(wait(pid), 3);
        let mut text = String::new();
        std::fs::File::open(&out)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello\n");
    }

    #[test]
    fn a_failing_hook_fails_the_start() {
        let inv = invocation("true", None);
        let setup = Collected {
            env: Vec::new(),
            hooks: vec![Arc::new(Fails(libc::EPERM))],
        };
        assert!(matches!(
            start(&inv, &argv(&inv), &setup),
            Outcome::Failed(libc::EPERM, _)
        ));
    }

    #[test]
    fn programs_are_found_as_execvp_would() {
        let path = |p: &str| OsStr::new(p).to_owned();
        assert_eq!(
            resolve(OsStr::new("sh"), Some(&path("/nonexistent:/bin"))).unwrap(),
            CString::new("/bin/sh").unwrap()
        );
        assert_eq!(
            resolve(OsStr::new("no-such-program-x"), None),
            Err(libc::ENOENT)
        );
        assert_eq!(resolve(OsStr::new(""), None), Err(libc::ENOENT));
        assert_eq!(
            resolve(OsStr::new("./local"), None).unwrap(),
            CString::new("./local").unwrap()
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tool"), "").unwrap();
        let search = dir.path().as_os_str().to_owned();
        assert_eq!(
            resolve(OsStr::new("tool"), Some(&search)),
            Err(libc::EACCES)
        );
    }

    #[test]
    fn a_script_without_interpreter_line_runs_with_the_shell() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "exit 4\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut inv = invocation("", None);
        inv.text = script.to_string_lossy().into_owned();
        let Outcome::Running(pid, _) = start(&inv, &argv(&inv), &Collected::default()) else {
            panic!("not started");
        };
        assert_eq!(wait(pid), 4);
    }
}
