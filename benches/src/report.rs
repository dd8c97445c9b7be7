//! The printed tables, the ratios and targets, and the JSON result file.

use std::fmt::Write as _;

use crate::bench::{Outcome, Row, Scenario};
use crate::json::Json;
use crate::measure::Stats;
use crate::tools::{Probe, Tool};

/// `10000` → `10k`.
pub fn size_label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The hbuild column the targets are about: enforce when the sandbox modes
/// exist, else hbuild as it is.
pub fn reference_hbuild(tools: &[Tool]) -> Option<&str> {
    ["hbuild-enforce", "hbuild"]
        .into_iter()
        .find(|name| tools.iter().any(|t| t.name == *name))
}

fn ratio(row: &Row, num: &str, den: &str, value: fn(&Outcome) -> Option<f64>) -> Option<f64> {
    let n = value(row.cell(num)?)?;
    let d = value(row.cell(den)?)?;
    (d > 0.0).then_some(n / d)
}

/// The ratios printed for every row: (label, numerator, denominator).
fn ratio_columns(tools: &[Tool]) -> Vec<(String, String, String)> {
    let href = reference_hbuild(tools).unwrap_or("hbuild");
    vec![
        (format!("{href}/make"), href.to_string(), "make".to_string()),
        (
            format!("{href}/ninja"),
            href.to_string(),
            "ninja".to_string(),
        ),
        (
            "enforce/off".to_string(),
            "hbuild-enforce".to_string(),
            "hbuild-off".to_string(),
        ),
        (
            "audit/off".to_string(),
            "hbuild-audit".to_string(),
            "hbuild-off".to_string(),
        ),
    ]
}

fn fmt_opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.decimals$}"))
}

/// Seconds with three significant figures, at least millisecond precision.
fn fmt_secs(v: Option<f64>) -> String {
    match v {
        None => "n/a".to_string(),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) if v >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.3}"),
    }
}

fn table(header: &[String], lines: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].len())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in std::iter::once(header).chain(lines.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c < 2 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if std::ptr::eq(line, header) {
            let rules: Vec<String> = widths
                .iter()
                .enumerate()
                .map(|(c, w)| {
                    if c < 2 {
                        "-".repeat(w + 2)
                    } else {
                        format!("{}:", "-".repeat(w + 1))
                    }
                })
                .collect();
            let _ = writeln!(out, "|{}|", rules.join("|"));
        }
    }
    out
}

