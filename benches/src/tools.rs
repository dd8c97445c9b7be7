//! The build tools under comparison, their command lines, and the probes that
//! find out which hbuild options exist today (the sandbox modes and `-j` are
//! being built concurrently: a mode that is not accepted is reported "n/a").

use std::fs;
use std::path::Path;

use crate::measure;

/// hbuild's sandbox modes, in the order they are reported.
pub const SANDBOX_MODES: [&str; 3] = ["off", "enforce", "audit"];

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// hbuild, with `--sandbox=MODE` when the mode exists.
    Hbuild {
        sandbox: Option<&'static str>,
    },
    Make,
    Ninja,
}

/// One column of the result table.
#[derive(Clone, Debug)]
pub struct Tool {
    /// Column name: `hbuild-enforce`, `hbuild` (no `--sandbox` option), `make`, `ninja`.
    pub name: String,
    pub program: String,
    pub kind: Kind,
    /// Whether `-jN` with N > 1 is accepted.
    pub parallel: bool,
}

impl Tool {
    fn new(name: &str, program: &str, kind: Kind) -> Tool {
        Tool {
            name: name.to_string(),
            program: program.to_string(),
            kind,
            parallel: true,
        }
    }

    /// The command line of one build with `jobs` parallel jobs; `None` when the
    /// tool cannot run that many. make and hbuild run one job by default, so
    /// `-j1` is never passed to them (it works even where `-j` is not parsed).
    pub fn argv(&self, jobs: usize) -> Option<Vec<String>> {
        let mut argv = vec![self.program.clone()];
        match self.kind {
            Kind::Ninja => argv.push(format!("-j{jobs}")),
            Kind::Make | Kind::Hbuild { .. } if jobs > 1 => {
                if !self.parallel {
                    return None;
                }
                argv.push(format!("-j{jobs}"));
            }
            _ => {}
        }
        if let Kind::Hbuild {
            sandbox: Some(mode),
        } = self.kind
        {
            argv.push(format!("--sandbox={mode}"));
        }
        Some(argv)
    }

    /// The command line for builds whose parallelism does not matter much
    /// (set-up, no-op, rebuild): `jobs` where possible, else the default.
    pub fn argv_best_effort(&self, jobs: usize) -> Vec<String> {
        self.argv(jobs)
            .or_else(|| self.argv(1))
            .unwrap_or_else(|| vec![self.program.clone()])
    }

    pub fn is_hbuild(&self) -> bool {
        matches!(self.kind, Kind::Hbuild { .. })
    }
}

/// What the probes found, for the report.
#[derive(Clone, Debug, Default)]
pub struct Probe {
    /// For each sandbox mode: accepted, and why not.
    pub sandbox: Vec<(String, Result<(), String>)>,
    /// Tools left out (not installed, or failing on a trivial makefile).
    pub missing: Vec<(String, String)>,
    /// hbuild columns that run without `-j2` because it is not accepted.
    pub serial_only: Vec<String>,
}

fn argv_of(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Run a tool on a trivial makefile in `scratch`; `Ok` if it exits 0.
fn try_run(argv: &[String], scratch: &Path) -> Result<(), String> {
    let timeout = std::time::Duration::from_secs(30);
    measure::run(argv, scratch, &scratch.join("probe.err"), timeout)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{}: {}",
                e.status,
                e.stderr_tail.lines().next().unwrap_or("")
            )
        })
}

/// Decide the columns: hbuild in every sandbox mode it accepts (or plain
/// hbuild when it accepts none), GNU make and ninja when they run.
pub fn detect(hbuild: &str, make: &str, ninja: &str, scratch: &Path) -> (Vec<Tool>, Probe) {
    let _ = fs::create_dir_all(scratch);
    let _ = fs::write(scratch.join("Makefile"), "all:\n\t@true\n");
    let _ = fs::write(
        scratch.join("build.ninja"),
        "rule t\n  command = true\nbuild all: t\n",
    );
    let mut probe = Probe::default();
    let mut tools = Vec::new();

    // A stub option parser may take `--sandbox=off` for a variable assignment
    // and exit 0; a real one rejects a mode that does not exist.
    let bogus = try_run(&argv_of(&[hbuild, "--sandbox=no-such-mode"]), scratch);
    for mode in SANDBOX_MODES {
        let accepted = match try_run(&argv_of(&[hbuild, &format!("--sandbox={mode}")]), scratch) {
            Ok(()) if bogus.is_ok() => Err(
                "`--sandbox=no-such-mode` is accepted as well: the option is not parsed yet"
                    .to_string(),
            ),
            other => other,
        };
        if accepted.is_ok() {
            tools.push(Tool::new(
                &format!("hbuild-{mode}"),
                hbuild,
                Kind::Hbuild {
                    sandbox: Some(mode),
                },
            ));
        }
        probe.sandbox.push((mode.to_string(), accepted));
    }
    if tools.is_empty() {
        match try_run(&argv_of(&[hbuild]), scratch) {
            Ok(()) => tools.push(Tool::new("hbuild", hbuild, Kind::Hbuild { sandbox: None })),
            Err(e) => probe.missing.push(("hbuild".to_string(), e)),
        }
    }
    for tool in &mut tools {
        let mut argv = tool.argv(1).unwrap_or_default();
        argv.insert(1, "-j2".to_string());
        if try_run(&argv, scratch).is_err() {
            tool.parallel = false;
            probe.serial_only.push(tool.name.clone());
        }
    }
    for (name, program, kind) in [("make", make, Kind::Make), ("ninja", ninja, Kind::Ninja)] {
        let tool = Tool::new(name, program, kind);
        match try_run(&tool.argv(2).unwrap_or_default(), scratch) {
            Ok(()) => tools.push(tool),
            Err(e) => probe.missing.push((name.to_string(), e)),
        }
    }
    (tools, probe)
}
