//! Synthetic build graphs, written both as a Makefile and as an equivalent
//! `build.ninja`, so every tool does exactly the same work.
//!
//! Shape: `steps` steps in `depth` levels of (nearly) equal width. A level-0
//! step reads `fan_in` source files; a step at level `l` reads `fan_in` steps
//! of level `l-1` at neighbouring positions (`p, p+1, ...` modulo the width).
//! Neighbouring rather than random prerequisites keep the set of steps a touched
//! source invalidates small and linear in depth (about `depth * fan_in` steps),
//! like touching one file of a real project. Files are spread over `dirs`
//! directories. Each step is a real process: `cksum` of its inputs into its
//! output (bounded output size, unlike `cat`, whose files would grow as
//! `fan_in^depth`).

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The recipe of every step, for make and for ninja.
const MAKE_RECIPE: &str = "cksum $^ > $@";
const NINJA_COMMAND: &str = "cksum $in > $out";

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub steps: usize,
    pub fan_in: usize,
    pub depth: usize,
    pub dirs: usize,
}

/// A generated graph on disk.
#[derive(Clone, Debug)]
pub struct Graph {
    pub root: PathBuf,
    /// Every file the build writes, relative to `root`.
    pub outputs: Vec<String>,
    /// The source the rebuild benchmark touches.
    pub touch_source: String,
}

