//! Naming the cause of each difference: rebuild with one variation at a time
//! and see which ones make the target differ from the control build.
//!
//! Two variations cannot be held still by an unprivileged process: the clock
//! (builds run one after the other) and the build path (two builds at the
//! same time need two directories). So the clock and the path are tested
//! first, and each other variation is tested in a way the target does not
//! notice: after the control build in the same directory for targets the
//! clock does not change, or at the same second in another directory for
//! targets the path does not change.

use super::build::{Build, Runner};
use super::compare::{differing, snapshot, Snapshot};
use super::copy::remove_tree;
use super::variation::{Variation, VarySet};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the single-variation builds found for one target.
#[derive(Clone, Debug, Default)]
pub struct Attribution {
    /// The chosen variations that make it differ on their own.
    pub causes: Vec<Variation>,
    /// Variations that could not be tested for it.
    pub untested: Vec<Variation>,
    pub note: Option<String>,
}

/// The control build `a` and its outputs; `delta`: the targets that differed.
pub struct Control<'a> {
    pub build: &'a Build,
    pub snapshot: &'a Snapshot,
}

/// How long after the control build a build must start to see another second.
const CLOCK_GAP: Duration = Duration::from_millis(1100);

/// One variation's verdict per target: `Some(differs)`, or `None` if untested.
type Verdicts = BTreeMap<PathBuf, Option<bool>>;

pub fn attribute(
    runner: &Runner,
    chosen: &VarySet,
    control: &Control,
    delta: &BTreeSet<PathBuf>,
) -> BTreeMap<PathBuf, Attribution> {
    let none = VarySet::new();
    // The clock alone: the control settings again, in the same directory, later.
    let later = runner.run(&none, "clock", Some(control.build.ended + CLOCK_GAP));
    let by_time = compare_with_control(runner, control, later, delta);
    let clock_matters = |t: &PathBuf| by_time.get(t).copied().flatten().unwrap_or(false);
    let any_clock = delta.iter().any(clock_matters);

    let path_only: VarySet = [Variation::Path].into_iter().collect();
    let by_path = if any_clock {
        together(runner, &path_only, "path", delta)
    } else {
        let b = runner.run(&path_only, "path", None);
        compare_with_control(runner, control, b, delta)
    };
    let path_matters = |t: &PathBuf| by_path.get(t).copied().flatten().unwrap_or(false);

    let mut verdicts: BTreeMap<Variation, Verdicts> = BTreeMap::new();
    verdicts.insert(Variation::Time, by_time.clone());
    verdicts.insert(Variation::Path, by_path.clone());
    for &v in chosen {
        if matches!(v, Variation::Time | Variation::Path) {
            continue;
        }
        let alone: VarySet = [v].into_iter().collect();
        let mut result: Verdicts = delta.iter().map(|t| (t.clone(), None)).collect();
        // Targets the clock leaves alone: build later in the control's directory.
        let steady: BTreeSet<PathBuf> = delta
            .iter()
            .filter(|t| !clock_matters(t))
            .cloned()
            .collect();
        if !steady.is_empty() {
            let b = runner.run(&alone, v.name(), None);
            result.extend(compare_with_control(runner, control, b, &steady));
        }
        // Targets the clock changes but the path does not: build at the same
        // second as a control build, in another directory.
        let timed: BTreeSet<PathBuf> = delta
            .iter()
            .filter(|t| clock_matters(t) && !path_matters(t))
            .cloned()
            .collect();
        if !timed.is_empty() {
            let mut with_path = alone.clone();
            with_path.insert(Variation::Path);
            result.extend(together(runner, &with_path, v.name(), &timed));
        }
        verdicts.insert(v, result);
    }
    delta
        .iter()
        .map(|t| (t.clone(), conclude(t, chosen, &verdicts)))
        .collect()
}

/// Compare a build with the control build over `targets`; the build's tree is
/// removed. A failed build tests nothing.
fn compare_with_control(
    runner: &Runner,
    control: &Control,
    b: Build,
    targets: &BTreeSet<PathBuf>,
) -> Verdicts {
    let verdicts = if b.status == 0 {
        let snap = snapshot(&b.dir, &runner.sources.files);
        let diff = differing(control.snapshot, &snap);
        targets
            .iter()
            .map(|t| (t.clone(), Some(diff.contains(t))))
            .collect()
    } else {
        targets.iter().map(|t| (t.clone(), None)).collect()
    };
    remove_tree(&b.dir);
    verdicts
}

/// Build the control settings and `set` (which includes the path) at the
/// same time, and compare them with each other over `targets`.
fn together(runner: &Runner, set: &VarySet, label: &str, targets: &BTreeSet<PathBuf>) -> Verdicts {
    let none = VarySet::new();
    let reference = format!("{}-reference", label);
    let (a, b) = runner.run_together((&none, &reference), (set, label));
    let verdicts = if a.status == 0 && b.status == 0 {
        let diff = differing(
            &snapshot(&a.dir, &runner.sources.files),
            &snapshot(&b.dir, &runner.sources.files),
        );
        targets
            .iter()
            .map(|t| (t.clone(), Some(diff.contains(t))))
            .collect()
    } else {
        targets.iter().map(|t| (t.clone(), None)).collect()
    };
    remove_tree(&a.dir);
    remove_tree(&b.dir);
    verdicts
}

fn conclude(
    target: &PathBuf,
    chosen: &VarySet,
    verdicts: &BTreeMap<Variation, Verdicts>,
) -> Attribution {
    let verdict = |v: Variation| {
        verdicts
            .get(&v)
            .and_then(|m| m.get(target).copied().flatten())
    };
    let mut out = Attribution::default();
    for &v in chosen {
        match verdict(v) {
            Some(true) => out.causes.push(v),
            Some(false) => {}
            None => out.untested.push(v),
        }
    }
    let unchosen_clock =
        !chosen.contains(&Variation::Time) && verdict(Variation::Time) == Some(true);
    let tested = chosen.len() - out.untested.len();
    out.note = if out.causes.is_empty() && unchosen_clock {
        Some("it differs between two builds made at different times".to_string())
    } else if out.causes.is_empty() {
        Some("no single variation makes it differ: it needs several together, or changes from one build to the next".to_string())
    } else if out.causes.len() == tested && tested > 2 {
        Some(
            "it differs with every variation: it probably changes from one build to the next"
                .to_string(),
        )
    } else if !out.untested.is_empty() {
        Some(
            "it depends on both the clock and the build path, or a rebuild failed, so some variations could not be tested alone"
                .to_string(),
        )
    } else {
        None
    };
    out
}

/// Wait helper for callers that need the clock to move on.
pub fn after_clock_gap(ended: Instant) -> Instant {
    ended + CLOCK_GAP
}