/// The human-readable report: medians with ratios, min–max, peak RSS, the
/// prerequisite cost, and the targets.
pub fn render(tools: &[Tool], rows: &[Row], targets: &[TargetResult]) -> String {
    let mut out = String::new();
    let build_rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario != Scenario::Prereqs)
        .collect();
    let names: Vec<String> = tools.iter().map(|t| t.name.clone()).collect();
    let ratios = ratio_columns(tools);
    let head = |extra: &[String]| -> Vec<String> {
        ["steps".to_string(), "build".to_string()]
            .into_iter()
            .chain(names.iter().cloned())
            .chain(extra.iter().cloned())
            .collect()
    };
    if !build_rows.is_empty() {
        out.push_str("Wall time, median of the repetitions (s), and ratios of medians:\n\n");
        let ratio_names: Vec<String> = ratios.iter().map(|r| r.0.clone()).collect();
        let lines: Vec<Vec<String>> = build_rows
            .iter()
            .map(|row| {
                let mut line = vec![size_label(row.size), row.scenario.label()];
                line.extend(
                    names
                        .iter()
                        .map(|n| fmt_secs(row.cell(n).and_then(Outcome::median_time))),
                );
                line.extend(
                    ratios
                        .iter()
                        .map(|(_, a, b)| fmt_opt(ratio(row, a, b, Outcome::median_time), 2)),
                );
                line
            })
            .collect();
        out.push_str(&table(&head(&ratio_names), &lines));

        out.push_str("\nWall time, min–max (s):\n\n");
        let lines: Vec<Vec<String>> = build_rows
            .iter()
            .map(|row| {
                let mut line = vec![size_label(row.size), row.scenario.label()];
                line.extend(names.iter().map(|n| match row.cell(n) {
                    Some(Outcome::Measured { time, .. }) => {
                        format!(
                            "{}–{} (n={})",
                            fmt_secs(Some(time.min)),
                            fmt_secs(Some(time.max)),
                            time.samples.len()
                        )
                    }
                    _ => "n/a".to_string(),
                }));
                line
            })
            .collect();
        out.push_str(&table(&head(&[]), &lines));

        out.push_str("\nPeak RSS, median (MiB; the largest process of the run's tree):\n\n");
        let href = reference_hbuild(tools).unwrap_or("hbuild");
        let rss_ratio = format!("{href}/make");
        let lines: Vec<Vec<String>> = build_rows
            .iter()
            .map(|row| {
                let mut line = vec![size_label(row.size), row.scenario.label()];
                line.extend(names.iter().map(|n| {
                    fmt_opt(
                        row.cell(n)
                            .and_then(Outcome::median_rss)
                            .map(|k| k / 1024.0),
                        1,
                    )
                }));
                line.push(fmt_opt(ratio(row, href, "make", Outcome::median_rss), 2));
                line
            })
            .collect();
        out.push_str(&table(&head(&[rss_ratio]), &lines));
    }

    let prereq_rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.scenario == Scenario::Prereqs)
        .collect();
    if !prereq_rows.is_empty() {
        let tools_here: Vec<String> = names
            .iter()
            .filter(|n| prereq_rows[0].cell(n).is_some())
            .cloned()
            .collect();
        let _ = writeln!(
            out,
            "\nDeclared prerequisites: time per step (ms, median build / {} steps), and cost per step of each mode (mode − off) and of the Landlock ruleset alone (enforce − audit: both modes observe):\n",
            prereq_rows[0].steps
        );
        let mut header = vec!["paths".to_string(), "build".to_string()];
        header.extend(tools_here.iter().cloned());
        header.extend([
            "enforce−off".to_string(),
            "audit−off".to_string(),
            "enforce−audit".to_string(),
        ]);
        let lines: Vec<Vec<String>> = prereq_rows
            .iter()
            .map(|row| {
                let mut line = vec![row.size.to_string(), "1 step, -j1".to_string()];
                line.extend(tools_here.iter().map(|n| {
                    fmt_opt(
                        row.cell(n)
                            .and_then(Outcome::median_time)
                            .map(|t| t * 1000.0 / row.steps as f64),
                        3,
                    )
                }));
                line.push(fmt_opt(setup_cost_ms(row, "hbuild-enforce"), 3));
                line.push(fmt_opt(setup_cost_ms(row, "hbuild-audit"), 3));
                line.push(fmt_opt(landlock_cost_ms(row), 3));
                line
            })
            .collect();
        out.push_str(&table(&header, &lines));
    }

    if !targets.is_empty() {
        out.push_str("\nTargets:\n\n");
        let header: Vec<String> = ["target", "hbuild", "measured", "limit", "verdict"]
            .map(str::to_string)
            .to_vec();
        let lines: Vec<Vec<String>> = targets
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.column.clone(),
                    fmt_opt(t.value, 3),
                    format!("{}", t.limit),
                    t.verdict(),
                ]
            })
            .collect();
        out.push_str(&table(&header, &lines));
    }
    out
}

/// Per-step cost of sandbox set-up in `mode` (ms): the difference of the
/// median build times with the mode and with `--sandbox=off`, per step.
pub fn setup_cost_ms(row: &Row, mode: &str) -> Option<f64> {
    let with = row.cell(mode)?.median_time()?;
    let off = row.cell("hbuild-off")?.median_time()?;
    Some((with - off) * 1000.0 / row.steps as f64)
}

/// Per-step cost of the Landlock ruleset alone (ms): enforce and audit
/// both observe every step, and only enforce builds and applies a ruleset.
/// (Audit also `stat`s and records the system files a step reads, which
/// enforce lets go: this slightly underestimates.)
pub fn landlock_cost_ms(row: &Row) -> Option<f64> {
    let enforce = row.cell("hbuild-enforce")?.median_time()?;
    let audit = row.cell("hbuild-audit")?.median_time()?;
    Some((enforce - audit) * 1000.0 / row.steps as f64)
}

