//! Game-specific parts of the protocol: what an entity looks like on the wire and what a
//! player's input carries.
//!
//! These types belong to the built-in "arena" game (DESIGN.md §4). A game built on ticksync
//! changes them here — add a component to [`EntityState`], a field to [`MoveDir`]'s input —
//! and the rest of the protocol (framing, versioning, acks) stays as it is. Remember to bump
//! [`crate::PROTOCOL_VERSION`] when the layout changes.

use serde::{Deserialize, Serialize};

use crate::messages::EntityId;
use crate::quantize::DIRECTION_STEPS_PER_UNIT;

/// The replicated state of one arena entity, in the fixed-point units of
/// [`crate::quantize`]. This is exactly what the server holds after a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EntityState {
    pub id: EntityId,
    /// Position, 1/64 world unit per step.
    pub x: i32,
    pub y: i32,
    /// Velocity, 1/4 unit per second per step.
    pub vx: i16,
    pub vy: i16,
    /// Heading, 1/65536 turn per step, 0 = +x, counter-clockwise.
    pub heading: u16,
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
