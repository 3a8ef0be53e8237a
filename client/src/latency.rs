//! Input → acknowledgement latency as the client sees it: the time from sending an `Input`
//! to receiving the first `Snapshot` whose `last_input_seq` covers it.
//!
//! Send times live in a fixed ring indexed by sequence number, so memory stays bounded no
//! matter how many inputs a session sends or how many the server never acknowledges.
//!
//! A latency histogram at 3 significant digits over 1 µs .. 60 s is about 140 KiB, far too
//! much per bot in a 10,000-bot swarm; a swarm's clients record into one
//! [`SharedLatency`] instead (a few mutex-guarded shards, so recorders on different worker
//! threads rarely meet), which is also what live progress reads p99 from.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use ticksync_protocol::InputSeq;

/// How many in-flight inputs the tracker remembers. At 30 inputs per second this covers
/// 8.5 s of unacknowledged inputs — far beyond any latency worth measuring; an ack for an
/// input older than that is simply not timed.
pub const ACK_WINDOW: usize = 256;

/// Largest latency the histograms hold, in microseconds (one minute); larger samples are
/// clamped to it rather than dropped, so a stalled server still shows up in p99.
pub const MAX_TRACKED_LATENCY_US: u64 = 60_000_000;

/// Significant decimal digits kept by latency histograms: 3 gives 0.1 % resolution in a
/// few tens of KiB per histogram.
const HISTOGRAM_SIGNIFICANT_DIGITS: u8 = 3;

