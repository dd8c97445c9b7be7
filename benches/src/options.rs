//! hbench's command line.

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: hbench [options]   (normally run through benches/run)

  --quick            sizes 1k,10k, 3 repetitions, full builds timed at 1k only
  --sizes LIST       graph sizes, e.g. 1k,10k,100k (default 1k,10k,100k)
  --only LIST        measurements to run: full,noop,rebuild,prereqs (default all)
  --reps N           counted repetitions of each measurement (default 5)
  --warmup N         uncounted runs before them (default 1)
  --full-max STEPS   largest graph whose full builds are timed with repetitions
                     (default 10k); larger graphs get one set-up build
  --timeout SECS     a run taking longer is killed and its tool is n/a for
                     that measurement (default 300; --quick: 120)
  --fan-in N         prerequisites per step (default 3)
  --depth N          levels of steps (default 10)
  --dirs N|auto      directories the files are spread over (default auto: steps/100)
  --prereq-paths L   declared prerequisites per step for the sandbox set-up cost
                     (default 1,10,100,1000)
  --prereq-steps N   steps in each of those graphs (default 200; --quick: 50)
  --hbuild PATH      (default: target/release/hbuild next to benches/)
  --make PATH        (default make)
  --ninja PATH       (default ninja)
  --workdir DIR      where graphs are generated (default: a new directory in $TMPDIR)
  --keep             keep the generated graphs
  --out FILE         JSON result file (default target/hbench/result-<time>.json)
  --commit TEXT      recorded in the JSON (benches/run passes git describe)
  --generate DIR     only write the graphs (DIR/steps-N/) and exit, for profiling
";

#[derive(Clone, Debug)]
pub struct Options {
    pub sizes: Vec<usize>,
    pub only: Vec<String>,
    pub reps: usize,
    pub warmup: usize,
    pub full_max: usize,
    pub fan_in: usize,
    pub depth: usize,
    /// `None`: steps / 100.
    pub dirs: Option<usize>,
    pub prereq_paths: Vec<usize>,
    pub prereq_steps: usize,
    pub hbuild: String,
    pub make: String,
    pub ninja: String,
    pub workdir: Option<PathBuf>,
    pub keep: bool,
    pub out: Option<PathBuf>,
    pub commit: String,
    pub quick: bool,
    pub generate: Option<PathBuf>,
    pub timeout: Duration,
}

pub const MEASUREMENTS: [&str; 4] = ["full", "noop", "rebuild", "prereqs"];

impl Options {
    pub fn wants(&self, measurement: &str) -> bool {
        self.only.iter().any(|m| m == measurement)
    }

    pub fn dirs_for(&self, steps: usize) -> usize {
        self.dirs.unwrap_or((steps / 100).max(1))
    }
}

/// `1k` → 1000, `100k`, `1m`, or a plain number.
pub fn parse_count(text: &str) -> Result<usize, String> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, scale) = match lower.as_bytes().last() {
        Some(b'k') => (&lower[..lower.len() - 1], 1_000),
        Some(b'm') => (&lower[..lower.len() - 1], 1_000_000),
        _ => (lower.as_str(), 1),
    };
    digits
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .map(|n| n * scale)
        .ok_or_else(|| format!("not a positive count: '{text}'"))
}

fn parse_list(text: &str) -> Result<Vec<usize>, String> {
    text.split(',').map(parse_count).collect()
}

/// Parse the arguments (without the program name). `Err` holds the message.
pub fn parse(args: &[String], default_hbuild: String) -> Result<Options, String> {
    let mut o = Options {
        sizes: vec![1_000, 10_000, 100_000],
        only: MEASUREMENTS.iter().map(|m| m.to_string()).collect(),
        reps: 5,
        warmup: 1,
        full_max: 10_000,
        fan_in: 3,
        depth: 10,
        dirs: None,
        prereq_paths: vec![1, 10, 100, 1000],
        prereq_steps: 200,
        hbuild: default_hbuild,
        make: "make".to_string(),
        ninja: "ninja".to_string(),
        workdir: None,
        keep: false,
        out: None,
        commit: String::new(),
        quick: false,
        generate: None,
        timeout: Duration::from_secs(300),
    };
    // --quick sets defaults that explicit options given anywhere override.
    if args.iter().any(|a| a == "--quick") {
        o.quick = true;
        o.sizes = vec![1_000, 10_000];
        o.reps = 3;
        o.full_max = 1_000;
        o.timeout = Duration::from_secs(120);
        o.prereq_steps = 50;
    }
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("option {name} needs a value"))
        };
        match name {
            "--quick" => {}
            "--keep" => o.keep = true,
            "-h" | "--help" => return Err(String::new()),
            "--sizes" => o.sizes = parse_list(&value()?)?,
            "--only" => {
                let v = value()?;
                o.only = v.split(',').map(str::to_string).collect();
                if let Some(bad) = o.only.iter().find(|m| !MEASUREMENTS.contains(&m.as_str())) {
                    return Err(format!("unknown measurement '{bad}'"));
                }
            }
            "--reps" => o.reps = parse_count(&value()?)?,
            "--warmup" => o.warmup = value()?.parse().map_err(|_| "bad --warmup".to_string())?,
            "--full-max" => o.full_max = parse_count(&value()?)?,
            "--fan-in" => o.fan_in = parse_count(&value()?)?,
            "--depth" => o.depth = parse_count(&value()?)?,
            "--dirs" => {
                let v = value()?;
                o.dirs = if v == "auto" {
                    None
                } else {
                    Some(parse_count(&v)?)
                };
            }
            "--prereq-paths" => o.prereq_paths = parse_list(&value()?)?,
            "--prereq-steps" => o.prereq_steps = parse_count(&value()?)?,
            "--hbuild" => o.hbuild = value()?,
            "--make" => o.make = value()?,
            "--ninja" => o.ninja = value()?,
            "--workdir" => o.workdir = Some(PathBuf::from(value()?)),
            "--out" => o.out = Some(PathBuf::from(value()?)),
            "--commit" => o.commit = value()?,
            "--timeout" => o.timeout = Duration::from_secs(parse_count(&value()?)? as u64),
            "--generate" => o.generate = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn counts_with_suffixes() {
        assert_eq!(parse_count("1k"), Ok(1000));
        assert_eq!(parse_count("100K"), Ok(100_000));
        assert_eq!(parse_count("7"), Ok(7));
        assert!(parse_count("0").is_err());
        assert!(parse_count("x").is_err());
    }

    #[test]
    fn quick_defaults_yield_to_explicit_options() {
        let o = parse(&args("--sizes=10k --quick --reps 7"), "hb".into()).unwrap();
        assert_eq!((o.sizes, o.reps, o.full_max), (vec![10_000], 7, 1_000));
        let o = parse(&args("--only noop,rebuild --dirs 4"), "hb".into()).unwrap();
        assert!(o.wants("noop") && !o.wants("full"));
        assert_eq!(o.dirs_for(10_000), 4);
        assert!(parse(&args("--only bogus"), "hb".into()).is_err());
    }
}
