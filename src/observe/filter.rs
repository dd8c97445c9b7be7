//! The seccomp program: which syscalls go to the supervisor.
//!
//! Hand-written classic BPF rather than a crate: the program is a straight list
//! of syscall-number tests (a binary search, about 60 instructions), libseccomp would
//! add a C dependency, and the Rust crates for seccomp do not cover user
//! notification listeners. Only x86_64 and aarch64 are supported.

use libc::{c_long, sock_filter};
use std::sync::OnceLock;

/// The syscalls the observer decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syscall {
    Open,
    Openat,
    Openat2,
    Creat,
    Execve,
    Execveat,
    Unlink,
    Unlinkat,
    Rename,
    Renameat,
    Renameat2,
    Link,
    Linkat,
    Symlink,
    Symlinkat,
    Mkdir,
    Mkdirat,
    Rmdir,
    Truncate,
    Mknod,
    Mknodat,
    /// Not accesses: they tell the supervisor a cached cwd is stale.
    Chdir,
    Fchdir,
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Whether this build can observe at all.
pub const SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

/// Syscall numbers of the native ABI and what they mean.
fn table() -> Vec<(c_long, Syscall)> {
    use Syscall::*;
    #[allow(unused_mut)]
    let mut t = vec![
        (libc::SYS_openat, Openat),
        (libc::SYS_openat2, Openat2),
        (libc::SYS_execve, Execve),
        (libc::SYS_execveat, Execveat),
        (libc::SYS_unlinkat, Unlinkat),
        (libc::SYS_renameat2, Renameat2),
        (libc::SYS_linkat, Linkat),
        (libc::SYS_symlinkat, Symlinkat),
        (libc::SYS_mkdirat, Mkdirat),
        (libc::SYS_truncate, Truncate),
        (libc::SYS_mknodat, Mknodat),
        (libc::SYS_chdir, Chdir),
        (libc::SYS_fchdir, Fchdir),
    ];
    // Legacy entry points that newer architectures dropped.
    #[cfg(target_arch = "x86_64")]
    t.extend([
        (libc::SYS_open, Open),
        (libc::SYS_creat, Creat),
        (libc::SYS_unlink, Unlink),
        (libc::SYS_rename, Rename),
        (libc::SYS_renameat, Renameat),
        (libc::SYS_link, Link),
        (libc::SYS_symlink, Symlink),
        (libc::SYS_mkdir, Mkdir),
        (libc::SYS_rmdir, Rmdir),
        (libc::SYS_mknod, Mknod),
    ]);
    #[cfg(target_arch = "aarch64")]
    t.push((libc::SYS_renameat, Renameat));
    t
}

/// The meaning of a notified syscall number.
pub fn lookup(nr: i32) -> Option<Syscall> {
    static TABLE: OnceLock<Vec<(c_long, Syscall)>> = OnceLock::new();
    TABLE
        .get_or_init(table)
        .iter()
        .find(|(n, _)| *n == nr as c_long)
        .map(|(_, s)| *s)
}

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
/// Offsets in `struct seccomp_data`.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;
/// The fourth argument, as two 32-bit words (little-endian: low word first).
const ARG3_LOW: u32 = 16 + 3 * 8;
const ARG3_HIGH: u32 = ARG3_LOW + 4;
/// The low words of the second and third arguments: the flags of `open`
/// and `openat` (only the low 32 bits are flags).
const ARG1_LOW: u32 = 16 + 8;
const ARG2_LOW: u32 = 16 + 2 * 8;
const JSET_K: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
/// Open flags that can change a file or make one.
const WRITE_FLAGS: u32 = (libc::O_WRONLY | libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC) as u32;

