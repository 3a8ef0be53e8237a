//! How arena bots move: the arena scenario's walk of ARCHITECTURE.md §4 ([`BotSteering`]: a
//! random unit direction that changes once a second, from a per-bot seeded RNG so a run can
//! be replayed), a circle ([`CircleSteering`]), a fresh random direction every input (what
//! chaos bots send between their mischief), or idling. Pure: which way to go at a given
//! instant; [`crate::arena::ArenaBot`] turns it into inputs.

use std::f32::consts::TAU;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync_arena::MoveDir;

/// How long a bot keeps one direction: the arena scenario's "changes once a second".
pub const DIRECTION_CHANGE_INTERVAL: Duration = Duration::from_secs(1);

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
    /// A fresh random direction for every input.
    Jitter(SmallRng),
    /// No input at all (the client acknowledges snapshots with `Ack` instead, so the
    /// server still sends deltas).
    Idle,
}

impl Steering {
    /// The input to send at `now`; `None` for an idle bot.
    pub fn direction_at(&mut self, now: Instant) -> Option<MoveDir> {
        match self {
            Steering::RandomWalk(steering) => Some(steering.direction_at(now)),
            Steering::Circle(steering) => Some(steering.direction_at(now)),
            Steering::Jitter(rng) => Some(random_direction(rng)),
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

    fn random_direction(&mut self) -> MoveDir {
        random_direction(&mut self.rng)
    }
}

/// A uniformly random direction of length 1, quantized.
fn random_direction(rng: &mut SmallRng) -> MoveDir {
    let angle: f32 = rng.random_range(0.0..TAU);
    MoveDir::from_vector(angle.cos(), angle.sin())
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
        let mut jitter = Steering::Jitter(SmallRng::seed_from_u64(1));
        let a = jitter.direction_at(t0);
        assert_ne!(a, jitter.direction_at(t0), "a new direction every input");
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
