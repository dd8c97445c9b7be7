//! Named sets of system paths a step may use. `system` is the default for
//! every step (unless `.STRICT`); the others are opted into with
//! `.UNVEIL = preset:NAME`. Each entry is chosen by a test in
//! `tests/sandbox.rs` that runs the tool needing it.

use super::policy::{Entry, Origin};
use super::rights::Rights;
use std::path::PathBuf;
use std::sync::Mutex;

/// The names `.UNVEIL` accepts after `preset:`.
pub const NAMES: &[&str] = &["system", "runtime", "tty", "dns", "certs", "vminfo", "tmp"];

/// One preset path with the reason it is there.
struct Item(&'static str, Rights, &'static str);

const RW_DEV: Rights = Rights::READ.union(Rights::WRITE);

/// The dynamic loader and shared libraries: what any dynamically linked
/// program (the shell included) needs to start.
const RUNTIME: &[Item] = &[
    Item(
        "/lib",
        Rights::RX,
        "shared libraries and the dynamic loader",
    ),
    Item("/lib64", Rights::RX, "the x86-64 dynamic loader"),
    Item("/lib32", Rights::RX, "32-bit libraries (multilib)"),
    Item("/libx32", Rights::RX, "x32 libraries (multilib)"),
    Item("/usr/lib", Rights::RX, "shared libraries"),
    Item("/usr/lib64", Rights::RX, "shared libraries"),
    Item("/usr/lib32", Rights::RX, "32-bit libraries"),
    Item(
        "/etc/ld.so.cache",
        Rights::READ,
        "the loader's library index",
    ),
    Item("/etc/ld.so.conf", Rights::READ, "library search path"),
    Item("/etc/ld.so.conf.d", Rights::READ, "library search path"),
    Item("/dev/null", RW_DEV, "every shell script redirects to it"),
];

/// Toolchains and ordinary Unix tools, read-only, nothing personal.
const SYSTEM: &[Item] = &[
    Item(
        "/usr",
        Rights::RX,
        "programs, compilers (libexec), headers, shared data",
    ),
    Item("/bin", Rights::RX, "programs (often a link to /usr/bin)"),
    Item("/sbin", Rights::RX, "programs (often a link to /usr/sbin)"),
    Item("/opt", Rights::RX, "toolchains installed outside /usr"),
    Item(
        "/etc/localtime",
        Rights::READ,
        "local time zone (date, ls -l)",
    ),
    Item(
        "/etc/locale.alias",
        Rights::READ,
        "locale name aliases (setlocale, through /usr/share/locale)",
    ),
    Item(
        "/etc/passwd",
        Rights::READ,
        "user names (getpwuid: ls, id, install, perl)",
    ),
    Item(
        "/etc/group",
        Rights::READ,
        "group names (getgrgid: ls, install)",
    ),
    Item(
        "/etc/nsswitch.conf",
        Rights::READ,
        "how getpwuid looks names up",
    ),
    Item(
        "/etc/perl",
        Rights::READ,
        "perl's site modules (Net::Cmd configuration)",
    ),
    Item(
        "/etc/python3*",
        Rights::READ,
        "python's sitecustomize.py (linked from /usr/lib)",
    ),
    Item(
        "/etc/mime.types",
        Rights::READ,
        "python's mimetypes module fails without it",
    ),
    Item("/dev/zero", Rights::READ, "zero-filled reads (dd, mmap)"),
    Item(
        "/dev/urandom",
        Rights::READ,
        "random seeds (mktemp, python, perl)",
    ),
    Item("/dev/random", Rights::READ, "random numbers"),
    Item("/dev/full", RW_DEV, "tests of write errors"),
];

/// The controlling terminal, for interactive recipes.
const TTY: &[Item] = &[
    Item(
        "/dev/tty",
        RW_DEV,
        "the controlling terminal (with terminal ioctls)",
    ),
    Item(
        "/dev/pts",
        RW_DEV,
        "pseudo-terminals (with terminal ioctls)",
    ),
    Item("/dev/ptmx", RW_DEV, "new pseudo-terminals"),
];

/// Name resolution configuration (network access itself is `.INTERNET`).
const DNS: &[Item] = &[
    Item("/etc/resolv.conf", Rights::READ, "DNS servers"),
    Item("/etc/hosts", Rights::READ, "static host names"),
    Item("/etc/nsswitch.conf", Rights::READ, "resolver order"),
    Item("/etc/gai.conf", Rights::READ, "address sorting"),
    Item("/etc/host.conf", Rights::READ, "resolver options"),
    Item(
        "/run/systemd/resolve",
        Rights::READ,
        "systemd-resolved's resolv.conf",
    ),
];

