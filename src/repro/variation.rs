//! What `--check-repro` changes between two builds, and the concrete values
//! each variation takes in the control build and in the varied build.

use std::collections::BTreeSet;

/// One thing that differs between the control build and a varied build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variation {
    Path,
    Env,
    Home,
    Tz,
    Locale,
    Umask,
    Jobs,
    DirOrder,
    Time,
}

/// A set of variations: those applied to one build (empty: the control build).
pub type VarySet = BTreeSet<Variation>;

impl Variation {
    pub const ALL: [Variation; 9] = [
        Variation::Path,
        Variation::Env,
        Variation::Home,
        Variation::Tz,
        Variation::Locale,
        Variation::Umask,
        Variation::Jobs,
        Variation::DirOrder,
        Variation::Time,
    ];

    /// The name used in `--repro-vary` and in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Variation::Path => "path",
            Variation::Env => "environment",
            Variation::Home => "home",
            Variation::Tz => "timezone",
            Variation::Locale => "locale",
            Variation::Umask => "umask",
            Variation::Jobs => "jobs",
            Variation::DirOrder => "dirorder",
            Variation::Time => "time",
        }
    }

    /// How messages name it: `differs with the build time`.
    pub fn describe(self) -> &'static str {
        match self {
            Variation::Path => "the build path",
            Variation::Env => "an extra environment variable",
            Variation::Home => "HOME",
            Variation::Tz => "the time zone (TZ)",
            Variation::Locale => "the locale",
            Variation::Umask => "the umask",
            Variation::Jobs => "the job count (-j)",
            Variation::DirOrder => "the directory listing order",
            Variation::Time => "the build time",
        }
    }

    fn from_word(word: &str) -> Option<Variation> {
        let v = match word.to_ascii_lowercase().as_str() {
            "path" | "build_path" | "build-path" => Variation::Path,
            "env" | "environment" => Variation::Env,
            "home" => Variation::Home,
            "tz" | "timezone" | "time_zone" => Variation::Tz,
            "locale" | "locales" | "lang" => Variation::Locale,
            "umask" => Variation::Umask,
            "jobs" | "j" | "num_cpus" | "parallel" => Variation::Jobs,
            "dirorder" | "fileordering" | "order" | "readdir" => Variation::DirOrder,
            "time" | "clock" | "date" => Variation::Time,
            _ => return None,
        };
        Some(v)
    }
}

/// Parse `--repro-vary=LIST`: names separated by commas or spaces. `all`
/// selects every variation; `-NAME` removes one (a list that starts with a
/// removal starts from all, as in `-time,-jobs`).
pub fn parse_list(list: &str) -> Result<VarySet, String> {
    let words: Vec<&str> = list
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let mut set = VarySet::new();
    if words.first().is_some_and(|w| w.starts_with('-')) {
        set.extend(Variation::ALL);
    }
    for word in words {
        let (remove, name) = match word.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, word.strip_prefix('+').unwrap_or(word)),
        };
        let chosen: Vec<Variation> = if name.eq_ignore_ascii_case("all") {
            Variation::ALL.to_vec()
        } else {
            match Variation::from_word(name) {
                Some(v) => vec![v],
                None => {
                    let known: Vec<&str> = Variation::ALL.iter().map(|v| v.name()).collect();
                    return Err(format!(
                        "unknown variation '{}' in --repro-vary (known: {}, all)",
                        name,
                        known.join(", ")
                    ));
                }
            }
        };
        for v in chosen {
            if remove {
                set.remove(&v);
            } else {
                set.insert(v);
            }
        }
    }
    Ok(set)
}

/// The values of the two sides of each variation.
#[derive(Clone, Debug)]
pub struct Values {
    pub home: [String; 2],
    pub tz: [&'static str; 2],
    pub locale: [String; 2],
    pub umask: [u32; 2],
    pub jobs: [Option<usize>; 2],
    /// The name and value of the variable only the varied build gets.
    pub extra_env: (&'static str, &'static str),
}

/// The side of a variation a build takes.
pub fn side(set: &VarySet, v: Variation) -> usize {
    usize::from(set.contains(&v))
}

impl Values {
    /// `jobs`: the job count the user asked for (`None`: `-j` with no limit),
    /// used when the job count is not varied. `second_locale`: the locale the
    /// varied build uses.
    pub fn new(user_jobs: Option<usize>, second_locale: String) -> Values {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let many = match user_jobs {
            Some(n) if n > 1 => n,
            _ => cores.max(2),
        };
        Values {
            // Directories that cannot exist, as reprotest uses: a build that
            // writes to HOME is itself a problem worth seeing.
            home: [
                "/nonexistent/first-build".to_string(),
                "/nonexistent/second-build".to_string(),
            ],
            // 26 hours apart: a formatted time differs in its date as well.
            tz: ["GMT+12", "GMT-14"],
            locale: ["C.UTF-8".to_string(), second_locale],
            umask: [0o022, 0o002],
            jobs: [Some(1), Some(many)],
            extra_env: ("HBUILD_REPRO_CAPTURE_ENVIRONMENT", "captured"),
        }
    }
}

/// The locale the varied build uses: another installed UTF-8 locale when there
/// is one (`locale -a`), else `POSIX` (plain ASCII, which still changes how
/// tools count and classify non-ASCII characters, though not the sort order).
pub fn second_locale() -> String {
    let listed = std::process::Command::new("locale")
        .arg("-a")
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let utf8: Vec<&str> = listed
        .lines()
        .map(str::trim)
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            (lower.ends_with(".utf8") || lower.ends_with(".utf-8")) && !lower.starts_with("c.")
        })
        .collect();
    let preferred = utf8
        .iter()
        .find(|l| l.to_ascii_lowercase().starts_with("en_us"))
        .or(utf8.first());
    match preferred {
        Some(l) => l.to_string(),
        None => "POSIX".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_add_and_remove() {
        let all: VarySet = Variation::ALL.into_iter().collect();
        assert_eq!(parse_list("all").unwrap(), all);
        let only = parse_list("time, tz").unwrap();
        assert_eq!(only, [Variation::Tz, Variation::Time].into_iter().collect());
        let without = parse_list("-time,-jobs").unwrap();
        assert_eq!(without.len(), 7);
        assert!(!without.contains(&Variation::Time));
        assert!(parse_list("bogus").is_err());
    }
}
