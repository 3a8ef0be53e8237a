//! Game-specific parts of the protocol: what an entity looks like on the wire and what a
//! player's input carries.
//!
//! These types belong to the built-in "arena" game (ARCHITECTURE.md §4). A game built on ticksync
//! changes them here — add a component to [`EntityState`], a field to [`MoveDir`]'s input —
//! and the rest of the protocol (framing, versioning, acks) stays as it is. Remember to bump
//! [`crate::PROTOCOL_VERSION`] when the layout changes.

use serde::{Deserialize, Serialize};

use crate::messages::EntityId;
use crate::quantize::DIRECTION_STEPS_PER_UNIT;
use crate::replicated::{Checksum, Replicated};

/// The replicated state of one arena entity, in the fixed-point units of
/// [`crate::quantize`]. This is exactly what the server holds after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityState {
    pub id: EntityId,
    /// Position, 1/64 world unit per step.
    pub x: i32,
    pub y: i32,
    /// Velocity in position steps (1/64 unit) per tick: `x` grows by `vx` every tick.
    pub vx: i16,
    pub vy: i16,
    /// Heading, 1/65536 turn per step, 0 = +x, counter-clockwise.
    pub heading: u16,
}

/// What changed in an [`EntityState`] compared with its dead-reckoned prediction; a field
/// that matches the prediction is `None` and costs one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityDelta {
    pub id: EntityId,
    /// Offset of the position from the predicted one, in position steps. Small numbers, so
    /// short varints: a turn a few ticks ago is off by tens of steps.
    pub position_offset: Option<(i32, i32)>,
    pub velocity: Option<(i16, i16)>,
    pub heading: Option<u16>,
}

impl Replicated for EntityState {
    type Delta = EntityDelta;

    fn id(&self) -> EntityId {
        self.id
    }

    /// Positions advance by their velocity every tick: `x + vx × ticks`, saturating at the
    /// `i32` range (the server clamps real positions to the world far inside it).
    fn predict(&self, ticks: u32) -> Self {
        let advance = |position: i32, velocity: i16| {
            let moved = i64::from(position) + i64::from(velocity) * i64::from(ticks);
            moved.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
        };
        EntityState {
            x: advance(self.x, self.vx),
            y: advance(self.y, self.vy),
            ..*self
        }
    }

    fn delta_from(&self, predicted: &Self) -> Option<EntityDelta> {
        if self == predicted {
            return None;
        }
        let position_offset = (self.x != predicted.x || self.y != predicted.y).then(|| {
            (
                self.x.wrapping_sub(predicted.x),
                self.y.wrapping_sub(predicted.y),
            )
        });
        let velocity =
            (self.vx != predicted.vx || self.vy != predicted.vy).then_some((self.vx, self.vy));
        let heading = (self.heading != predicted.heading).then_some(self.heading);
        Some(EntityDelta {
            id: self.id,
            position_offset,
            velocity,
            heading,
        })
    }

    fn apply_delta(predicted: &Self, delta: &EntityDelta) -> Self {
        let mut state = *predicted;
        if let Some((dx, dy)) = delta.position_offset {
            state.x = state.x.wrapping_add(dx);
            state.y = state.y.wrapping_add(dy);
        }
        if let Some((vx, vy)) = delta.velocity {
            state.vx = vx;
            state.vy = vy;
        }
        if let Some(heading) = delta.heading {
            state.heading = heading;
        }
        state
    }

    fn delta_id(delta: &EntityDelta) -> EntityId {
        delta.id
    }

    fn position(&self) -> (i32, i32) {
        (self.x, self.y)
    }

    /// Field order: id (u32), x, y (i32), vx, vy (i16), heading (u16), little-endian.
    fn checksum_into(&self, checksum: &mut Checksum) {
        checksum.write_u32(self.id.0);
        checksum.write_i32(self.x);
        checksum.write_i32(self.y);
        checksum.write_i16(self.vx);
        checksum.write_i16(self.vy);
        checksum.write_u16(self.heading);
    }
}

/// A quantized move direction: each axis in [-127, 127], meaning [-1, 1].
///
/// A peer can send (127, 127), whose length is √2; [`MoveDir::to_unit_vector`] clamps the
/// length to 1 so no input moves faster than the game allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MoveDir {
    pub x: i8,
    pub y: i8,
}

