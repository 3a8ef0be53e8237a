//! The server's counters and gauges, each declared once: a field of [`ServerMetrics`] with
//! prometheus-client's own type, and one line of [`ServerMetrics::register`] that names it
//! on the `/metrics` page. The hot paths bump the same atomics the page reads; nothing is
//! copied at scrape time.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use strum::IntoEnumIterator;

use super::labels::{ConnectionStage, EndLabel, FailureReason, KickReason, Reason, RefusalReason};
use super::snapshot::MetricsSnapshot;

/// A read-only handle on a server's counters (from [`crate::Server::metrics`]).
#[derive(Debug, Clone)]
pub struct MetricsReader(Arc<ServerMetrics>);

impl MetricsReader {
    pub(crate) fn new(metrics: Arc<ServerMetrics>) -> MetricsReader {
        MetricsReader(metrics)
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.0.snapshot()
    }
}

/// Counters of one server process. Shared as an `Arc` by every session and room; its
/// metrics share their values with the registry they are registered in.
#[derive(Debug)]
pub struct ServerMetrics {
    /// Connections currently open (accepted and not yet closed).
    pub connections_open: Gauge,
    /// Connections accepted since start.
    pub connections_accepted: Counter,
    /// Connections closed at accept because `max_connections` or `max_connections_per_ip`
    /// was reached.
    pub connections_refused: Counter,
    /// Connections that failed before a session started, refusals at admission excepted
    /// (for the shutdown summary; the page has them by reason).
    pub handshake_failures: Counter,
    /// Upgrades refused at admission (path, subprotocol, origin, token); for the shutdown
    /// summary, the page has them by reason.
    pub admissions_refused: Counter,
    /// Players currently in a room.
    pub players: Gauge,
    /// WebSocket payload bytes received from clients.
    pub bytes_in: Counter,
    /// WebSocket payload bytes written to clients.
    pub bytes_out: Counter,
    /// Snapshots handed to a session queue.
    pub snapshots_sent: Counter,
    /// Snapshots dropped because a client's queue was full.
    pub snapshots_dropped: Counter,
    /// Inputs dropped: queue full, or a sequence number already seen.
    pub inputs_dropped: Counter,
    /// Inputs that missed their tick: they arrived after the tick before had taken its
    /// inputs and shared their tick with a newer input of the same client.
    pub inputs_missed_tick: Counter,
    /// Messages dropped for exceeding a client's message rate.
    pub messages_dropped: Counter,
    /// Sessions closed by the server for misbehaviour, by reason; every reason is present
    /// from the start.
    kicks: Family<Reason<KickReason>, Counter>,
    /// Sessions ended, by reason.
    disconnects: Family<Reason<EndLabel>, Counter>,
    /// Connections that failed before a session started, refusals included, by reason.
    failures: Family<Reason<FailureReason>, Counter>,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        ServerMetrics::new()
    }
}

impl ServerMetrics {
    pub fn new() -> ServerMetrics {
        let metrics = ServerMetrics {
            connections_open: Gauge::default(),
            connections_accepted: Counter::default(),
            connections_refused: Counter::default(),
            handshake_failures: Counter::default(),
            admissions_refused: Counter::default(),
            players: Gauge::default(),
            bytes_in: Counter::default(),
            bytes_out: Counter::default(),
            snapshots_sent: Counter::default(),
            snapshots_dropped: Counter::default(),
            inputs_dropped: Counter::default(),
            inputs_missed_tick: Counter::default(),
            messages_dropped: Counter::default(),
            kicks: Family::default(),
            disconnects: Family::default(),
            failures: Family::default(),
        };
        // Every kick reason has a series from the start, at 0.
        for reason in KickReason::iter() {
            let _ = metrics.kicks.get_or_create(&Reason(reason));
        }
        metrics
    }

    /// Registers every metric the page shows, by its name and help text.
    pub fn register(&self, registry: &mut Registry) {
        let mut gauge = |name: &str, help: &str, gauge: &Gauge| {
            registry.register(name, help, gauge.clone());
        };
        gauge(
            "ticksync_players",
            "Players in rooms, dropped players waiting to resume included",
            &self.players,
        );
        gauge(
            "ticksync_connections_open",
            "Open TCP connections",
            &self.connections_open,
        );
        let counters = [
            (
                "ticksync_connections_accepted",
                "TCP connections accepted",
                &self.connections_accepted,
            ),
            (
                "ticksync_connections_refused",
                "Connections closed at accept by the total or per-IP limit",
                &self.connections_refused,
            ),
            (
                "ticksync_bytes_in",
                "WebSocket payload bytes received",
                &self.bytes_in,
            ),
            (
                "ticksync_bytes_out",
                "WebSocket payload bytes sent",
                &self.bytes_out,
            ),
            (
                "ticksync_snapshots_sent",
                "Snapshots queued to sessions",
                &self.snapshots_sent,
            ),
            (
                "ticksync_snapshots_dropped",
                "Snapshots dropped because a client's queue was full",
                &self.snapshots_dropped,
            ),
            (
                "ticksync_inputs_dropped",
                "Inputs dropped (queue full or sequence already seen)",
                &self.inputs_dropped,
            ),
            (
                "ticksync_inputs_missed_tick",
                "Inputs that missed their tick (shared a tick with a newer input of their client)",
                &self.inputs_missed_tick,
            ),
            (
                "ticksync_messages_dropped",
                "Client messages dropped by the rate limit",
                &self.messages_dropped,
            ),
        ];
        for (name, help, counter) in counters {
            registry.register(name, help, counter.clone());
        }
        registry.register(
            "ticksync_kicks",
            "Sessions closed by the server for misbehaviour, by reason",
            self.kicks.clone(),
        );
        registry.register(
            "ticksync_disconnects",
            "Sessions ended, by reason",
            self.disconnects.clone(),
        );
        registry.register(
            "ticksync_handshake_failures",
            "Connections that failed before a session started, by reason",
            self.failures.clone(),
        );
    }

