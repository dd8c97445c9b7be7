//! `-p`: print the database read from the makefiles, in make's layout.

use crate::lang::database::Database;
use crate::lang::vars::Flavor;

pub fn print_database(db: &Database) {
    let mut out = String::new();
    out.push_str("\n# Variables\n\n");
    let mut vars: Vec<_> = db.globals.iter().collect();
    vars.sort_by(|a, b| a.0.cmp(b.0));
    for (name, var) in vars {
        let op = if var.flavor == Flavor::Simple {
            ":="
        } else {
            "="
        };
        out.push_str(&format!(
            "# {}\n{} {} {}\n",
            var.origin.name(),
            name,
            op,
            var.value
        ));
    }
    out.push_str("\n# Implicit Rules\n\n");
    for rule in &db.pattern_rules {
        let deps: Vec<&str> = rule.deps.iter().map(|d| &*d.name).collect();
        out.push_str(&format!(
            "{}:{} {}\n",
            rule.targets.join(" "),
            if rule.terminal { ":" } else { "" },
            deps.join(" ")
        ));
        if let Some(r) = &rule.recipe {
            for l in &r.lines {
                out.push_str(&format!("\t{}\n", l.text));
            }
        }
        out.push('\n');
    }
    out.push_str("# Files\n\n");
    for name in &db.target_order {
        let Some(t) = db.targets.get(name) else {
            continue;
        };
        let deps: Vec<String> = t
            .deps
            .iter()
            .map(|d| {
                if d.order_only {
                    format!("| {}", d.name)
                } else {
                    d.name.to_string()
                }
            })
            .collect();
        out.push_str(&format!("{}: {}\n", name, deps.join(" ")));
        if let Some(r) = &t.recipe {
            for l in &r.lines {
                out.push_str(&format!("\t{}\n", l.text));
            }
        }
        out.push('\n');
    }
    print!("{}", out);
}
