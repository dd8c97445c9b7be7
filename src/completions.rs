//! Shell completions and the man page, generated with `clap_complete` and
//! `clap_mangen` from a `clap::Command` that describes hbuild's options.
//!
//! hbuild parses its command line itself (getopt rules, see `cli.rs`); the
//! `clap::Command` here is only a description for the generators. A test
//! checks it against `cli::usage_text()` so the two cannot drift apart.

use clap::{Arg, ArgAction, Command, ValueHint};
use clap_complete::Shell;
use std::io::{self, Write};

/// What an option takes, for the generators.
#[derive(Clone, Copy)]
enum Value {
    /// A flag.
    None,
    /// A value, always (`-f FILE`).
    Required(&'static str, ValueHint),
    /// A value only when attached (`-j[N]`, `--debug[=FLAGS]`).
    Optional(&'static str),
    /// One of a fixed set of words.
    OneOf(&'static str, &'static [&'static str]),
}

/// One option: id, short letter, long names (the first is the main one), help.
struct OptionSpec {
    short: Option<char>,
    longs: &'static [&'static str],
    value: Value,
    help: &'static str,
}

const fn opt(
    short: Option<char>,
    longs: &'static [&'static str],
    value: Value,
    help: &'static str,
) -> OptionSpec {
    OptionSpec {
        short,
        longs,
        value,
        help,
    }
}

use ValueHint::{AnyPath, DirPath, FilePath};

/// hbuild's options, make's first, as `hbuild --help` lists them.
#[rustfmt::skip] // one option per line reads as a table
const OPTIONS: &[OptionSpec] = &[
    opt(Some('b'), &[], Value::None, "Accepted and ignored, as make does."),
    opt(Some('m'), &[], Value::None, "Accepted and ignored, as make does."),
    opt(Some('B'), &["always-make"], Value::None, "Remake every target, up to date or not."),
    opt(Some('C'), &["directory"], Value::Required("DIRECTORY", DirPath), "Enter DIRECTORY before reading makefiles."),
    opt(Some('d'), &[], Value::None, "Print all debugging output."),
    opt(None, &["debug"], Value::Optional("FLAGS"), "Print the debugging output chosen by FLAGS."),
    opt(Some('e'), &["environment-overrides"], Value::None, "Let environment variables win over makefile ones."),
    opt(Some('E'), &["eval"], Value::Required("STRING", ValueHint::Other), "Read STRING as a makefile line."),
    opt(Some('f'), &["file", "makefile"], Value::Required("FILE", FilePath), "Read FILE as the makefile."),
    opt(Some('h'), &["help"], Value::None, "Show the help and exit."),
    opt(Some('i'), &["ignore-errors"], Value::None, "Carry on after failing recipes."),
    opt(Some('I'), &["include-dir"], Value::Required("DIRECTORY", DirPath), "Look in DIRECTORY for included makefiles."),
    opt(Some('j'), &["jobs"], Value::Optional("N"), "Run up to N recipes at once; no limit without N."),
    opt(Some('k'), &["keep-going"], Value::None, "Build what can be built after a failure."),
    opt(Some('l'), &["load-average", "max-load"], Value::Optional("N"), "Start parallel recipes only while the load is below N."),
    opt(Some('L'), &["check-symlink-times"], Value::None, "Use the newest time of a symlink and its target."),
    opt(Some('n'), &["just-print", "dry-run", "recon"], Value::None, "Print the recipes without running them."),
    opt(Some('o'), &["old-file", "assume-old"], Value::Required("FILE", FilePath), "Treat FILE as very old and never remake it."),
    opt(Some('O'), &["output-sync"], Value::OneOf("TYPE", &["none", "line", "target", "recurse"]), "Group the output of parallel jobs by TYPE."),
    opt(Some('p'), &["print-data-base"], Value::None, "Print the rules and variables that were read."),
    opt(Some('q'), &["question"], Value::None, "Run nothing; the exit status tells if all is up to date."),
    opt(Some('r'), &["no-builtin-rules"], Value::None, "Do without the built-in implicit rules."),
    opt(Some('R'), &["no-builtin-variables"], Value::None, "Do without the built-in variables."),
    opt(Some('s'), &["silent", "quiet"], Value::None, "Do not print recipes as they run."),
    opt(None, &["no-silent"], Value::None, "Print recipes as they run (cancels -s)."),
    opt(Some('S'), &["no-keep-going", "stop"], Value::None, "Cancel -k."),
    opt(Some('t'), &["touch"], Value::None, "Touch targets instead of running their recipes."),
    opt(None, &["trace"], Value::None, "Say why each recipe runs."),
    opt(Some('v'), &["version"], Value::None, "Show the version and exit."),
    opt(Some('w'), &["print-directory"], Value::None, "Announce the working directory."),
    opt(None, &["no-print-directory"], Value::None, "Never announce the directory, even implicitly."),
    opt(Some('W'), &["what-if", "new-file", "assume-new"], Value::Required("FILE", FilePath), "Treat FILE as brand new."),
    opt(None, &["warn-undefined-variables"], Value::None, "Warn when an undefined variable is expanded."),
    opt(None, &["sandbox"], Value::OneOf("MODE", &["enforce", "require", "audit", "off"]), "Sandbox mode: enforce (default), require, audit or off."),
    opt(None, &["sandbox-info"], Value::None, "Show what the kernel's Landlock enforces."),
    opt(None, &["explain-sandbox"], Value::Required("TARGET", ValueHint::Other), "Print the sandbox policy of TARGET's recipe."),
    opt(None, &["fix-deps"], Value::Required("FILE", FilePath), "With audit: write the missing prerequisites to FILE."),
    opt(None, &["report"], Value::Required("FILE", FilePath), "Write a JSON report of the build."),
    opt(None, &["check-repro"], Value::None, "Build twice with variations and compare the outputs."),
    opt(None, &["repro-vary"], Value::Required("LIST", ValueHint::Other), "The variations --check-repro uses."),
    opt(None, &["watch"], Value::None, "Rebuild when sources or makefiles change."),
    opt(None, &["progress"], Value::OneOf("WHEN", &["auto", "always", "never"]), "Status line: auto, always or never."),
    opt(None, &["trace-json"], Value::Required("FILE", FilePath), "Write a Chrome trace of the build."),
    opt(None, &["graph"], Value::Required("FILE", FilePath), "Write the dependency graph of the goals."),
    opt(None, &["graph-format"], Value::OneOf("FORMAT", &["dot", "json"]), "Format of --graph: dot or json."),
    opt(None, &["completions"], Value::OneOf("SHELL", &["bash", "zsh", "fish", "elvish", "powershell"]), "Print a completion script for SHELL."),
    opt(None, &["man-page"], Value::None, "Print hbuild's man page (roff)."),
];

/// The description of hbuild's command line the generators work from.
pub fn command() -> Command {
    let mut cmd = Command::new("hbuild")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A hermetic build runner: GNU Make compatible, every recipe sandboxed with Landlock")
        .long_about(
            "hbuild reads makefiles written for GNU Make 4.3 and brings the named \
             targets up to date, running each recipe in a Landlock sandbox. Its \
             options, messages and exit statuses are make's; its own options \
             (--sandbox, --watch, --trace-json, --graph, ...) are listed with them.",
        )
        .disable_help_flag(true)
        .disable_version_flag(true);
    for spec in OPTIONS {
        cmd = cmd.arg(arg(spec));
    }
    cmd.arg(
        Arg::new("targets")
            .value_name("TARGET or VAR=VALUE")
            .help("Targets to bring up to date, and variable assignments.")
            .num_args(0..)
            .action(ArgAction::Append)
            .value_hint(AnyPath),
    )
}

fn arg(spec: &OptionSpec) -> Arg {
    let id: &'static str = match (spec.longs.first(), spec.short) {
        (Some(long), _) => long,
        (None, Some(c)) => letter(c),
        (None, None) => "",
    };
    let mut a = Arg::new(id).help(spec.help);
    if let Some(c) = spec.short {
        a = a.short(c);
    }
    if let Some((first, rest)) = spec.longs.split_first() {
        a = a.long(*first).visible_aliases(rest.iter().copied());
    }
    match spec.value {
        Value::None => a.action(ArgAction::Count),
        Value::Required(name, hint) => a
            .value_name(name)
            .value_hint(hint)
            .action(ArgAction::Append),
        Value::Optional(name) => a
            .value_name(name)
            .num_args(0..=1)
            .require_equals(true)
            .action(ArgAction::Append),
        Value::OneOf(name, words) => a
            .value_name(name)
            .value_parser(clap::builder::PossibleValuesParser::new(
                words.iter().copied(),
            ))
            .action(ArgAction::Append),
    }
}

/// `c` as a `'static` string (clap's ids must be): a slice of a constant.
fn letter(c: char) -> &'static str {
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    match LETTERS.find(c) {
        Some(i) => &LETTERS[i..i + 1],
        None => "?",
    }
}