/// An empty latency histogram in microseconds, with the bounds every ticksync latency
/// histogram shares (so any two can be merged).
pub fn latency_histogram() -> Histogram<u64> {
    // The bounds are constants known to be valid, so this cannot fail at run time.
    Histogram::new_with_bounds(1, MAX_TRACKED_LATENCY_US, HISTOGRAM_SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// Shards of a [`SharedLatency`]: more than the worker threads a swarm uses (a few), so two
/// threads seldom want the same lock; each shard is one histogram (~140 KiB).
pub const LATENCY_SHARDS: usize = 8;

/// A latency histogram (µs) shared by many clients: [`SharedLatency::record`] from any task,
/// [`SharedLatency::merged`] for the total.
#[derive(Debug)]
pub struct SharedLatency {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Default for SharedLatency {
    fn default() -> Self {
        SharedLatency {
            shards: (0..LATENCY_SHARDS)
                .map(|_| Mutex::new(latency_histogram()))
                .collect(),
        }
    }
}

impl SharedLatency {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one latency in the shard of `key` (e.g. a bot's index), clamped to
    /// [`MAX_TRACKED_LATENCY_US`].
    pub fn record(&self, key: usize, latency: Duration) {
        let mut shard = lock(&self.shards[key % self.shards.len()]);
        shard.saturating_record(duration_to_us(latency).max(1));
    }

    /// Adds a whole histogram (same bounds as [`latency_histogram`]) to shard `key`.
    pub fn add(&self, key: usize, histogram: &Histogram<u64>) {
        let mut shard = lock(&self.shards[key % self.shards.len()]);
        // Values beyond the shard's bounds cannot occur: both use the shared bounds.
        let _ = shard.add(histogram);
    }

    /// Every shard merged into one histogram.
    pub fn merged(&self) -> Histogram<u64> {
        let mut total = latency_histogram();
        for shard in &self.shards {
            let _ = total.add(&*lock(shard));
        }
        total
    }
}

/// A poisoned shard still holds valid counts (recording cannot leave it half-written in a
/// way that matters for statistics), so it is used rather than propagated as a panic.
fn lock(shard: &Mutex<Histogram<u64>>) -> MutexGuard<'_, Histogram<u64>> {
    shard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Remembers when recent inputs were sent and times their acknowledgement.
#[derive(Debug, Clone)]
pub struct AckLatencyTracker {
    /// `sent[seq % ACK_WINDOW]` holds the send time of `seq` if it is still remembered.
    sent: Box<[Option<(InputSeq, Instant)>; ACK_WINDOW]>,
    /// Highest `last_input_seq` seen in any snapshot.
    highest_acked: InputSeq,
}

impl Default for AckLatencyTracker {
    fn default() -> Self {
        AckLatencyTracker {
            sent: Box::new([None; ACK_WINDOW]),
            highest_acked: 0,
        }
    }
}

impl AckLatencyTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that input `seq` left the client at `at`.
    pub fn record_sent(&mut self, seq: InputSeq, at: Instant) {
        self.sent[slot(seq)] = Some((seq, at));
    }

    /// The highest input sequence any snapshot has acknowledged (0: none yet).
    pub fn highest_acked(&self) -> InputSeq {
        self.highest_acked
    }

    /// Processes a snapshot's `last_input_seq` received at `now`. Returns the latency of
    /// that input when the ack is newer than every earlier one and its send time is still
    /// remembered; repeated, older or unknown acks return `None`.
    pub fn on_ack(&mut self, last_input_seq: InputSeq, now: Instant) -> Option<Duration> {
        if last_input_seq <= self.highest_acked {
            return None;
        }
        self.highest_acked = last_input_seq;
        let entry = &mut self.sent[slot(last_input_seq)];
        match *entry {
            // Only the matching input's slot is cleared: a slot reused by a newer input
            // keeps that input's send time.
            Some((seq, sent_at)) if seq == last_input_seq => {
                *entry = None;
                Some(now.saturating_duration_since(sent_at))
            }
            _ => None,
        }
    }
}

fn slot(seq: InputSeq) -> usize {
    // InputSeq is u32, so the cast is lossless on every platform we build for.
    seq as usize % ACK_WINDOW
}

/// Converts a duration to whole microseconds for a histogram, saturating.
pub fn duration_to_us(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn times_the_newest_ack() {
        let t0 = Instant::now();
        let mut tracker = AckLatencyTracker::new();
        tracker.record_sent(1, t0);
        tracker.record_sent(2, t0 + ms(33));
        assert_eq!(tracker.on_ack(0, t0 + ms(40)), None);
        assert_eq!(tracker.on_ack(2, t0 + ms(80)), Some(ms(47)));
        assert_eq!(tracker.highest_acked(), 2);
    }

    #[test]
    fn repeated_and_older_acks_are_not_timed_twice() {
        let t0 = Instant::now();
        let mut tracker = AckLatencyTracker::new();
        for seq in 1..=3 {
            tracker.record_sent(seq, t0);
        }
        assert!(tracker.on_ack(3, t0 + ms(10)).is_some());
        assert_eq!(tracker.on_ack(3, t0 + ms(20)), None);
        assert_eq!(tracker.on_ack(2, t0 + ms(30)), None);
        assert_eq!(tracker.highest_acked(), 3);
    }

    #[test]
    fn ring_forgets_inputs_older_than_the_window() {
        let t0 = Instant::now();
        let mut tracker = AckLatencyTracker::new();
        let window = ACK_WINDOW as InputSeq;
        for seq in 1..=window + 1 {
            tracker.record_sent(seq, t0 + ms(u64::from(seq)));
        }
        // Seq 1 shares its slot with seq ACK_WINDOW + 1, which overwrote it.
        assert_eq!(tracker.on_ack(1, t0 + ms(1000)), None);
        // The newest one is still there.
        assert_eq!(
            tracker.on_ack(window + 1, t0 + ms(1000)),
            Some(ms(1000 - u64::from(window + 1)))
        );
    }

    #[test]
    fn ack_for_an_input_never_sent_is_ignored() {
        let mut tracker = AckLatencyTracker::new();
        assert_eq!(tracker.on_ack(42, Instant::now()), None);
        assert_eq!(tracker.highest_acked(), 42);
    }

    #[test]
    fn shared_latency_merges_its_shards() {
        let shared = SharedLatency::new();
        for key in 0..20 {
            shared.record(key, ms(10));
        }
        shared.record(3, ms(50));
        let merged = shared.merged();
        assert_eq!(merged.len(), 21);
        assert!(merged.max() >= 49_000);
    }

    #[test]
    fn histograms_merge_and_clamp() {
        let mut a = latency_histogram();
        let mut b = latency_histogram();
        a.saturating_record(1_000);
        b.saturating_record(MAX_TRACKED_LATENCY_US * 10);
        a.add(&b).expect("same bounds");
        assert_eq!(a.len(), 2);
        assert!(a.max() >= MAX_TRACKED_LATENCY_US / 2);
    }
}
