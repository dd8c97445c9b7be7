//! Resource limits of a step (`.CPU .MEMORY .FSIZE .NPROC .NOFILE`) and the
//! syntax of their values.
//!
//! Values: a plain number, or a number with a binary suffix `k m g t`
//! (1024-based; sizes only). `.MEMORY` also takes `N%` of physical RAM.
//! `.CPU` is in seconds. An empty value means "no limit".

use crate::diag::{Fatal, Loc};
use std::fmt;

/// Which limit a makefile variable sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// `.CPU`: CPU seconds (RLIMIT_CPU; SIGXCPU, then SIGKILL a second later).
    Cpu,
    /// `.MEMORY`: address space in bytes (RLIMIT_AS).
    Memory,
    /// `.FSIZE`: largest file a step may write (RLIMIT_FSIZE; SIGXFSZ).
    Fsize,
    /// `.NPROC`: processes of the user (RLIMIT_NPROC; counts all of the user's
    /// processes, not only the step's, and does not bind root).
    Nproc,
    /// `.NOFILE`: open descriptors per process (RLIMIT_NOFILE).
    Nofile,
}

impl Resource {
    /// The makefile variable that sets it.
    pub fn variable(self) -> &'static str {
        match self {
            Resource::Cpu => ".CPU",
            Resource::Memory => ".MEMORY",
            Resource::Fsize => ".FSIZE",
            Resource::Nproc => ".NPROC",
            Resource::Nofile => ".NOFILE",
        }
    }

    pub fn from_variable(name: &str) -> Option<Resource> {
        [
            Resource::Cpu,
            Resource::Memory,
            Resource::Fsize,
            Resource::Nproc,
            Resource::Nofile,
        ]
        .into_iter()
        .find(|r| r.variable() == name)
    }

    pub(crate) fn libc_resource(self) -> libc::__rlimit_resource_t {
        match self {
            Resource::Cpu => libc::RLIMIT_CPU,
            Resource::Memory => libc::RLIMIT_AS,
            Resource::Fsize => libc::RLIMIT_FSIZE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Nofile => libc::RLIMIT_NOFILE,
        }
    }

    fn takes_size_suffix(self) -> bool {
        matches!(self, Resource::Memory | Resource::Fsize)
    }
}

/// One resolved limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: Resource,
    pub value: u64,
    pub loc: Loc,
}

impl fmt::Display for Rlimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", self.resource.variable(), self.value)?;
        if self.resource == Resource::Cpu {
            write!(f, " s")?;
        } else if self.resource.takes_size_suffix() {
            write!(f, " bytes")?;
        }
        write!(f, "  ({} at {})", self.resource.variable(), self.loc)
    }
}

/// Parse the value of a limit variable; `Ok(None)` for an empty value.
pub fn parse(resource: Resource, value: &str, loc: &Loc) -> Result<Option<Rlimit>, Fatal> {
    let text = value.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Fatal::at(
            Some(loc),
            format!(
                "invalid {} value '{}' (expected {})",
                resource.variable(),
                text,
                match resource {
                    Resource::Memory => "a size such as 512m, 2g or 50%",
                    Resource::Fsize => "a size such as 100m",
                    Resource::Cpu => "a number of seconds",
                    _ => "a number",
                }
            ),
        )
    };
    let (digits, scale) = if let Some(d) = text.strip_suffix('%') {
        if resource != Resource::Memory {
            return Err(bad());
        }
        let pct: u64 = d.parse().map_err(|_| bad())?;
        if pct == 0 || pct > 100 {
            return Err(bad());
        }
        return Ok(Some(Rlimit {
            resource,
            value: physical_memory() / 100 * pct,
            loc: loc.clone(),
        }));
    } else {
        match text.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => {
                if !resource.takes_size_suffix() {
                    return Err(bad());
                }
                let shift = match c.to_ascii_lowercase() {
                    'k' => 10,
                    'm' => 20,
                    'g' => 30,
                    't' => 40,
                    _ => return Err(bad()),
                };
                (&text[..i], 1u64 << shift)
            }
            _ => (text, 1),
        }
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let value = n.checked_mul(scale).ok_or_else(bad)?;
    Ok(Some(Rlimit {
        resource,
        value,
        loc: loc.clone(),
    }))
}

fn physical_memory() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64).saturating_mul(size.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn loc() -> Loc {
        Loc::new(&Arc::from("Makefile"), 12)
    }

    fn val(r: Resource, s: &str) -> Result<Option<u64>, String> {
        parse(r, s, &loc())
            .map(|o| o.map(|l| l.value))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sizes_and_numbers() {
        assert_eq!(val(Resource::Memory, "512m"), Ok(Some(512 << 20)));
        assert_eq!(val(Resource::Fsize, "2G"), Ok(Some(2 << 30)));
        assert_eq!(val(Resource::Fsize, "100"), Ok(Some(100)));
        assert_eq!(val(Resource::Cpu, " 3 "), Ok(Some(3)));
        assert_eq!(val(Resource::Nofile, ""), Ok(None));
        assert!(val(Resource::Memory, "50%").unwrap().unwrap() > 0);
    }

    #[test]
    fn malformed_values_name_the_line() {
        assert_eq!(
            val(Resource::Cpu, "5m"),
            Err(
                "Makefile:12: *** invalid .CPU value '5m' (expected a number of seconds).  Stop."
                    .into()
            )
        );
        assert!(val(Resource::Nproc, "10%").is_err());
        assert!(val(Resource::Memory, "x").is_err());
        assert!(val(Resource::Memory, "0%").is_err());
        assert!(val(Resource::Memory, "99999999999t").is_err());
        assert!(val(Resource::Memory, "1q").is_err());
    }
}
