//! GNU make 4.3's built-in variables and rules, as makefile text.
//!
//! The values are facts of make's behaviour that makefiles depend on byte for
//! byte (`$(COMPILE.c)`, `CC ?= gcc` doing nothing because `CC` is already
//! defined, `$(origin CXX)` being `default`), so they are taken verbatim from
//! what `make -p -f /dev/null` prints for GNU make 4.3.
//!
//! How the evaluator uses them:
//! - [`VARIABLES`] is read before the makefiles with every assignment given
//!   origin `default` (so environment, command line and makefiles all win),
//!   unless `-R` is given.
//! - [`SUFFIXES`] and then [`SUFFIX_RULES`] are read before the makefiles unless
//!   `-r` (or `-R`) is given. The `SUFFIXES` *variable* is always defined with
//!   origin `default` and flavor simple: [`SUFFIX_LIST`] normally, empty under
//!   `-r`.
//! - [`PATTERN_RULES`] is read after the makefiles, unless `-r`, with
//!   `installing_defaults` set, so a rule the makefiles already defined with
//!   the same target and prerequisite patterns wins and built-in pattern rules
//!   are searched after the user's.
//!
//! Suffix rules stay plain targets like `.c.o` until the graph converts them to
//! pattern rules against the final `.SUFFIXES` list; a makefile redefining one
//! of them replaces it silently (make prints no "overriding recipe" warning
//! for a built-in rule).
//!
//! Every built-in suffix and pattern rule is provided except make's terminal
//! rules for RCS and SCCS check-outs (`%:: RCS/%,v` ...), which would make
//! every file without a rule a candidate for five more names; every built-in
//! *variable* is, because their presence is observable (`?=`, `$(origin)`,
//! `.VARIABLES`). The suffix list is make's full list: it decides which user
//! rules are suffix rules.

/// The default suffix list, in make's order (the order decides the order of the
/// pattern rules that suffix rules become).
macro_rules! suffix_list {
    () => {
        ".out .a .ln .o .c .cc .C .cpp .p .f .F .m .r .y .l .ym .yl .s .S .mod .sym .def .h .info .dvi .tex .texinfo .texi .txinfo .w .ch .web .sh .elc .el"
    };
}

/// The value of the `SUFFIXES` variable and the prerequisites of `.SUFFIXES`.
pub const SUFFIX_LIST: &str = suffix_list!();

/// The default `.SUFFIXES` line.
pub const SUFFIXES: &str = concat!(".SUFFIXES: ", suffix_list!(), "\n");