impl MoveDir {
    /// No movement.
    pub const ZERO: MoveDir = MoveDir { x: 0, y: 0 };

    /// Quantizes a direction; a vector longer than 1 is scaled down to length 1 first and
    /// non-finite components count as 0.
    pub fn from_vector(x: f32, y: f32) -> MoveDir {
        let x = if x.is_finite() { x } else { 0.0 };
        let y = if y.is_finite() { y } else { 0.0 };
        let length = (x * x + y * y).sqrt();
        let scale = if length > 1.0 { 1.0 / length } else { 1.0 };
        let axis = |v: f32| {
            (v * scale * DIRECTION_STEPS_PER_UNIT)
                .round()
                .clamp(-DIRECTION_STEPS_PER_UNIT, DIRECTION_STEPS_PER_UNIT) as i8
        };
        MoveDir {
            x: axis(x),
            y: axis(y),
        }
    }

    /// The direction as floats with length at most 1. `i8::MIN` (-128) is read as -127.
    pub fn to_unit_vector(self) -> (f32, f32) {
        let axis = |v: i8| f32::from(v.max(-127)) / DIRECTION_STEPS_PER_UNIT;
        let (x, y) = (axis(self.x), axis(self.y));
        let length = (x * x + y * y).sqrt();
        if length > 1.0 {
            (x / length, y / length)
        } else {
            (x, y)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prediction_follows_velocity_and_saturates() {
        let e = EntityState {
            id: EntityId(1),
            x: 10,
            y: -10,
            vx: 3,
            vy: -2,
            heading: 7,
        };
        let p = e.predict(5);
        assert_eq!((p.x, p.y, p.vx, p.heading), (25, -20, 3, 7));
        let far = EntityState {
            x: i32::MAX - 1,
            ..e
        }
        .predict(u32::MAX);
        assert_eq!(far.x, i32::MAX);
    }

    #[test]
    fn delta_carries_only_what_differs_from_the_prediction() {
        let base = EntityState {
            id: EntityId(4),
            x: 0,
            y: 0,
            vx: 10,
            vy: 0,
            heading: 0,
        };
        let predicted = base.predict(2);
        assert_eq!(predicted.delta_from(&predicted), None);
        let turned = EntityState {
            x: 15,
            vx: 0,
            vy: 5,
            heading: 16384,
            y: 5,
            ..base
        };
        let delta = turned.delta_from(&predicted).unwrap();
        assert_eq!(delta.position_offset, Some((-5, 5)));
        assert_eq!(delta.velocity, Some((0, 5)));
        assert_eq!(EntityState::apply_delta(&predicted, &delta), turned);
    }

    #[test]
    fn diagonal_extreme_is_clamped_to_unit_length() {
        let (x, y) = MoveDir { x: 127, y: 127 }.to_unit_vector();
        assert!(((x * x + y * y).sqrt() - 1.0).abs() < 1e-6);
        let (x, y) = MoveDir { x: -128, y: -128 }.to_unit_vector();
        assert!(((x * x + y * y).sqrt() - 1.0).abs() < 1e-6);
        assert!(x < 0.0 && y < 0.0);
    }

    #[test]
    fn from_vector_clamps_and_ignores_non_finite() {
        assert_eq!(MoveDir::from_vector(10.0, 0.0), MoveDir { x: 127, y: 0 });
        assert_eq!(
            MoveDir::from_vector(f32::NAN, 1.0),
            MoveDir { x: 0, y: 127 }
        );
        assert_eq!(MoveDir::from_vector(0.0, 0.0), MoveDir::ZERO);
    }

    proptest! {
        #[test]
        fn any_wire_direction_has_length_at_most_one(x in any::<i8>(), y in any::<i8>()) {
            let (fx, fy) = MoveDir { x, y }.to_unit_vector();
            prop_assert!((fx * fx + fy * fy).sqrt() <= 1.0 + 1e-6);
        }

        #[test]
        fn unit_directions_round_trip_closely(angle in 0.0f32..std::f32::consts::TAU) {
            let (fx, fy) = MoveDir::from_vector(angle.cos(), angle.sin()).to_unit_vector();
            prop_assert!((fx - angle.cos()).abs() < 0.01);
            prop_assert!((fy - angle.sin()).abs() < 0.01);
        }
    }
}
