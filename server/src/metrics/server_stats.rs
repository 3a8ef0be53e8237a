//! The server-wide stats line: every stats interval, what belongs to the whole process —
//! CPU, bytes in and out, snapshots dropped, players and connections — in one line beside the
//! rooms' own lines (which report only the room's figures). At info while anyone plays, at
//! debug otherwise, like the rooms' lines.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::process::process_cpu_seconds;
use super::server_metrics::ServerMetrics;
use super::snapshot::MetricsSnapshot;

/// Logs the server-wide line every `interval` until `stop`.
pub async fn log_every(metrics: Arc<ServerMetrics>, interval: Duration, stop: CancellationToken) {
    let mut before = Window::start(&metrics);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let now = Window::start(&metrics);
        now.log_since(&before);
        before = now;
    }
}

/// The figures at the start of a window.
struct Window {
    at: Instant,
    cpu_seconds: Option<f64>,
    counts: MetricsSnapshot,
}

impl Window {
    fn start(metrics: &ServerMetrics) -> Window {
        Window {
            at: Instant::now(),
            cpu_seconds: process_cpu_seconds(),
            counts: metrics.snapshot(),
        }
    }

    fn log_since(&self, before: &Window) {
        let secs = self
            .at
            .duration_since(before.at)
            .as_secs_f64()
            .max(f64::EPSILON);
        let cpu_percent = match (before.cpu_seconds, self.cpu_seconds) {
            (Some(start), Some(end)) => (end - start) / secs * 100.0,
            _ => f64::NAN,
        };
        let rate = |now: u64, then: u64| (now.saturating_sub(then) as f64 / secs) as u64;
        let (now, then) = (&self.counts, &before.counts);
        macro_rules! server_stats {
            ($level:ident) => {
                tracing::$level!(
                    players = now.players,
                    connections = now.connections_open,
                    in_bytes_per_s = rate(now.bytes_in, then.bytes_in),
                    out_bytes_per_s = rate(now.bytes_out, then.bytes_out),
                    snapshots_dropped_total = now.snapshots_dropped,
                    cpu_percent = format_args!("{cpu_percent:.1}"),
                    "server stats"
                )
            };
        }
        if now.players > 0 {
            server_stats!(info);
        } else {
            server_stats!(debug);
        }
    }
}
