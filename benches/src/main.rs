//! hbench: hbuild against GNU make and ninja on synthetic graphs. See
//! docs/benchmarks.md; normally run through `benches/run`.

mod bench;
mod graph;
mod json;
mod measure;
mod options;
mod report;
mod tools;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use json::Json;
use options::Options;

/// Where the repository's own build puts hbuild.
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match options::parse(&args, format!("{REPO}/target/release/hbuild")) {
        Ok(o) => o,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("hbench: {msg}");
            }
            eprint!("{}", options::USAGE);
            return ExitCode::from(if msg.is_empty() { 0 } else { 2 });
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hbench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &Options) -> std::io::Result<()> {
    if let Some(dir) = &opts.generate {
        return generate_only(opts, dir);
    }
    let work = opts
        .workdir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("hbench-{}", std::process::id())));
    fs::create_dir_all(&work)?;
    let started = utc_now();
    let load_before = load_average();
    let (tools, probe) = tools::detect(&opts.hbuild, &opts.make, &opts.ninja, &work.join("probe"));
    describe_probe(&tools, &probe);
    if tools.is_empty() {
        return Err(std::io::Error::other("no tool to measure"));
    }

    let mut rows = Vec::new();
    for &size in &opts.sizes {
        let dir = work.join(format!("steps-{size}"));
        rows.extend(bench::measure_size(opts, &tools, size, &dir)?);
        if !opts.keep {
            let _ = fs::remove_dir_all(&dir);
        }
    }
    if opts.wants("prereqs") {
        rows.extend(bench::measure_prereqs(opts, &tools, &work.join("prereqs"))?);
    }
    let targets = report::targets(&tools, &rows);
    println!(
        "\nhbench {started}, {} CPUs, load average before: {load_before}\n",
        cpus()
    );
    print!("{}", report::render(&tools, &rows, &targets));

    let meta = vec![
        ("date", Json::str(started.as_str())),
        ("commit", Json::str(opts.commit.as_str())),
        ("machine", machine_json(&load_before)),
        ("versions", versions_json(opts)),
        ("options", options_json(opts)),
    ];
    let out = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "{REPO}/target/hbench/result-{}.json",
            started.replace(':', "")
        ))
    });
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(
        &out,
        report::json(meta, &tools, &probe, &rows, &targets).render(),
    )?;
    println!("\nJSON: {}", out.display());
    if opts.keep {
        println!("graphs kept in {}", work.display());
    } else {
        let _ = fs::remove_dir_all(&work);
    }
    Ok(())
}

/// Write the graphs where the user asked, for profiling a tool on them.
fn generate_only(opts: &Options, dir: &std::path::Path) -> std::io::Result<()> {
    for &steps in &opts.sizes {
        let shape = graph::Shape {
            steps,
            fan_in: opts.fan_in,
            depth: opts.depth,
            dirs: opts.dirs_for(steps),
        };
        let root = dir.join(format!("steps-{steps}"));
        let g = graph::generate(shape, &root)?;
        println!(
            "{} (touch {} to rebuild one cone)",
            root.display(),
            g.touch_source
        );
    }
    Ok(())
}

fn describe_probe(tools: &[tools::Tool], probe: &tools::Probe) {
    for (mode, accepted) in &probe.sandbox {
        match accepted {
            Ok(()) => eprintln!("hbench: hbuild --sandbox={mode}: measured"),
            Err(why) => eprintln!("hbench: hbuild --sandbox={mode}: n/a ({why})"),
        }
    }
    for name in &probe.serial_only {
        eprintln!(
            "hbench: {name}: -j2 not accepted; its -j2 builds are n/a, others run without -j"
        );
    }
    for (name, why) in &probe.missing {
        eprintln!("hbench: {name}: not measured ({why})");
    }
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    eprintln!("hbench: columns: {}", names.join(", "));
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn machine_json(load_before: &str) -> Json {
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    Json::obj(vec![
        ("cpus", Json::Num(cpus() as f64)),
        ("kernel", Json::str(kernel.trim())),
        ("load_average_before", Json::str(load_before)),
        ("load_average_after", Json::str(load_average())),
    ])
}

/// First line of `program --version`.
fn version(program: &str) -> String {
    Command::new(program)
        .arg("--version")
        .env_remove("MAKEFLAGS")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

fn versions_json(opts: &Options) -> Json {
    Json::obj(vec![
        ("hbuild", Json::str(opts.hbuild.as_str())),
        ("make", Json::str(version(&opts.make))),
        ("ninja", Json::str(version(&opts.ninja))),
    ])
}

fn options_json(opts: &Options) -> Json {
    let nums = |v: &[usize]| Json::Arr(v.iter().map(|&n| Json::Num(n as f64)).collect());
    Json::obj(vec![
        ("quick", Json::Bool(opts.quick)),
        ("sizes", nums(&opts.sizes)),
        ("measurements", Json::strs(&opts.only)),
        ("reps", Json::Num(opts.reps as f64)),
        ("warmup", Json::Num(opts.warmup as f64)),
        ("full_max", Json::Num(opts.full_max as f64)),
        ("fan_in", Json::Num(opts.fan_in as f64)),
        ("depth", Json::Num(opts.depth as f64)),
        (
            "dirs",
            opts.dirs
                .map_or(Json::str("auto: steps/100"), |d| Json::Num(d as f64)),
        ),
        ("prereq_paths", nums(&opts.prereq_paths)),
        ("prereq_steps", Json::Num(opts.prereq_steps as f64)),
        (
            "recipe",
            Json::str("cksum $^ > $@ (make) / cksum $in > $out (ninja)"),
        ),
    ])
}

/// The current time in UTC as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    // SAFETY: time and gmtime_r only write to the locals passed.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::gmtime_r(&now, &mut tm);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        )
    }
}
