//! Admission and rate limits of the network layer: connections per IP address, and the
//! message rate of one session (flood detection).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Counts open connections per peer address.
#[derive(Debug)]
pub struct ConnectionLimiter {
    max_per_ip: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; releases its slot when dropped.
#[derive(Debug)]
pub struct IpSlot {
    limiter: Arc<ConnectionLimiter>,
    ip: IpAddr,
}

impl ConnectionLimiter {
    /// `max_per_ip` of 0 means no limit.
    pub fn new(max_per_ip: usize) -> Arc<ConnectionLimiter> {
        Arc::new(ConnectionLimiter {
            max_per_ip,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Admits one more connection from `ip`, or `None` when it already has the maximum.
    pub fn try_admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        if self.max_per_ip == 0 {
            return Some(IpSlot {
                limiter: self.clone(),
                ip,
            });
        }
        // A poisoned lock only means another thread panicked while counting; the counts
        // are still usable.
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(IpSlot {
            limiter: self.clone(),
            ip,
        })
    }

    /// Connections open from `ip` (0 when unlimited: they are not counted).
    #[cfg(test)]
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if self.limiter.max_per_ip == 0 {
            return;
        }
        let mut open = self
            .limiter
            .open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                // Keep the map as small as the set of connected addresses.
                open.remove(&self.ip);
            }
        }
    }
}

/// A token bucket over a session's game messages (chat lines, "buy", "ready"): a second's
/// worth may come in a burst, `per_second` on average. Unlike inputs, game messages are
/// never dropped silently, so a client over its budget is closed with a clear error.
#[derive(Debug)]
pub struct GameMessageBudget {
    per_second: f64,
    tokens: f64,
    refilled_at: Instant,
}

impl GameMessageBudget {
    pub fn new(per_second: u32, now: Instant) -> GameMessageBudget {
        let per_second = f64::from(per_second.max(1));
        GameMessageBudget {
            per_second,
            tokens: per_second,
            refilled_at: now,
        }
    }

    /// Takes one message's token; `false` when the budget is spent.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.refilled_at = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A token bucket over a session's incoming messages. Messages beyond the rate are dropped;
/// a client that stays over the rate for `flood_timeout` is flooding and gets closed.
#[derive(Debug)]
pub struct MessageRateLimiter {
    rate_per_second: f64,
    burst: f64,
    tokens: f64,
    refilled_at: Instant,
    flood_timeout: Duration,
    /// Start of the current run of drops: drops with no drop-free second between them.
    over_since: Option<Instant>,
    last_drop: Option<Instant>,
}

/// A client that goes this long without a dropped message is no longer flooding. A flood
/// lets some messages through as the bucket refills; those must not reset the flood clock.
const FLOOD_RESET_AFTER: Duration = Duration::from_secs(1);

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allow,
    /// Over the rate: drop this message.
    Drop,
    /// Over the rate for longer than the flood timeout: close the session.
    Flooding,
}

impl MessageRateLimiter {
    /// Allows `rate_per_second` on average and bursts of one second's worth.
    pub fn new(rate_per_second: u32, flood_timeout: Duration, now: Instant) -> MessageRateLimiter {
        let rate = f64::from(rate_per_second.max(1));
        MessageRateLimiter {
            rate_per_second: rate,
            burst: rate,
            tokens: rate,
            refilled_at: now,
            flood_timeout,
            over_since: None,
            last_drop: None,
        }
    }

    /// Gives back the token of a message [`MessageRateLimiter::check`] allowed but that will
    /// be counted again where it is handled (a frame the room leaves to the session).
    pub fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }

    /// Accounts one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> RateDecision {
        let elapsed = now
            .saturating_duration_since(self.refilled_at)
            .as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate_per_second).min(self.burst);
        self.refilled_at = now;
        if self
            .last_drop
            .is_some_and(|last| now.saturating_duration_since(last) >= FLOOD_RESET_AFTER)
        {
            self.over_since = None;
            self.last_drop = None;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return RateDecision::Allow;
        }
        self.last_drop = Some(now);
        let since = *self.over_since.get_or_insert(now);
        if now.saturating_duration_since(since) >= self.flood_timeout {
            RateDecision::Flooding
        } else {
            RateDecision::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_ip_slots_are_counted_and_released() {
        let limiter = ConnectionLimiter::new(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let a = limiter.try_admit(ip).unwrap();
        let _b = limiter.try_admit(ip).unwrap();
        assert!(limiter.try_admit(ip).is_none());
        assert!(
            limiter.try_admit([10, 0, 0, 2].into()).is_some(),
            "other addresses are separate"
        );
        drop(a);
        assert_eq!(limiter.open_from(ip), 1);
        assert!(limiter.try_admit(ip).is_some());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = ConnectionLimiter::new(0);
        let slots: Vec<_> = (0..100)
            .map(|_| limiter.try_admit([127, 0, 0, 1].into()))
            .collect();
        assert!(slots.iter().all(Option::is_some));
    }

    #[test]
    fn honest_rate_passes_and_a_sustained_flood_is_detected() {
        let start = Instant::now();
        let mut limiter = MessageRateLimiter::new(60, Duration::from_secs(1), start);
        // 30 messages a second for ten seconds: always allowed.
        for i in 0..300u64 {
            let now = start + Duration::from_millis(i * 33);
            assert_eq!(limiter.check(now), RateDecision::Allow);
        }
        // Then a flood: 1,000 messages within 2 seconds.
        let flood_start = start + Duration::from_secs(10);
        let mut decisions = Vec::new();
        for i in 0..1000u64 {
            decisions.push(limiter.check(flood_start + Duration::from_millis(i * 2)));
        }
        assert!(decisions.contains(&RateDecision::Drop));
        assert_eq!(decisions.last(), Some(&RateDecision::Flooding));
    }

    #[test]
    fn a_burst_then_honest_play_is_forgiven() {
        let start = Instant::now();
        let mut limiter = MessageRateLimiter::new(30, Duration::from_secs(2), start);
        for _ in 0..100 {
            limiter.check(start);
        }
        // Honest rate for a while, then another burst: the first run of drops is forgotten.
        for i in 1..=90u64 {
            assert_eq!(
                limiter.check(start + Duration::from_millis(i * 34)),
                RateDecision::Allow
            );
        }
        let later = start + Duration::from_secs(5);
        let decisions: Vec<_> = (0..100).map(|_| limiter.check(later)).collect();
        assert!(!decisions.contains(&RateDecision::Flooding));
    }

    #[test]
    fn a_short_burst_is_only_dropped() {
        let start = Instant::now();
        let mut limiter = MessageRateLimiter::new(30, Duration::from_secs(1), start);
        let decisions: Vec<_> = (0..100).map(|_| limiter.check(start)).collect();
        assert_eq!(
            decisions
                .iter()
                .filter(|d| **d == RateDecision::Allow)
                .count(),
            30
        );
        assert!(!decisions.contains(&RateDecision::Flooding));
    }

    #[test]
    fn the_game_message_budget_allows_a_burst_then_its_rate() {
        let start = Instant::now();
        let mut budget = GameMessageBudget::new(10, start);
        assert!((0..10).all(|_| budget.take(start)));
        assert!(!budget.take(start), "the burst is spent");
        assert!(
            budget.take(start + Duration::from_millis(100)),
            "refilled at 10/s"
        );
        assert!(!budget.take(start + Duration::from_millis(100)));
    }
}