/// The shell a name denotes (`bash`, `zsh`, `fish`, `elvish`, `powershell`).
pub fn shell_named(name: &str) -> Option<Shell> {
    name.parse::<Shell>().ok()
}

/// Write the completion script for `shell`.
pub fn write_completions(shell: Shell, out: &mut dyn Write) {
    let mut cmd = command();
    clap_complete::generate(shell, &mut cmd, "hbuild", out);
}

/// Write the man page (roff) for `hbuild(1)`.
pub fn write_man(out: &mut dyn Write) -> io::Result<()> {
    clap_mangen::Man::new(command()).render(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_consistent() {
        command().debug_assert();
    }

    /// Every option `hbuild --help` names must be described here, so
    /// completions offer all of them.
    #[test]
    fn covers_every_option_of_the_usage_text() {
        let cmd = command();
        let mut longs: Vec<String> = Vec::new();
        let mut shorts: Vec<char> = Vec::new();
        for a in cmd.get_arguments() {
            longs.extend(
                a.get_long_and_visible_aliases()
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.to_string()),
            );
            shorts.extend(a.get_short());
        }
        let usage = crate::cli::usage_text();
        for word in usage.split([' ', ',', '\n', '[', '=']) {
            if let Some(long) = word.strip_prefix("--") {
                if !long.is_empty() {
                    assert!(longs.iter().any(|l| l == long), "--{} missing", long);
                }
            } else if let Some(short) = word.strip_prefix('-') {
                let mut chars = short.chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    if c.is_ascii_alphabetic() {
                        assert!(shorts.contains(&c), "-{} missing", c);
                    }
                }
            }
        }
    }

    #[test]
    fn bash_completion_lists_options() {
        let mut buf = Vec::new();
        write_completions(Shell::Bash, &mut buf);
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("--watch"));
        assert!(text.contains("--graph-format"));
        assert!(text.contains("complete"));
        for shell in [Shell::Zsh, Shell::Fish] {
            let mut buf = Vec::new();
            write_completions(shell, &mut buf);
            assert!(String::from_utf8(buf).unwrap().contains("trace-json"));
        }
    }

    #[test]
    fn man_page_is_roff() {
        let mut buf = Vec::new();
        write_man(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(
            text.contains(".TH hbuild 1"),
            "{}",
            &text[..200.min(text.len())]
        );
        assert!(text.contains("always\\-make"));
    }

    #[test]
    fn shells_by_name() {
        assert_eq!(shell_named("bash"), Some(Shell::Bash));
        assert_eq!(shell_named("fish"), Some(Shell::Fish));
        assert_eq!(shell_named("tcsh"), None);
    }
}
