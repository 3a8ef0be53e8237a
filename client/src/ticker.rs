//! Shared tick clocks for a swarm: one `tokio::time::interval` per tick rate, broadcasting
//! the tick count on a `watch` channel that every bot at that rate awaits — instead of ten
//! thousand bots each owning a timer.
//!
//! A `watch` keeps only the latest value, so a bot that falls behind sees one change, not a
//! burst of missed ticks: one input per tick stays the contract even under load.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Interval, MissedTickBehavior};

use ticksync_protocol::tick_period;

/// One rate's ticker: a receiver to clone for subscribers, and the task driving it.
type Ticker = (watch::Receiver<u64>, JoinHandle<()>);

/// The tickers of one swarm, created on demand per tick rate. Dropping the hub stops them.
#[derive(Debug, Default)]
pub struct TickHub {
    tickers: Mutex<HashMap<u16, Ticker>>,
}

impl TickHub {
    pub fn new() -> Self {
        Self::default()
    }

    /// A receiver of the ticks at `tick_rate_hz`, starting that ticker if it is the first.
    /// Must be called within a tokio runtime.
    pub fn subscribe(&self, tick_rate_hz: u16) -> TickSource {
        let mut tickers = self
            .tickers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (receiver, _) = tickers.entry(tick_rate_hz).or_insert_with(|| {
            let (sender, receiver) = watch::channel(0);
            let task = tokio::spawn(drive(sender, tick_period(tick_rate_hz)));
            (receiver, task)
        });
        let mut receiver = receiver.clone();
        // Start from "seen": the first tick a subscriber acts on is the next one.
        receiver.mark_unchanged();
        TickSource::Shared(receiver)
    }

    /// How many tickers run (one per distinct tick rate).
    pub fn tickers(&self) -> usize {
        self.tickers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

impl Drop for TickHub {
    fn drop(&mut self) {
        let tickers = self
            .tickers
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (_, task) in tickers.values() {
            task.abort();
        }
    }
}

async fn drive(sender: watch::Sender<u64>, period: Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut tick = 0u64;
    loop {
        interval.tick().await;
        tick += 1;
        // `send_replace` succeeds with no receivers too; the hub's own receiver keeps the
        // channel open until the hub aborts this task.
        sender.send_replace(tick);
    }
}

/// Where a client's ticks come from: its own timer, or a shared [`TickHub`] ticker.
#[derive(Debug)]
pub enum TickSource {
    Own(Interval),
    Shared(watch::Receiver<u64>),
    /// The client's own [`crate::InputClock`], aimed with the server's arrival feedback;
    /// the handler loop reads it from the client (see [`crate::Client::run_with_ticks`]).
    Synced,
}

impl TickSource {
    /// A private timer at `tick_rate_hz` that skips missed ticks.
    pub fn own(tick_rate_hz: u16) -> Self {
        let mut interval = tokio::time::interval(tick_period(tick_rate_hz));
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        TickSource::Own(interval)
    }

    /// A private timer at `tick_rate_hz` whose first tick is `phase` from now: a bot's own
    /// free-running input clock, at its own point of the server's tick.
    pub fn own_with_phase(tick_rate_hz: u16, phase: Duration) -> Self {
        let start = tokio::time::Instant::now() + phase;
        let mut interval = tokio::time::interval_at(start, tick_period(tick_rate_hz));
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        TickSource::Own(interval)
    }

    /// Waits for the next tick. Cancel-safe. A shared ticker that is gone (its hub dropped)
    /// never ticks again.
    pub async fn tick(&mut self) {
        match self {
            TickSource::Own(interval) => {
                interval.tick().await;
            }
            TickSource::Shared(receiver) => {
                if receiver.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            // Timed by the client's input clock instead, never here.
            TickSource::Synced => std::future::pending::<()>().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_ticker_per_rate_drives_every_subscriber() {
        let hub = TickHub::new();
        let mut a = hub.subscribe(30);
        let mut b = hub.subscribe(30);
        let mut c = hub.subscribe(10);
        assert_eq!(hub.tickers(), 2);
        let started = tokio::time::Instant::now();
        for _ in 0..3 {
            a.tick().await;
            b.tick().await;
        }
        c.tick().await;
        c.tick().await;
        let elapsed = started.elapsed();
        // Three 30 Hz ticks and two 10 Hz ticks (the first immediate) fit in ~100 ms.
        assert!(elapsed <= Duration::from_millis(150), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_subscriber_sees_one_tick_not_a_burst() {
        let hub = TickHub::new();
        let mut source = hub.subscribe(30);
        source.tick().await;
        tokio::time::sleep(Duration::from_millis(510)).await;
        source.tick().await; // the ~15 ticks missed collapse into this one
        let before = tokio::time::Instant::now();
        source.tick().await;
        // It waited for a real next tick instead of replaying the missed ones.
        assert!(before.elapsed() > Duration::ZERO);
    }
}
