//! `include` and `vpath` lines.

use crate::diag::Loc;
use crate::diag::Result;
use crate::lang::database::Database;
use crate::lang::database::MissingInclude;
use crate::lang::globbing::file_names;
use crate::lang::names::strip_dot_slash;
use crate::lang::rules::VpathEntry;
use crate::lang::text::words;
use std::path::Path;

impl Database {
    pub(super) fn include(&mut self, args: &str, optional: bool, loc: &Loc) -> Result<()> {
        let names = self.expand(args, &self.reading_scope())?;
        for name in words(&names).flat_map(file_names) {
            let name = strip_dot_slash(&name).to_string();
            let found = self.find_include(&name);
            match found {
                Some(path) => {
                    if optional {
                        self.optional_makefiles
                            .push(strip_dot_slash(&path).to_string());
                    }
                    self.read_makefile(&path)?;
                    self.loc = Some(loc.clone());
                }
                None => self.missing_includes.push(MissingInclude {
                    name,
                    optional,
                    loc: loc.clone(),
                    after: self.makefiles.len(),
                }),
            }
        }
        Ok(())
    }

    /// Where an included makefile is: as named, then in the `-I` directories and
    /// make's default include directories (only for relative names).
    fn find_include(&self, name: &str) -> Option<String> {
        if Path::new(name).exists() {
            return Some(name.to_string());
        }
        if name.starts_with('/') {
            return None;
        }
        let defaults = ["/usr/local/include", "/usr/include"];
        self.opts
            .include_dirs
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .chain(defaults.iter().map(|s| s.to_string()))
            .map(|d| format!("{}/{}", d.trim_end_matches('/'), name))
            .find(|p| Path::new(p).exists())
    }

    pub(super) fn vpath(&mut self, args: &str) -> Result<()> {
        let text = self.expand(args, &self.reading_scope())?;
        let mut it = words(&text);
        match it.next() {
            None => self.vpaths.clear(),
            Some(pattern) => {
                let dirs: Vec<String> = it
                    .flat_map(|w| w.split(':'))
                    .filter(|d| !d.is_empty())
                    .map(str::to_string)
                    .collect();
                if dirs.is_empty() {
                    self.vpaths.retain(|v| v.pattern != pattern);
                } else {
                    self.vpaths.push(VpathEntry {
                        pattern: pattern.to_string(),
                        dirs,
                    });
                }
            }
        }
        Ok(())
    }
}
