//! The arena's rules: every player owns one entity that moves at a fixed speed in the
//! direction of its latest input, clamped to a square world (ARCHITECTURE.md §4).
//!
//! The state lives in the wire's fixed-point units: positions in 1/64 unit, velocities in
//! position steps per tick. Directions are worked out in `glam` floats, rounded once to a
//! per-tick step, and from there everything is integer: a position advances by exactly its
//! velocity each tick. So what a client decodes is exactly the server's state, and a client
//! predicting `x + vx × ticks` (dead reckoning) lands on the server's position bit for bit
//! for as long as the entity keeps its course.
//!
//! Movement happens once per tick, with the direction of the last input applied before it:
//! a client that predicts its own entity replays one step per tick, not one per input.

use std::collections::HashMap;

use glam::{IVec2, Vec2};
use serde::{Deserialize, Serialize};
use slotmap::{new_key_type, SlotMap};
use ticksync_game::{Game, InputContext, JoinRequest, Outbox, Refusal, RoomContext};
use ticksync_protocol::{Entity, EntityId, PlayerId};

use crate::prediction::step;
use crate::quantize::{quantize_heading, POSITION_STEPS_PER_UNIT};
use crate::schema::{ArenaEntity, ArenaInput, ArenaMessage, ArenaSchema, MoveDir};

/// Largest world side accepted, in units: positions stay far inside `i32` (×64).
pub const MAX_WORLD_SIZE: u32 = 1_000_000;

/// The arena's settings: the `[game]` table of the configuration (a room's
/// `[rooms.NAME.game]` on top).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ArenaSettings {
    /// Side of the square world, in units (1 to 1,000,000).
    pub world_size: u32,
}

impl Default for ArenaSettings {
    fn default() -> Self {
        ArenaSettings { world_size: 2000 }
    }
}

/// Why arena settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("game.world_size must be 1 to {MAX_WORLD_SIZE} units, not {0}")]
pub struct BadWorldSize(pub u32);

impl ArenaSettings {
    pub fn validate(&self) -> Result<(), BadWorldSize> {
        if (1..=MAX_WORLD_SIZE).contains(&self.world_size) {
            Ok(())
        } else {
            Err(BadWorldSize(self.world_size))
        }
    }
}

new_key_type! {
    /// Storage key of an entity in the arena's slot map.
    pub struct MoverKey;
}

/// One player's entity, in wire units.
#[derive(Debug, Clone, PartialEq)]
pub struct Mover {
    pub id: EntityId,
    /// The player who controls it.
    pub player: PlayerId,
    /// Position steps (1/64 unit), inside `[0, world size × 64]`.
    pub position: IVec2,
    /// Position steps moved in the last tick: the commanded velocity, except where the world
    /// edge stopped the entity.
    pub velocity: IVec2,
    /// Fraction of a turn (65536 = full), 0 = +x, counter-clockwise.
    pub heading: u16,
    /// The latest applied move direction; it persists until the next input.
    pub move_dir: MoveDir,
}

/// The arena world.
#[derive(Debug)]
pub struct Arena {
    /// Side of the world in units and in position steps.
    size: u32,
    size_steps: i32,
    movers: SlotMap<MoverKey, Mover>,
    keys_by_player: HashMap<PlayerId, MoverKey>,
    keys_by_id: HashMap<EntityId, MoverKey>,
    next_id: u32,
}

impl Arena {
    /// An empty square world of `size` units per side.
    pub fn new(size: u32) -> Arena {
        let size = size.clamp(1, MAX_WORLD_SIZE);
        let size_steps = (f64::from(size) * f64::from(POSITION_STEPS_PER_UNIT)) as i32;
        Arena {
            size,
            size_steps,
            movers: SlotMap::with_key(),
            keys_by_player: HashMap::new(),
            keys_by_id: HashMap::new(),
            next_id: 1,
        }
    }

    /// The arena a room of `room`'s settings plays.
    pub fn for_room(room: &RoomContext<ArenaSettings>) -> Arena {
        Arena::new(room.settings.world_size)
    }

    /// The entity with this id, if it exists.
    pub fn entity(&self, id: EntityId) -> Option<&Mover> {
        self.keys_by_id
            .get(&id)
            .and_then(|key| self.movers.get(*key))
    }

    /// The entity `player` controls, if any.
    pub fn entity_of(&self, player: PlayerId) -> Option<&Mover> {
        self.keys_by_player
            .get(&player)
            .and_then(|key| self.movers.get(*key))
    }

    /// Number of entities in the world.
    pub fn len(&self) -> usize {
        self.movers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.movers.is_empty()
    }

