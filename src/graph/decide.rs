//! The up-to-date decision for one target once its prerequisites are done.

use crate::graph::disk::MTime;

/// A time newer than any file: phony targets, `-W` files, and targets whose
/// recipe ran without producing the file.
pub const NEWEST: i128 = i128::MAX;

/// A time older than any file: `-o` files, even missing ones.
pub const OLDEST: i128 = i128::MIN;

/// A prerequisite as the decision sees it after it was updated.
#[derive(Clone, Debug)]
pub struct DepState<'a> {
    pub name: &'a str,
    /// `None`: missing (and made by nothing): never newer.
    pub mtime: MTime,
    pub order_only: bool,
    /// From `.EXTRA_PREREQS`: can make the target out of date, but is not
    /// listed in `newer` (`$?`, `--trace`).
    pub extra: bool,
}

/// What is known about the target itself.
#[derive(Clone, Debug, Default)]
pub struct TargetFacts {
    pub mtime: MTime,
    pub phony: bool,
    /// `-B`.
    pub always_make: bool,
    /// `-o FILE`: never remade.
    pub old_file: bool,
    /// A double-colon rule with no prerequisites: its recipe always runs.
    pub double_colon_no_deps: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    UpToDate,
    /// Remake; `newer` lists the prerequisites that caused it (for `--trace`
    /// and `$?`).
    Remake {
        newer: Vec<String>,
    },
}

/// Decide whether a target must be remade.
pub fn decide(t: &TargetFacts, deps: &[DepState]) -> Decision {
    if t.old_file {
        return Decision::UpToDate;
    }
    let is_newer = |d: &&DepState| match (t.mtime, d.mtime) {
        // `-B`: every prerequisite counts as newer (`$?`, `--trace`).
        _ if t.always_make => true,
        (None, _) => true,
        (Some(mine), Some(theirs)) => theirs > mine,
        (Some(_), None) => false,
    };
    let mut changed = deps.iter().filter(|d| !d.order_only).filter(is_newer);
    let extra_newer = changed.clone().any(|d| d.extra);
    let newer: Vec<String> = changed
        .by_ref()
        .filter(|d| !d.extra)
        .map(|d| d.name.to_string())
        .collect();
    if t.mtime.is_none()
        || t.phony
        || t.always_make
        || t.double_colon_no_deps
        || !newer.is_empty()
        || extra_newer
    {
        Decision::Remake { newer }
    } else {
        Decision::UpToDate
    }
}

/// `--trace`'s reason text, as make 4.3 prints it after `FILE:LINE: `: the
/// newer prerequisites as `$?` lists them, each once.
pub fn trace_reason(target: &str, newer: &[String]) -> String {
    if newer.is_empty() {
        return format!("target '{}' does not exist", target);
    }
    let names: Vec<&str> = newer.iter().map(String::as_str).collect();
    let once = crate::graph::autovars::dedup(&names);
    format!("update target '{}' due to: {}", target, once.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(name: &str, mtime: MTime) -> DepState<'_> {
        DepState {
            name,
            mtime,
            order_only: false,
            extra: false,
        }
    }

    #[test]
    fn newer_prerequisite_forces_remake() {
        let t = TargetFacts {
            mtime: Some(10),
            ..Default::default()
        };
        assert_eq!(decide(&t, &[dep("a", Some(5))]), Decision::UpToDate);
        assert_eq!(
            decide(&t, &[dep("a", Some(5)), dep("b", Some(11))]),
            Decision::Remake {
                newer: vec!["b".into()]
            }
        );
        assert_eq!(
            decide(&t, &[dep("n", Some(NEWEST))]),
            Decision::Remake {
                newer: vec!["n".into()]
            }
        );
    }

    #[test]
    fn extra_prerequisites_remake_without_being_named() {
        let t = TargetFacts {
            mtime: Some(10),
            ..Default::default()
        };
        let extra = DepState {
            name: "x",
            mtime: Some(20),
            order_only: false,
            extra: true,
        };
        assert_eq!(
            decide(&t, std::slice::from_ref(&extra)),
            Decision::Remake { newer: vec![] }
        );
        let old_extra = DepState {
            mtime: Some(5),
            ..extra
        };
        assert_eq!(decide(&t, &[old_extra]), Decision::UpToDate);
    }

    #[test]
    fn order_only_and_old_files_do_not_count() {
        let t = TargetFacts {
            mtime: Some(10),
            ..Default::default()
        };
        let oo = DepState {
            name: "d",
            mtime: Some(20),
            order_only: true,
            extra: false,
        };
        assert_eq!(decide(&t, &[oo]), Decision::UpToDate);
        let old = TargetFacts {
            mtime: None,
            old_file: true,
            ..Default::default()
        };
        assert_eq!(decide(&old, &[]), Decision::UpToDate);
    }

    #[test]
    fn missing_phony_and_forced_targets_are_remade() {
        let missing = TargetFacts::default();
        assert_eq!(
            decide(&missing, &[dep("a", Some(1))]),
            Decision::Remake {
                newer: vec!["a".into()]
            }
        );
        let phony = TargetFacts {
            mtime: Some(1),
            phony: true,
            ..Default::default()
        };
        assert_eq!(decide(&phony, &[]), Decision::Remake { newer: vec![] });
        assert_eq!(trace_reason("x", &[]), "target 'x' does not exist");
    }
}
