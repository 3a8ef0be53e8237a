//! Process-wide counters shared by the network layer and the rooms.
//!
//! Plain atomics with relaxed ordering: each counter is independent, read only for reports,
//! and cheap enough to bump on every frame.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters of one server process. Cloned as an `Arc` into every session and room.
#[derive(Debug, Default)]
pub struct ServerMetrics {
    /// Connections currently open (accepted and not yet closed).
    pub connections_open: AtomicU64,
    /// Connections accepted since start.
    pub connections_accepted: AtomicU64,
    /// Connections closed at accept because `max_connections` or `max_connections_per_ip`
    /// was reached.
    pub connections_refused: AtomicU64,
    /// WebSocket upgrades or `Hello`s that failed or timed out.
    pub handshake_failures: AtomicU64,
    /// Players currently in a room.
    pub players: AtomicU64,
    /// WebSocket payload bytes received from clients.
    pub bytes_in: AtomicU64,
    /// WebSocket payload bytes written to clients.
    pub bytes_out: AtomicU64,
    /// Snapshots handed to a session queue.
    pub snapshots_sent: AtomicU64,
    /// Snapshots dropped because a client's queue was full.
    pub snapshots_dropped: AtomicU64,
    /// Inputs dropped: queue full, or a sequence number already seen.
    pub inputs_dropped: AtomicU64,
    /// Inputs that missed their tick: they arrived after the tick before had taken its
    /// inputs and shared their tick with a newer input of the same client.
    pub inputs_missed_tick: AtomicU64,
    /// Sessions closed for a protocol violation (bad frame, wrong message, too large).
    pub kicks_protocol: AtomicU64,
    /// Sessions closed for falling behind.
    pub kicks_slow: AtomicU64,
    /// Sessions closed for silence.
    pub kicks_idle: AtomicU64,
    /// Sessions closed for flooding.
    pub kicks_flood: AtomicU64,
    /// Messages dropped for exceeding a client's message rate.
    pub messages_dropped: AtomicU64,
    /// Upgrades refused at admission (path, subprotocol, origin, token).
    pub admissions_refused: AtomicU64,
    /// Connections that failed before a session started (`handshake_failures` and
    /// `admissions_refused` together), by reason.
    pub handshake_failures_by_reason: ReasonCounters,
    /// Sessions ended, by reason.
    pub disconnects: ReasonCounters,
}

/// Counters keyed by a reason label. Behind a lock: only events that end a connection
/// count here, never per-frame work.
#[derive(Debug, Default)]
pub struct ReasonCounters {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl ReasonCounters {
    pub fn add(&self, reason: &'static str) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *counts.entry(reason).or_default() += 1;
    }

    /// Every reason seen so far with its count, reasons in snake_case for metric labels.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts
            .iter()
            .map(|(reason, count)| (reason.replace(' ', "_"), *count))
            .collect()
    }

    /// The count of one reason (as passed to [`ReasonCounters::add`]).
    pub fn get(&self, reason: &str) -> u64 {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.get(reason).copied().unwrap_or(0)
    }
}

impl ServerMetrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Counts a connection that failed before its session started.
    pub fn handshake_failed(&self, reason: &'static str) {
        ServerMetrics::add(&self.handshake_failures, 1);
        self.handshake_failures_by_reason.add(reason);
    }
}

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
    Some((utime + stime) / clock_ticks_per_second())
}

/// Resident set size of this process in bytes, from `/proc/self/statm`.
pub fn process_rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(resident_pages * PAGE_SIZE_BYTES)
}

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every mainstream
/// architecture; reading it properly would need libc's `sysconf`.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// Page size used to convert `statm` pages to bytes (4 KiB on x86-64 and most arm64 builds).
const PAGE_SIZE_BYTES: u64 = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_and_rss_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_cpu_seconds().is_some());
            assert!(process_rss_bytes().unwrap() > 0);
        }
    }
}
