//! [`SwarmReport`]: the figures a bot swarm measured, as JSON for tooling and as a table
//! for people. Per-bot rates are averaged over the bots that connected, each over its own
//! measured window (welcome → leave, or → disconnect), so a slow ramp does not dilute them.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::stats::ClientCounters;

/// What one bot of a swarm ended with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BotOutcome {
    /// The bot got `Welcome`.
    pub connected: bool,
    /// The bot's connection ended before the run did (before it sent `Leave`).
    pub disconnected: bool,
    /// Time from `Welcome` to `Leave` (or to the connection's end).
    pub active: Duration,
    /// Traffic within `active`.
    pub counters: ClientCounters,
}

/// Summary of a swarm run. The JSON keys are a stable interface for scripts and CI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwarmReport {
    pub bots_requested: usize,
    /// Bots that received `Welcome`.
    pub bots_connected: usize,
    /// Bots that never got `Welcome` (refused, timed out, could not connect).
    pub connect_failures: usize,
    /// Connected bots whose connection ended before the run did.
    pub disconnects: usize,
    /// Snapshots that could not be applied (missing baseline, bad delta, checksum
    /// mismatch), summed over bots. A correct server keeps it at 0, even under loss.
    pub desyncs: u64,
    /// Mean over connected bots of snapshots received per second.
    pub snapshots_per_bot_per_s: f64,
    /// Mean over connected bots of payload bytes received per second.
    pub downlink_bytes_per_bot_per_s: f64,
    /// Mean over connected bots of payload bytes sent per second.
    pub uplink_bytes_per_bot_per_s: f64,
    /// Median input→ack latency across all bots, in ms; `None` (JSON `null`) if no input
    /// was acknowledged.
    pub ack_latency_p50_ms: Option<f64>,
    /// 99th percentile input→ack latency across all bots, in ms; `None` as above.
    pub ack_latency_p99_ms: Option<f64>,
    /// Wall-clock length of the run, in seconds.
    pub duration_s: f64,
}

impl SwarmReport {
    /// Computes the report from every bot's outcome and the merged latency histogram (µs).
    pub fn from_outcomes(
        bots_requested: usize,
        outcomes: &[BotOutcome],
        ack_latency_us: &Histogram<u64>,
        duration: Duration,
    ) -> SwarmReport {
        let connected: Vec<&BotOutcome> = outcomes.iter().filter(|o| o.connected).collect();
        let measured: Vec<&&BotOutcome> =
            connected.iter().filter(|o| !o.active.is_zero()).collect();
        let mean_rate = |count: fn(&ClientCounters) -> u64| {
            if measured.is_empty() {
                return 0.0;
            }
            let sum: f64 = measured
                .iter()
                .map(|o| count(&o.counters) as f64 / o.active.as_secs_f64())
                .sum();
            sum / measured.len() as f64
        };
        let percentile_ms = |quantile: f64| {
            (!ack_latency_us.is_empty())
                .then(|| ack_latency_us.value_at_quantile(quantile) as f64 / 1000.0)
        };
        SwarmReport {
            bots_requested,
            bots_connected: connected.len(),
            connect_failures: outcomes.len() - connected.len(),
            disconnects: connected.iter().filter(|o| o.disconnected).count(),
            desyncs: connected.iter().map(|o| o.counters.desyncs).sum(),
            snapshots_per_bot_per_s: mean_rate(|c| c.snapshots_received),
            downlink_bytes_per_bot_per_s: mean_rate(|c| c.bytes_received),
            uplink_bytes_per_bot_per_s: mean_rate(|c| c.bytes_sent),
            ack_latency_p50_ms: percentile_ms(0.5),
            ack_latency_p99_ms: percentile_ms(0.99),
            duration_s: duration.as_secs_f64(),
        }
    }
}

