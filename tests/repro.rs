//! `hbuild --check-repro` on the fixtures of `fixtures/repro`: each planted
//! nondeterminism is found and blamed on the right variation, a deterministic
//! C project is reproducible run after run, and the user's tree is untouched.

use std::collections::BTreeMap;
use std::fs;
use std::hash::Hasher;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/repro")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of a fixture in a temporary directory (the project is its `proj`).
fn project(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::Builder::new()
        .prefix("hbuild-repro-test-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("proj");
    copy_dir(&fixture(name), &dir);
    (tmp, dir)
}

fn check_repro(dir: &Path, extra: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_hbuild"))
        .arg("--check-repro")
        .args(extra)
        .current_dir(dir)
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("HBUILD_KEEP_REPRO")
        .output()
        .unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fingerprint of every entry of a tree: path, kind, mode, mtime, contents.
fn tree_hash(dir: &Path) -> BTreeMap<PathBuf, (u32, i64, u64)> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, (u32, i64, u64)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            if meta.is_file() {
                h.write(&fs::read(&path).unwrap());
            }
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            out.insert(rel, (meta.permissions().mode(), meta.mtime(), h.finish()));
            if meta.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// The fixture's planted nondeterminism is found in `target` and blamed on
/// exactly `cause`; the deterministic `hello.txt` is not reported.
fn assert_blamed(name: &str, target: &str, cause: &str) {
    let (_tmp, dir) = project(name);
    let before = tree_hash(&dir);
    let run = check_repro(&dir, &[]);
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert_eq!(run.status, 1, "{}", context);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let differs = format!("hbuild: {} differs: ", target);
    assert!(lines.iter().any(|l| l.starts_with(&differs)), "{}", context);
    let blamed = format!("hbuild: {}: differs with {}", target, cause);
    assert!(
        lines.contains(&blamed.as_str()),
        "want {:?}\n{}",
        blamed,
        context
    );
    assert!(!run.stdout.contains("hello.txt"), "{}", context);
    assert!(
        lines.iter().any(|l| l.ends_with(" targets differ")),
        "{}",
        context
    );
    assert_eq!(before, tree_hash(&dir), "the project tree changed");
}

/// A makefile that names the project by its absolute path (CMake's do) would
/// make the copies' builds read and write the project itself: refused,
/// naming the makefile, and nothing in the project is touched.
#[test]
fn a_makefile_naming_the_project_by_absolute_path_is_refused() {
    let (_tmp, dir) = project("time");
    let makefile = format!(
        "B := {}\nall: app\nlib.a: ; echo lib > $@\napp: lib.a ; cd $(B) && cat lib.a > app\n",
        dir.display()
    );
    fs::write(dir.join("Makefile"), makefile).unwrap();
    let before = tree_hash(&dir);
    let r = check_repro(&dir, &["--sandbox=off", "--repro-vary=time"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "hbuild: *** Makefile names this directory by its absolute path ({})",
            dir.display()
        )),
        "{}",
        r.stderr
    );
    assert_eq!(tree_hash(&dir), before);
}

#[test]
fn finds_the_build_time() {
    assert_blamed("time", "stamp.txt", "the build time");
}

#[test]
fn finds_the_build_path() {
    assert_blamed("path", "where.txt", "the build path");
}

#[test]
fn finds_an_environment_variable() {
    assert_blamed("env", "envnames.txt", "an extra environment variable");
}

#[test]
fn finds_home() {
    assert_blamed("home", "home.txt", "HOME");
}

#[test]
fn finds_the_time_zone() {
    assert_blamed("tz", "tz.txt", "the time zone (TZ)");
}

#[test]
fn finds_the_locale() {
    assert_blamed("locale", "sorted.txt", "the locale");
}

#[test]
fn finds_the_umask() {
    assert_blamed("umask", "dist.tar", "the umask");
}

#[test]
fn finds_a_parallel_race() {
    assert_blamed("jobs", "order.txt", "the job count (-j)");
}

#[test]
fn finds_the_directory_order() {
    assert_blamed("dirorder", "listing.txt", "the directory listing order");
}

#[test]
fn deterministic_project_is_reproducible_every_time() {
    let (_tmp, dir) = project("c_project");
    let before = tree_hash(&dir);
    for i in 0..10 {
        let run = check_repro(&dir, &[]);
        assert_eq!(run.status, 0, "run {}:\n{}\n{}", i, run.stdout, run.stderr);
        assert!(
            run.stdout
                .contains("hbuild: all 5 targets are reproducible"),
            "run {}:\n{}",
            i,
            run.stdout
        );
    }
    assert_eq!(before, tree_hash(&dir), "the project tree changed");
}

#[test]
fn built_files_in_the_tree_are_not_copied() {
    // Outputs left by an earlier build must be rebuilt from scratch, not
    // taken from the user's tree (where they would hide differences).
    let (_tmp, dir) = project("time");
    fs::write(dir.join("stamp.txt"), "stale\n").unwrap();
    fs::write(dir.join("hello.txt"), "stale\n").unwrap();
    let before = tree_hash(&dir);
    let run = check_repro(&dir, &[]);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run
        .stdout
        .contains("hbuild: stamp.txt: differs with the build time"));
    assert_eq!(before, tree_hash(&dir), "the project tree changed");
}

#[test]
fn failed_build_exits_2() {
    let (_tmp, dir) = project("fails");
    let before = tree_hash(&dir);
    let run = check_repro(&dir, &[]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("build failed"), "{}", run.stderr);
    assert_eq!(before, tree_hash(&dir), "the project tree changed");
}

#[test]
fn variations_can_be_chosen() {
    let (_tmp, dir) = project("home");
    let run = check_repro(&dir, &["--repro-vary=tz,umask,locale"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    let run = check_repro(&dir, &["--repro-vary=home"]);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("hbuild: home.txt: differs with HOME"));
    let run = check_repro(&dir, &["--repro-vary=nonsense"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("unknown variation 'nonsense'"),
        "{}",
        run.stderr
    );
}

#[test]
fn report_holds_the_comparison() {
    let (tmp, dir) = project("tz");
    let report = tmp.path().join("report.json");
    let arg = format!("--report={}", report.display());
    let run = check_repro(&dir, &[&arg, "--repro-vary=tz,home"]);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    let text = fs::read_to_string(&report).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let check = &doc["check_repro"];
    assert_eq!(check["status"], 1, "{}", text);
    assert_eq!(check["reproducible"], false);
    assert_eq!(check["variations"], serde_json::json!(["home", "timezone"]));
    assert_eq!(check["targets_compared"], 2);
    let diffs = check["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{}", text);
    assert_eq!(diffs[0]["target"], "tz.txt");
    assert!(diffs[0]["first_difference"].is_u64(), "{}", text);
    assert_eq!(diffs[0]["causes"], serde_json::json!(["timezone"]));
}

#[test]
fn goals_and_directory_are_passed_to_the_builds() {
    let (tmp, _dir) = project("time");
    let out = Command::new(env!("CARGO_BIN_EXE_hbuild"))
        .args(["-C", "proj", "--check-repro", "hello.txt"])
        .current_dir(tmp.path())
        .env_remove("MAKEFLAGS")
        .env_remove("MAKELEVEL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("hbuild: the only target is reproducible"),
        "{}",
        stdout
    );
}
