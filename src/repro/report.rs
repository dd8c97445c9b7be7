//! The result of a check, printed for people and written as JSON.

use super::attribute::Attribution;
use super::compare::{ByteDiff, Output};
use super::variation::{VarySet, Variation};
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
                None if matches!(d.first, Some(Output::File { .. })) => text.push_str(", same contents"),
                None => {}
            }
            if let (Some(m1), Some(m2)) = (mode(&d.first), mode(&d.second)) {
                if m1 != m2 {
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
        lines.push(format!("{}: {}: differs with {}", prog(), name, list(&a.causes)));
    }
    if let Some(note) = &a.note {
        lines.push(format!("{}: {}: {}", prog(), name, note));
    }
    lines
}

pub fn summary(o: &Outcome) -> String {
    if o.diffs.is_empty() {
        format!("{}: all {} targets are reproducible", prog(), o.compared)
    } else {
        format!("{}: {} of {} targets differ", prog(), o.diffs.len(), o.compared)
    }
}

/// A JSON string literal. serde_json is not a dependency, so the report is
/// written by hand; every string goes through here.
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_output(o: &Option<Output>) -> String {
    match o {
        None => "null".to_string(),
        Some(Output::File { size, mode, .. }) => {
            format!("{{\"size\": {}, \"mode\": \"{:04o}\"}}", size, mode)
        }
        Some(Output::Symlink(t)) => format!("{{\"symlink\": {}}}", json_str(&t.to_string_lossy())),
    }
}

fn json_names(vs: &[Variation]) -> String {
    let names: Vec<String> = vs.iter().map(|v| json_str(v.name())).collect();
    format!("[{}]", names.join(", "))
}

/// The comparison as a JSON document: `{"check_repro": {...}}`.
pub fn json(o: &Outcome) -> String {
    let mut s = String::from("{\n  \"check_repro\": {\n");
    let varied: Vec<Variation> = o.varied.iter().copied().collect();
    let _ = writeln!(s, "    \"status\": {},", o.status);
    let _ = writeln!(s, "    \"reproducible\": {},", o.status == 0);
    let _ = writeln!(
        s,
        "    \"error\": {},",
        o.error.as_deref().map(json_str).unwrap_or_else(|| "null".into())
    );
    let _ = writeln!(s, "    \"variations\": {},", json_names(&varied));
    let _ = writeln!(s, "    \"source_date_epoch\": {},", json_str(&o.source_date_epoch));
    let _ = writeln!(
        s,
        "    \"locales\": [{}, {}],",
        json_str(&o.locales[0]),
        json_str(&o.locales[1])
    );
    let _ = writeln!(s, "    \"targets_compared\": {},", o.compared);
    let _ = writeln!(s, "    \"targets_differing\": {},", o.diffs.len());
    s.push_str("    \"differences\": [");
    for (i, d) in o.diffs.iter().enumerate() {
        s.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(
            s,
            "      {{\"target\": {}, \"first\": {}, \"second\": {}",
            json_str(&d.path.to_string_lossy()),
            json_output(&d.first),
            json_output(&d.second)
        );
        match &d.bytes {
            Some(b) => {
                let _ = write!(
                    s,
                    ", \"first_difference\": {}, \"context\": [{}, {}]",
                    b.offset,
                    json_str(&b.context[0]),
                    json_str(&b.context[1])
                );
            }
            None => s.push_str(", \"first_difference\": null, \"context\": null"),
        }
        match &d.attribution {
            Some(a) => {
                let _ = write!(
                    s,
                    ", \"causes\": {}, \"untested\": {}, \"note\": {}",
                    json_names(&a.causes),
                    json_names(&a.untested),
                    a.note.as_deref().map(json_str).unwrap_or_else(|| "null".into())
                );
            }
            None => s.push_str(", \"causes\": null"),
        }
        s.push('}');
    }
    if !o.diffs.is_empty() {
        s.push_str("\n    ");
    }
    s.push_str("]\n  }\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(
            list(&[Variation::Time, Variation::Home, Variation::Tz]),
            "the build time, HOME and the time zone (TZ)"
        );
    }
}
