//! The fixed-timestep clock of a room.
//!
//! Ticks are due on a fixed grid (`start + n × period`). When the loop falls behind by more
//! than a period it does not run catch-up ticks back to back — that is how a slow tick turns
//! into a spiral — it skips the missed grid points, counts them, and carries on at the next
//! one. The simulation always advances by exactly one period per tick.

use std::time::Duration;

use tokio::time::Instant;

/// Schedules ticks on a fixed grid.
#[derive(Debug)]
pub struct TickClock {
    period: Duration,
    next_due: Instant,
}

impl TickClock {
    /// A clock whose first tick is due one period after `start`.
    pub fn new(period: Duration, start: Instant) -> TickClock {
        TickClock {
            period,
            next_due: start + period,
        }
    }

    /// Sleeps until the next tick is due. Returns the number of grid points skipped because
    /// the loop was late by a period or more (0 when on time), and how late this wake-up was
    /// after its due point (scheduler delay: a busy thread, a heavy neighbour).
    pub async fn wait(&mut self) -> (u64, Duration) {
        let due = self.next_due;
        tokio::time::sleep_until(due).await;
        let now = Instant::now();
        (self.advance(now), now.saturating_duration_since(due))
    }

    /// Moves the schedule past `now`; split from `wait` so it can be tested without sleeping.
    fn advance(&mut self, now: Instant) -> u64 {
        let late = now.saturating_duration_since(self.next_due);
        let skipped = (late.as_nanos() / self.period.as_nanos().max(1)) as u64;
        // `skipped` counts whole periods missed; the grid point for this tick plus those.
        let steps = u32::try_from(skipped.saturating_add(1)).unwrap_or(u32::MAX);
        self.next_due += self.period.saturating_mul(steps);
        skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_millis(10);

    #[test]
    fn on_time_ticks_follow_the_grid() {
        let start = Instant::now();
        let mut clock = TickClock::new(PERIOD, start);
        assert_eq!(clock.advance(start + PERIOD), 0);
        assert_eq!(clock.next_due, start + 2 * PERIOD);
        // Slightly late (less than a period): no skip, the grid is kept.
        assert_eq!(
            clock.advance(start + 2 * PERIOD + Duration::from_millis(7)),
            0
        );
        assert_eq!(clock.next_due, start + 3 * PERIOD);
    }

    #[test]
    fn a_long_stall_skips_instead_of_bursting() {
        let start = Instant::now();
        let mut clock = TickClock::new(PERIOD, start);
        // Woken 55 ms after the first due point: 5 whole periods were missed.
        let skipped = clock.advance(start + PERIOD + Duration::from_millis(55));
        assert_eq!(skipped, 5);
        // The next tick is on the grid and in the future, not in the past.
        assert_eq!(clock.next_due, start + 7 * PERIOD);
        assert!(clock.next_due > start + PERIOD + Duration::from_millis(55));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_sleeps_one_period() {
        let start = Instant::now();
        let mut clock = TickClock::new(PERIOD, start);
        assert_eq!(clock.wait().await, (0, Duration::ZERO));
        assert_eq!(Instant::now(), start + PERIOD);
    }
}