impl Graph {
    /// Remove everything a build wrote, including ninja's logs, so the next
    /// build starts from scratch.
    pub fn clean(&self) -> io::Result<()> {
        for out in self.outputs.iter().map(String::as_str) {
            remove_if_present(&self.root.join(out))?;
        }
        for log in [".ninja_log", ".ninja_deps"] {
            remove_if_present(&self.root.join(log))?;
        }
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Number of steps in each level: `steps / depth`, the remainder spread over
/// the first levels.
fn level_widths(steps: usize, depth: usize) -> Vec<usize> {
    let depth = depth.clamp(1, steps.max(1));
    (0..depth)
        .map(|l| steps / depth + usize::from(l < steps % depth))
        .collect()
}

fn step_path(level: usize, pos: usize, dirs: usize) -> String {
    format!("d{}/l{}_{}.out", pos % dirs, level, pos)
}

fn source_path(pos: usize, dirs: usize) -> String {
    format!("d{}/src{}.in", pos % dirs, pos)
}

/// Positions `p, p+1, ...` modulo `width`, at most `fan_in` distinct ones.
fn neighbours(pos: usize, fan_in: usize, width: usize) -> impl Iterator<Item = usize> {
    (0..fan_in.min(width)).map(move |k| (pos + k) % width)
}

/// Write the graph's sources, Makefile and build.ninja under `root`.
pub fn generate(shape: Shape, root: &Path) -> io::Result<Graph> {
    let dirs = shape.dirs.max(1);
    let fan_in = shape.fan_in.max(1);
    let widths = level_widths(shape.steps, shape.depth);
    for d in 0..dirs {
        fs::create_dir_all(root.join(format!("d{d}")))?;
    }
    for p in 0..widths[0] {
        fs::write(root.join(source_path(p, dirs)), format!("source {p}\n"))?;
    }

    let mut make = String::new();
    let mut ninja = String::new();
    let _ = writeln!(
        make,
        "# hbench graph: {} steps, fan-in {fan_in}, depth {}, {dirs} directories\n.PHONY: all\nall:",
        shape.steps,
        widths.len()
    );
    let _ = writeln!(ninja, "rule step\n  command = {NINJA_COMMAND}\n");
    let mut rules = String::new();
    let mut outputs = Vec::with_capacity(shape.steps);
    // A step nobody reads is a goal of `all`, so every step is built.
    let mut read = vec![false; shape.steps];
    let first_of_level: Vec<usize> = widths
        .iter()
        .scan(0, |acc, w| {
            let first = *acc;
            *acc += w;
            Some(first)
        })
        .collect();
    for (level, &width) in widths.iter().enumerate() {
        for pos in 0..width {
            let out = step_path(level, pos, dirs);
            let inputs: Vec<String> = if level == 0 {
                neighbours(pos, fan_in, widths[0])
                    .map(|p| source_path(p, dirs))
                    .collect()
            } else {
                neighbours(pos, fan_in, widths[level - 1])
                    .map(|p| {
                        read[first_of_level[level - 1] + p] = true;
                        step_path(level - 1, p, dirs)
                    })
                    .collect()
            };
            let inputs = inputs.join(" ");
            let _ = writeln!(rules, "{out}: {inputs}\n\t{MAKE_RECIPE}");
            let _ = writeln!(ninja, "build {out}: step {inputs}");
            outputs.push(out);
        }
    }
    let goals: Vec<&str> = outputs
        .iter()
        .zip(&read)
        .filter(|(_, &was_read)| !was_read)
        .map(|(out, _)| out.as_str())
        .collect();
    // Continuation lines keep the goal list readable and exercise the reader.
    for chunk in goals.chunks(16) {
        let _ = writeln!(make, "all: {}", chunk.join(" "));
    }
    make.push_str(&rules);
    let _ = writeln!(ninja, "build all: phony {}\ndefault all", goals.join(" "));
    fs::write(root.join("Makefile"), make)?;
    fs::write(root.join("build.ninja"), ninja)?;
    Ok(Graph {
        root: root.to_path_buf(),
        outputs,
        touch_source: source_path(widths[0] / 2, dirs),
    })
}

/// A Makefile of `steps` independent steps that each declare the same
/// `paths` prerequisites, to measure what each declared path costs (the
/// sandbox grants every prerequisite to the recipe).
pub fn generate_prereq_fan(paths: usize, steps: usize, root: &Path) -> io::Result<Graph> {
    fs::create_dir_all(root.join("in"))?;
    fs::create_dir_all(root.join("out"))?;
    let mut make =
        format!("# hbench: {steps} steps, each declaring {paths} prerequisites\nPREREQS :=");
    for i in 0..paths {
        let path = format!("in/p{i}");
        fs::write(root.join(&path), "p\n")?;
        let _ = write!(make, " {path}");
    }
    let outputs: Vec<String> = (0..steps).map(|i| format!("out/s{i}")).collect();
    let _ = writeln!(make, "\n.PHONY: all\nall: {}", outputs.join(" "));
    for out in &outputs {
        let _ = writeln!(make, "{out}: $(PREREQS)\n\ttouch $@");
    }
    fs::write(root.join("Makefile"), make)?;
    Ok(Graph {
        root: root.to_path_buf(),
        outputs,
        touch_source: "in/p0".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("hbench-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        root
    }

    #[test]
    fn widths_cover_every_step() {
        assert_eq!(level_widths(10, 3), vec![4, 3, 3]);
        assert_eq!(level_widths(2, 5), vec![1, 1]);
        assert_eq!(level_widths(1000, 10).iter().sum::<usize>(), 1000);
    }

    #[test]
    fn makefile_and_ninja_declare_the_same_steps() {
        let root = temp_root("gen");
        let shape = Shape {
            steps: 25,
            fan_in: 3,
            depth: 4,
            dirs: 3,
        };
        let g = generate(shape, &root).unwrap();
        assert_eq!(g.outputs.len(), 25);
        let make = fs::read_to_string(root.join("Makefile")).unwrap();
        let ninja = fs::read_to_string(root.join("build.ninja")).unwrap();
        assert_eq!(make.matches("\tcksum $^ > $@").count(), 25);
        assert_eq!(ninja.matches("build d").count(), 25);
        for out in &g.outputs {
            assert!(make.contains(&format!("\n{out}: ")), "{out}");
            assert!(ninja.contains(&format!("build {out}: step ")), "{out}");
        }
        assert!(root.join(&g.touch_source).is_file());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn prereq_fan_declares_every_path() {
        let root = temp_root("fan");
        let g = generate_prereq_fan(10, 3, &root).unwrap();
        assert_eq!(g.outputs, ["out/s0", "out/s1", "out/s2"]);
        let make = fs::read_to_string(root.join("Makefile")).unwrap();
        assert!(make.contains(" in/p9\n"));
        fs::remove_dir_all(root).unwrap();
    }
}
