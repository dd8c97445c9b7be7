//! `--graph` and `--trace-json`: the files parse, hold every step once, and
//! Graphviz accepts the DOT output.
//!
//! The graph tests call `hbuild::report::graph_export` on a database read by
//! `driver::load_database`; the command-line tests need the driver to handle
//! `--graph` and `--trace-json`.

use hbuild::report::graph_export::{self, GraphFormat};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

const BIN: &str = env!("CARGO_BIN_EXE_hbuild");

/// `load_database` reads the current directory: tests that change it take turns.
static CWD: Mutex<()> = Mutex::new(());

const MAKEFILE: &str = "\
.PHONY: all clean
all: prog docs
prog: main.o util.o | out
\tcc -o $@ $^
out:
\tmkdir -p out
docs::
\t@echo one
docs:: README
\t@echo two
clean:
\trm -f prog *.o
";

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("Makefile", MAKEFILE),
        ("main.c", "int main(void) { return 0; }\n"),
        ("util.c", "int util;\n"),
        ("README", "docs\n"),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn load(dir: &Path) -> hbuild::lang::Database {
    std::env::set_current_dir(dir).unwrap();
    let hbuild::cli::Command::Build(opts) = hbuild::cli::parse(&[], None) else {
        panic!("options not accepted");
    };
    let inv = hbuild::driver::Invocation {
        argv0: BIN.to_string(),
        args: Vec::new(),
    };
    hbuild::driver::load_database(&opts, &inv).unwrap()
}

fn graph_json(dir: &Path, goals: &[String]) -> Value {
    let mut db = load(dir);
    let path = dir.join("graph.json");
    graph_export::write(&mut db, goals, GraphFormat::Json, &path).unwrap();
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn has_edge(v: &Value, from: &str, to: &str, order_only: bool) -> bool {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["from"] == from && e["to"] == to && e["order_only"] == order_only)
}

fn node<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node {}", name))
}

#[test]
fn json_graph_resolves_rules_like_the_engine() {
    let _turn = CWD.lock().unwrap_or_else(|p| p.into_inner());
    let dir = fixture();
    let v = graph_json(dir.path(), &[]);
    assert_eq!(v["goals"][0], "all");
    assert!(has_edge(&v, "all", "prog", false));
    assert!(has_edge(&v, "prog", "out", true));
    // Implicit rule from the built-in `%.o: %.c`.
    assert!(has_edge(&v, "main.o", "main.c", false));
    // Both double-colon rules' prerequisites belong to `docs`.
    assert!(has_edge(&v, "docs", "README", false));
    assert_eq!(node(&v, "all")["phony"], true);
    assert_eq!(node(&v, "main.o")["has_recipe"], true);
    assert_eq!(node(&v, "main.c")["has_rule"], false);
    assert_eq!(node(&v, "docs")["has_recipe"], true);
    // `clean` is not reached from the default goal; each node appears once.
    let names: Vec<&str> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"clean"));
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "{:?}", names);
}

#[test]
fn dot_graph_is_accepted_by_graphviz() {
    let _turn = CWD.lock().unwrap_or_else(|p| p.into_inner());
    let dir = fixture();
    let mut db = load(dir.path());
    let path = dir.path().join("graph.dot");
    graph_export::write(
        &mut db,
        &["all".into(), "clean".into()],
        GraphFormat::Dot,
        &path,
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"prog\" -> \"out\" [style=dashed];"),
        "{}",
        text
    );
    assert!(
        text.contains("\"clean\" [shape=box, style=dashed, penwidth=2];"),
        "{}",
        text
    );
    let out = match Command::new("dot").arg("-Tsvg").arg(&path).output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skipped the Graphviz check: cannot run dot ({})", e);
            return;
        }
    };
    assert!(
        out.status.success(),
        "dot rejected the graph: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        text
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

const STEPS_MAKEFILE: &str = "\
all: a b c
a b c:
\t@sleep 0.05; echo $@ > $@
";

#[test]
fn graph_option_writes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Makefile"), STEPS_MAKEFILE).unwrap();
    let out = Command::new(BIN)
        .args(["--graph=g.json", "--graph-format=json", "-C"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", out);
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("g.json")).unwrap()).unwrap();
    assert!(has_edge(&v, "all", "c", false));
}

#[test]
fn trace_json_has_every_step_once_with_sane_times() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Makefile"), STEPS_MAKEFILE).unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(BIN)
        .args(["-j2", "--trace-json=trace.json", "-C"])
        .arg(dir.path())
        .output()
        .unwrap();
    let wall = started.elapsed().as_micros() as u64;
    assert!(out.status.success(), "{:?}", out);
    let events: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("trace.json")).unwrap()).unwrap();
    let steps: Vec<&Value> = events.iter().filter(|e| e["cat"] == "step").collect();
    let mut names: Vec<&str> = steps.iter().map(|e| e["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a", "b", "c"], "every step exactly once");
    for s in &steps {
        assert_eq!(s["ph"], "X");
        let (ts, dur) = (s["ts"].as_u64().unwrap(), s["dur"].as_u64().unwrap());
        assert!(dur >= 40_000, "a step sleeps 50 ms: {}", s);
        assert!(ts + dur <= wall, "step ends after the run: {}", s);
        assert!(s["tid"].as_u64().unwrap() >= 1);
        assert_eq!(s["args"]["result"], "ok");
        assert!(s["args"]["command"].as_str().unwrap().contains("sleep"));
    }
    // With -j2 two slots at most; overlapping steps are on different slots.
    assert!(steps.iter().all(|s| s["tid"].as_u64().unwrap() <= 2));
    assert!(
        events.iter().any(|e| e["cat"] == "phase"),
        "parse phase missing"
    );
}
