//! The "arena" bot of ARCHITECTURE.md §4: one input per tick, moving in a random unit direction
//! that changes once a second, from a per-bot seeded RNG so a run can be replayed.
//!
//! [`BotSteering`] is the pure part (which way to go at a given instant); [`ArenaBot`]
//! plugs it into a connection as a [`ClientHandler`] and leaves at the end of the run.
//! The other honest behaviours share that handler through [`Steering`]: a
//! [`CircleSteering`] (one input per tick, going round a circle) and idling (no inputs; the
//! client acknowledges snapshots with `Ack`).

use std::f32::consts::TAU;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync_protocol::{MoveDir, Snapshot};
use tracing::{debug, warn};

use crate::client::Client;
use crate::error::ClientError;
use crate::handler::ClientHandler;
use crate::live::LiveStats;
use crate::stats::ClientCounters;

/// How long a bot keeps one direction: the arena scenario's "changes once a second".
pub const DIRECTION_CHANGE_INTERVAL: Duration = Duration::from_secs(1);

/// Arena bots press no buttons.
const BOT_BUTTONS: u8 = 0;

/// Time for a circling bot to go once round: at the arena's 300 units/s that is a circle of
/// about 190 units radius, small enough to stay inside a 2000-unit world from most starts.
pub const CIRCLE_PERIOD: Duration = Duration::from_secs(4);

/// Steers round a circle: the direction turns at a constant rate, one turn per
/// [`CIRCLE_PERIOD`], from a per-bot starting angle.
#[derive(Debug, Clone)]
pub struct CircleSteering {
    start_angle: f32,
    /// The instant of the first call; angles are measured from it.
    started: Option<Instant>,
}

impl CircleSteering {
    /// Steering for bot `bot_index` of a run seeded with `seed` (which sets its phase).
    pub fn new(seed: u64, bot_index: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ bot_index);
        CircleSteering {
            start_angle: rng.random_range(0.0..TAU),
            started: None,
        }
    }

    /// The direction at `now`.
    pub fn direction_at(&mut self, now: Instant) -> MoveDir {
        let started = *self.started.get_or_insert(now);
        let turns =
            now.saturating_duration_since(started).as_secs_f32() / CIRCLE_PERIOD.as_secs_f32();
        let angle = self.start_angle + TAU * turns.fract();
        MoveDir::from_vector(angle.cos(), angle.sin())
    }
}

/// How an honest bot moves.
#[derive(Debug, Clone)]
pub enum Steering {
    /// A random direction changing once a second (the arena scenario).
    RandomWalk(BotSteering),
    /// Round a circle.
    Circle(CircleSteering),
    /// No input at all (set [`crate::ClientOptions::ack_every_snapshot`] so the server
    /// still gets acknowledgements and sends deltas).
    Idle,
}

impl Steering {
    /// The input to send at `now`; `None` for an idle bot.
    pub fn direction_at(&mut self, now: Instant) -> Option<MoveDir> {
        match self {
            Steering::RandomWalk(steering) => Some(steering.direction_at(now)),
            Steering::Circle(steering) => Some(steering.direction_at(now)),
            Steering::Idle => None,
        }
    }
}

/// Chooses a bot's move direction over time.
#[derive(Debug, Clone)]
pub struct BotSteering {
    rng: SmallRng,
    direction: MoveDir,
    /// When the current direction expires; `None` until the first call.
    next_change: Option<Instant>,
}

impl BotSteering {
    /// Steering for bot number `bot_index` of a run seeded with `seed`: the same pair always
    /// yields the same sequence of directions.
    pub fn new(seed: u64, bot_index: u64) -> Self {
        BotSteering {
            rng: SmallRng::seed_from_u64(seed ^ bot_index),
            direction: MoveDir::ZERO,
            next_change: None,
        }
    }

    /// The direction to send at `now`: a fresh random unit vector on the first call and
    /// whenever [`DIRECTION_CHANGE_INTERVAL`] has passed, the previous one otherwise.
    pub fn direction_at(&mut self, now: Instant) -> MoveDir {
        let due = match self.next_change {
            None => true,
            Some(next_change) => now >= next_change,
        };
        if due {
            self.direction = self.random_direction();
            // Keep to a once-a-second cadence; after a stall, restart it from now rather
            // than changing direction on every tick to catch up.
            let next = self
                .next_change
                .map(|previous| previous + DIRECTION_CHANGE_INTERVAL)
                .filter(|next| *next > now)
                .unwrap_or(now + DIRECTION_CHANGE_INTERVAL);
            self.next_change = Some(next);
        }
        self.direction
    }

    /// A uniformly random direction of length 1, quantized.
    fn random_direction(&mut self) -> MoveDir {
        let angle: f32 = self.rng.random_range(0.0..TAU);
        MoveDir::from_vector(angle.cos(), angle.sin())
    }
}

/// A bot playing the arena until `leave_at`, as a [`ClientHandler`].
#[derive(Debug)]
pub struct ArenaBot {
    steering: Steering,
    leave_at: Instant,
    left: Option<BotDeparture>,
    /// Where the swarm's live progress counts snapshots and desyncs.
    live: Option<Arc<LiveStats>>,
}

/// What a bot measured up to the moment it left.
#[derive(Debug, Clone, Copy)]
pub struct BotDeparture {
    pub at: Instant,
    pub counters: ClientCounters,
}