    /// Where the n-th player spawns: spread over the world on a golden-angle spiral so
    /// players do not stack, and deterministic so tests can predict it.
    fn spawn_point(&self, n: u32) -> IVec2 {
        let golden_angle = std::f32::consts::PI * (3.0 - 5f32.sqrt());
        let size = self.size_steps as f32;
        let center = Vec2::splat(size / 2.0);
        // Cycle through 4096 spiral points so the radius stays inside the world.
        let index = (n % 4096) as f32;
        let radius = (index / 4096.0).sqrt() * size * 0.45;
        let angle = index * golden_angle;
        let point = center + Vec2::new(angle.cos(), angle.sin()) * radius;
        point
            .round()
            .as_ivec2()
            .clamp(IVec2::ZERO, IVec2::splat(self.size_steps))
    }

    /// Side of the world in position steps.
    pub fn size_steps(&self) -> i32 {
        self.size_steps
    }

    /// Adds an entity for `player` and returns its id.
    pub fn spawn(&mut self, player: PlayerId) -> EntityId {
        let id = EntityId(self.next_id);
        // 4 billion joins per room lifetime; saturate rather than wrap so ids never repeat
        // silently (a room that long-lived should be recycled by its operator).
        self.next_id = self.next_id.saturating_add(1);
        let position = self.spawn_point(id.0);
        let key = self.movers.insert(Mover {
            id,
            player,
            position,
            velocity: IVec2::ZERO,
            heading: 0,
            move_dir: MoveDir::ZERO,
        });
        self.keys_by_id.insert(id, key);
        self.keys_by_player.insert(player, key);
        id
    }

    /// Removes `player`'s entity, if it has one.
    pub fn remove(&mut self, player: PlayerId) {
        if let Some(key) = self.keys_by_player.remove(&player) {
            if let Some(mover) = self.movers.remove(key) {
                self.keys_by_id.remove(&mover.id);
            }
        }
    }

    /// Sets the direction `player`'s entity moves in from the next step on.
    pub fn steer(&mut self, player: PlayerId, move_dir: MoveDir) {
        if let Some(mover) = self
            .keys_by_player
            .get(&player)
            .and_then(|key| self.movers.get_mut(*key))
        {
            mover.move_dir = move_dir;
        }
    }

    /// Moves every entity one tick of `dt` seconds.
    pub fn advance(&mut self, dt: f32) {
        for mover in self.movers.values_mut() {
            // The same step a client's prediction replays (`prediction::step`).
            let (position, velocity) = step(mover.position, mover.move_dir, self.size_steps, dt);
            // The velocity is what really happened, so it stays exact at the world's edge and
            // dead reckoning from it stays correct there too.
            mover.velocity = velocity;
            mover.position = position;
            if mover.velocity != IVec2::ZERO {
                let v = mover.velocity.as_vec2();
                mover.heading = quantize_heading(v.y.atan2(v.x));
            }
        }
    }
}

impl Game for Arena {
    type Schema = ArenaSchema;
    type Settings = ArenaSettings;

    fn join(
        &mut self,
        request: &JoinRequest<'_>,
        out: &mut Outbox<ArenaSchema>,
    ) -> Result<Option<EntityId>, Refusal> {
        out.send(
            request.player,
            ArenaMessage::World {
                width: self.size,
                height: self.size,
            },
        );
        Ok(Some(self.spawn(request.player)))
    }

    fn leave(&mut self, player: PlayerId, _out: &mut Outbox<ArenaSchema>) {
        self.remove(player);
    }

    fn input(&mut self, context: InputContext, input: &ArenaInput) {
        self.steer(context.player, input.move_dir);
    }

    fn step(&mut self, dt: f32, _out: &mut Outbox<ArenaSchema>) {
        self.advance(dt);
    }

