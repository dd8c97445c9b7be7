//! Running a command for `$(shell)` and `!=`: through `$(SHELL) $(.SHELLFLAGS)`,
//! with the environment a recipe would get.

use crate::diag::{Fatal, Result};
use crate::lang::database::Database;
use crate::lang::vars::{Flavor, Origin, Scope, Var};
use std::process::{Command, Stdio};

/// Run `cmd` and return its output as make does: trailing newlines removed,
/// other newlines turned into spaces. Sets `.SHELLSTATUS`.
pub fn run_shell(db: &mut Database, cmd: &str, scope: &Scope) -> Result<String> {
    let shell = db.var_value("SHELL", scope)?;
    let shell = if shell.trim().is_empty() {
        "/bin/sh".to_string()
    } else {
        shell.trim().to_string()
    };
    let flags = db.var_value(".SHELLFLAGS", scope)?;
    let env = db.recipe_env(scope)?;
    let mut command = Command::new(&shell);
    command
        .args(flags.split_whitespace())
        .arg(cmd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .stdout(Stdio::piped());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let (status, out) = match command.output() {
        Ok(o) => (
            o.status.code().unwrap_or(128 + signal_of(&o.status)),
            o.stdout,
        ),
        Err(e) => {
            eprintln!(
                "{}: {}: {}",
                crate::diag::PROG,
                shell,
                crate::lang::eval::io_message(&e)
            );
            (127, Vec::new())
        }
    };
    db.shell_status = Some(status);
    db.globals.set(
        ".SHELLSTATUS",
        Var::new(status.to_string(), Flavor::Simple, Origin::Override),
    );
    let mut text = String::from_utf8_lossy(&out).into_owned();
    while text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    let _ = Fatal::new("");
    Ok(text.replace("\r\n", " ").replace('\n', " "))
}

fn signal_of(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().unwrap_or(0)
}