    /// Counts `n` sessions kicked for `reason`.
    pub fn kicked(&self, reason: KickReason, n: u64) {
        self.kicks.get_or_create(&Reason(reason)).inc_by(n);
    }

    /// Counts a session that ended for `reason`.
    pub fn disconnected(&self, reason: EndLabel) {
        self.disconnects.get_or_create(&Reason(reason)).inc();
    }

    /// Counts a connection that failed before its session started. Admission refusals and
    /// drains are counted by reason only (see [`ServerMetrics::handshake_failures`]).
    pub fn handshake_failed(&self, reason: FailureReason) {
        if !matches!(
            reason,
            FailureReason::Stage(ConnectionStage::Draining) | FailureReason::Refused(_)
        ) {
            self.handshake_failures.inc();
        }
        self.failures.get_or_create(&Reason(reason)).inc();
    }

    /// Counts an upgrade an admission check refused.
    pub fn admission_refused(&self, reason: RefusalReason) {
        self.admissions_refused.inc();
        self.failures
            .get_or_create(&Reason(FailureReason::Refused(reason)))
            .inc();
    }

    /// The count of sessions kicked for `reason`.
    pub fn kicks(&self, reason: KickReason) -> u64 {
        self.kicks
            .get(&Reason(reason))
            .map_or(0, |counter| counter.get())
    }

    /// Failed connections by reason, the reasons seen so far only.
    pub fn failures_by_reason(&self) -> impl Iterator<Item = (FailureReason, u64)> + '_ {
        FailureReason::all().filter_map(|reason| {
            self.failures
                .get(&Reason(reason))
                .map(|counter| (reason, counter.get()))
        })
    }

    /// Ended sessions by reason, the reasons seen so far only.
    pub fn disconnects_by_reason(&self) -> impl Iterator<Item = (EndLabel, u64)> + '_ {
        EndLabel::iter().filter_map(|reason| {
            self.disconnects
                .get(&Reason(reason))
                .map(|counter| (reason, counter.get()))
        })
    }

    /// Every figure at this moment, read-only.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let gauge = |gauge: &Gauge| u64::try_from(gauge.get()).unwrap_or(0);
        MetricsSnapshot {
            connections_open: gauge(&self.connections_open),
            connections_accepted: self.connections_accepted.get(),
            connections_refused: self.connections_refused.get(),
            handshake_failures: self.handshake_failures.get(),
            admissions_refused: self.admissions_refused.get(),
            players: gauge(&self.players),
            bytes_in: self.bytes_in.get(),
            bytes_out: self.bytes_out.get(),
            snapshots_sent: self.snapshots_sent.get(),
            snapshots_dropped: self.snapshots_dropped.get(),
            inputs_dropped: self.inputs_dropped.get(),
            inputs_missed_tick: self.inputs_missed_tick.get(),
            messages_dropped: self.messages_dropped.get(),
            kicks_protocol: self.kicks(KickReason::Protocol),
            kicks_slow: self.kicks(KickReason::Slow),
            kicks_idle: self.kicks(KickReason::Idle),
            kicks_flood: self.kicks(KickReason::Flood),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_count_apart_and_the_snapshot_reads_them() {
        let metrics = ServerMetrics::new();
        metrics.kicked(KickReason::Slow, 2);
        metrics.kicked(KickReason::Slow, 0);
        metrics.handshake_failed(FailureReason::Stage(ConnectionStage::Tls));
        metrics.handshake_failed(FailureReason::Stage(ConnectionStage::Draining));
        metrics.admission_refused(RefusalReason::Origin);
        metrics.disconnected(EndLabel::PeerGone);
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.kicks_slow, 2);
        assert_eq!(snapshot.kicks_idle, 0);
        assert_eq!(snapshot.admissions_refused, 1);
        // A drain and a refusal count by reason only.
        assert_eq!(snapshot.handshake_failures, 1);
        let failures: Vec<_> = metrics.failures_by_reason().collect();
        assert_eq!(
            failures,
            [
                (FailureReason::Stage(ConnectionStage::Tls), 1),
                (FailureReason::Stage(ConnectionStage::Draining), 1),
                (FailureReason::Refused(RefusalReason::Origin), 1),
            ]
        );
        assert_eq!(
            metrics.disconnects_by_reason().collect::<Vec<_>>(),
            [(EndLabel::PeerGone, 1)]
        );
    }
}
