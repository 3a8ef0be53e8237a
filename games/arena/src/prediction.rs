//! Client-side prediction of a player's own arena entity, by the server's own rule: the
//! arena moves every entity once per tick with the direction of the last input applied
//! before that tick's step, so a client replays **one step per tick**, each with the
//! newest of its inputs meant for that tick or earlier — not one step per input. Inputs are
//! numbered by the tick they are meant for (`ticksync_client::Client::inputs`); the step is
//! the very function the server runs ([`step`]), so a prediction whose inputs land where
//! they were numbered is the server's state bit for bit, edges of the world included.
//!
//! With the Rust client (`ticksync-client`), after each snapshot:
//!
//! ```ignore
//! let inputs = client.inputs();
//! let mine = predict_own(
//!     own_state, client.view_tick(), inputs.next_tick() - 1,
//!     inputs.applied().map(|input| &input.payload),
//!     inputs.pending().map(|input| (input.tick, &input.payload)),
//!     world_size, welcome.tick_rate_hz,
//! );
//! ```

use glam::{IVec2, Vec2};
use ticksync_protocol::Tick;

use crate::quantize::{quantize_heading, POSITION_STEPS_PER_UNIT};
use crate::schema::{ArenaEntity, ArenaInput, MoveDir};

/// Speed of every entity, in units per second (ARCHITECTURE.md §4).
pub const ARENA_SPEED: f32 = 300.0;

/// One tick of movement from `position` in `move_dir`, inside a world of `size_steps` per
/// side: the new position and the velocity that really happened (zero along an edge that
/// stopped it). The server's `Arena::advance` runs exactly this.
pub fn step(position: IVec2, move_dir: MoveDir, size_steps: i32, dt: f32) -> (IVec2, IVec2) {
    let full_speed = ARENA_SPEED * dt * POSITION_STEPS_PER_UNIT;
    // to_unit_vector clamps peer-controlled directions to length 1.
    let (x, y) = move_dir.to_unit_vector();
    let commanded = (Vec2::new(x, y) * full_speed).round().as_ivec2();
    let moved = (position + commanded).clamp(IVec2::ZERO, IVec2::splat(size_steps));
    (moved, moved - position)
}

/// The state of the player's own entity at `to_tick`, predicted from its state `from` at
/// `from_tick` (the last snapshot): `applied` is the last input the server applied (its
/// direction holds until a newer one), `pending` the inputs sent and not yet applied with
/// the tick each is meant for, in any order. `world_size` is the arena's side in units (its
/// `World` message), `tick_rate_hz` the room's rate.
pub fn predict_own<'a>(
    from: &ArenaEntity,
    from_tick: Tick,
    to_tick: Tick,
    applied: Option<&ArenaInput>,
    pending: impl IntoIterator<Item = (Tick, &'a ArenaInput)>,
    world_size: u32,
    tick_rate_hz: u16,
) -> ArenaEntity {
    let mut pending: Vec<(Tick, MoveDir)> = pending
        .into_iter()
        .map(|(tick, input)| (tick, input.move_dir))
        .collect();
    // Stable: of two inputs meant for one tick, the later sent wins, as on the server.
    pending.sort_by_key(|(tick, _)| *tick);
    let size_steps = (f64::from(world_size.max(1)) * f64::from(POSITION_STEPS_PER_UNIT)) as i32;
    let dt = 1.0 / f32::from(tick_rate_hz.max(1));
    let mut direction = applied.map_or(MoveDir::ZERO, |input| input.move_dir);
    let mut state = *from;
    let mut next = 0;
    let mut tick = from_tick;
    while tick < to_tick {
        tick += 1;
        while let Some((_, dir)) = pending.get(next).copied().filter(|(t, _)| *t <= tick) {
            direction = dir;
            next += 1;
        }
        let (position, velocity) = step(IVec2::new(state.x, state.y), direction, size_steps, dt);
        state.x = position.x;
        state.y = position.y;
        state.vx = velocity.x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        state.vy = velocity.y.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        if velocity != IVec2::ZERO {
            let v = velocity.as_vec2();
            state.heading = quantize_heading(v.y.atan2(v.x));
        }
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::Arena;
    use proptest::prelude::*;
    use ticksync_game::Game;
    use ticksync_protocol::{Entity, PlayerId};

    fn own_state(arena: &Arena) -> ArenaEntity {
        let mut out: Vec<Entity<ArenaEntity>> = Vec::new();
        arena.write_entities(&mut out);
        out[0].state
    }

    proptest! {
        /// The room applies an input meant for tick t before the step that produces tick t;
        /// predicting from any earlier tick with the inputs not yet applied then lands on
        /// the server's state exactly — including at the world's edges (a 30-unit world).
        #[test]
        fn prediction_is_the_server_state(
            inputs in proptest::collection::vec((1u32..60, any::<i8>(), any::<i8>()), 0..40),
            from in 0u32..60,
            ahead in 1u32..20,
            world in prop::sample::select(vec![30u32, 2000]),
        ) {
            let mut arena = Arena::new(world);
            let player = PlayerId(1);
            arena.spawn(player);
            let inputs: Vec<(Tick, ArenaInput)> = inputs
                .into_iter()
                .map(|(tick, x, y)| (tick, ArenaInput { move_dir: MoveDir { x, y }, buttons: 0 }))
                .collect();
            let mut states = vec![own_state(&arena)];
            let mut applied_at: Vec<Option<ArenaInput>> = vec![None];
            let mut last = None;
            for tick in 1..=(from + ahead) {
                for (_, input) in inputs.iter().filter(|(meant, _)| *meant == tick) {
                    arena.steer(player, input.move_dir);
                    last = Some(*input);
                }
                arena.advance(1.0 / 30.0);
                states.push(own_state(&arena));
                applied_at.push(last);
            }
            let pending = inputs
                .iter()
                .filter(|(meant, _)| *meant > from)
                .map(|(meant, input)| (*meant, input));
            let predicted = predict_own(
                &states[from as usize],
                from,
                from + ahead,
                applied_at[from as usize].as_ref(),
                pending,
                world,
                30,
            );
            prop_assert_eq!(predicted, states[(from + ahead) as usize]);
        }
    }
}
