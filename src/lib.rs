//! hbuild: a GNU Make compatible build runner that sandboxes every recipe.
//!
//! Layers, in the order data flows: `cli` → `lang` (makefiles → `Database`) →
//! `graph` (targets, implicit rules, up-to-date decisions) → `engine` (runs steps).

pub mod cli;
pub mod completions;
pub mod diag;
pub mod driver;
pub mod engine;
pub mod graph;
pub mod lang;
pub mod observe;
pub mod report;
pub mod repro;
pub mod sandbox;
pub mod ui;
pub mod watch;

/// Run hbuild with the process's arguments and environment; returns the exit status.
pub fn run() -> i32 {
    let mut argv = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv0 = argv.next().unwrap_or_else(|| diag::PROG.to_string());
    let args: Vec<String> = argv.collect();
    // make takes the switches of `GNUMAKEFLAGS` first (and then empties it:
    // they travel on in `MAKEFLAGS`), then those of `MAKEFLAGS`.
    // A command-line `GNUMAKEFLAGS=...` is read in its place.
    let gnumakeflags = args
        .iter()
        .rev()
        .find_map(|a| a.strip_prefix("GNUMAKEFLAGS=").map(str::to_string))
        .or_else(|| std::env::var("GNUMAKEFLAGS").ok());
    let makeflags = std::env::var("MAKEFLAGS").ok();
    let opts = match cli::parse_env(&args, &[gnumakeflags.as_deref(), makeflags.as_deref()]) {
        cli::Command::Exit(code) => return code,
        cli::Command::Build(opts) => opts,
    };
    // Makefiles can recurse deeply through `$(call)` and `$(eval)`; give the
    // interpreter a large stack (only touched pages are ever allocated).
    const STACK: usize = 512 << 20;
    let inv = driver::Invocation { argv0, args };
    std::thread::Builder::new()
        .name("hbuild".into())
        .stack_size(STACK)
        .spawn(move || driver::run(opts, &inv))
        .ok()
        .and_then(|t| t.join().ok())
        .unwrap_or(2)
}
