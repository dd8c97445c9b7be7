//! The environment recipes run with: which variables are exported.

use crate::diag::Result;
use crate::lang::database::Database;
use crate::lang::vars::is_env_name;
use crate::lang::vars::Export;
use crate::lang::vars::Flavor;
use crate::lang::vars::Origin;
use crate::lang::vars::Scope;
use crate::lang::vars::Var;

impl Database {
    /// The environment of a recipe or `$(shell)` run in `scope`: the process
    /// environment plus exported variables, minus unexported ones.
    pub fn recipe_env(&mut self, scope: &Scope) -> Result<Vec<(String, String)>> {
        let mut env: Vec<(String, String)> = Vec::new();
        // Names whose value needs the full lookup: shadowed in `scope`, or
        // a recursive value with references.
        let mut names: Vec<String> = Vec::new();
        for (name, var) in self.globals.iter() {
            if !self.exported(name, var) {
                continue;
            }
            // A value from the environment goes back out as it came, even
            // with references in it (make exports `MAKEOVERRIDES` so).
            let from_env = matches!(
                var.origin,
                Origin::Environment | Origin::EnvironmentOverride
            );
            let plain = from_env || var.flavor == Flavor::Simple || !var.value.contains('$');
            if plain && scope.find(name, 0).is_none() {
                // What `var_value` would give, without looking it up again.
                let value = if var.private && scope.for_target {
                    String::new()
                } else {
                    var.value.clone()
                };
                env.push((name.clone(), value));
            } else {
                names.push(name.clone());
            }
        }
        for f in &scope.frames {
            for (name, var) in f.vars.iter() {
                // (A name taken directly above is in no frame.)
                if var.origin != Origin::Automatic
                    && self.exported(name, var)
                    && !names.contains(name)
                {
                    names.push(name.clone());
                }
            }
        }
        for name in names {
            // A variable unexported in the innermost definition stays out.
            let hidden = match scope.find(&name, 0) {
                Some((_, v)) => v.export == Export::No,
                None => false,
            };
            if hidden {
                continue;
            }
            // Messages from expanding it (`--warn-undefined-variables`)
            // name where it was defined, as make's do.
            let defined_at = scope
                .find(&name, 0)
                .map(|(_, v)| v)
                .or_else(|| self.globals.get(&name))
                .and_then(|v| v.loc.clone());
            let saved = match defined_at {
                Some(l) => self.loc.replace(l),
                None => self.loc.clone(),
            };
            let value = self.var_value(&name, scope);
            self.loc = saved;
            env.push((name, value?));
        }
        for (name, value) in &self.child_env {
            match env.iter_mut().find(|(n, _)| n == name) {
                Some(e) => e.1 = value.clone(),
                None => env.push((name.clone(), value.clone())),
            }
        }
        Ok(env)
    }

    /// The flags first: this runs for every variable of every step started,
    /// and most (make's built-in defaults) are not exported.
    fn exported(&self, name: &str, var: &Var) -> bool {
        let flagged = match var.export {
            Export::Yes => true,
            Export::No => false,
            Export::Default => {
                matches!(
                    var.origin,
                    Origin::Environment | Origin::EnvironmentOverride | Origin::CommandLine
                ) || (self.specials.export_all && var.origin != Origin::Default)
            }
        };
        flagged && is_env_name(name)
    }
}
