//! The arena's protocol: an entity is a position, a velocity and a heading in the wire's
//! fixed-point units ([`crate::quantize`]); an input is a move direction and buttons; the
//! server tells each player the world's size when it joins.
//!
//! The position is dead-reckoned by the velocity (`x + vx × ticks`), so an entity moving in
//! a straight line costs nothing in a delta snapshot.

use serde::{Deserialize, Serialize};
use ticksync_protocol::{NoMessage, Replicated, Schema};

use crate::quantize::DIRECTION_STEPS_PER_UNIT;

/// The replicated state of one arena entity. This is exactly what the server holds after a
/// tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Replicated)]
#[replicated(position_scale = 64)]
pub struct ArenaEntity {
    /// Position, 1/64 world unit per step.
    #[replicated(predict = vx, interest_x)]
    pub x: i32,
    #[replicated(predict = vy, interest_y)]
    pub y: i32,
    /// Velocity in position steps (1/64 unit) per tick: `x` grows by `vx` every tick.
    pub vx: i16,
    pub vy: i16,
    /// Heading, 1/65536 turn per step, 0 = +x, counter-clockwise.
    pub heading: u16,
}

/// A player's input: where to move. The arena reads the latest applied direction once per
/// tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArenaInput {
    pub move_dir: MoveDir,
    /// Button bit set; the arena ignores it.
    pub buttons: u8,
}

/// What the arena tells a player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ArenaMessage {
    /// Sent at join, before the first snapshot: the world runs from 0 to `width` × 64
    /// position steps (and `height`).
    World { width: u32, height: u32 },
}

/// The arena's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArenaSchema;

impl Schema for ArenaSchema {
    const NAME: &'static str = "arena";
    const LAYOUT: &'static str =
        "input{move_dir:{x:i8,y:i8},buttons:u8};client{};server{World{width:u32,height:u32}}";
    type Entity = ArenaEntity;
    type Input = ArenaInput;
    type ClientMessage = NoMessage;
    type ServerMessage = ArenaMessage;
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
    use ticksync_protocol::codec::encode;
    use ticksync_protocol::{Changed, Entity, EntityId};

    /// The derived encoding keeps the arena's full-state bytes (id, x, y, vx, vy, heading)
    /// and spends one mask byte on a delta where the old hand-written one spent a tag per
    /// field group.
    #[test]
    fn wire_layout() {
        let entity = Entity {
            id: EntityId(7),
            state: ArenaEntity {
                x: 64_000,
                y: -5,
                vx: 640,
                vy: -640,
                heading: 16384,
            },
        };
        let old_layout = (7u32, 64_000i32, -5i32, 640i16, -640i16, 16384u16);
        assert_eq!(encode(&entity).unwrap(), encode(&old_layout).unwrap());
        let turned = Changed::<ArenaEntity> {
            id: EntityId(7),
            delta: ArenaEntityDelta {
                vx: Some(0),
                heading: Some(1),
                ..Default::default()
            },
        };
        // Mask bits 2 (vx) and 4 (heading), then the two values.
        assert_eq!(
            encode(&turned).unwrap(),
            encode(&(7u32, 0b10100u64, 0i16, 1u16)).unwrap()
        );
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