/// A target from the issue, checked against this run.
#[derive(Clone, Debug)]
pub struct TargetResult {
    pub name: String,
    /// The hbuild column it was measured on.
    pub column: String,
    pub value: Option<f64>,
    pub limit: f64,
}

impl TargetResult {
    pub fn verdict(&self) -> String {
        match self.value {
            None => "n/a".to_string(),
            Some(v) if v <= self.limit => "met".to_string(),
            Some(v) => format!("MISSED ({:.1}× the limit)", v / self.limit),
        }
    }
}

fn find(rows: &[Row], scenario: Scenario, size: usize) -> Option<&Row> {
    rows.iter()
        .find(|r| r.scenario == scenario && r.size == size)
}

/// The targets of the benchmark issue.
pub fn targets(tools: &[Tool], rows: &[Row]) -> Vec<TargetResult> {
    let href = reference_hbuild(tools).unwrap_or("hbuild").to_string();
    let time = Outcome::median_time;
    let rss = Outcome::median_rss;
    let by = |scenario, size, num: &str, den: &str, value: fn(&Outcome) -> Option<f64>| {
        find(rows, scenario, size).and_then(|r| ratio(r, num, den, value))
    };
    let full_100k =
        find(rows, Scenario::Full(2), 100_000).or_else(|| find(rows, Scenario::Setup, 100_000));
    // The sandbox set-up is the Landlock ruleset; observation (issue 5) is
    // measured by the mode ratios above.
    let cost_at = |paths| find(rows, Scenario::Prereqs, paths).and_then(landlock_cost_ms);
    // A difference of two noisy medians can be ~0 or negative: floor it so the
    // growth ratio stays meaningful.
    let growth = match (cost_at(100), cost_at(1000)) {
        (Some(a), Some(b)) => Some(b.max(0.0) / a.max(0.01)),
        _ => None,
    };
    let t = |name: &str, column: &str, value, limit| TargetResult {
        name: name.to_string(),
        column: column.to_string(),
        value,
        limit,
    };
    vec![
        t(
            "no-op 10k: hbuild/ninja",
            &href,
            by(Scenario::Noop, 10_000, &href, "ninja", time),
            1.0,
        ),
        t(
            "no-op 10k: hbuild/make",
            &href,
            by(Scenario::Noop, 10_000, &href, "make", time),
            0.2,
        ),
        t(
            "rebuild 10k: hbuild/ninja",
            &href,
            by(Scenario::Rebuild, 10_000, &href, "ninja", time),
            1.0,
        ),
        t(
            "full 1k -j2: hbuild/make",
            &href,
            by(Scenario::Full(2), 1_000, &href, "make", time),
            1.0,
        ),
        t(
            "full 1k -j2: enforce/off",
            "hbuild-enforce",
            by(
                Scenario::Full(2),
                1_000,
                "hbuild-enforce",
                "hbuild-off",
                time,
            ),
            1.10,
        ),
        t(
            "full 1k -j2: audit/off",
            "hbuild-audit",
            by(Scenario::Full(2), 1_000, "hbuild-audit", "hbuild-off", time),
            1.30,
        ),
        t(
            "peak RSS 100k no-op: hbuild/make",
            &href,
            by(Scenario::Noop, 100_000, &href, "make", rss),
            1.0,
        ),
        t(
            "peak RSS 100k full: hbuild/make",
            &href,
            full_100k.and_then(|r| ratio(r, &href, "make", rss)),
            1.0,
        ),
        t(
            "sandbox set-up per step, 100 paths (ms; enforce − audit)",
            "hbuild-enforce",
            cost_at(100),
            1.0,
        ),
        t(
            "set-up growth 100→1000 paths (linear = 10)",
            "hbuild-enforce",
            growth,
            12.0,
        ),
    ]
}

fn stats_json(s: &Stats) -> Json {
    Json::obj(vec![
        ("median", Json::Num(s.median)),
        ("min", Json::Num(s.min)),
        ("max", Json::Num(s.max)),
        (
            "samples",
            Json::Arr(s.samples.iter().map(|&v| Json::Num(v)).collect()),
        ),
    ])
}

