//! Movement in the wire's fixed-point units: one step per tick, the same function on the
//! server and in a client's prediction, so a prediction whose inputs land where they were
//! meant is the server's state bit for bit.

use glam::{IVec2, Vec2};

/// Position steps per world unit (the entity's `position_scale`).
pub const POSITION_STEPS_PER_UNIT: f32 = 64.0;

/// Move-direction steps per unit on each axis of the input.
pub const DIRECTION_STEPS_PER_UNIT: f32 = 127.0;

/// A move direction from the input's axes, with length at most 1 (a peer can send (127,
/// 127), whose length is √2; `i8::MIN` reads as -127).
pub fn move_direction(x: i8, y: i8) -> Vec2 {
    let axis = |v: i8| f32::from(v.max(-127)) / DIRECTION_STEPS_PER_UNIT;
    Vec2::new(axis(x), axis(y)).clamp_length_max(1.0)
}

/// Quantizes a direction into the input's axes; longer than 1 is scaled to 1, non-finite
/// components count as 0.
pub fn quantize_direction(x: f32, y: f32) -> (i8, i8) {
    let finite = |v: f32| if v.is_finite() { v } else { 0.0 };
    let v = Vec2::new(finite(x), finite(y)).clamp_length_max(1.0) * DIRECTION_STEPS_PER_UNIT;
    (v.x.round() as i8, v.y.round() as i8)
}

/// One tick of movement from `position` at `speed_steps` per tick in the input's direction,
/// inside a world of `world_steps` per side: the new position and the velocity that really
/// happened (zero along a wall that stopped it).
pub fn step(
    position: IVec2,
    move_x: i8,
    move_y: i8,
    speed_steps: f32,
    world_steps: i32,
) -> (IVec2, IVec2) {
    let commanded = (move_direction(move_x, move_y) * speed_steps)
        .round()
        .as_ivec2();
    let moved = (position + commanded).clamp(IVec2::ZERO, IVec2::splat(world_steps));
    (moved, moved - position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn no_input_moves_faster_than_the_speed(x in any::<i8>(), y in any::<i8>()) {
            let (_, velocity) = step(IVec2::splat(1000), x, y, 533.0, 128_000);
            prop_assert!(velocity.as_vec2().length() <= 534.0);
        }

        #[test]
        fn positions_stay_in_the_world(px in 0i32..=128_000, py in 0i32..=128_000, x in any::<i8>(), y in any::<i8>()) {
            let (position, _) = step(IVec2::new(px, py), x, y, 533.0, 128_000);
            prop_assert!(position.cmpge(IVec2::ZERO).all() && position.cmple(IVec2::splat(128_000)).all());
        }
    }

    #[test]
    fn directions_round_trip() {
        assert_eq!(quantize_direction(10.0, 0.0), (127, 0));
        assert_eq!(quantize_direction(f32::NAN, -1.0), (0, -127));
        let v = move_direction(127, 127);
        assert!((v.length() - 1.0).abs() < 1e-6);
    }
}
