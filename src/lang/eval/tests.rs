use super::*;

fn db(text: &str) -> Database {
    let mut db = Database::new(ReadOptions::default());
    let loc = Loc {
        file: Arc::from("Makefile"),
        line: 1,
    };
    db.eval_text(text, &loc).expect("evaluates");
    db
}

fn val(db: &mut Database, name: &str) -> String {
    db.var_value(name, &Scope::global()).unwrap()
}

#[test]
fn top_level_scans_skip_references() {
    assert_eq!(find_top_level("a: b", b':'), Some(1));
    assert_eq!(find_top_level("$(x:a=b) c: d", b':'), Some(10));
    assert_eq!(find_top_level("${x:a=b}: d", b':'), Some(8));
    assert_eq!(find_top_level("$(a $(b:c)):", b':'), Some(11));
    assert_eq!(find_top_level("$:a", b':'), None, "`$:` is a reference");
    assert_eq!(find_top_level("a $", b':'), None);
    assert_eq!(find_top_level("$(unclosed: x", b':'), None);
    assert_eq!(find_top_level("x; y: z", b';'), Some(1));
    assert_eq!(find_top_level("a\\:b: c", b':'), Some(4));
    assert_eq!(find_top_level("a\\\\:b", b':'), Some(3));
    assert_eq!(parse_assignment("A = 1"), Some(("A ", "=", "1")));
    assert_eq!(parse_assignment("A+=1"), Some(("A", "+=", "1")));
    assert_eq!(
        parse_assignment("$(X:a=b) := 2"),
        Some(("$(X:a=b) ", ":=", "2"))
    );
    assert_eq!(parse_assignment("A ::= 3"), Some(("A ", "::=", "3")));
    assert_eq!(parse_assignment("a: b = c"), None, "a rule comes first");
    assert_eq!(parse_assignment("$=x"), None, "`$=` is a reference");
    assert_eq!(parse_assignment("A $"), None);
    assert_eq!(parse_assignment("a b = c"), None, "no blank in a name");
    assert_eq!(parse_assignment("a b:= c"), None);
    assert_eq!(
        parse_assignment("$(a b) \t= c"),
        Some(("$(a b) \t", "=", "c"))
    );
    assert_eq!(first_word("abc\tdef"), "abc");
    assert_eq!(first_word("abc"), "abc");
}

#[test]
fn assignments_and_flavors() {
    let mut d =
        db("A = $(B)\nB = 1\nC := $(B)\nB = 2\nD ?= x\nD ?= y\nE = a\nE += b\nF := p\nF += $(B)\n");
    assert_eq!(val(&mut d, "A"), "2");
    assert_eq!(val(&mut d, "C"), "1");
    assert_eq!(val(&mut d, "D"), "x");
    assert_eq!(val(&mut d, "E"), "a b");
    assert_eq!(d.globals.get("F").unwrap().value, "p 2");
}

#[test]
fn conditionals() {
    let mut d = db("X = 1\nifeq ($(X),1)\nY = yes\nelse ifeq ($(X),2)\nY = two\nelse\nY = no\nendif\nifdef X\nZ = d\nendif\nifneq \"a\" 'a'\nW = bad\nendif\n");
    assert_eq!(val(&mut d, "Y"), "yes");
    assert_eq!(val(&mut d, "Z"), "d");
    assert_eq!(val(&mut d, "W"), "");
}

#[test]
fn rules_recorded() {
    let d = db("all: a b | c\n\techo $@\n\techo two\n%.o: %.c\n\tcc -c $<\nx y &: z\n\tgen\n");
    let all = &d.targets["all"];
    assert_eq!(all.deps.len(), 3);
    assert!(all.deps[2].order_only);
    assert_eq!(all.recipe.as_ref().unwrap().lines.len(), 2);
    assert_eq!(all.recipe.as_ref().unwrap().loc.line, 1);
    assert_eq!(d.pattern_rules.len(), 1);
    assert_eq!(d.targets["x"].group.as_ref().unwrap().len(), 2);
    assert_eq!(d.default_goal.as_deref(), Some("all"));
}

#[test]
fn errors_have_locations() {
    let mut d = Database::new(ReadOptions::default());
    let loc = Loc {
        file: Arc::from("Makefile"),
        line: 1,
    };
    let e = d.eval_text("A = 1\nfoo\n", &loc).unwrap_err();
    assert_eq!(e.to_string(), "Makefile:2: *** missing separator.  Stop.");
    let e = d.eval_text("ifeq (a,a)\n", &loc).unwrap_err();
    assert!(e.msg.contains("missing 'endif'"));
}
