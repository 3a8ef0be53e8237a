//! Live progress while a swarm runs: bots connected, snapshots per second, p99 ack latency
//! so far, desyncs and disconnects — an `indicatif` bar when stdout is a terminal, a plain
//! line every [`PLAIN_INTERVAL`] otherwise (CI logs, redirected output). Both go to stderr,
//! so stdout carries only the report.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::live::{LiveSnapshot, LiveStats};
use ticksync_client::SharedLatency;

/// How often the bar redraws: smooth enough to watch, cheap enough to ignore.
pub const BAR_INTERVAL: Duration = Duration::from_millis(250);

/// How often a plain progress line is printed when stdout is not a terminal: a 60 s run
/// logs a dozen lines.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// How the progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bar,
    Plain,
    Off,
}

/// One line of progress from two readings `elapsed` apart.
pub fn progress_line(
    now: LiveSnapshot,
    before: LiveSnapshot,
    elapsed: Duration,
    p99_ms: Option<f64>,
) -> String {
    let rate = match elapsed.as_secs_f64() {
        secs if secs > 0.0 => now.snapshots.saturating_sub(before.snapshots) as f64 / secs,
        _ => 0.0,
    };
    let p99 = p99_ms.map_or_else(|| "n/a".to_owned(), |ms| format!("{ms:.1} ms"));
    format!(
        "bots {} | snapshots/s {rate:.0} | p99 ack {p99} | desyncs {} | disconnects {}",
        now.connected, now.desyncs, now.disconnects
    )
}

/// A running progress display; [`Progress::finish`] clears it.
#[derive(Debug)]
pub struct Progress {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Stops the display (clearing the bar) and waits until it is gone.
    pub async fn finish(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}

/// Shows progress until [`Progress::finish`]; `None` for [`ProgressMode::Off`].
pub fn spawn_progress(
    mode: ProgressMode,
    live: Arc<LiveStats>,
    latency: Arc<SharedLatency>,
    run_length: Duration,
) -> Option<Progress> {
    let interval = match mode {
        ProgressMode::Off => return None,
        ProgressMode::Bar => BAR_INTERVAL,
        ProgressMode::Plain => PLAIN_INTERVAL,
    };
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let started = Instant::now();
        let bar = (mode == ProgressMode::Bar).then(|| {
            let total_ms = u64::try_from(run_length.as_millis()).unwrap_or(u64::MAX);
            let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {msg}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        let mut ticks = tokio::time::interval(interval);
        ticks.tick().await;
        let mut before = live.read();
        let mut before_at = Instant::now();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.changed() => {
                    if let Some(bar) = &bar {
                        bar.finish_and_clear();
                    }
                    return;
                }
            }
            let now = live.read();
            let merged = latency.merged();
            let p99 = (!merged.is_empty()).then(|| merged.value_at_quantile(0.99) as f64 / 1000.0);
            let line = progress_line(now, before, before_at.elapsed(), p99);
            (before, before_at) = (now, Instant::now());
            match &bar {
                Some(bar) => {
                    let done = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    bar.set_position(done);
                    bar.set_message(line);
                }
                None => {
                    let secs = started.elapsed().as_secs();
                    let _ = writeln!(std::io::stderr().lock(), "[{secs:>4} s] {line}");
                }
            }
        }
    });
    Some(Progress { stop, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_shows_rates_and_counts() {
        let before = LiveSnapshot {
            snapshots: 1_000,
            ..LiveSnapshot::default()
        };
        let now = LiveSnapshot {
            connected: 100,
            snapshots: 16_000,
            desyncs: 2,
            disconnects: 1,
        };
        let line = progress_line(now, before, Duration::from_secs(5), Some(12.34));
        assert_eq!(
            line,
            "bots 100 | snapshots/s 3000 | p99 ack 12.3 ms | desyncs 2 | disconnects 1"
        );
        let empty = progress_line(now, now, Duration::ZERO, None);
        assert!(empty.contains("snapshots/s 0 |") && empty.contains("p99 ack n/a"));
    }
}