/// Make's built-in variables (the ones `-R` removes), all recursively expanded.
pub const VARIABLES: &str = "\
# Compiling and linking C, C++ and assembler.
CC = cc
CXX = g++
CPP = $(CC) -E
AS = as
LD = ld
OUTPUT_OPTION = -o $@
COMPILE.c = $(CC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c
COMPILE.cc = $(CXX) $(CXXFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c
COMPILE.cpp = $(COMPILE.cc)
COMPILE.C = $(COMPILE.cc)
COMPILE.s = $(AS) $(ASFLAGS) $(TARGET_MACH)
COMPILE.S = $(CC) $(ASFLAGS) $(CPPFLAGS) $(TARGET_MACH) -c
PREPROCESS.S = $(CC) -E $(CPPFLAGS)
LINK.c = $(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH)
LINK.cc = $(CXX) $(CXXFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH)
LINK.cpp = $(LINK.cc)
LINK.C = $(LINK.cc)
LINK.s = $(CC) $(ASFLAGS) $(LDFLAGS) $(TARGET_MACH)
LINK.S = $(CC) $(ASFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_MACH)
LINK.o = $(CC) $(LDFLAGS) $(TARGET_ARCH)
.LIBPATTERNS = lib%.so lib%.a
# Archives and housekeeping.
AR = ar
ARFLAGS = rv
RM = rm -f
# Other languages and tools: defined although their rules are not built in.
OBJC = cc
COMPILE.m = $(OBJC) $(OBJCFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c
LINK.m = $(OBJC) $(OBJCFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH)
FC = f77
F77 = $(FC)
F77FLAGS = $(FFLAGS)
COMPILE.f = $(FC) $(FFLAGS) $(TARGET_ARCH) -c
COMPILE.F = $(FC) $(FFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c
COMPILE.r = $(FC) $(FFLAGS) $(RFLAGS) $(TARGET_ARCH) -c
LINK.f = $(FC) $(FFLAGS) $(LDFLAGS) $(TARGET_ARCH)
LINK.F = $(FC) $(FFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH)
LINK.r = $(FC) $(FFLAGS) $(RFLAGS) $(LDFLAGS) $(TARGET_ARCH)
PREPROCESS.F = $(FC) $(FFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -F
PREPROCESS.r = $(FC) $(FFLAGS) $(RFLAGS) $(TARGET_ARCH) -F
PC = pc
COMPILE.p = $(PC) $(PFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c
LINK.p = $(PC) $(PFLAGS) $(CPPFLAGS) $(LDFLAGS) $(TARGET_ARCH)
M2C = m2c
COMPILE.mod = $(M2C) $(M2FLAGS) $(MODFLAGS) $(TARGET_ARCH)
COMPILE.def = $(M2C) $(M2FLAGS) $(DEFFLAGS) $(TARGET_ARCH)
LEX = lex
LEX.l = $(LEX) $(LFLAGS) -t
LEX.m = $(LEX) $(LFLAGS) -t
YACC = yacc
YACC.y = $(YACC) $(YFLAGS)
YACC.m = $(YACC) $(YFLAGS)
LINT = lint
LINT.c = $(LINT) $(LINTFLAGS) $(CPPFLAGS) $(TARGET_ARCH)
TEX = tex
TEXI2DVI = texi2dvi
MAKEINFO = makeinfo
TANGLE = tangle
WEAVE = weave
CTANGLE = ctangle
CWEAVE = cweave
CO = co
COFLAGS =
CHECKOUT,v = +$(if $(wildcard $@),,$(CO) $(COFLAGS) $< $@)
GET = get
";

/// Make's built-in old-style suffix rules, in groups by language. Recipes of
/// several lines keep make's spacing: the second and later lines start with a
/// blank (dropped when the line is echoed and run) and some lines end with one
/// (kept in the echo, as make prints it). `.lm.m` names a suffix that is not in
/// the default list, so it stays an ordinary target, as in make.
pub const SUFFIX_RULES: &str = "\
# Linking a program from one object or source file.
.o:
\t$(LINK.o) $^ $(LOADLIBES) $(LDLIBS) -o $@
.c:
\t$(LINK.c) $^ $(LOADLIBES) $(LDLIBS) -o $@
.cc:
\t$(LINK.cc) $^ $(LOADLIBES) $(LDLIBS) -o $@
.C:
\t$(LINK.C) $^ $(LOADLIBES) $(LDLIBS) -o $@
.cpp:
\t$(LINK.cpp) $^ $(LOADLIBES) $(LDLIBS) -o $@
.p:
\t$(LINK.p) $^ $(LOADLIBES) $(LDLIBS) -o $@
.f:
\t$(LINK.f) $^ $(LOADLIBES) $(LDLIBS) -o $@
.F:
\t$(LINK.F) $^ $(LOADLIBES) $(LDLIBS) -o $@
.m:
\t$(LINK.m) $^ $(LOADLIBES) $(LDLIBS) -o $@
.r:
\t$(LINK.r) $^ $(LOADLIBES) $(LDLIBS) -o $@
.s:
\t$(LINK.s) $^ $(LOADLIBES) $(LDLIBS) -o $@
.S:
\t$(LINK.S) $^ $(LOADLIBES) $(LDLIBS) -o $@
.mod:
\t$(COMPILE.mod) -o $@ -e $@ $^
.sh:
\tcat $< >$@ \n\t chmod a+x $@
# Compiling to an object file.
.c.o:
\t$(COMPILE.c) $(OUTPUT_OPTION) $<
.cc.o:
\t$(COMPILE.cc) $(OUTPUT_OPTION) $<
.C.o:
\t$(COMPILE.C) $(OUTPUT_OPTION) $<
.cpp.o:
\t$(COMPILE.cpp) $(OUTPUT_OPTION) $<
.p.o:
\t$(COMPILE.p) $(OUTPUT_OPTION) $<
.f.o:
\t$(COMPILE.f) $(OUTPUT_OPTION) $<
.F.o:
\t$(COMPILE.F) $(OUTPUT_OPTION) $<
.m.o:
\t$(COMPILE.m) $(OUTPUT_OPTION) $<
.r.o:
\t$(COMPILE.r) $(OUTPUT_OPTION) $<
.s.o:
\t$(COMPILE.s) -o $@ $<
.S.o:
\t$(COMPILE.S) -o $@ $<
.mod.o:
\t$(COMPILE.mod) -o $@ $<
# Preprocessing.
.S.s:
\t$(PREPROCESS.S) $< > $@
.F.f:
\t$(PREPROCESS.F) $(OUTPUT_OPTION) $<
.r.f:
\t$(PREPROCESS.r) $(OUTPUT_OPTION) $<
.def.sym:
\t$(COMPILE.def) -o $@ $<
# yacc and lex.
.y.c:
\t$(YACC.y) $< \n\t mv -f y.tab.c $@
.ym.m:
\t$(YACC.m) $< \n\t mv -f y.tab.c $@
.l.c:
\t@$(RM) $@ \n\t $(LEX.l) $< > $@
.lm.m:
\t@$(RM) $@ \n\t $(LEX.m) $< > $@
.l.r:
\t$(LEX.l) $< > $@ \n\t mv -f lex.yy.r $@
# lint.
.c.ln:
\t$(LINT.c) -C$* $<
.y.ln:
\t$(YACC.y) $< \n\t $(LINT.c) -C$* y.tab.c \n\t $(RM) y.tab.c
.l.ln:
\t@$(RM) $*.c\n\t $(LEX.l) $< > $*.c\n\t$(LINT.c) -i $*.c -o $@\n\t $(RM) $*.c
# TeX, Texinfo and WEB.
.tex.dvi:
\t$(TEX) $<
.texinfo.info:
\t$(MAKEINFO) $(MAKEINFO_FLAGS) $< -o $@
.texi.info:
\t$(MAKEINFO) $(MAKEINFO_FLAGS) $< -o $@
.txinfo.info:
\t$(MAKEINFO) $(MAKEINFO_FLAGS) $< -o $@
.texinfo.dvi:
\t$(TEXI2DVI) $(TEXI2DVI_FLAGS) $<
.texi.dvi:
\t$(TEXI2DVI) $(TEXI2DVI_FLAGS) $<
.txinfo.dvi:
\t$(TEXI2DVI) $(TEXI2DVI_FLAGS) $<
.w.c:
\t$(CTANGLE) $< - $@
.w.tex:
\t$(CWEAVE) $< - $@
.web.p:
\t$(TANGLE) $<
.web.tex:
\t$(WEAVE) $<
";

/// Make's built-in pattern rules, searched after every other rule: putting a
/// member into an archive (`lib.a(x.o)` from `x.o`), copying `x` to `x.out`,
/// and the WEB rules that take a change file. Make's terminal rules that check
/// files out of RCS and SCCS are left out (see `docs/compatibility.md`).
pub const PATTERN_RULES: &str = "\
(%): %
\t$(AR) $(ARFLAGS) $@ $<
%.out: %
\t@rm -f $@ \n\t cp $< $@
%.c: %.w %.ch
\t$(CTANGLE) $^ $@
%.tex: %.w %.ch
\t$(CWEAVE) $^ $@
";

#[cfg(test)]
mod tests {
    use super::*;

    /// The makefile lines of `text` that are not comments.
    fn code_lines(text: &str) -> impl Iterator<Item = &str> {
        text.lines().filter(|l| !l.starts_with('#'))
    }

    /// (name, value) of every assignment in `VARIABLES`.
    fn assignments() -> Vec<(&'static str, &'static str)> {
        code_lines(VARIABLES)
            .map(|l| {
                let (name, value) = l.split_once(" =").expect("NAME = value");
                (name, value.strip_prefix(' ').unwrap_or(value))
            })
            .collect()
    }

    /// (header, recipe lines) of every rule in a rules constant.
    fn rules(text: &str) -> Vec<(&str, Vec<&str>)> {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for line in code_lines(text) {
            match line.strip_prefix('\t') {
                Some(recipe) => out
                    .last_mut()
                    .expect("recipe after a header")
                    .1
                    .push(recipe),
                None => out.push((line, Vec::new())),
            }
        }
        out
    }

    #[test]
    fn variables_are_plain_recursive_assignments() {
        let vars = assignments();
        // make 4.3 defines 63 variables that `-R` removes (SUFFIXES aside).
        assert_eq!(vars.len(), 63);
        for (name, value) in &vars {
            assert!(
                !name.is_empty() && !name.contains(char::is_whitespace),
                "{name:?}"
            );
            assert!(
                !value.ends_with(char::is_whitespace),
                "{name}: trailing blank"
            );
            // A `#` would start a comment; a `:` before ` =` would make it `:=`.
            assert!(!value.contains('#') && !name.ends_with(':'), "{name}");
        }
        let mut names: Vec<_> = vars.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), vars.len(), "a variable is defined twice");
    }

    #[test]
    fn variables_have_makes_values() {
        let vars = assignments();
        let get = |n: &str| vars.iter().find(|(name, _)| *name == n).map(|(_, v)| *v);
        assert_eq!(get("CC"), Some("cc"));
        assert_eq!(get("CXX"), Some("g++"));
        assert_eq!(
            get("COMPILE.c"),
            Some("$(CC) $(CFLAGS) $(CPPFLAGS) $(TARGET_ARCH) -c")
        );
        assert_eq!(get("LINK.o"), Some("$(CC) $(LDFLAGS) $(TARGET_ARCH)"));
        assert_eq!(get("OUTPUT_OPTION"), Some("-o $@"));
        assert_eq!(get("ARFLAGS"), Some("rv"));
        assert_eq!(get("COFLAGS"), Some(""));
        // Make does not define the flags variables themselves.
        assert_eq!(get("CFLAGS"), None);
        assert_eq!(get("LDLIBS"), None);
    }

    #[test]
    fn suffix_rules_are_one_line_recipes_over_known_suffixes() {
        let suffixes: Vec<&str> = SUFFIX_LIST.split(' ').collect();
        assert_eq!(SUFFIXES, format!(".SUFFIXES: {SUFFIX_LIST}\n"));
        let rules = rules(SUFFIX_RULES);
        assert_eq!(rules.len(), 49);
        for (header, recipe) in rules {
            let target = header.strip_suffix(':').expect("header ends with ':'");
            // `.X` or `.X.Y` with both suffixes in the default list.
            let parts: Vec<&str> = target.split('.').skip(1).collect();
            assert!(
                target.starts_with('.') && (1..=2).contains(&parts.len()),
                "{header}"
            );
            for p in parts {
                // `.lm.m` is make's one rule over a suffix it does not list.
                let known = suffixes.contains(&format!(".{p}").as_str());
                assert!(known || target == ".lm.m", "{header}");
            }
            assert!(!recipe.is_empty(), "{header}");
        }
    }

    #[test]
    fn pattern_rules_have_a_percent_target_and_a_recipe() {
        let rules = rules(PATTERN_RULES);
        assert!(!rules.is_empty());
        for (header, recipe) in rules {
            let (targets, _) = header.split_once(':').expect("rule header");
            assert!(targets.contains('%'), "{header}");
            assert!(!recipe.is_empty(), "{header}");
        }
    }
}
