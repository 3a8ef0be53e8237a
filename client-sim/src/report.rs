//! [`SwarmReport`]: the figures a bot swarm measured, as JSON for tooling and as a table
//! for people. Per-bot rates are averaged over the bots that connected, each over its own
//! measured window (welcome → leave, or → disconnect), so a slow ramp does not dilute them.
//!
//! The top-level figures describe the honest bots (every behaviour but chaos); what the
//! chaos bots did is in the nested `chaos` object, so misbehaviour on purpose never reads
//! as a server fault. The game's own figures (its bots' [`crate::Bot::counters`], summed
//! over honest bots) are in `game_counters`.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use ticksync_client::{ClientCounters, ConnectFailure};

use crate::chaos::ChaosCounters;

/// What one bot of a swarm ended with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BotOutcome {
    /// The bot got `Welcome`.
    pub connected: bool,
    /// Times the bot's connection ended before the run did (before it sent `Leave`).
    pub disconnects: u64,
    /// Times the bot connected again after such a disconnect.
    pub reconnects: u64,
    /// Time from `Welcome` to `Leave` (or to the connection's end), over all its sessions.
    pub active: Duration,
    /// Traffic within `active`, over all its sessions.
    pub counters: ClientCounters,
    /// For a bot that never connected: why its last attempt failed.
    pub connect_failure: Option<ConnectFailure>,
    /// What the server said when it refused that attempt (an HTTP body, an `Error`
    /// message), shown next to the reason in the report.
    pub server_said: Option<String>,
}

/// Summary of a swarm run. The JSON keys are a stable interface for scripts and CI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SwarmReport {
    /// Honest bots asked for (chaos bots are counted in `chaos.bots`).
    pub bots_requested: usize,
    /// Bots that received `Welcome`.
    pub bots_connected: usize,
    /// Bots that never got `Welcome` (refused, timed out, could not connect).
    pub connect_failures: usize,
    /// Those failures by reason, with a count each.
    pub connect_failure_reasons: BTreeMap<String, usize>,
    /// Unexplained ends of honest bots' connections before the run did (a bot that
    /// reconnects and drops again counts twice).
    pub disconnects: usize,
    /// Honest bots' reconnections after such a disconnect.
    pub reconnects: u64,
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
    /// Snapshot ticks honest bots never received: over bots, the sum of
    /// `tick - previous_tick - 1` for consecutive snapshots received.
    pub tick_gaps: u64,
    /// How the bots timed their inputs: `synced` (aimed with the server's arrival
    /// feedback) or `free` (each bot on its own timer at a random phase).
    pub input_timing: String,
    /// Median arrival margin of the honest bots' inputs as the server reported it (how long
    /// before its tick an input arrived), in ms; inputs that missed their tick count as 0.
    /// `None` if the server reported none.
    pub input_margin_p50_ms: Option<f64>,
    /// 99th percentile of the same, in ms.
    pub input_margin_p99_ms: Option<f64>,
    /// Inputs the server reported as having missed their tick (they shared it with a newer
    /// input), summed over honest bots.
    pub inputs_missed_tick: u64,
    /// Wall-clock length of the run, in seconds.
    pub duration_s: f64,
    /// What the chaos bots did and how the server answered.
    pub chaos: ChaosCounters,
    /// The game's own figures by name (shots, hits, events seen…), summed over honest
    /// bots; empty for a game whose bots count nothing.
    pub game_counters: BTreeMap<String, u64>,
}

