//! Figures of the whole server process from procfs: CPU time and resident memory. The
//! units procfs counts in — clock ticks and pages — come from `sysconf` (through rustix),
//! not from a guess.

/// CPU time (user + system) this process has used, in seconds, from `/proc/self/stat`.
/// `None` where procfs is not available.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let after_name = stat.rsplit_once(')')?.1;
    let mut fields = after_name.split_whitespace();
    // utime and stime are fields 14 and 15 of the whole line: 11th and 12th after the name.
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / clock_ticks_per_second()? as f64)
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn process_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident_pages * page_size_bytes()?)
}

/// `sysconf(_SC_CLK_TCK)`: the unit of the CPU times in `/proc/self/stat`.
#[cfg(unix)]
fn clock_ticks_per_second() -> Option<u64> {
    Some(rustix::param::clock_ticks_per_second()).filter(|ticks| *ticks > 0)
}

#[cfg(not(unix))]
fn clock_ticks_per_second() -> Option<u64> {
    None
}

/// `sysconf(_SC_PAGESIZE)`: the unit of the sizes in `/proc/self/statm`.
#[cfg(unix)]
fn page_size_bytes() -> Option<u64> {
    Some(rustix::param::page_size() as u64)
}

#[cfg(not(unix))]
fn page_size_bytes() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_and_rss_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_seconds().is_some());
            // A running test binary holds at least a megabyte: a wrong page size unit (or
            // none) would not pass for long.
            assert!(process_rss_bytes().unwrap() > 1 << 20);
            let page = page_size_bytes().unwrap();
            assert!(page.is_power_of_two() && page >= 4096, "{page}");
            assert!(clock_ticks_per_second().unwrap() >= 100);
        }
    }
}
