//! `--graph=FILE`: the dependency graph of the goals, as Graphviz DOT or as
//! JSON for tools. The graph is the one the engine would walk: explicit
//! rules, second expansion, double-colon rules, implicit-rule search and
//! `vpath`, all through `crate::graph` (nothing is built; files are only
//! stat'ed). Edges go from a target to its prerequisite.

use crate::diag;
use crate::graph::disk::StatCache;
use crate::graph::Graph;
use crate::lang::vars::Scope;
use crate::lang::Database;
use serde::Serialize;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

/// `--graph-format=dot|json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphFormat {
    Dot,
    Json,
}

impl GraphFormat {
    /// The format `--graph-format` names; DOT when not given.
    pub fn parse(v: Option<&str>) -> GraphFormat {
        match v {
            Some("json") => GraphFormat::Json,
            _ => GraphFormat::Dot,
        }
    }
}

/// One file of the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GraphNode {
    pub name: String,
    /// Where the file is, when `vpath` found it elsewhere (else the name).
    pub path: String,
    pub phony: bool,
    /// Some rule (explicit, implicit or `.DEFAULT`) can make it.
    pub has_rule: bool,
    pub has_recipe: bool,
    /// Made only by a chain of implicit rules (deleted after the build).
    pub intermediate: bool,
}

