//! Process CPU time and resident memory for `/metrics`, read from
//! `/proc/self/stat` and `/proc/self/statm` (Linux only; elsewhere absent).

/// One reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
}

/// Reads the current usage; `None` when `/proc` is not there.
pub fn read() -> Option<Usage> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    // SAFETY: sysconf has no preconditions.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    parse(&stat, &statm, ticks.max(1) as f64, page.max(1) as u64)
}

/// utime and stime are fields 14 and 15 of `stat`, counted after the
/// command name in parentheses (which may itself hold spaces); the resident
/// page count is the second field of `statm`.
fn parse(stat: &str, statm: &str, ticks_per_second: f64, page_size: u64) -> Option<Usage> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(Usage {
        cpu_seconds: (utime + stime) as f64 / ticks_per_second,
        resident_bytes: pages * page_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_rss_come_from_the_right_fields() {
        let stat = "42 (rs ent) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 4 0 1 2 3";
        let u = parse(stat, "1000 256 10 1 0 50 0", 100.0, 4096).unwrap();
        assert_eq!(u.cpu_seconds, 2.0);
        assert_eq!(u.resident_bytes, 256 * 4096);
    }

    #[test]
    fn this_process_can_be_read() {
        let u = read().expect("/proc/self is readable on Linux");
        assert!(u.resident_bytes > 0);
    }
}
