//! The sandbox of a recipe step: what it may read, write, execute and reach
//! ([`Policy`], pure data), how that becomes a Landlock ruleset entered by the
//! step's processes ([`prepare`], [`install`]), its private TMPDIR
//! ([`StepTmp`]), and the end of its processes ([`reap_orphans`]).
//!
//! Call order for the engine, per build and per step:
//! 1. once: `KernelSupport::detect()`, `require_check` for `--sandbox=require`,
//!    print `warnings`, `become_subreaper()`, `BuildTmp::new()`;
//! 2. per step: `Policy::for_step(&decl)?`, `build_tmp.step()?`,
//!    `policy.set_tmpdir(step_tmp.path())`, `Arc::new(prepare(&policy, &k, mode)?)`;
//! 3. per command: build the `Command`, then `install(&mut cmd, prepared.clone())`, spawn;
//! 4. after reaping each command: `reap_orphans(&still_running_pids)`;
//! 5. after the step: drop the `StepTmp`.
//!
//! See docs/sandbox.md for the model.

mod apply;
mod kernel;
mod lifetime;
pub mod parse_shell;
mod policy;
mod presets;
mod rights;
mod rlimits;
mod settings;
mod tmpdir;
mod unveil;

pub use apply::{apply_in_child, install, prepare, Prepared};
pub use kernel::{require_check, sandbox_info, warnings, KernelSupport, Mode, PROTECTIONS};
pub use lifetime::{become_subreaper, children, reap_orphans};
pub use policy::{runs_free_by_default, Entry, Origin, Policy, StepDecl};
pub use presets::NAMES as PRESET_NAMES;
pub use rights::Rights;
pub use rlimits::{Resource, Rlimit};
pub use settings::{settings_for, MakefileSettings};
pub use tmpdir::{BuildTmp, StepTmp};