impl GraphNode {
    /// A file no rule makes: a source the build reads.
    pub fn is_source(&self) -> bool {
        !self.has_rule && !self.phony
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GraphEdge {
    /// The target.
    pub from: String,
    /// Its prerequisite.
    pub to: String,
    pub order_only: bool,
}

/// The goals' dependency graph, nodes in the order they were reached.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DepGraph {
    pub goals: Vec<String>,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// The goals a build would pursue: `goals`, or else the default goal.
pub fn goals_or_default(db: &mut Database, goals: &[String]) -> Vec<String> {
    if !goals.is_empty() {
        return goals.to_vec();
    }
    let from_var = db
        .var_value(".DEFAULT_GOAL", &Scope::global())
        .unwrap_or_default();
    let from_var: Vec<String> = crate::lang::text::words(&from_var)
        .map(str::to_string)
        .collect();
    if !from_var.is_empty() {
        return from_var;
    }
    db.default_goal.iter().cloned().collect()
}

/// Walk the graph from `goals` (the default goal when empty), resolving each
/// target's rule as the engine would.
pub fn collect(db: &mut Database, goals: &[String]) -> diag::Result<DepGraph> {
    let goals = goals_or_default(db, goals);
    let mut disk = StatCache::real();
    let mut graph = Graph::new(db);
    let mut out = DepGraph {
        goals: goals.clone(),
        ..Default::default()
    };
    // Graph node ids of files (not of double-colon sub-rules) → out.nodes index.
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut queue: Vec<usize> = Vec::new();
    for g in &goals {
        let id = graph.node(db, g, None);
        graph.resolve_path(db, &mut disk, id);
        queue.push(id);
    }
    let mut seen_edges = std::collections::HashSet::new();
    let mut next = 0;
    while next < queue.len() {
        let id = queue[next];
        next += 1;
        let name = graph.nodes[id].name.to_string();
        if index.contains_key(&name) {
            continue;
        }
        graph.prepare(db, &mut disk, id)?;
        // A double-colon target's rules are sub-nodes of the same name: their
        // prerequisites and recipes belong to the file.
        let mut rules = vec![id];
        let mut edges = Vec::new();
        let mut i = 0;
        while i < rules.len() {
            for e in graph.nodes[rules[i]].deps.clone() {
                let dep = &graph.nodes[e.node];
                if dep.double_colon_rule && *dep.name == *name {
                    rules.push(e.node);
                } else {
                    edges.push(e);
                }
            }
            i += 1;
        }
        let n = &graph.nodes[id];
        let has_recipe = rules.iter().any(|&r| graph.nodes[r].recipe.is_some());
        index.insert(name.clone(), out.nodes.len());
        out.nodes.push(GraphNode {
            name: name.clone(),
            path: n.path.to_string(),
            phony: n.phony,
            has_rule: n.has_rule || has_recipe,
            has_recipe,
            intermediate: n.intermediate,
        });
        for e in edges {
            let to = graph.nodes[e.node].name.to_string();
            if seen_edges.insert((name.clone(), to.clone(), e.order_only)) {
                out.edges.push(GraphEdge {
                    from: name.clone(),
                    to,
                    order_only: e.order_only,
                });
            }
            queue.push(e.node);
        }
    }
    Ok(out)
}

/// Write the graph of `goals` to `path` in `format`. A makefile error met
/// while resolving rules comes back as an `io::Error` carrying make's message.
pub fn write(
    db: &mut Database,
    goals: &[String],
    format: GraphFormat,
    path: &Path,
) -> io::Result<()> {
    let graph = collect(db, goals).map_err(|e| io::Error::other(diag::fatal_text(&e)))?;
    let mut f = io::BufWriter::new(std::fs::File::create(path)?);
    match format {
        GraphFormat::Dot => write_dot(&graph, &mut f)?,
        GraphFormat::Json => write_json(&graph, &mut f)?,
    }
    f.flush()
}

/// `{"goals":[..], "nodes":[{name, path, phony, has_rule, has_recipe,
/// intermediate}], "edges":[{from, to, order_only}]}`.
pub fn write_json(graph: &DepGraph, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, graph).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

/// Graphviz DOT: targets are ellipses, phony targets dashed boxes, source
/// files (no rule) plain text, goals bold; order-only edges are dashed.
pub fn write_dot(graph: &DepGraph, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "digraph hbuild {{")?;
    writeln!(out, "  rankdir=LR;")?;
    writeln!(out, "  node [fontname=\"monospace\"];")?;
    for n in &graph.nodes {
        let mut attrs: Vec<String> = Vec::new();
        if n.phony {
            attrs.push("shape=box".into());
            attrs.push("style=dashed".into());
        } else if n.is_source() {
            attrs.push("shape=plaintext".into());
        } else if n.intermediate {
            attrs.push("style=dotted".into());
        }
        if graph.goals.contains(&n.name) {
            attrs.push("penwidth=2".into());
        }
        if n.path != n.name {
            attrs.push(format!("tooltip={}", quote(&n.path)));
        }
        if attrs.is_empty() {
            writeln!(out, "  {};", quote(&n.name))?;
        } else {
            writeln!(out, "  {} [{}];", quote(&n.name), attrs.join(", "))?;
        }
    }
    for e in &graph.edges {
        let style = if e.order_only { " [style=dashed]" } else { "" };
        writeln!(out, "  {} -> {}{};", quote(&e.from), quote(&e.to), style)?;
    }
    writeln!(out, "}}")
}

/// A DOT quoted ID. Backslashes are doubled so Graphviz shows names as they
/// are instead of reading `\n`, `\N` etc. as label escapes.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DepGraph {
        let node = |name: &str, phony, has_rule| GraphNode {
            name: name.into(),
            path: name.into(),
            phony,
            has_rule,
            has_recipe: has_rule,
            intermediate: false,
        };
        let edge = |from: &str, to: &str, order_only| GraphEdge {
            from: from.into(),
            to: to.into(),
            order_only,
        };
        DepGraph {
            goals: vec!["all".into()],
            nodes: vec![
                node("all", true, true),
                node("a \"b\".o", false, true),
                node("dir\\x", false, false),
                node("out", false, true),
            ],
            edges: vec![
                edge("all", "a \"b\".o", false),
                edge("a \"b\".o", "dir\\x", false),
                edge("a \"b\".o", "out", true),
            ],
        }
    }

    #[test]
    fn dot_marks_phony_sources_and_order_only() {
        let mut buf = Vec::new();
        write_dot(&sample(), &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with("digraph hbuild {\n"));
        assert!(text.contains("\"all\" [shape=box, style=dashed, penwidth=2];"));
        assert!(text.contains("\"a \\\"b\\\".o\";"));
        assert!(text.contains("\"dir\\\\x\" [shape=plaintext];"));
        assert!(text.contains("\"a \\\"b\\\".o\" -> \"out\" [style=dashed];"));
        assert!(text.contains("\"all\" -> \"a \\\"b\\\".o\";"));
        assert!(text.trim_end().ends_with('}'));
    }

    #[test]
    fn json_has_nodes_and_edges() {
        let mut buf = Vec::new();
        write_json(&sample(), &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["nodes"].as_array().unwrap().len(), 4);
        assert_eq!(v["nodes"][0]["phony"], true);
        assert_eq!(v["nodes"][2]["has_rule"], false);
        assert_eq!(v["edges"][2]["order_only"], true);
        assert_eq!(v["goals"][0], "all");
    }

    #[test]
    fn format_defaults_to_dot() {
        assert_eq!(GraphFormat::parse(None), GraphFormat::Dot);
        assert_eq!(GraphFormat::parse(Some("dot")), GraphFormat::Dot);
        assert_eq!(GraphFormat::parse(Some("json")), GraphFormat::Json);
    }
}
