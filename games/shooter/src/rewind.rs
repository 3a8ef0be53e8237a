//! Lag compensation: the [`RewindHistory`] of where every fighter stood at each of the last
//! few ticks, and the hitscan test a shot is judged with against one of them.
//!
//! The history is recorded once per tick, after the step (one small copy of every fighter's
//! position), into a ring of `window + 1` frames whose buffers are reused: its memory is
//! bounded by the window and the number of fighters, and a shot costs a lookup and a pass
//! over one frame, never a recomputation. A shot claims how old its shooter's view was; a
//! claim older than the window is judged at the window's edge, so a client that lags (or
//! lies) cannot shoot further into the past than the room allows.

use std::collections::VecDeque;

use glam::{DVec2, IVec2};
use ticksync_protocol::EntityId;

/// Where one fighter stood at a recorded tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pose {
    pub id: EntityId,
    pub position: IVec2,
    pub team: u8,
    /// Alive at that tick (a dead fighter cannot be hit).
    pub alive: bool,
}

/// The last `window + 1` ticks of poses, newest last.
#[derive(Debug)]
pub struct RewindHistory {
    frames: VecDeque<Vec<Pose>>,
    window: usize,
}

impl RewindHistory {
    /// A history that can rewind up to `window_ticks` ticks behind the newest frame.
    pub fn new(window_ticks: u16) -> RewindHistory {
        let window = usize::from(window_ticks);
        RewindHistory {
            frames: VecDeque::with_capacity(window + 1),
            window,
        }
    }

    /// The longest rewind, in ticks.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Number of frames held (at most `window + 1`).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Records the poses of the tick just stepped, dropping the oldest frame when full (its
    /// buffer is reused: no allocation once the room has warmed up).
    pub fn record(&mut self, poses: impl IntoIterator<Item = Pose>) {
        let mut frame = if self.frames.len() > self.window {
            self.frames.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        frame.clear();
        frame.extend(poses);
        self.frames.push_back(frame);
    }

    /// The poses `ticks_ago` ticks before the newest frame, clamped to the window and to the
    /// oldest frame held; and how far back that really is. Empty before the first record.
    pub fn frame(&self, ticks_ago: u32) -> (&[Pose], usize) {
        let Some(newest) = self.frames.len().checked_sub(1) else {
            return (&[], 0);
        };
        let back = (ticks_ago as usize).min(self.window).min(newest);
        (&self.frames[newest - back], back)
    }
}

/// A hitscan shot: from `origin` (position steps) along the aim `aim` (1/65536 turn), out to
/// `range` steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ray {
    pub origin: IVec2,
    pub aim: u16,
    pub range: f64,
}

impl Ray {
    /// The unit direction of the aim.
    pub fn direction(&self) -> DVec2 {
        let angle = f64::from(self.aim) / 65536.0 * std::f64::consts::TAU;
        DVec2::new(angle.cos(), angle.sin())
    }

    /// How far along the ray it passes within `radius` of `center`, if it does within its
    /// range (the distance to the closest approach; a target behind the shooter is missed).
    pub fn reaches(&self, center: IVec2, radius: f64) -> Option<f64> {
        let to_center = (center - self.origin).as_dvec2();
        let along = to_center.dot(self.direction());
        if along < 0.0 || along > self.range {
            return None;
        }
        let off_sq = to_center.length_squared() - along * along;
        (off_sq <= radius * radius).then_some(along)
    }

    /// The nearest fighter in `poses` the ray hits: alive, not `shooter`, not of `team`.
    pub fn first_hit(
        &self,
        poses: &[Pose],
        shooter: EntityId,
        team: u8,
        radius: f64,
    ) -> Option<EntityId> {
        poses
            .iter()
            .filter(|pose| pose.alive && pose.id != shooter && pose.team != team)
            .filter_map(|pose| Some((self.reaches(pose.position, radius)?, pose.id)))
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id)| id)
    }
}

/// The aim (1/65536 turn) from `from` towards `to`.
pub fn aim_at(from: IVec2, to: IVec2) -> u16 {
    let d = (to - from).as_dvec2();
    let turns = d.y.atan2(d.x) / std::f64::consts::TAU;
    (turns.rem_euclid(1.0) * 65536.0).round() as u32 as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pose(id: u32, x: i32, y: i32) -> Pose {
        Pose {
            id: EntityId(id),
            position: IVec2::new(x, y),
            team: 1,
            alive: true,
        }
    }

    #[test]
    fn frames_are_bounded_and_older_claims_are_clamped() {
        let mut history = RewindHistory::new(3);
        assert_eq!(history.frame(0).0, &[]);
        for tick in 0..10 {
            history.record([pose(1, tick, 0)]);
            assert!(history.len() <= 4);
        }
        assert_eq!(history.frame(0), (&[pose(1, 9, 0)][..], 0));
        assert_eq!(history.frame(2), (&[pose(1, 7, 0)][..], 2));
        // Beyond the window: judged at its edge.
        assert_eq!(history.frame(3), (&[pose(1, 6, 0)][..], 3));
        assert_eq!(history.frame(1000), (&[pose(1, 6, 0)][..], 3));
    }

    #[test]
    fn a_young_history_clamps_to_its_oldest_frame() {
        let mut history = RewindHistory::new(6);
        history.record([pose(1, 0, 0)]);
        history.record([pose(1, 1, 0)]);
        assert_eq!(history.frame(5), (&[pose(1, 0, 0)][..], 1));
    }

    #[test]
    fn the_nearest_enemy_on_the_line_is_hit() {
        let ray = Ray {
            origin: IVec2::ZERO,
            aim: 0,
            range: 1000.0,
        };
        let poses = [
            pose(1, 500, 5),
            pose(2, 300, -9),
            Pose {
                team: 0,
                ..pose(3, 100, 0)
            },
            Pose {
                alive: false,
                ..pose(4, 200, 0)
            },
            pose(5, -100, 0),
            pose(6, 400, 50),
        ];
        assert_eq!(
            ray.first_hit(&poses, EntityId(9), 0, 10.0),
            Some(EntityId(2))
        );
        // Out of range.
        assert_eq!(ray.reaches(IVec2::new(1200, 0), 10.0), None);
    }

    proptest! {
        #[test]
        fn aiming_at_a_point_hits_it(x in -100_000i32..100_000, y in -100_000i32..100_000) {
            prop_assume!(x != 0 || y != 0);
            let ray = Ray { origin: IVec2::ZERO, aim: aim_at(IVec2::ZERO, IVec2::new(x, y)), range: 1e9 };
            // One aim step is 1/65536 turn: at 141,000 steps away, about 14 steps off.
            prop_assert!(ray.reaches(IVec2::new(x, y), 20.0).is_some());
        }
    }
}
