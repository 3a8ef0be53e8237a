//! Fixed-point units used on the wire, and their conversions to and from `f32`.
//!
//! The server simulates in floats but snaps its state to these units after every step, so
//! the state a client holds after decoding is exactly the server's state: there is nothing
//! for rounding to drift apart.
//!
//! | quantity | wire type | unit | range |
//! |---|---|---|---|
//! | position | `i32` | 1/64 world unit | ±33.5 million units |
//! | velocity | `i16` | 1/64 unit per tick (position steps per tick) | ±512 units per tick |
//! | heading | `u16` | 1/65536 of a turn | a full turn |
//! | move direction | `i8` per axis | 1/127 | length clamped to 1 |

use std::f32::consts::TAU;

/// Position steps per world unit: 1/64 unit keeps a 2000-unit world at sub-pixel precision
/// while fitting any realistic world in an `i32`.
pub const POSITION_STEPS_PER_UNIT: f32 = 64.0;

/// Velocity is carried in position steps per tick, so a position advances by exactly its
/// velocity each tick: straight-line motion is exact in integers, and dead reckoning on the
/// client reproduces the server's positions bit for bit. At 30 Hz one step per tick is
/// 0.47 units/s.
pub const VELOCITY_STEPS_PER_UNIT_PER_TICK: f32 = POSITION_STEPS_PER_UNIT;

/// Heading steps per full turn.
pub const HEADING_STEPS_PER_TURN: f32 = 65536.0;

/// Move-direction steps per unit on each axis.
pub const DIRECTION_STEPS_PER_UNIT: f32 = 127.0;

/// Largest error a position round trip can introduce, in world units.
pub const POSITION_PRECISION: f32 = 0.5 / POSITION_STEPS_PER_UNIT;

/// Converts a position coordinate to fixed point, saturating at the `i32` range.
/// NaN becomes 0.
pub fn quantize_position(units: f32) -> i32 {
    // `as` from float to int saturates and maps NaN to 0: exactly the behaviour we want for
    // values that are already validated upstream.
    (units * POSITION_STEPS_PER_UNIT).round() as i32
}

/// Converts a fixed-point position coordinate back to world units.
pub fn dequantize_position(steps: i32) -> f32 {
    steps as f32 / POSITION_STEPS_PER_UNIT
}

/// Converts a velocity component in units per second to position steps per tick at
/// `tick_rate_hz`, saturating. A tick rate of 0 gives 0.
pub fn quantize_velocity(units_per_second: f32, tick_rate_hz: u16) -> i16 {
    if tick_rate_hz == 0 {
        return 0;
    }
    (units_per_second * VELOCITY_STEPS_PER_UNIT_PER_TICK / f32::from(tick_rate_hz)).round() as i16
}

/// Converts a velocity component in position steps per tick back to units per second.
pub fn dequantize_velocity(steps: i16, tick_rate_hz: u16) -> f32 {
    f32::from(steps) * f32::from(tick_rate_hz) / VELOCITY_STEPS_PER_UNIT_PER_TICK
}

/// Converts a heading in radians (any value; it is wrapped) to a fraction of a turn.
pub fn quantize_heading(radians: f32) -> u16 {
    if !radians.is_finite() {
        return 0;
    }
    let turns = (radians / TAU).rem_euclid(1.0);
    // rem_euclid can return exactly 1.0 for tiny negative inputs; the cast saturates to
    // u32, and the modulo folds a full turn back onto 0.
    ((turns * HEADING_STEPS_PER_TURN).round() as u32 % 65536) as u16
}

/// Converts a quantized heading back to radians in `[0, 2π)`.
pub fn dequantize_heading(steps: u16) -> f32 {
    f32::from(steps) / HEADING_STEPS_PER_TURN * TAU
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn position_round_trip_is_exact_on_the_grid() {
        for steps in [-128_000, -1, 0, 1, 64, 127_999, 128_000] {
            assert_eq!(quantize_position(dequantize_position(steps)), steps);
        }
    }

    #[test]
    fn non_finite_values_do_not_panic() {
        assert_eq!(quantize_position(f32::NAN), 0);
        assert_eq!(quantize_position(f32::INFINITY), i32::MAX);
        assert_eq!(quantize_velocity(f32::NEG_INFINITY, 30), i16::MIN);
        assert_eq!(quantize_velocity(300.0, 0), 0);
        assert_eq!(quantize_heading(f32::NAN), 0);
    }

    #[test]
    fn heading_wraps() {
        assert_eq!(quantize_heading(0.0), 0);
        assert_eq!(quantize_heading(TAU), 0);
        assert_eq!(quantize_heading(-TAU / 4.0), 49152);
        assert_eq!(quantize_heading(TAU / 2.0), 32768);
    }

    proptest! {
        #[test]
        fn position_round_trip_within_precision(units in -100_000.0f32..100_000.0) {
            let back = dequantize_position(quantize_position(units));
            // Float rounding of the multiply adds at most one ulp on top of half a step.
            prop_assert!((back - units).abs() <= POSITION_PRECISION + units.abs() * f32::EPSILON);
        }

        #[test]
        fn velocity_round_trip_within_precision(fraction in -1.0f32..1.0, hz in 1u16..=240) {
            // Inside the i16 range: at most 512 units per tick.
            let v = fraction * 500.0 * f32::from(hz);
            let back = dequantize_velocity(quantize_velocity(v, hz), hz);
            let step = f32::from(hz) / VELOCITY_STEPS_PER_UNIT_PER_TICK;
            prop_assert!((back - v).abs() <= step / 2.0 + 1e-2);
        }

        #[test]
        fn heading_round_trip_within_precision(r in 0.0f32..(TAU - 1e-3)) {
            let back = dequantize_heading(quantize_heading(r));
            prop_assert!((back - r).abs() <= TAU / HEADING_STEPS_PER_TURN);
        }
    }
}