    fn write_entities(&self, out: &mut Vec<Entity<ArenaEntity>>) {
        out.clear();
        out.extend(self.movers.values().map(|e| Entity {
            id: e.id,
            state: ArenaEntity {
                x: e.position.x,
                y: e.position.y,
                // A tick moves at most 300 u/s × dt × 64 steps: far inside i16 at any tick
                // rate the server allows; saturate rather than wrap if a custom speed ever
                // exceeds it.
                vx: e.velocity.x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16,
                vy: e.velocity.y.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16,
                heading: e.heading,
            },
        }));
        out.sort_unstable_by_key(|entity| entity.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ticksync_protocol::Replicated;

    /// Joins a player whose id is the number of the entity it gets, so tests can name both
    /// by one value.
    fn join(arena: &mut Arena) -> EntityId {
        let player = PlayerId(arena.next_id);
        arena.spawn(player)
    }

    fn player(id: EntityId) -> PlayerId {
        PlayerId(id.0)
    }

    const DT: f32 = 1.0 / 30.0;
    /// Full speed in position steps per tick at 30 Hz.
    const STEPS_PER_TICK: i32 = 640;

    fn input(_seq: u32, x: f32, y: f32) -> ArenaInput {
        ArenaInput {
            move_dir: MoveDir::from_vector(x, y),
            buttons: 0,
        }
    }

    impl Arena {
        fn steer_input(&mut self, id: EntityId, input: &ArenaInput) {
            self.steer(player(id), input.move_dir);
        }
    }

    #[test]
    fn entity_moves_at_arena_speed_in_input_direction() {
        let mut arena = Arena::new(2000);
        let id = join(&mut arena);
        let start = arena.entity(id).unwrap().position;
        arena.steer_input(id, &input(1, 1.0, 0.0));
        for _ in 0..30 {
            arena.advance(DT);
        }
        let end = arena.entity(id).unwrap().position;
        // 30 ticks of 10 units: exactly 300 units, in 1/64 steps.
        assert_eq!(end - start, IVec2::new(300 * 64, 0));
        assert_eq!(
            arena.entity(id).unwrap().velocity,
            IVec2::new(STEPS_PER_TICK, 0)
        );
        assert_eq!(arena.entity(id).unwrap().heading, 0);
    }

    #[test]
    fn oversized_move_vector_is_clamped_to_speed() {
        let mut arena = Arena::new(2000);
        let id = join(&mut arena);
        // (127, 127) on the wire is a vector of length √2.
        arena.steer_input(
            id,
            &ArenaInput {
                move_dir: MoveDir { x: 127, y: 127 },
                buttons: 0,
            },
        );
        arena.advance(DT);
        let speed = arena.entity(id).unwrap().velocity.as_vec2().length();
        assert!(speed <= STEPS_PER_TICK as f32 + 1.0, "speed {speed}");
    }

    #[test]
    fn position_is_clamped_to_the_world() {
        let mut arena = Arena::new(100);
        let id = join(&mut arena);
        arena.steer_input(id, &input(1, -1.0, 1.0));
        for _ in 0..60 {
            arena.advance(DT);
        }
        let e = arena.entity(id).unwrap();
        assert_eq!(e.position, IVec2::new(0, 100 * 64));
        // Stopped by the edge: the velocity says so, so dead reckoning keeps it there.
        assert_eq!(e.velocity, IVec2::ZERO);
    }

    #[test]
    fn dead_reckoning_predicts_the_server_exactly_on_a_straight_line() {
        let mut arena = Arena::new(2000);
        let id = join(&mut arena);
        arena.steer_input(id, &input(1, 0.6, -0.8));
        arena.advance(DT);
        let mut states = Vec::new();
        arena.write_entities(&mut states);
        let baseline = states[0].state;
        for _ in 0..20 {
            arena.advance(DT);
        }
        arena.write_entities(&mut states);
        assert_eq!(baseline.predict(20), states[0].state);
    }

    #[test]
    fn leave_removes_and_ids_are_not_reused() {
        let mut arena = Arena::new(2000);
        let a = join(&mut arena);
        arena.remove(player(a));
        let b = join(&mut arena);
        assert_ne!(a, b);
        let mut out = Vec::new();
        arena.write_entities(&mut out);
        assert_eq!(out.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);
        // Unknown ids are ignored, not a panic.
        arena.remove(player(a));
        arena.steer_input(a, &input(1, 1.0, 0.0));
    }

    #[test]
    fn entities_are_written_in_id_order() {
        let mut arena = Arena::new(2000);
        let ids: Vec<_> = (0..50).map(|_| join(&mut arena)).collect();
        // Free slots in the middle so slot order and id order differ.
        for id in ids.iter().step_by(3) {
            arena.remove(player(*id));
        }
        for _ in 0..10 {
            join(&mut arena);
        }
        let mut out = Vec::new();
        arena.write_entities(&mut out);
        assert!(out.windows(2).all(|w| w[0].id < w[1].id));
    }

    fn run(inputs: &[(usize, u32, i8, i8)]) -> Vec<Entity<ArenaEntity>> {
        let mut arena = Arena::new(2000);
        let ids: Vec<_> = (0..4).map(|_| join(&mut arena)).collect();
        for &(index, _seq, x, y) in inputs {
            let input = ArenaInput {
                move_dir: MoveDir { x, y },
                buttons: 0,
            };
            arena.steer_input(ids[index % 4], &input);
            arena.advance(DT);
        }
        let mut out = Vec::new();
        arena.write_entities(&mut out);
        out
    }

    proptest! {
        #[test]
        fn simulation_is_deterministic(inputs in proptest::collection::vec((0usize..4, any::<u32>(), any::<i8>(), any::<i8>()), 0..200)) {
            prop_assert_eq!(run(&inputs), run(&inputs));
        }

        #[test]
        fn state_stays_inside_the_world(inputs in proptest::collection::vec((0usize..4, any::<u32>(), any::<i8>(), any::<i8>()), 1..100)) {
            let mut arena = Arena::new(2000);
            let ids: Vec<_> = (0..4).map(|_| join(&mut arena)).collect();
            for &(index, _seq, x, y) in &inputs {
                arena.steer_input(ids[index % 4], &ArenaInput {
                move_dir: MoveDir { x, y }, buttons: 0 });
                arena.advance(DT);
            }
            for id in ids {
                let e = arena.entity(id).unwrap();
                prop_assert!(e.position.x >= 0 && e.position.x <= 2000 * 64);
                prop_assert!(e.position.y >= 0 && e.position.y <= 2000 * 64);
            }
        }
    }
}
