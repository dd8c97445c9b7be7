//! Files dated in the future: make warns about each one it reads, and once
//! more at the end of the build, since such a file can hide changes.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::diag::prog;

static SEEN: AtomicBool = AtomicBool::new(false);

/// Warn if `mtime` (nanoseconds since 1970) of file `name` is later than now.
pub fn check(name: &str, mtime: i128) {
    let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) else {
        return;
    };
    let ahead = mtime - now.as_nanos() as i128;
    if ahead <= 0 {
        return;
    }
    SEEN.store(true, Ordering::Relaxed);
    crate::engine::output::enter_directory();
    errln!(
        "{}: Warning: File '{}' has modification time {} s in the future",
        prog(),
        name,
        seconds(ahead as f64 / 1e9)
    );
}

/// The closing warning, if any file was dated in the future.
pub fn report() {
    if SEEN.load(Ordering::Relaxed) {
        errln!(
            "{}: warning:  Clock skew detected.  Your build may be incomplete.",
            prog()
        );
    }
}

/// Whole seconds from 99 on; below, two significant digits as C's `%.2g`.
fn seconds(s: f64) -> String {
    if s >= 99.0 {
        return format!("{}", s as u64);
    }
    let exp = s.log10().floor() as i32;
    if exp < -4 {
        let text = format!("{:.1e}", s);
        let (m, e) = text.split_once('e').unwrap_or((&text, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let m = m.trim_end_matches('0').trim_end_matches('.');
        return format!("{}e-{:02}", m, -e);
    }
    let decimals = (1 - exp).max(0) as usize;
    let text = format!("{:.*}", decimals, s);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn seconds_read_as_make_prints_them() {
        assert_eq!(seconds(3599.7), "3599");
        assert_eq!(seconds(99.2), "99");
        assert_eq!(seconds(12.6), "13");
        assert_eq!(seconds(5.25), "5.2");
        assert_eq!(seconds(0.5), "0.5");
        assert_eq!(seconds(0.0123), "0.012");
        assert_eq!(seconds(0.00001), "1e-05");
    }
}
