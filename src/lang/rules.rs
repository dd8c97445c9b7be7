//! The rule database: what the makefiles say about targets, queried by the graph,
//! the engine and (later) the sandbox, which derives each step's policy from it.

use crate::diag::Loc;
use crate::lang::vars::VarTable;
use std::sync::Arc;

/// One line of a recipe, unexpanded, as written after the recipe prefix.
#[derive(Clone, Debug)]
pub struct RecipeLine {
    pub text: String,
    pub loc: Loc,
}

/// The recipe of a rule. `loc` is the line of the rule header that carried it
/// (make reports failures as `[Makefile:LINE: target]` with the recipe line).
#[derive(Clone, Debug)]
pub struct Recipe {
    pub lines: Vec<RecipeLine>,
    pub loc: Loc,
}

/// A prerequisite as named in a rule (after first expansion).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dep {
    pub name: crate::lang::names::Name,
    pub order_only: bool,
}

/// Prerequisite text kept for `.SECONDEXPANSION`: expanded again, with automatic
/// variables, when the target is considered. May contain `|`.
#[derive(Clone, Debug)]
pub struct DeferredDeps {
    pub text: String,
    pub loc: Loc,
}

impl Recipe {
    /// Where the recipe's first line is (make's location for recipe warnings).
    pub fn first_line_loc(&self) -> &Loc {
        self.lines.first().map(|l| &l.loc).unwrap_or(&self.loc)
    }
}

/// One `target::` rule: each double-colon rule is updated on its own.
#[derive(Clone, Debug)]
pub struct DoubleColonRule {
    pub deps: Vec<Dep>,
    pub deferred: Vec<DeferredDeps>,
    pub recipe: Option<Arc<Recipe>>,
    pub loc: Loc,
}

/// Everything the makefiles say about one explicitly mentioned file.
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub name: crate::lang::names::Name,
    /// Prerequisites of all single-colon rules for this target: those of the
    /// rule with the recipe first, then the others in order of appearance.
    /// Duplicates are kept (`$+`); `$^` removes them. A name that is a normal
    /// prerequisite is not also listed as order-only.
    pub deps: Vec<Dep>,
    /// Second-expansion prerequisite texts, in order of appearance. (Thin
    /// vectors for what is almost always empty: a pointer, not three words,
    /// in every one of a big build's targets.)
    pub deferred: thin_vec::ThinVec<DeferredDeps>,
    pub recipe: Option<Arc<Recipe>>,
    pub double_colon: thin_vec::ThinVec<DoubleColonRule>,
    /// Siblings made by the same recipe invocation (grouped targets `&:`,
    /// including this target itself), if any.
    pub group: Option<Arc<Vec<String>>>,
    /// True once the name appeared as the target of a rule (not only as a
    /// prerequisite or special-target member).
    pub is_target: bool,
    /// True once a single-colon rule named it (mixing with `::` is an error).
    pub single_colon: bool,
    /// Where the target first appeared as a target.
    pub loc: Option<Loc>,
    /// Target-specific variables.
    pub vars: Option<Arc<VarTable>>,
    /// The rule that was generated from a static pattern rule carries its stem.
    pub static_stem: Option<Box<str>>,
}

/// A pattern rule (`%.o: %.c`), including rules converted from old-style suffix
/// rules and the built-in ones.
#[derive(Clone, Debug)]
pub struct PatternRule {
    /// Target patterns; each contains exactly one `%`.
    pub targets: Vec<String>,
    /// Prerequisite patterns (a `%` in them is replaced by the stem).
    pub deps: Vec<Dep>,
    pub deferred: Vec<DeferredDeps>,
    pub recipe: Option<Arc<Recipe>>,
    /// `%:: ...` double-colon pattern rule: terminal (its prerequisites must exist).
    pub terminal: bool,
    pub loc: Loc,
}

/// Pattern-specific variables (`%.o: CFLAGS += -g`), in order of definition.
#[derive(Clone, Debug)]
pub struct PatternVars {
    pub pattern: String,
    pub vars: Arc<VarTable>,
}

/// A `vpath PATTERN DIRS` directive.
#[derive(Clone, Debug)]
pub struct VpathEntry {
    pub pattern: String,
    pub dirs: Vec<String>,
}