impl SwarmReport {
    /// Computes the report from every honest bot's outcome, the chaos bots' counters and
    /// the honest bots' merged latency histogram (µs).
    pub fn from_outcomes(
        bots_requested: usize,
        outcomes: &[BotOutcome],
        chaos: ChaosCounters,
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
            connect_failure_reasons: outcomes.iter().filter(|o| !o.connected).fold(
                BTreeMap::new(),
                |mut reasons, o| {
                    let reason = match (o.connect_failure, &o.server_said) {
                        (None, _) => "not started before the run ended".to_owned(),
                        (Some(failure), None) => failure.to_string(),
                        (Some(failure), Some(said)) => {
                            format!("{failure} — the server said: {said}")
                        }
                    };
                    *reasons.entry(reason).or_default() += 1;
                    reasons
                },
            ),
            disconnects: connected
                .iter()
                .map(|o| usize::try_from(o.disconnects).unwrap_or(usize::MAX))
                .sum(),
            reconnects: connected.iter().map(|o| o.reconnects).sum(),
            desyncs: connected.iter().map(|o| o.counters.desyncs).sum(),
            snapshots_per_bot_per_s: mean_rate(|c| c.snapshots_received),
            downlink_bytes_per_bot_per_s: mean_rate(|c| c.bytes_received),
            uplink_bytes_per_bot_per_s: mean_rate(|c| c.bytes_sent),
            ack_latency_p50_ms: percentile_ms(0.5),
            ack_latency_p99_ms: percentile_ms(0.99),
            tick_gaps: connected.iter().map(|o| o.counters.tick_gaps).sum(),
            input_timing: "synced".to_owned(),
            input_margin_p50_ms: None,
            input_margin_p99_ms: None,
            inputs_missed_tick: connected
                .iter()
                .map(|o| o.counters.inputs_missed_tick)
                .sum(),
            duration_s: duration.as_secs_f64(),
            chaos,
            game_counters: BTreeMap::new(),
        }
    }
}