/// Everything needed to compare two runs.
pub fn json(
    meta: Vec<(&str, Json)>,
    tools: &[Tool],
    probe: &Probe,
    rows: &[Row],
    targets: &[TargetResult],
) -> Json {
    let results = rows
        .iter()
        .flat_map(|row| {
            row.cells.iter().map(move |(tool, outcome)| {
                let mut fields = vec![
                    ("scenario", Json::str(row.scenario.key())),
                    (
                        if row.scenario == Scenario::Prereqs {
                            "paths"
                        } else {
                            "steps"
                        },
                        Json::Num(row.size as f64),
                    ),
                    ("steps_built", Json::Num(row.steps as f64)),
                    ("tool", Json::str(tool.as_str())),
                ];
                match outcome {
                    Outcome::Measured { argv, time, rss } => {
                        fields.push(("argv", Json::strs(argv)));
                        fields.push(("time_s", stats_json(time)));
                        fields.push(("peak_rss_kib", stats_json(rss)));
                    }
                    Outcome::NotAvailable(why) => {
                        fields.push(("not_available", Json::str(why.as_str())))
                    }
                }
                Json::obj(fields)
            })
        })
        .collect();
    let ratios = rows
        .iter()
        .filter(|r| r.scenario != Scenario::Prereqs)
        .map(|row| {
            let mut fields = vec![
                ("scenario".to_string(), Json::str(row.scenario.key())),
                ("steps".to_string(), Json::Num(row.size as f64)),
            ];
            for (label, a, b) in ratio_columns(tools) {
                fields.push((
                    label,
                    Json::opt_num(ratio(row, &a, &b, Outcome::median_time)),
                ));
            }
            Json::Obj(fields)
        })
        .collect();
    let setup = rows
        .iter()
        .filter(|r| r.scenario == Scenario::Prereqs)
        .map(|row| {
            Json::obj(vec![
                ("paths", Json::Num(row.size as f64)),
                (
                    "enforce_minus_off_ms_per_step",
                    Json::opt_num(setup_cost_ms(row, "hbuild-enforce")),
                ),
                (
                    "audit_minus_off_ms_per_step",
                    Json::opt_num(setup_cost_ms(row, "hbuild-audit")),
                ),
                (
                    "enforce_minus_audit_ms_per_step",
                    Json::opt_num(landlock_cost_ms(row)),
                ),
            ])
        })
        .collect();
    let probe_json = Json::obj(vec![
        (
            "sandbox_modes",
            Json::Obj(
                probe
                    .sandbox
                    .iter()
                    .map(|(mode, r)| {
                        (
                            mode.clone(),
                            r.as_ref()
                                .map_or_else(|e| Json::str(e.as_str()), |()| Json::Bool(true)),
                        )
                    })
                    .collect(),
            ),
        ),
        (
            "missing_tools",
            Json::Obj(
                probe
                    .missing
                    .iter()
                    .map(|(t, why)| (t.clone(), Json::str(why.as_str())))
                    .collect(),
            ),
        ),
        ("without_parallel_jobs", Json::strs(&probe.serial_only)),
    ]);
    let targets_json = targets
        .iter()
        .map(|t| {
            Json::obj(vec![
                ("target", Json::str(t.name.as_str())),
                ("hbuild_column", Json::str(t.column.as_str())),
                ("value", Json::opt_num(t.value)),
                ("limit", Json::Num(t.limit)),
                ("verdict", Json::str(t.verdict())),
            ])
        })
        .collect();
    let mut fields = meta;
    fields.extend([
        (
            "tools",
            Json::strs(&tools.iter().map(|t| t.name.clone()).collect::<Vec<_>>()),
        ),
        ("probe", probe_json),
        ("results", Json::Arr(results)),
        ("ratios", Json::Arr(ratios)),
        ("sandbox_setup", Json::Arr(setup)),
        ("targets", Json::Arr(targets_json)),
    ]);
    Json::obj(fields)
}
