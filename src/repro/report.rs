//! The result of a check, printed for people and written as JSON.

use super::attribute::Attribution;
use super::compare::{ByteDiff, Output};
use super::variation::{Variation, VarySet};
use crate::diag::prog;
use std::fmt::Write as _;
use std::path::PathBuf;

/// One target that differs between the two builds.
pub struct TargetDiff {
    pub path: PathBuf,
    pub first: Option<Output>,
    pub second: Option<Output>,
    pub bytes: Option<ByteDiff>,
    pub attribution: Option<Attribution>,
}

pub struct Outcome {
    /// 0: reproducible, 1: some target differs, 2: a build failed.
    pub status: i32,
    pub varied: VarySet,
    pub source_date_epoch: String,
    pub locales: [String; 2],
    pub compared: usize,
    pub diffs: Vec<TargetDiff>,
    pub error: Option<String>,
}

fn describe(o: &Option<Output>) -> String {
    match o {
        Some(Output::File { size, .. }) => format!("{} bytes", size),
        Some(Output::Symlink(t)) => format!("a symlink to {}", t.display()),
        None => "missing".to_string(),
    }
}

fn mode(o: &Option<Output>) -> Option<u32> {
    match o {
        Some(Output::File { mode, .. }) => Some(*mode),
        _ => None,
    }
}

/// The lines describing one differing target (without the cause).
pub fn difference_lines(d: &TargetDiff) -> Vec<String> {
    let name = d.path.display();
    let p = prog();
    let mut lines = Vec::new();
    match (&d.first, &d.second) {
        (Some(_), None) => lines.push(format!("{}: {} is made only by the first build", p, name)),
        (None, Some(_)) => lines.push(format!("{}: {} is made only by the second build", p, name)),
        _ => {
            let mut text = format!(
                "{}: {} differs: {} vs {}",
                p,
                name,
                describe(&d.first),
                describe(&d.second)
            );
            match &d.bytes {
                Some(b) => {
                    let _ = write!(text, ", first difference at byte {}", b.offset);
                }
                None if matches!(d.first, Some(Output::File { .. })) => {
                    text.push_str(", same contents")
                }
                None => {}
            }
            if let (Some(m1), Some(m2)) = (mode(&d.first), mode(&d.second)) {
                if (m1 ^ m2) & !super::compare::UMASK_BITS != 0 {
                    let _ = write!(text, "; mode {:04o} vs {:04o}", m1, m2);
                }
            }
            lines.push(text);
            if let Some(b) = &d.bytes {
                lines.push(format!("{}:   first:  \"{}\"", p, b.context[0]));
                lines.push(format!("{}:   second: \"{}\"", p, b.context[1]));
            }
        }
    }
    lines
}

/// `differs with the build time and HOME`.
fn list(vs: &[Variation]) -> String {
    let names: Vec<&str> = vs.iter().map(|v| v.describe()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {}", rest.join(", "), last),
    }
}

/// The cause line of one differing target, and a note if any.
pub fn cause_lines(d: &TargetDiff) -> Vec<String> {
    let Some(a) = &d.attribution else {
        return Vec::new();
    };
    let name = d.path.display();
    let mut lines = Vec::new();
    if !a.causes.is_empty() {
        lines.push(format!(
            "{}: {}: differs with {}",
            prog(),
            name,
            list(&a.causes)
        ));
    }
    if let Some(note) = &a.note {
        lines.push(format!("{}: {}: {}", prog(), name, note));
    }
    lines
}

pub fn summary(o: &Outcome) -> String {
    let p = prog();
    match (o.diffs.len(), o.compared) {
        (_, 0) => format!("{}: the builds made no files to compare", p),
        (0, 1) => format!("{}: the only target is reproducible", p),
        (0, n) => format!("{}: all {} targets are reproducible", p, n),
        (d, n) => format!("{}: {} of {} targets differ", p, d, n),
    }
}

fn json_output(o: &Option<Output>) -> serde_json::Value {
    match o {
        None => serde_json::Value::Null,
        Some(Output::File { size, mode, .. }) => {
            serde_json::json!({"size": size, "mode": format!("{:04o}", mode)})
        }
        Some(Output::Symlink(t)) => serde_json::json!({"symlink": t.to_string_lossy()}),
    }
}

fn json_names(vs: &[Variation]) -> Vec<&'static str> {
    vs.iter().map(|v| v.name()).collect()
}

/// The comparison as a JSON document: `{"check_repro": {...}}`.
pub fn json(o: &Outcome) -> String {
    let varied: Vec<Variation> = o.varied.iter().copied().collect();
    let differences: Vec<serde_json::Value> = o
        .diffs
        .iter()
        .map(|d| {
            let mut entry = serde_json::json!({
                "target": d.path.to_string_lossy(),
                "first": json_output(&d.first),
                "second": json_output(&d.second),
                "first_difference": d.bytes.as_ref().map(|b| b.offset),
                "context": d.bytes.as_ref().map(|b| b.context.clone()),
                "causes": null,
            });
            if let Some(a) = &d.attribution {
                entry["causes"] = serde_json::json!(json_names(&a.causes));
                entry["untested"] = serde_json::json!(json_names(&a.untested));
                entry["note"] = serde_json::json!(a.note);
            }
            entry
        })
        .collect();
    let doc = serde_json::json!({
        "check_repro": {
            "status": o.status,
            "reproducible": o.status == 0,
            "error": o.error,
            "variations": json_names(&varied),
            "source_date_epoch": o.source_date_epoch,
            "locales": o.locales,
            "targets_compared": o.compared,
            "targets_differing": o.diffs.len(),
            "differences": differences,
        }
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_a_list() {
        assert_eq!(
            list(&[Variation::Time, Variation::Home, Variation::Tz]),
            "the build time, HOME and the time zone (TZ)"
        );
    }
}
