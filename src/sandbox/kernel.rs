//! What the running kernel's Landlock can enforce, the sandbox modes, and
//! the messages that say what is not enforced (never silently).

use crate::diag::Fatal;

/// `--sandbox=MODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Enforce what the kernel supports; warn once about the rest.
    #[default]
    Enforce,
    /// Like `Enforce`, but refuse to build if any protection is missing.
    Require,
    /// No sandbox (limits still apply); says so once.
    Off,
    /// Run without denials, observing what steps touch.
    Audit,
}

impl Mode {
    pub fn parse(text: &str) -> Option<Mode> {
        Some(match text {
            "enforce" | "on" => Mode::Enforce,
            "require" => Mode::Require,
            "off" => Mode::Off,
            "audit" => Mode::Audit,
            _ => return None,
        })
    }

    /// The name `--sandbox` takes.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Require => "require",
            Mode::Off => "off",
            Mode::Audit => "audit",
        }
    }

    /// Whether Landlock rules are applied in this mode.
    pub fn enforces(self) -> bool {
        matches!(self, Mode::Enforce | Mode::Require)
    }
}

/// One protection and the ABI that brings it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Protection {
    pub name: &'static str,
    pub abi: i32,
    /// What happens without it.
    pub without: &'static str,
}

/// Every protection hbuild uses, in ABI order.
pub const PROTECTIONS: &[Protection] = &[
    Protection {
        name: "file reads, writes, execution, creation and removal",
        abi: 1,
        without: "recipes run unsandboxed",
    },
    Protection {
        name: "rename and link across directories (REFER)",
        abi: 2,
        without: "renaming a file into another directory is always denied",
    },
    Protection {
        name: "truncation of existing files",
        abi: 3,
        without: "files in a target's directory can be truncated",
    },
    Protection {
        name: "TCP bind and connect",
        abi: 4,
        without: "TCP is not restricted",
    },
    Protection {
        name: "ioctl on devices",
        abi: 5,
        without: "device ioctls are not restricted",
    },
    Protection {
        name: "signals and abstract UNIX sockets (scopes)",
        abi: 6,
        without: "recipes can signal hbuild and other processes and reach abstract UNIX sockets",
    },
];

/// The kernel's Landlock support.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelSupport {
    /// Landlock ABI version; 0 when Landlock is unavailable.
    pub abi: i32,
    /// Why Landlock is unavailable (when `abi == 0`).
    pub unavailable: Option<String>,
}

impl KernelSupport {
    /// Ask the kernel (`landlock_create_ruleset(NULL, 0, VERSION)`).
    pub fn detect() -> KernelSupport {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
        // SAFETY: with a null attribute and size 0 the kernel only returns the version.
        let v = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<u8>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        if v > 0 {
            return KernelSupport::with_abi(v as i32);
        }
        let err = std::io::Error::last_os_error();
        let why = match err.raw_os_error() {
            Some(libc::ENOSYS) => "the kernel is built without Landlock".to_string(),
            Some(libc::EOPNOTSUPP) => {
                "Landlock is disabled at boot (add landlock to the lsm= kernel parameter)"
                    .to_string()
            }
            _ => format!("landlock_create_ruleset failed: {}", err),
        };
        KernelSupport {
            abi: 0,
            unavailable: Some(why),
        }
    }

    /// A kernel with this ABI (tests use it to simulate older kernels).
    pub fn with_abi(abi: i32) -> KernelSupport {
        KernelSupport {
            abi,
            unavailable: (abi <= 0).then(|| "Landlock is unavailable".to_string()),
        }
    }

    pub fn has(&self, p: &Protection) -> bool {
        self.abi >= p.abi
    }

    fn missing(&self) -> impl Iterator<Item = &'static Protection> + '_ {
        PROTECTIONS.iter().filter(move |p| !self.has(p))
    }
}

/// What is not enforced and why, to print once at the start of a build.
pub fn warnings(k: &KernelSupport, mode: Mode) -> Vec<String> {
    match mode {
        Mode::Off => return vec!["sandbox is off (--sandbox=off): recipes run unsandboxed".into()],
        Mode::Audit => {
            return vec![
                "sandbox audit mode: recipes run without denials (access observation is not implemented yet)"
                    .into(),
            ]
        }
        Mode::Enforce | Mode::Require => {}
    }
    if k.abi <= 0 {
        return vec![format!(
            "recipes run unsandboxed: {}",
            k.unavailable
                .as_deref()
                .unwrap_or("Landlock is unavailable")
        )];
    }
    k.missing()
        .map(|p| format!("{}: kernel Landlock ABI {} < {}", p.without, k.abi, p.abi))
        .collect()
}

/// `--sandbox=require`: an error listing every missing protection.
pub fn require_check(k: &KernelSupport) -> Result<(), Fatal> {
    let missing: Vec<String> = k
        .missing()
        .map(|p| format!("{} (needs ABI {})", p.name, p.abi))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let have = match k.abi {
        0 => format!(
            "no Landlock: {}",
            k.unavailable.as_deref().unwrap_or("unavailable")
        ),
        n => format!("Landlock ABI {}", n),
    };
    Err(Fatal::new(format!(
        "--sandbox=require: the kernel ({}) cannot enforce: {}",
        have,
        missing.join("; ")
    )))
}

/// The `--sandbox-info` report.
pub fn sandbox_info(k: &KernelSupport) -> String {
    let mut s = match k.abi {
        0 => format!(
            "Landlock: unavailable ({})\n",
            k.unavailable.as_deref().unwrap_or("unknown reason")
        ),
        n => format!("Landlock: ABI {}\n", n),
    };
    for p in PROTECTIONS {
        s.push_str(&format!(
            "  {:<3} {} (ABI {})\n",
            if k.has(p) { "yes" } else { "no" },
            p.name,
            p.abi
        ));
    }
    s.push_str("  yes resource limits (.CPU .MEMORY .FSIZE .NPROC .NOFILE)\n");
    s.push_str("  yes per-step TMPDIR, leftover processes killed when a step ends\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_this_kernel() {
        let k = KernelSupport::detect();
        assert!(k.abi >= 0);
        assert_eq!(k.abi == 0, k.unavailable.is_some());
    }

    #[test]
    fn says_what_an_old_kernel_misses() {
        let k = KernelSupport::with_abi(3);
        let w = warnings(&k, Mode::Enforce);
        assert!(w.contains(&"TCP is not restricted: kernel Landlock ABI 3 < 4".to_string()));
        assert_eq!(w.len(), 3);
        let e = require_check(&k).unwrap_err().to_string();
        assert!(e.contains("TCP bind and connect (needs ABI 4)"), "{}", e);
        assert!(require_check(&KernelSupport::with_abi(7)).is_ok());
        assert!(warnings(&KernelSupport::with_abi(7), Mode::Enforce).is_empty());
    }

    #[test]
    fn never_silent_without_sandbox() {
        assert_eq!(
            warnings(&KernelSupport::with_abi(0), Mode::Enforce).len(),
            1
        );
        assert_eq!(warnings(&KernelSupport::with_abi(7), Mode::Off).len(), 1);
        assert_eq!(warnings(&KernelSupport::with_abi(7), Mode::Audit).len(), 1);
        assert!(require_check(&KernelSupport::with_abi(0)).is_err());
    }

    #[test]
    fn info_lists_each_protection() {
        let s = sandbox_info(&KernelSupport::with_abi(4));
        assert!(s.contains("Landlock: ABI 4"));
        assert!(s.contains("yes TCP bind and connect"));
        assert!(s.contains("no  signals"));
    }
}