impl SwarmReport {
    /// Adds the input timing mode and the honest bots' merged arrival margins (µs).
    pub fn with_input_margins(mut self, timing: &str, margins_us: &Histogram<u64>) -> SwarmReport {
        self.input_timing = timing.to_owned();
        let percentile_ms = |quantile: f64| {
            (!margins_us.is_empty()).then(|| margins_us.value_at_quantile(quantile) as f64 / 1000.0)
        };
        self.input_margin_p50_ms = percentile_ms(0.5);
        self.input_margin_p99_ms = percentile_ms(0.99);
        self
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
        for (reason, count) in &self.connect_failure_reasons {
            writeln!(f, "    {count} × {reason}")?;
        }
        writeln!(f, "  {:<28} {}", "disconnects", self.disconnects)?;
        writeln!(f, "  {:<28} {}", "reconnects", self.reconnects)?;
        writeln!(f, "  {:<28} {}", "desyncs", self.desyncs)?;
        writeln!(f, "  {:<28} {}", "tick gaps", self.tick_gaps)?;
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
        writeln!(
            f,
            "  {:<28} {}",
            "input→ack latency p99",
            ms(self.ack_latency_p99_ms)
        )?;
        writeln!(
            f,
            "  {:<28} {} (p50 {}, p99 {})",
            "input timing, arrival margin",
            self.input_timing,
            ms(self.input_margin_p50_ms),
            ms(self.input_margin_p99_ms)
        )?;
        write!(
            f,
            "  {:<28} {}",
            "inputs that missed their tick", self.inputs_missed_tick
        )?;
        if !self.game_counters.is_empty() {
            writeln!(f)?;
            write!(
                f,
                "  game counters (honest bots, total and per connected bot)"
            )?;
            for (name, total) in &self.game_counters {
                let per_bot = *total as f64 / self.bots_connected.max(1) as f64;
                write!(f, "\n  {name:<28} {total} ({per_bot:.1} / bot)")?;
            }
        }
        let chaos = &self.chaos;
        if chaos.bots > 0 {
            writeln!(f)?;
            writeln!(f, "  chaos bots ({}, not counted above)", chaos.bots)?;
            writeln!(
                f,
                "  {:<28} {} ({} reconnects, {} failed)",
                "connects", chaos.connects, chaos.reconnects, chaos.connect_failures
            )?;
            writeln!(f, "  {:<28} {}", "own disconnects", chaos.disconnects)?;
            writeln!(
                f,
                "  {:<28} {} garbage, {} oversized, {} bursts, {} stalls",
                "mischief",
                chaos.garbage_frames,
                chaos.oversized_frames,
                chaos.bursts,
                chaos.stalls
            )?;
            let closes: Vec<String> = chaos
                .server_closes
                .iter()
                .map(|(code, n)| format!("{code}×{n}"))
                .collect();
            write!(f, "  {:<28} {}", "server closes by code", closes.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ticksync_client::latency::latency_histogram;

    /// A plausible report, for tests of what consumes reports.
    pub(crate) fn sample_report() -> SwarmReport {
        let mut latency = latency_histogram();
        latency.record(20_000).unwrap();
        SwarmReport::from_outcomes(
            1,
            &[bot(10, 300, 30_000, 500)],
            ChaosCounters::default(),
            &latency,
            Duration::from_secs(10),
        )
    }

    fn bot(active_s: u64, snapshots: u64, down: u64, up: u64) -> BotOutcome {
        BotOutcome {
            connected: true,
            disconnects: 0,
            reconnects: 0,
            active: Duration::from_secs(active_s),
            counters: ClientCounters {
                snapshots_received: snapshots,
                desyncs: snapshots / 100,
                bytes_received: down,
                bytes_sent: up,
                ..ClientCounters::default()
            },
            connect_failure: None,
            server_said: None,
        }
    }

    #[test]
    fn rates_are_per_bot_over_each_window_and_failures_are_counted() {
        let outcomes = [
            bot(10, 300, 30_000, 500),
            BotOutcome {
                disconnects: 1,
                reconnects: 1,
                counters: ClientCounters {
                    tick_gaps: 4,
                    ..bot(5, 100, 5_000, 250).counters
                },
                ..bot(5, 100, 5_000, 250)
            },
            BotOutcome {
                connect_failure: Some(ConnectFailure::Http(503)),
                server_said: Some("too many connections from 127.0.0.1".to_owned()),
                ..BotOutcome::default()
            },
        ];
        let mut latency = latency_histogram();
        for us in [10_000, 20_000, 30_000, 40_000] {
            latency.record(us).unwrap();
        }
        let report = SwarmReport::from_outcomes(
            3,
            &outcomes,
            ChaosCounters::default(),
            &latency,
            Duration::from_secs(10),
        );
        assert_eq!(report.bots_requested, 3);
        assert_eq!(report.bots_connected, 2);
        assert_eq!(report.connect_failures, 1);
        let reasons: Vec<_> = report.connect_failure_reasons.iter().collect();
        assert_eq!(reasons.len(), 1);
        assert!(
            reasons[0].0.contains("--max-connections-per-ip 0"),
            "{reasons:?}"
        );
        assert!(report.to_string().contains("1 × HTTP 503"), "{report}");
        assert!(
            reasons[0]
                .0
                .ends_with("the server said: too many connections from 127.0.0.1"),
            "the server's own words are shown: {reasons:?}"
        );
        assert_eq!(report.disconnects, 1);
        assert_eq!(report.reconnects, 1);
        assert_eq!(report.tick_gaps, 4);
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
            &[BotOutcome::default(), BotOutcome::default()],
            ChaosCounters::default(),
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
        let mut chaos = ChaosCounters {
            bots: 1,
            garbage_frames: 2,
            ..ChaosCounters::default()
        };
        chaos.server_closes.insert("1009".into(), 1);
        let mut report =
            SwarmReport::from_outcomes(0, &[], chaos, &latency_histogram(), Duration::from_secs(1));
        report.game_counters.insert("kills".into(), 7);
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
                "chaos",
                "connect_failure_reasons",
                "connect_failures",
                "desyncs",
                "disconnects",
                "downlink_bytes_per_bot_per_s",
                "duration_s",
                "game_counters",
                "input_margin_p50_ms",
                "input_margin_p99_ms",
                "input_timing",
                "inputs_missed_tick",
                "reconnects",
                "snapshots_per_bot_per_s",
                "tick_gaps",
                "uplink_bytes_per_bot_per_s",
            ]
        );
        let mut chaos_keys: Vec<&str> = json["chaos"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        chaos_keys.sort_unstable();
        assert_eq!(
            chaos_keys,
            [
                "bots",
                "bursts",
                "connect_failures",
                "connects",
                "disconnects",
                "garbage_frames",
                "oversized_frames",
                "reconnects",
                "server_closes",
                "stalls",
            ]
        );
        assert_eq!(json["chaos"]["server_closes"]["1009"], 1);
        assert_eq!(json["game_counters"]["kills"], 7);
        assert!(report.to_string().contains("kills"), "{report}");
        assert!(report.to_string().contains("chaos bots (1"));
        assert!(report.to_string().contains("bots connected"));
        assert!(report.to_string().contains("desyncs"));
    }
}
