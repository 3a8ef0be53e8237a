//! [`LiveStats`]: running totals a swarm's bots update as they play, read by the progress
//! display while the run is on. Plain relaxed atomics: they are only ever summed and
//! displayed, never used to make decisions, so no ordering between them is needed.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What the swarm looks like right now.
#[derive(Debug, Default)]
pub struct LiveStats {
    connected: AtomicUsize,
    snapshots: AtomicU64,
    desyncs: AtomicU64,
    disconnects: AtomicU64,
}

/// A copy of [`LiveStats`] at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    /// Bots connected now (honest and chaos).
    pub connected: usize,
    /// Snapshots applied by honest bots since the start.
    pub snapshots: u64,
    pub desyncs: u64,
    /// Honest bots' unexplained disconnects since the start.
    pub disconnects: u64,
}

impl LiveStats {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// A bot's connection ended (for any reason).
    pub fn gone(&self) {
        // Never below zero, even if a caller pairs these wrongly.
        let _ = self
            .connected
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    pub fn snapshot(&self) {
        self.snapshots.fetch_add(1, Ordering::Relaxed);
    }

    pub fn desync(&self) {
        self.desyncs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn disconnect(&self) {
        self.disconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read(&self) -> LiveSnapshot {
        LiveSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            snapshots: self.snapshots.load(Ordering::Relaxed),
            desyncs: self.desyncs.load(Ordering::Relaxed),
            disconnects: self.disconnects.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_never_goes_negative() {
        let live = LiveStats::new();
        live.connected();
        live.connected();
        live.gone();
        live.gone();
        live.gone();
        live.snapshot();
        live.desync();
        live.disconnect();
        assert_eq!(
            live.read(),
            LiveSnapshot {
                connected: 0,
                snapshots: 1,
                desyncs: 1,
                disconnects: 1
            }
        );
    }
}
