//! Tick statistics of a room: a histogram of tick durations per reporting interval, logged
//! as one line every interval, and totals for the summary at shutdown. The line holds the
//! room's own figures only; the process-wide ones (CPU, bytes, dropped snapshots) are the
//! server's line (`metrics::server_stats`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::{CreationError, Histogram};
use tokio::time::Instant;

use super::directory::RoomStatus;

/// Longest tick the histogram resolves, in µs; longer ones are clamped to it.
const MAX_TRACKED_TICK_US: u64 = 10_000_000;

/// Figures of a room's whole run, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TickSummary {
    pub ticks: u64,
    /// Ticks whose work took longer than the tick period.
    pub overruns: u64,
    /// Grid points skipped because the loop woke late.
    pub skipped_ticks: u64,
    pub tick_p50_us: u64,
    pub tick_p99_us: u64,
    pub tick_max_us: u64,
    /// How late ticks started after their due time (scheduler delay), 99th percentile.
    pub tick_late_p99_us: u64,
    pub tick_late_max_us: u64,
}

/// Collects tick durations and logs them periodically.
#[derive(Debug)]
pub struct TickStats {
    period: Duration,
    interval: Duration,
    window: Histogram<u32>,
    total: Histogram<u32>,
    /// Start lateness of every tick of the run.
    lateness: Histogram<u32>,
    overruns: u64,
    skipped: u64,
    window_started: Instant,
    /// Where the room publishes its recent tick p99 and overruns.
    status: Arc<RoomStatus>,
    /// Ticks since the status's p99 was last refreshed.
    since_publish: u32,
}

/// Ticks between refreshes of the published tick p99 (about a second at 30 Hz).
const PUBLISH_EVERY_TICKS: u32 = 32;

/// Significant digits of the tick histograms: values within 1 % (0.4–0.8 %), plenty for
/// tick times.
const SIGNIFICANT_DIGITS: u8 = 2;

/// A histogram that grows to the largest value recorded (at most [`MAX_TRACKED_TICK_US`]).
/// Every room has three, so their size is what an empty room costs: with two significant
/// digits and 32-bit counts one covering values up to 256 µs (an idle room's ticks) is 1 KiB,
/// up to 4 ms 3 KiB, and the whole range 9 KiB. (Three digits over the whole range with
/// 64-bit counts, as before, was 114 KiB each.) Counts saturate rather than wrap: at 240 Hz
/// a 32-bit count lasts 200 days of ticks in one bucket.
fn new_histogram() -> Result<Histogram<u32>, CreationError> {
    Histogram::new(SIGNIFICANT_DIGITS)
}

impl TickStats {
    pub fn new(
        period: Duration,
        interval: Duration,
        status: Arc<RoomStatus>,
    ) -> Result<TickStats, CreationError> {
        Ok(TickStats {
            period,
            interval,
            window: new_histogram()?,
            total: new_histogram()?,
            lateness: new_histogram()?,
            overruns: 0,
            skipped: 0,
            window_started: Instant::now(),
            status,
            since_publish: 0,
        })
    }

    /// Records one tick's work time, the grid points skipped before it, and how late it
    /// started.
    pub fn record(&mut self, work: Duration, skipped: u64, late: Duration) {
        let clamp =
            |duration: Duration| (duration.as_micros() as u64).clamp(1, MAX_TRACKED_TICK_US);
        let micros = clamp(work);
        // Values are clamped into the histogram's range, so recording cannot fail.
        let _ = self.window.record(micros);
        let _ = self.total.record(micros);
        let _ = self.lateness.record(clamp(late));
        if work > self.period {
            self.overruns += 1;
        }
        self.skipped += skipped;
        self.since_publish += 1;
        if self.since_publish >= PUBLISH_EVERY_TICKS {
            self.since_publish = 0;
            self.status
                .tick_p99_us
                .store(self.window.value_at_quantile(0.99), Ordering::Relaxed);
            self.status
                .tick_late_p99_us
                .store(self.lateness.value_at_quantile(0.99), Ordering::Relaxed);
        }
    }

    /// Logs the interval's line if the interval has elapsed: at info for a room with players,
    /// at debug for an empty one (anyone can open rooms; a thousand idle ones must not fill
    /// the log).
    pub fn maybe_log(&mut self, players: usize) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.window_started);
        if elapsed < self.interval {
            return;
        }
        macro_rules! room_stats {
            ($level:ident) => {
                tracing::$level!(
                    room = %self.status.name,
                    players,
                    ticks = self.window.len(),
                    tick_p50_us = self.window.value_at_quantile(0.5),
                    tick_p99_us = self.window.value_at_quantile(0.99),
                    tick_max_us = self.window.max(),
                    overruns_total = self.overruns,
                    skipped_ticks_total = self.skipped,
                    "room stats"
                )
            };
        }
        if players > 0 {
            room_stats!(info);
        } else {
            room_stats!(debug);
        }
        self.window.reset();
        self.window_started = now;
    }

    /// Bytes the histograms' counts take on the heap.
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        [&self.window, &self.total, &self.lateness]
            .iter()
            .map(|histogram| histogram.distinct_values() * std::mem::size_of::<u32>())
            .sum()
    }

    /// Figures of the whole run.
    pub fn summary(&self) -> TickSummary {
        TickSummary {
            ticks: self.total.len(),
            overruns: self.overruns,
            skipped_ticks: self.skipped,
            tick_p50_us: self.total.value_at_quantile(0.5),
            tick_p99_us: self.total.value_at_quantile(0.99),
            tick_max_us: self.total.max(),
            tick_late_p99_us: self.lateness.value_at_quantile(0.99),
            tick_late_max_us: self.lateness.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServerConfig;
    use crate::room::RoomSettings;

    fn stats() -> TickStats {
        let defaults = crate::layer_settings::room_defaults(&ServerConfig::default());
        let settings = RoomSettings::for_room(&defaults.room, 1);
        let status = Arc::new(RoomStatus::new("test", &settings));
        TickStats::new(settings.tick_period(), settings.stats_interval, status).unwrap()
    }

    #[test]
    fn an_idle_rooms_statistics_take_a_few_kib_and_stay_precise() {
        let mut stats = stats();
        for i in 0..3_000u64 {
            let work = Duration::from_micros(20 + i % 60);
            stats.record(work, 0, Duration::from_micros(100 + i % 1_000));
        }
        assert!(
            stats.heap_bytes() <= 5 * 1024,
            "{} bytes",
            stats.heap_bytes()
        );
        let summary = stats.summary();
        // 99 % of the ticks took at most 79 µs; two significant digits keep it within 1 %.
        assert!((79..=80).contains(&summary.tick_p99_us), "{summary:?}");
        assert_eq!(summary.ticks, 3_000);
        // A pathological tick grows the histograms to their whole range, and no further.
        stats.record(Duration::from_secs(3_600), 0, Duration::from_secs(3_600));
        assert!(
            stats.heap_bytes() <= 3 * 9 * 1024,
            "{} bytes",
            stats.heap_bytes()
        );
        let max = stats.summary().tick_max_us;
        assert!((10_000_000..10_100_000).contains(&max), "{max}");
    }
}
