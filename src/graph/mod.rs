//! The dependency graph: goals to targets, implicit-rule search, up-to-date checks.
//!
//! Nodes are created lazily, as make does: a target's second expansion and
//! implicit-rule search happen when it is first considered (`prepare`).

pub mod archive;
pub mod autovars;
pub mod decide;
pub mod disk;
pub mod resolve;

use crate::diag::{Loc, Result};
use crate::lang::globbing::file_names;
use crate::lang::names::{strip_dot_slash, Name};
use crate::lang::rules::Recipe;
use crate::lang::text::{words, Pattern};
use crate::lang::vars::{Scope, VarTable};
use crate::lang::Database;
use disk::FastMap;
use disk::StatCache;
use resolve::{ImplicitMatch, Searcher};
use std::sync::Arc;

pub type NodeId = usize;

/// The prerequisite marker that serialises a list.
const WAIT: &str = ".WAIT";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub node: NodeId,
    pub order_only: bool,
    /// A `.WAIT` came before it: it starts only once every earlier
    /// prerequisite of the same target is done.
    pub after_wait: bool,
    /// From `.EXTRA_PREREQS`: made first and compared like any prerequisite,
    /// but in no automatic variable (`$^`, `$?`...) and no `--trace` reason.
    pub extra: bool,
}

/// One file to bring up to date (or one rule of a double-colon target).
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// The target name as the makefiles name it.
    pub name: Name,
    /// Where the file is: `name`, or where `vpath` found it.
    pub path: Name,
    pub deps: Vec<Edge>,
    pub recipe: Option<Arc<Recipe>>,
    /// The rule's location, for `--trace`.
    pub rule_loc: Option<Loc>,
    pub stem: String,
    /// `$*` is the name minus a known suffix (an explicit rule): worked out
    /// when a recipe needs it rather than stored for every target.
    pub suffix_stem: bool,
    /// Target-specific variables.
    pub vars: Option<Arc<VarTable>>,
    /// The target whose prerequisite this first was (for inherited variables).
    pub parent: Option<NodeId>,
    /// Other nodes made by the same recipe run (grouped or multi-target pattern).
    pub siblings: thin_vec::ThinVec<NodeId>,
    /// Mentioned as a target, or matched by an implicit rule.
    pub has_rule: bool,
    pub phony: bool,
    /// Made by a chain of implicit rules and not mentioned: deleted at the end.
    pub intermediate: bool,
    /// One rule of a double-colon target (the node named `name` waits for all).
    pub double_colon_rule: bool,
    pub prepared: bool,
    /// `resolve_path` ran: where the file is was decided once, as make
    /// decides it once per file (and a node is reached by every edge to it).
    pub located: bool,
    /// The pattern rule chosen while searching a chain for a parent.
    pub pending_match: Option<Box<ImplicitMatch>>,
}

/// All nodes considered so far.
pub struct Graph {
    pub nodes: Vec<Node>,
    by_name: FastMap<Name, NodeId>,
    pub vpath: Vec<String>,
    patterns: resolve::RuleTable,
    /// What each aggregate gathers (see `through_aggregates`), worked out
    /// once: many steps may depend on the same one.
    gathered: FastMap<NodeId, std::sync::Arc<[String]>>,
}

impl Graph {
    pub fn new(db: &mut Database) -> Graph {
        // Room for every file the makefiles name, reserved at once: growing
        // by doubling would copy the nodes and keep both copies at the peak
        // (pages never used are never resident).
        // Every name the makefiles mention, counted once (a hash table's
        // pages are all touched, reserved or not).
        let files = db.names.len();
        let mut by_name = FastMap::default();
        by_name.reserve(files);
        Graph {
            nodes: Vec::with_capacity(files),
            by_name,
            vpath: resolve::vpath_dirs(db),
            patterns: resolve::RuleTable::new(db),
            gathered: FastMap::default(),
        }
    }

    /// A graph with no nodes (what remains after `forget`).
    pub fn empty() -> Graph {
        Graph {
            nodes: Vec::new(),
            by_name: FastMap::default(),
            vpath: Vec::new(),
            patterns: resolve::RuleTable::default(),
            gathered: FastMap::default(),
        }
    }