impl fmt::Display for SwarmReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |value: Option<f64>| match value {
            Some(value) => format!("{value:.2} ms"),
            None => "n/a".to_owned(),
        };
        writeln!(f, "ticksync-sim: {:.1} s run", self.duration_s)?;
        writeln!(f, "  {:<28} {}", "bots requested", self.bots_requested)?;
        writeln!(f, "  {:<28} {}", "bots connected", self.bots_connected)?;
        writeln!(f, "  {:<28} {}", "connect failures", self.connect_failures)?;
        writeln!(f, "  {:<28} {}", "disconnects", self.disconnects)?;
        writeln!(f, "  {:<28} {}", "desyncs", self.desyncs)?;
        writeln!(
            f,
            "  {:<28} {:.1}",
            "snapshots / bot / s", self.snapshots_per_bot_per_s
        )?;
        writeln!(
            f,
            "  {:<28} {:.0}",
            "downlink bytes / bot / s", self.downlink_bytes_per_bot_per_s
        )?;
        writeln!(
            f,
            "  {:<28} {:.0}",
            "uplink bytes / bot / s", self.uplink_bytes_per_bot_per_s
        )?;
        writeln!(
            f,
            "  {:<28} {}",
            "input→ack latency p50",
            ms(self.ack_latency_p50_ms)
        )?;
        write!(
            f,
            "  {:<28} {}",
            "input→ack latency p99",
            ms(self.ack_latency_p99_ms)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::latency_histogram;

    fn bot(active_s: u64, snapshots: u64, down: u64, up: u64) -> BotOutcome {
        BotOutcome {
            connected: true,
            disconnected: false,
            active: Duration::from_secs(active_s),
            counters: ClientCounters {
                snapshots_received: snapshots,
                desyncs: snapshots / 100,
                bytes_received: down,
                bytes_sent: up,
                ..ClientCounters::default()
            },
        }
    }

    #[test]
    fn rates_are_per_bot_over_each_window_and_failures_are_counted() {
        let outcomes = [
            bot(10, 300, 30_000, 500),
            BotOutcome {
                disconnected: true,
                ..bot(5, 100, 5_000, 250)
            },
            BotOutcome::default(),
        ];
        let mut latency = latency_histogram();
        for us in [10_000, 20_000, 30_000, 40_000] {
            latency.record(us).unwrap();
        }
        let report = SwarmReport::from_outcomes(3, &outcomes, &latency, Duration::from_secs(10));
        assert_eq!(report.bots_requested, 3);
        assert_eq!(report.bots_connected, 2);
        assert_eq!(report.connect_failures, 1);
        assert_eq!(report.disconnects, 1);
        assert_eq!(report.desyncs, 4);
        assert!((report.snapshots_per_bot_per_s - 25.0).abs() < 1e-9);
        assert!((report.downlink_bytes_per_bot_per_s - 2_000.0).abs() < 1e-9);
        assert!((report.uplink_bytes_per_bot_per_s - 50.0).abs() < 1e-9);
        let p50 = report.ack_latency_p50_ms.unwrap();
        assert!((p50 - 20.0).abs() < 0.1, "{p50}");
        let p99 = report.ack_latency_p99_ms.unwrap();
        assert!((p99 - 40.0).abs() < 0.1, "{p99}");
        assert_eq!(report.duration_s, 10.0);
    }

    #[test]
    fn nobody_connected_gives_zero_rates_and_no_latency() {
        let report = SwarmReport::from_outcomes(
            2,
            &[BotOutcome::default(); 2],
            &latency_histogram(),
            Duration::from_secs(1),
        );
        assert_eq!(report.bots_connected, 0);
        assert_eq!(report.connect_failures, 2);
        assert_eq!(report.snapshots_per_bot_per_s, 0.0);
        assert_eq!(report.ack_latency_p50_ms, None);
    }

    #[test]
    fn json_has_exactly_the_documented_keys() {
        let report =
            SwarmReport::from_outcomes(0, &[], &latency_histogram(), Duration::from_secs(1));
        let json = serde_json::to_value(&report).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "ack_latency_p50_ms",
                "ack_latency_p99_ms",
                "bots_connected",
                "bots_requested",
                "connect_failures",
                "desyncs",
                "disconnects",
                "downlink_bytes_per_bot_per_s",
                "duration_s",
                "snapshots_per_bot_per_s",
                "uplink_bytes_per_bot_per_s",
            ]
        );
        assert!(report.to_string().contains("bots connected"));
        assert!(report.to_string().contains("desyncs"));
    }
}
