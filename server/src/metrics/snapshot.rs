//! [`MetricsSnapshot`]: the server's counters read at one moment, as plain numbers — what a
//! program embedding the server (or a test) reads through a
//! [`MetricsReader`](super::MetricsReader), without reaching the live metrics.

/// The server's counters at one moment. See [`crate::metrics::ServerMetrics`] for what each
/// counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    pub connections_open: u64,
    pub connections_accepted: u64,
    pub connections_refused: u64,
    pub handshake_failures: u64,
    pub admissions_refused: u64,
    pub players: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub snapshots_sent: u64,
    pub snapshots_dropped: u64,
    pub inputs_dropped: u64,
    pub inputs_missed_tick: u64,
    pub messages_dropped: u64,
    pub kicks_protocol: u64,
    pub kicks_slow: u64,
    pub kicks_idle: u64,
    pub kicks_flood: u64,
}