/// Which requests a program routes to the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routed {
    /// Every file syscall: a step's reads and writes.
    Everything,
    /// Only those that can change the file system (opens with a write,
    /// create or truncate flag; creations, removals, renames, links), and
    /// the changes of directory that relative paths need: `$(shell)` while
    /// makefiles are read, which may read anything but write only its
    /// TMPDIR. Its many reads (compiler probes) cost no round trip.
    Writes,
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The program: notify for the file syscalls `routed` names, fail
/// `io_uring_setup` with ENOSYS (io_uring operations would bypass the
/// filter), allow the rest.
/// Syscalls of another ABI (i386 via int 0x80, x32) are allowed unobserved.
/// An `execve` whose (otherwise unused) fourth argument is `tag` is allowed
/// too: hbuild's own start of a command, which the engine records itself
/// (see `engine::spawn::exec_tag`).
pub fn program_for(tag: u64, routed: Routed) -> Vec<sock_filter> {
    let mut routes: Vec<(u32, Label)> = table()
        .iter()
        .map(|(n, sys)| {
            let label = match (routed, sys) {
                (Routed::Everything, Syscall::Execve) => Label::Execve,
                (Routed::Everything, _) => Label::Notify,
                (Routed::Writes, Syscall::Execve | Syscall::Execveat) => Label::Allow,
                (Routed::Writes, Syscall::Open) => Label::OpenFlags,
                (Routed::Writes, Syscall::Openat) => Label::OpenatFlags,
                (Routed::Writes, _) => Label::Notify,
            };
            (*n as u32, label)
        })
        .collect();
    routes.push((libc::SYS_io_uring_setup as u32, Label::Errno));
    routes.sort_unstable_by_key(|(nr, _)| *nr);
    let mut code = Code::default();
    code.push(stmt(LD_W_ABS, ARCH_OFFSET));
    code.branch(JEQ_K, AUDIT_ARCH, None, Some(Label::Allow));
    code.push(stmt(LD_W_ABS, NR_OFFSET));
    #[cfg(target_arch = "x86_64")]
    {
        const X32_SYSCALL_BIT: u32 = 0x4000_0000;
        code.branch(JGE_K, X32_SYSCALL_BIT, Some(Label::Allow), None);
    }
    code.search(&routes);
    // execve: allowed if tagged, notified otherwise.
    code.place(Label::Execve);
    code.push(stmt(LD_W_ABS, ARG3_LOW));
    code.branch(JEQ_K, tag as u32, None, Some(Label::Notify));
    code.push(stmt(LD_W_ABS, ARG3_HIGH));
    code.branch(
        JEQ_K,
        (tag >> 32) as u32,
        Some(Label::Allow),
        Some(Label::Notify),
    );
    if routed == Routed::Writes {
        // An open is notified only with a flag that writes.
        for (label, flags) in [(Label::OpenFlags, ARG1_LOW), (Label::OpenatFlags, ARG2_LOW)] {
            code.place(label);
            code.push(stmt(LD_W_ABS, flags));
            code.branch(JSET_K, WRITE_FLAGS, Some(Label::Notify), Some(Label::Allow));
        }
    }
    code.place(Label::Allow);
    code.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    code.place(Label::Notify);
    code.push(stmt(RET_K, libc::SECCOMP_RET_USER_NOTIF));
    code.place(Label::Errno);
    code.push(stmt(RET_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    code.finish()
}

/// Where a jump of the program goes, placed at its end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    Allow,
    Notify,
    Errno,
    Execve,
    /// Test the flags of `open` / `openat` (`Routed::Writes`).
    OpenFlags,
    OpenatFlags,
}

/// The program being written: instructions, jumps still to resolve, and
/// where each label ended up.
#[derive(Default)]
struct Code {
    prog: Vec<sock_filter>,
    /// (instruction, true branch?, label)
    fixups: Vec<(usize, bool, Label)>,
    labels: Vec<(Label, usize)>,
}

impl Code {
    fn push(&mut self, ins: sock_filter) {
        self.prog.push(ins);
    }

    /// A conditional jump; `None` goes on with the next instruction.
    fn branch(&mut self, code: u16, k: u32, jt: Option<Label>, jf: Option<Label>) {
        let at = self.prog.len();
        self.prog.push(jump(code, k, 0, 0));
        self.fixups.extend(jt.map(|l| (at, true, l)));
        self.fixups.extend(jf.map(|l| (at, false, l)));
    }

    fn place(&mut self, label: Label) {
        self.labels.push((label, self.prog.len()));
    }

    /// A binary search of the sorted syscall numbers in the accumulator,
    /// each found one going to its label, the rest allowed. The kernel runs
    /// the program once per syscall number when it is installed (with
    /// interrupts off), to cache the ones always allowed: a list of 25 tests
    /// made that about 40 µs per started command; the search saves some
    /// 20 µs of CPU per step of a 1,000-step build.
    /// `routes` is never empty: the program routes some syscalls, and a
    /// split leaves at least one on each side.
    fn search(&mut self, routes: &[(u32, Label)]) {
        debug_assert!(!routes.is_empty());
        if routes.len() <= 2 {
            for (i, (nr, label)) in routes.iter().enumerate() {
                let last = i + 1 == routes.len();
                self.branch(JEQ_K, *nr, Some(*label), last.then_some(Label::Allow));
            }
            return;
        }
        let (low, high) = routes.split_at(routes.len() / 2);
        let at = self.prog.len();
        self.prog.push(jump(JGE_K, high[0].0, 0, 0));
        self.search(low);
        let offset = self.prog.len() - at - 1;
        self.prog[at].jt = u8::try_from(offset).expect("the program is short");
        self.search(high);
    }

    fn finish(mut self) -> Vec<sock_filter> {
        for (at, taken, label) in self.fixups {
            let to = self
                .labels
                .iter()
                .find(|(l, _)| *l == label)
                .map(|(_, i)| *i)
                .expect("every label is placed");
            let offset = u8::try_from(to - at - 1).expect("the program is short");
            if taken {
                self.prog[at].jt = offset;
            } else {
                self.prog[at].jf = offset;
            }
        }
        self.prog
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(tag: u64) -> Vec<sock_filter> {
        program_for(tag, Routed::Everything)
    }

    const TAG: u64 = 0x1234_5678_9abc_def0;

    /// A tiny interpreter for the instructions the program uses.
    fn run_with(prog: &[sock_filter], arch: u32, nr: u32, arg3: u64) -> u32 {
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            pc += 1;
            match ins.code {
                LD_W_ABS => {
                    acc = match ins.k {
                        ARCH_OFFSET => arch,
                        NR_OFFSET => nr,
                        ARG3_LOW => arg3 as u32,
                        ARG3_HIGH => (arg3 >> 32) as u32,
                        // Tests put open flags in the fourth argument.
                        ARG1_LOW | ARG2_LOW => arg3 as u32,
                        other => panic!("unexpected offset {other}"),
                    }
                }
                JEQ_K | 0x35 | JSET_K => {
                    let taken = match ins.code {
                        JEQ_K => acc == ins.k,
                        JSET_K => acc & ins.k != 0,
                        _ => acc >= ins.k,
                    };
                    pc += if taken { ins.jt } else { ins.jf } as usize;
                }
                RET_K => return ins.k,
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn run(prog: &[sock_filter], arch: u32, nr: u32) -> u32 {
        run_with(prog, arch, nr, 0)
    }

    #[test]
    fn program_routes_syscalls() {
        let prog = program(TAG);
        assert!(prog.len() < 64);
        let openat = libc::SYS_openat as u32;
        assert_eq!(run(&prog, AUDIT_ARCH, openat), libc::SECCOMP_RET_USER_NOTIF);
        assert_eq!(
            run(&prog, AUDIT_ARCH, libc::SYS_read as u32),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run(&prog, AUDIT_ARCH, libc::SYS_io_uring_setup as u32),
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
        );
        assert_eq!(
            run(&prog, 0x4000_0003, openat),
            libc::SECCOMP_RET_ALLOW,
            "foreign ABI"
        );
        for (nr, sys) in table() {
            assert_eq!(
                run(&prog, AUDIT_ARCH, nr as u32),
                libc::SECCOMP_RET_USER_NOTIF
            );
            assert_eq!(lookup(nr as i32), Some(sys));
        }
    }

    /// Every number gets its route, through a short search.
    #[test]
    fn every_syscall_number_is_routed_by_a_short_search() {
        let prog = program(TAG);
        let routed: Vec<u32> = table().iter().map(|(n, _)| *n as u32).collect();
        for nr in 0..600u32 {
            let want = if nr == libc::SYS_io_uring_setup as u32 {
                libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32
            } else if routed.contains(&nr) {
                libc::SECCOMP_RET_USER_NOTIF
            } else {
                libc::SECCOMP_RET_ALLOW
            };
            assert_eq!(run(&prog, AUDIT_ARCH, nr), want, "syscall {nr}");
        }
        // The longest path (not execve's tag test) is a handful of tests.
        let steps = |nr: u32| {
            let (mut pc, mut n) = (0usize, 0);
            loop {
                let ins = prog[pc];
                n += 1;
                pc += 1;
                match ins.code {
                    RET_K => return n,
                    LD_W_ABS => {}
                    _ => {
                        let acc = if pc <= 2 { AUDIT_ARCH } else { nr };
                        let taken = if ins.code == JEQ_K {
                            acc == ins.k
                        } else {
                            acc >= ins.k
                        };
                        pc += if taken { ins.jt } else { ins.jf } as usize;
                    }
                }
            }
        };
        let longest = (0..600u32)
            .filter(|&nr| nr != libc::SYS_execve as u32)
            .map(steps)
            .max()
            .unwrap();
        assert!(longest <= 12, "{longest} instructions");
    }

    #[test]
    fn the_writes_program_lets_reads_and_execs_go() {
        let prog = program_for(TAG, Routed::Writes);
        let notif = libc::SECCOMP_RET_USER_NOTIF;
        let allow = libc::SECCOMP_RET_ALLOW;
        let flags = |f: i32| f as u32 as u64;
        for nr in [libc::SYS_openat, libc::SYS_open] {
            let nr = nr as u32;
            let run = |f| run_with(&prog, AUDIT_ARCH, nr, f);
            assert_eq!(run(flags(libc::O_RDONLY | libc::O_CLOEXEC)), allow);
            assert_eq!(run(flags(libc::O_RDONLY | libc::O_DIRECTORY)), allow);
            assert_eq!(run(flags(libc::O_WRONLY)), notif);
            assert_eq!(run(flags(libc::O_RDWR)), notif);
            assert_eq!(run(flags(libc::O_RDONLY | libc::O_CREAT)), notif);
            assert_eq!(run(flags(libc::O_RDONLY | libc::O_TRUNC)), notif);
            assert_eq!(
                run(flags(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)),
                notif
            );
        }
        for nr in [libc::SYS_execve, libc::SYS_execveat] {
            assert_eq!(run(&prog, AUDIT_ARCH, nr as u32), allow);
        }
        for nr in [
            libc::SYS_unlinkat,
            libc::SYS_renameat2,
            libc::SYS_mkdirat,
            libc::SYS_openat2,
            libc::SYS_creat,
            libc::SYS_chdir,
        ] {
            assert_eq!(run(&prog, AUDIT_ARCH, nr as u32), notif, "{nr}");
        }
        assert_eq!(run(&prog, AUDIT_ARCH, libc::SYS_read as u32), allow);
    }

    #[test]
    fn only_an_execve_with_the_whole_tag_goes_unnotified() {
        let prog = program(TAG);
        let execve = libc::SYS_execve as u32;
        let notif = libc::SECCOMP_RET_USER_NOTIF;
        assert_eq!(
            run_with(&prog, AUDIT_ARCH, execve, TAG),
            libc::SECCOMP_RET_ALLOW
        );
        assert_eq!(
            run_with(&prog, AUDIT_ARCH, execve, TAG & 0xffff_ffff),
            notif
        );
        assert_eq!(
            run_with(&prog, AUDIT_ARCH, execve, TAG & !0xffff_ffff),
            notif
        );
        assert_eq!(run_with(&prog, AUDIT_ARCH, execve, TAG ^ 1), notif);
        let execveat = libc::SYS_execveat as u32;
        assert_eq!(run_with(&prog, AUDIT_ARCH, execveat, TAG), notif);
        let openat = libc::SYS_openat as u32;
        assert_eq!(run_with(&prog, AUDIT_ARCH, openat, TAG), notif);
    }
}