impl ArenaBot {
    /// A random walker.
    pub fn new(steering: BotSteering, leave_at: Instant) -> Self {
        ArenaBot::with_steering(Steering::RandomWalk(steering), leave_at)
    }

    /// A bot moving as `steering` says.
    pub fn with_steering(steering: Steering, leave_at: Instant) -> Self {
        ArenaBot {
            steering,
            leave_at,
            left: None,
            live: None,
        }
    }

    /// Counts snapshots and desyncs into `live` as they happen.
    pub fn report_to(mut self, live: Arc<LiveStats>) -> Self {
        self.live = Some(live);
        self
    }

    /// When and with what totals the bot sent `Leave`; `None` if it never did (its
    /// connection ended first).
    pub fn departure(&self) -> Option<BotDeparture> {
        self.left
    }

    async fn leave(&mut self, client: &mut Client, now: Instant) -> Result<(), ClientError> {
        self.left = Some(BotDeparture {
            at: now,
            counters: client.counters(),
        });
        client.leave().await
    }
}

impl ClientHandler for ArenaBot {
    async fn on_tick(&mut self, client: &mut Client) -> Result<(), ClientError> {
        if self.left.is_some() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= self.leave_at {
            return self.leave(client, now).await;
        }
        if let Some(direction) = self.steering.direction_at(now) {
            client.send_input(direction, BOT_BUTTONS).await?;
        }
        Ok(())
    }

    async fn on_snapshot(
        &mut self,
        _client: &mut Client,
        _snapshot: &Snapshot,
    ) -> Result<(), ClientError> {
        if let Some(live) = &self.live {
            live.snapshot();
        }
        Ok(())
    }

    /// Desyncs are counted and reported by the swarm, and a thousand bots desyncing at once
    /// would drown the log in warnings; they are logged at debug level only.
    fn on_error(&mut self, error: &ClientError) {
        match error {
            ClientError::Desync { .. } => {
                if let Some(live) = &self.live {
                    live.desync();
                }
                debug!(%error, "bot desynced")
            }
            _ => warn!(%error, "could not handle a frame from the server"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(direction: MoveDir) -> f32 {
        let (x, y) = direction.to_unit_vector();
        (x * x + y * y).sqrt()
    }

    #[test]
    fn direction_holds_for_a_second_then_changes() {
        let t0 = Instant::now();
        let mut steering = BotSteering::new(7, 3);
        let first = steering.direction_at(t0);
        for ms in [33, 500, 999] {
            assert_eq!(steering.direction_at(t0 + Duration::from_millis(ms)), first);
        }
        let second = steering.direction_at(t0 + Duration::from_millis(1000));
        assert_ne!(second, first);
        assert_eq!(
            steering.direction_at(t0 + Duration::from_millis(1999)),
            second
        );
        assert_ne!(
            steering.direction_at(t0 + Duration::from_millis(2000)),
            second
        );
    }

    #[test]
    fn directions_are_unit_length() {
        let t0 = Instant::now();
        let mut steering = BotSteering::new(1, 0);
        for second in 0..200 {
            let direction = steering.direction_at(t0 + Duration::from_secs(second));
            // Quantizing to 1/127 per axis moves the length by well under 2 %.
            assert!((length(direction) - 1.0).abs() < 0.02, "{direction:?}");
        }
    }

    #[test]
    fn same_seed_and_index_replay_the_same_directions() {
        let t0 = Instant::now();
        let run = |seed, index| {
            let mut steering = BotSteering::new(seed, index);
            (0..20)
                .map(|s| steering.direction_at(t0 + Duration::from_secs(s)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42, 5), run(42, 5));
        assert_ne!(run(42, 5), run(42, 6));
        assert_ne!(run(42, 5), run(43, 5));
    }

    #[test]
    fn circling_turns_once_per_period_at_unit_length() {
        let t0 = Instant::now();
        let mut steering = CircleSteering::new(3, 1);
        let first = steering.direction_at(t0);
        let quarter = steering.direction_at(t0 + CIRCLE_PERIOD / 4);
        let full = steering.direction_at(t0 + CIRCLE_PERIOD);
        assert_ne!(first, quarter);
        // Quantized, so compare as vectors: a full turn comes back where it started.
        let (fx, fy) = first.to_unit_vector();
        let (gx, gy) = full.to_unit_vector();
        assert!((fx - gx).abs() < 0.02 && (fy - gy).abs() < 0.02);
        // A quarter turn is perpendicular.
        let (qx, qy) = quarter.to_unit_vector();
        assert!((fx * qx + fy * qy).abs() < 0.05);
        assert!((length(quarter) - 1.0).abs() < 0.02);
        assert_eq!(Steering::Idle.direction_at(t0), None);
    }

    #[test]
    fn a_stall_does_not_cause_a_burst_of_changes() {
        let t0 = Instant::now();
        let mut steering = BotSteering::new(9, 9);
        steering.direction_at(t0);
        let after_stall = steering.direction_at(t0 + Duration::from_millis(5500));
        // The next change is a full interval after the stall, not at t0 + 6 s.
        assert_eq!(
            steering.direction_at(t0 + Duration::from_millis(6400)),
            after_stall
        );
    }
}