/// Certificate authorities for TLS clients.
const CERTS: &[Item] = &[
    Item(
        "/etc/ssl",
        Rights::READ,
        "CA bundle and OpenSSL configuration",
    ),
    Item("/etc/ca-certificates", Rights::READ, "CA configuration"),
    Item("/etc/pki", Rights::READ, "CA bundle (Red Hat layout)"),
    Item(
        "/usr/share/ca-certificates",
        Rights::READ,
        "CA certificates",
    ),
];

/// Machine facts for tools that size themselves to the machine.
const VMINFO: &[Item] = &[
    Item("/proc/meminfo", Rights::READ, "memory size"),
    Item("/proc/cpuinfo", Rights::READ, "CPU model and count"),
    Item("/proc/stat", Rights::READ, "CPU count and load"),
    Item("/proc/loadavg", Rights::READ, "load average"),
    Item("/sys/devices/system/cpu", Rights::READ, "CPU topology"),
];

/// A shared writable /tmp, for tools that ignore $TMPDIR.
const TMP: &[Item] = &[Item(
    "/tmp",
    Rights::RW.union(Rights::CREATE),
    "tools that ignore $TMPDIR",
)];

/// The entries of preset `name` (one of [`NAMES`]), or `None` if unknown.
/// `system` includes `runtime`.
pub fn entries(name: &str) -> Option<Vec<Entry>> {
    // Every step asks for the same presets; versioned names (`/etc/python3*`)
    // are probed, so the result is kept per process.
    static CACHE: Mutex<Vec<(String, Vec<Entry>)>> = Mutex::new(Vec::new());
    if let Some((_, e)) = CACHE.lock().ok()?.iter().find(|(n, _)| n == name) {
        return Some(e.clone());
    }
    let e = build_entries(name)?;
    if let Ok(mut c) = CACHE.lock() {
        c.push((name.to_string(), e.clone()));
    }
    Some(e)
}

fn build_entries(name: &str) -> Option<Vec<Entry>> {
    let lists: &[&[Item]] = match name {
        "system" => &[RUNTIME, SYSTEM],
        "runtime" => &[RUNTIME],
        "tty" => &[TTY],
        "dns" => &[DNS],
        "certs" => &[CERTS],
        "vminfo" => &[VMINFO],
        "tmp" => &[TMP],
        _ => return None,
    };
    let origin = Origin::Preset(NAMES.iter().find(|n| **n == name)?);
    Some(
        lists
            .iter()
            .flat_map(|l| l.iter())
            .flat_map(|Item(path, rights, why)| {
                expand(path).into_iter().map(|path| Entry {
                    path,
                    rights: *rights,
                    origin: origin.clone(),
                    note: Some(*why),
                })
            })
            .collect(),
    )
}

/// `NAME*` names the versions of `NAME` that exist: `NAME` itself and
/// `NAME.0` to `NAME.40` (`/etc/python3`, `/etc/python3.11`); other paths
/// stand as is. Probed with `stat` rather than by listing the directory: an
/// hbuild started inside another's step may read no more of `/etc` than
/// that step may, and a refused listing would be blamed on the step.
fn expand(path: &str) -> Vec<PathBuf> {
    let Some(name) = path.strip_suffix('*') else {
        return vec![PathBuf::from(path)];
    };
    std::iter::once(name.to_string())
        .chain((0..=40).map(|minor| format!("{name}.{minor}")))
        .map(PathBuf::from)
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// Extra TCP ports a preset opens for connecting (DNS over TCP).
pub fn connect_ports(name: &str) -> &'static [u16] {
    match name {
        "dns" => &[53],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_entries() {
        for n in NAMES {
            assert!(!entries(n).unwrap().is_empty(), "{}", n);
        }
        assert!(entries("foo").is_none());
    }

    #[test]
    fn system_keeps_out_personal_and_shared_places() {
        let sys = entries("system").unwrap();
        for bad in [
            "/tmp",
            "/root",
            "/home",
            "/etc/shadow",
            "/etc",
            "/",
            "/proc",
            "/dev",
        ] {
            assert!(sys.iter().all(|e| e.path.as_os_str() != bad), "{}", bad);
        }
    }
}