    pub fn lookup(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    /// The node for file `name`, created (unprepared) on first use.
    pub fn node(&mut self, db: &Database, name: &str, parent: Option<NodeId>) -> NodeId {
        if let Some(id) = self.lookup(name) {
            return id;
        }
        let id = self.nodes.len();
        let t = db.targets.get(name);
        // The makefiles' own copy of the name when they have one.
        let shared = db.names.get(name).unwrap_or_else(|| Name::from(name));
        self.nodes.push(Node {
            name: shared.clone(),
            path: shared.clone(),
            parent,
            phony: db.specials.phony.contains(name),
            has_rule: t.is_some_and(|t| t.is_target),
            // `.SECONDARY:` without names makes every file the makefiles
            // mention intermediate (and never deleted), as in make.
            intermediate: db.specials.intermediate.contains(name)
                || (db.specials.secondary.all && db.names.contains(name)),
            ..Default::default()
        });
        self.by_name.insert(shared, id);
        id
    }

    /// The files `id` reaches through prerequisites that are phony, or
    /// have no recipe and no file (`static: example minigzip`), down any
    /// chain of such: make builds them before `id`, and remakes `id` every
    /// time (such a prerequisite counts as just made), so the recipe of
    /// `id` may read them. Through a recipe-less target that exists as a
    /// file, a change would not reach `id`: those are not included. Direct
    /// prerequisites are not repeated.
    pub fn through_aggregates(
        &mut self,
        db: &mut Database,
        disk: &mut StatCache,
        id: NodeId,
    ) -> Vec<String> {
        let direct: Vec<NodeId> = self.nodes[id].deps.iter().map(|e| e.node).collect();
        let mut gathered = Vec::new();
        for n in direct {
            let _ = self.prepare(db, disk, n);
            if self.is_aggregate(disk, n) {
                gathered.push(self.gathered_by(db, disk, n));
            }
        }
        // Each file once, and none that is a direct prerequisite.
        let mut seen: std::collections::HashSet<&str> = self.nodes[id]
            .deps
            .iter()
            .map(|e| &*self.nodes[e.node].path)
            .collect();
        gathered
            .iter()
            .flat_map(|g| g.iter())
            .filter(|p| seen.insert(p.as_str()))
            .cloned()
            .collect()
    }

    /// Phony, or without recipe and file: counts as remade every time.
    fn is_aggregate(&self, disk: &mut StatCache, n: NodeId) -> bool {
        let node = &self.nodes[n];
        node.phony || (node.recipe.is_none() && !disk.exists(&node.path))
    }

    /// The files aggregate `agg` gathers, down any chain of aggregates.
    fn gathered_by(
        &mut self,
        db: &mut Database,
        disk: &mut StatCache,
        agg: NodeId,
    ) -> std::sync::Arc<[String]> {
        if let Some(g) = self.gathered.get(&agg) {
            return g.clone();
        }
        let mut seen = std::collections::HashSet::from([agg]);
        let mut stack = vec![agg];
        let mut files = Vec::new();
        while let Some(n) = stack.pop() {
            let deps: Vec<NodeId> = self.nodes[n].deps.iter().map(|e| e.node).collect();
            for d in deps {
                if !seen.insert(d) {
                    continue;
                }
                let _ = self.prepare(db, disk, d);
                if !self.nodes[d].phony {
                    files.push(self.nodes[d].path.to_string());
                }
                if self.is_aggregate(disk, d) {
                    stack.push(d);
                }
            }
        }
        let files: std::sync::Arc<[String]> = files.into();
        self.gathered.insert(agg, files.clone());
        files
    }

    /// Whether `to` is reached from `from` through prerequisites already
    /// worked out (a running step's are): make then builds `to` first.
    pub fn reaches(&self, from: NodeId, to: NodeId) -> bool {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![from];
        while let Some(id) = stack.pop() {
            if id == to {
                return true;
            }
            if seen.insert(id) {
                stack.extend(self.nodes[id].deps.iter().map(|e| e.node));
            }
        }
        false
    }

    /// Whether `from` is made from `to`: `to` is among its prerequisites,
    /// directly or down any chain, resolving rules (implicit ones too) as
    /// the walk reaches them, as make would once `from` became a
    /// prerequisite of something.
    pub fn depends_on(
        &mut self,
        db: &mut Database,
        disk: &mut StatCache,
        from: NodeId,
        to: NodeId,
    ) -> bool {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![from];
        while let Some(id) = stack.pop() {
            if id == to {
                return true;
            }
            if !seen.insert(id) {
                continue;
            }
            let _ = self.prepare(db, disk, id);
            stack.extend(self.nodes[id].deps.iter().map(|e| e.node));
        }
        false
    }

    /// Resolve a node's rule: its explicit prerequisites (second expansion
    /// included), double-colon rules, implicit rule or `.DEFAULT`.
    pub fn prepare(&mut self, db: &mut Database, disk: &mut StatCache, id: NodeId) -> Result<()> {
        if self.nodes[id].prepared {
            return Ok(());
        }
        self.nodes[id].prepared = true;
        let name = self.nodes[id].name.clone();
        if let Some(m) = self.nodes[id].pending_match.take() {
            return self.apply_match(db, disk, id, *m);
        }
        if self.nodes[id].double_colon_rule {
            return Ok(());
        }
        if let Some(t) = db.targets.get(&*name) {
            let n = &mut self.nodes[id];
            n.recipe = t.recipe.clone();
            n.rule_loc = t.recipe.as_ref().map(|r| r.loc.clone()).or(t.loc.clone());
            n.vars = t.vars.clone();
            match &t.static_stem {
                Some(s) => n.stem = s.to_string(),
                None => n.suffix_stem = true,
            }
            if t.deferred.is_empty() {
                // The common case needs no copy of the prerequisite names.
                let deps = t.deps.iter().map(|d| (&*d.name, d.order_only));
                self.add_deps(db, disk, id, deps);
            }
        }
        // Only second expansion needs the database mutably (and a copy).
        let (target, is_target) = match db.targets.get(&*name) {
            Some(t) => (
                (!t.deferred.is_empty() || !t.double_colon.is_empty() || t.group.is_some())
                    .then(|| t.clone()),
                t.is_target,
            ),
            None => (None, false),
        };
        if let Some(t) = &target {
            if !t.deferred.is_empty() {
                let mut deps: Vec<(String, bool)> = t
                    .deps
                    .iter()
                    .map(|d| (d.name.to_string(), d.order_only))
                    .collect();
                let at = first_line(t.recipe.as_deref());
                for d in &t.deferred {
                    self.second_expansion(db, disk, id, &d.text, at.as_ref(), &mut deps)?;
                }
                drop_shadowed_order_only(&mut deps);
                let deps = deps.iter().map(|(n, o)| (n.as_str(), *o));
                self.add_deps(db, disk, id, deps);
            }
            if let Some(group) = &t.group {
                let sibs: Vec<NodeId> = group
                    .iter()
                    .filter(|g| g.as_str() != &*name)
                    .map(|g| self.node(db, g, None))
                    .collect();
                self.nodes[id].siblings = sibs.into();
            }
            if !t.double_colon.is_empty() {
                for (i, rule) in t.double_colon.iter().enumerate() {
                    let sub = self.nodes.len();
                    self.nodes.push(Node {
                        name: name.clone(),
                        path: name.clone(),
                        parent: Some(id),
                        recipe: rule.recipe.clone(),
                        rule_loc: Some(rule.loc.clone()),
                        vars: t.vars.clone(),
                        stem: self.nodes[id].stem.clone(),
                        suffix_stem: self.nodes[id].suffix_stem,
                        has_rule: true,
                        double_colon_rule: true,
                        prepared: true,
                        ..Default::default()
                    });
                    let mut deps: Vec<(String, bool)> = rule
                        .deps
                        .iter()
                        .map(|d| (d.name.to_string(), d.order_only))
                        .collect();
                    let at = first_line(rule.recipe.as_deref());
                    for d in &rule.deferred {
                        self.second_expansion(db, disk, sub, &d.text, at.as_ref(), &mut deps)?;
                    }
                    drop_shadowed_order_only(&mut deps);
                    let deps = deps.iter().map(|(n, o)| (n.as_str(), *o));
                    self.add_deps(db, disk, sub, deps);
                    if i == 0 && db.specials.extra_prereqs {
                        // make gives them to the first rule only.
                        self.add_extra_prereqs(db, disk, sub)?;
                    }
                    self.nodes[id].deps.push(Edge {
                        node: sub,
                        order_only: false,
                        after_wait: false,
                        extra: false,
                    });
                }
                return Ok(());
            }
        }
        if db.specials.extra_prereqs && (is_target || self.has_own_extra_prereqs(id)) {
            self.add_extra_prereqs(db, disk, id)?;
        }
        let n = &self.nodes[id];
        if n.recipe.is_none() && !n.phony {
            // An archive member is searched as `(member)`, which the
            // built-in `(%): %` rule matches.
            let member;
            let subject = match archive::split_member(&name) {
                Some((_, m)) => {
                    member = format!("({})", m);
                    member.as_str()
                }
                None => &*name,
            };
            let found =
                Searcher::with_patterns(disk, &self.vpath, &self.patterns).search(db, subject)?;
            if let Some(m) = found {
                return self.apply_match(db, disk, id, m);
            }
            if !is_target {
                if let Some(r) = db.specials.default_recipe.clone() {
                    let n = &mut self.nodes[id];
                    n.rule_loc = Some(r.loc.clone());
                    n.recipe = Some(r);
                    n.has_rule = true;
                }
            }
        }
        Ok(())
    }

    /// Give node `id` the pattern rule `m`: prerequisites first, then the
    /// explicit ones already there; chained prerequisites become intermediates.
    /// The rule's prerequisites end with the global `.EXTRA_PREREQS`, as
    /// make 4.3 adds them to any implicit rule it uses (the file itself
    /// included: that is then a circular dependency).
    fn apply_match(
        &mut self,
        db: &mut Database,
        _disk: &mut StatCache,
        id: NodeId,
        m: ImplicitMatch,
    ) -> Result<()> {
        let rule = db.pattern_rules[m.rule].clone();
        let mut edges = Vec::new();
        for d in m.deps {
            let existed = self.lookup(&d.name).is_some();
            let dep = self.node(db, &d.name, Some(id));
            if let Some(chain) = d.chain {
                // Make 4.3 enters a chained file in its database, so later
                // searches take it as a file that ought to exist.
                db.names.intern(&d.name);
                if !existed && !db.targets.contains_key(d.name.as_str()) {
                    self.nodes[dep].intermediate = true;
                }
                if !self.nodes[dep].prepared
                    && self.nodes[dep].pending_match.is_none()
                    && db
                        .targets
                        .get(d.name.as_str())
                        .is_none_or(|t| t.recipe.is_none())
                {
                    self.nodes[dep].pending_match = Some(chain);
                }
            }
            self.resolve_path(db, _disk, dep);
            edges.push(Edge {
                node: dep,
                order_only: d.order_only,
                after_wait: false,
                extra: false,
            });
        }
        if db.specials.extra_prereqs {
            let names = extra_prereq_names(db, &Scope::global())?;
            edges.extend(self.extra_edges(db, _disk, id, &names));
        }
        let n = &mut self.nodes[id];
        edges.append(&mut n.deps);
        n.deps = edges;
        n.recipe = rule.recipe.clone();
        n.rule_loc = Some(rule.loc.clone());
        n.stem = m.stem;
        n.suffix_stem = false;
        n.has_rule = true;
        let sibs: Vec<NodeId> = m.also_make.iter().map(|s| self.node(db, s, None)).collect();
        for &s in &sibs {
            let sn = &mut self.nodes[s];
            sn.has_rule = true;
            sn.prepared = true;
            sn.recipe = rule.recipe.clone();
        }
        self.nodes[id].siblings = sibs.into();
        Ok(())
    }

    /// Expand `.SECONDEXPANSION` prerequisite text for node `id` with the
    /// automatic variables of the prerequisites known so far. Errors and
    /// warnings are placed at `loc`, as make places them: the rule's first
    /// recipe line, or nowhere when it has no recipe.
    fn second_expansion(
        &mut self,
        db: &mut Database,
        _disk: &mut StatCache,
        id: NodeId,
        text: &str,
        loc: Option<&Loc>,
        deps: &mut Vec<(String, bool)>,
    ) -> Result<()> {
        let n = &self.nodes[id];
        let normal: Vec<&str> = deps.iter().filter(|d| !d.1).map(|d| d.0.as_str()).collect();
        let oo: Vec<&str> = deps.iter().filter(|d| d.1).map(|d| d.0.as_str()).collect();
        let stem = self.stem(db, id);
        let autos = autovars::table(&autovars::AutoInputs {
            target: &n.name,
            stem: &stem,
            deps: normal,
            order_only: oo,
            ..Default::default()
        });
        let scope = self.scope_with(db, id, autos);
        let saved = std::mem::replace(&mut db.loc, loc.cloned());
        let expanded = db.expand(text, &scope);
        db.loc = saved;
        let expanded = expanded?;
        let mut lists: [Vec<String>; 2] = Default::default();
        let mut order_only = false;
        for w in words(&expanded) {
            if w == "|" {
                order_only = true;
            } else {
                lists[order_only as usize].push(w.to_string());
            }
        }
        for (list, order_only) in lists.into_iter().zip([false, true]) {
            for w in archive::split_groups(list) {
                for name in file_names(&w) {
                    deps.push((strip_dot_slash(&name).to_string(), order_only));
                }
            }
        }
        Ok(())
    }

    fn add_deps<'d>(
        &mut self,
        db: &Database,
        disk: &mut StatCache,
        id: NodeId,
        deps: impl ExactSizeIterator<Item = (&'d str, bool)>,
    ) {
        let mut after_wait = false;
        self.nodes[id].deps.reserve_exact(deps.len());
        for (name, order_only) in deps {
            // `.WAIT` (GNU make 4.4) is a marker, not a file, unless a rule
            // makes it one.
            if name == WAIT && !db.targets.get(WAIT).is_some_and(|t| t.is_target) {
                after_wait = true;
                continue;
            }
            let dep = self.node(db, name, Some(id));
            self.resolve_path(db, disk, dep);
            self.nodes[id].deps.push(Edge {
                node: dep,
                order_only,
                after_wait: std::mem::take(&mut after_wait),
                extra: false,
            });
        }
    }

    /// True if node `id` has a target-specific `.EXTRA_PREREQS`.
    fn has_own_extra_prereqs(&self, id: NodeId) -> bool {
        let vars = self.nodes[id].vars.as_ref();
        vars.is_some_and(|v| v.get(".EXTRA_PREREQS").is_some())
    }

    /// `.EXTRA_PREREQS` of a file named as a target, or with a value of its
    /// own, after its explicit prerequisites: that target-specific value
    /// (which `+=` adds to the global one) or the global one, as make 4.3
    /// applies them. Not inherited from the targets that need it; a list that
    /// names the file itself is dropped whole.
    fn add_extra_prereqs(
        &mut self,
        db: &mut Database,
        disk: &mut StatCache,
        id: NodeId,
    ) -> Result<()> {
        let mut scope = Scope::global();
        scope.for_target = true;
        if let Some(v) = &self.nodes[id].vars {
            scope = scope.with(v.clone(), false);
        }
        let names = extra_prereq_names(db, &scope)?;
        if names.iter().any(|w| w.as_str() == &*self.nodes[id].name) {
            return Ok(());
        }
        let mut edges = self.extra_edges(db, disk, id, &names);
        self.nodes[id].deps.append(&mut edges);
        Ok(())
    }

    /// Edges from node `id` to the extra prerequisites `names`.
    fn extra_edges(
        &mut self,
        db: &Database,
        disk: &mut StatCache,
        id: NodeId,
        names: &[String],
    ) -> Vec<Edge> {
        let mut edges = Vec::with_capacity(names.len());
        for name in names {
            let dep = self.node(db, name, Some(id));
            self.resolve_path(db, disk, dep);
            edges.push(Edge {
                node: dep,
                order_only: false,
                after_wait: false,
                extra: true,
            });
        }
        edges
    }

    /// Set `path` to where `vpath` finds the file, once, if it is not here.
    pub fn resolve_path(&mut self, db: &Database, disk: &mut StatCache, id: NodeId) {
        let n = &mut self.nodes[id];
        if std::mem::replace(&mut n.located, true) || n.path != n.name || n.phony {
            return;
        }
        if disk.exists(&n.name) {
            return;
        }
        if let Some(p) = resolve::locate(db, &self.vpath, disk, &n.name) {
            self.nodes[id].path = p.into();
        }
    }

    /// The scope a recipe of `id` expands in: its automatic variables (`$?`
    /// being `newer`) over its target- and pattern-specific ones.
    pub fn recipe_scope(&self, db: &Database, id: NodeId, newer: &[String]) -> Scope {
        let n = &self.nodes[id];
        let deps: Vec<&str> = n
            .deps
            .iter()
            .filter(|e| !e.order_only && !e.extra)
            .filter(|e| !self.nodes[e.node].double_colon_rule)
            .map(|e| member_or_path(&self.nodes[e.node].path))
            .collect();
        let oo: Vec<&str> = n
            .deps
            .iter()
            .filter(|e| e.order_only)
            .map(|e| member_or_path(&self.nodes[e.node].path))
            .collect();
        let (target, member) = archive::split_member(&n.name).unwrap_or((&n.name, ""));
        let stem = self.stem(db, id);
        let autos = autovars::table(&autovars::AutoInputs {
            target,
            stem: &stem,
            member,
            deps,
            order_only: oo,
            newer: newer.iter().map(|p| member_or_path(p)).collect(),
        });
        self.scope_with(db, id, autos)
    }

    /// The variable scope of node `id` with `autos` innermost: its own
    /// variables, matching pattern-specific ones (shortest stem innermost),
    /// then those inherited from the targets that needed it.
    pub fn scope_with(&self, db: &Database, id: NodeId, autos: VarTable) -> Scope {
        let mut scope = Scope::global().inner(autos);
        scope.for_target = true;
        let mut cur = Some(id);
        let mut inherited = false;
        let mut seen = 0;
        while let Some(c) = cur {
            let n = &self.nodes[c];
            if let Some(v) = &n.vars {
                scope = scope.with(v.clone(), inherited);
            }
            for v in pattern_vars(db, &n.name) {
                scope = scope.with(v, inherited);
            }
            inherited = true;
            cur = n.parent;
            seen += 1;
            if seen > self.nodes.len() {
                break;
            }
        }
        scope
    }
}

/// Prerequisites as make keeps them: every normal one (`$+` shows
/// repeats), an order-only one once and only if it is not also normal.
fn drop_shadowed_order_only(deps: &mut Vec<(String, bool)>) {
    if !deps.iter().any(|d| d.1) {
        return;
    }
    let normal: std::collections::HashSet<String> =
        deps.iter().filter(|d| !d.1).map(|d| d.0.clone()).collect();
    let mut seen = std::collections::HashSet::new();
    deps.retain(|(name, order_only)| {
        !order_only || (!normal.contains(name) && seen.insert(name.clone()))
    });
}

/// The file names `.EXTRA_PREREQS` has in `scope`.
fn extra_prereq_names(db: &mut Database, scope: &Scope) -> Result<Vec<String>> {
    let value = db.var_value(".EXTRA_PREREQS", scope)?;
    Ok(words(&value)
        .flat_map(file_names)
        .map(|w| strip_dot_slash(&w).to_string())
        .collect())
}

/// Pattern-specific variable tables matching `name`, innermost first: the
/// shortest stem first, later definitions first among equal stems.
pub fn pattern_vars(db: &Database, name: &str) -> Vec<Arc<VarTable>> {
    let file = name.rsplit('/').next().unwrap_or(name);
    let mut found: Vec<(usize, usize, Arc<VarTable>)> = Vec::new();
    for (i, pv) in db.pattern_vars.iter().enumerate() {
        let Some(p) = Pattern::parse(&pv.pattern) else {
            if pv.pattern == name {
                found.push((0, i, pv.vars.clone()));
            }
            continue;
        };
        let subject = if pv.pattern.contains('/') { name } else { file };
        if let Some(stem) = p.matches(subject) {
            found.push((stem.len(), i, pv.vars.clone()));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    found.into_iter().map(|f| f.2).collect()
}

impl Graph {
    /// `$*` of node `id`.
    pub fn stem(&self, db: &Database, id: NodeId) -> std::borrow::Cow<'_, str> {
        let n = &self.nodes[id];
        if n.suffix_stem {
            std::borrow::Cow::Owned(suffix_stem(db, &n.name))
        } else {
            std::borrow::Cow::Borrowed(&n.stem)
        }
    }
}

/// `$*` of an explicit rule: the name minus a known suffix, else empty.
fn suffix_stem(db: &Database, name: &str) -> String {
    match db.specials.suffix_of(name) {
        Some(s) => name[..name.len() - s.len()].to_string(),
        None => String::new(),
    }
}

/// How a prerequisite appears in `$^`, `$<`, `$?`...: an archive member
/// prerequisite `lib.a(m.o)` by its member name only.
fn member_or_path(path: &str) -> &str {
    archive::split_member(path).map_or(path, |(_, m)| m)
}

/// Where make places messages of a rule's second expansion: its recipe's
/// first line.
fn first_line(recipe: Option<&Recipe>) -> Option<Loc> {
    recipe.and_then(|r| r.lines.first()).map(|l| l.loc.clone())
}
