//! The "arena" game of DESIGN.md §4: every player owns one entity that moves at a fixed
//! speed in the direction of its latest input, clamped to a square world.
//!
//! The state is kept on the wire's fixed-point grid: after each step positions, velocities
//! and headings are snapped to their quantized values, so what a client decodes is exactly
//! the server's state and rounding never accumulates differently on the two sides.

use std::collections::HashMap;

use glam::Vec2;
use slotmap::{new_key_type, SlotMap};
use ticksync_protocol::quantize::{
    dequantize_heading, dequantize_position, dequantize_velocity, quantize_heading,
    quantize_position, quantize_velocity,
};
use ticksync_protocol::{EntityId, EntityState, Input, MoveDir, WorldSize};

use super::Game;

/// Speed of every entity, in units per second (DESIGN.md §4).
pub const ARENA_SPEED: f32 = 300.0;

new_key_type! {
    /// Storage key of an entity in the arena's slot map.
    pub struct EntityKey;
}

/// One player's entity.
#[derive(Debug, Clone, PartialEq)]
pub struct ArenaEntity {
    pub id: EntityId,
    pub position: Vec2,
    pub velocity: Vec2,
    /// Radians, 0 = +x, counter-clockwise.
    pub heading: f32,
    /// The latest applied move direction; it persists until the next input.
    pub move_dir: MoveDir,
}

/// The arena world.
#[derive(Debug)]
pub struct Arena {
    size: f32,
    entities: SlotMap<EntityKey, ArenaEntity>,
    keys_by_id: HashMap<EntityId, EntityKey>,
    next_id: u32,
}

impl Arena {
    /// An empty square world of `size` units per side.
    pub fn new(size: u32) -> Arena {
        Arena {
            size: size as f32,
            entities: SlotMap::with_key(),
            keys_by_id: HashMap::new(),
            next_id: 1,
        }
    }

    /// The entity with this id, if it exists.
    pub fn entity(&self, id: EntityId) -> Option<&ArenaEntity> {
        self.keys_by_id
            .get(&id)
            .and_then(|key| self.entities.get(*key))
    }

    /// Number of entities in the world.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Where the n-th player spawns: spread over the world on a golden-angle spiral so
    /// players do not stack, and deterministic so tests can predict it.
    fn spawn_point(&self, n: u32) -> Vec2 {
        let golden_angle = std::f32::consts::PI * (3.0 - 5f32.sqrt());
        let center = Vec2::splat(self.size / 2.0);
        // Cycle through 4096 spiral points so the radius stays inside the world.
        let index = (n % 4096) as f32;
        let radius = (index / 4096.0).sqrt() * self.size * 0.45;
        let angle = index * golden_angle;
        center + Vec2::new(angle.cos(), angle.sin()) * radius
    }
}

/// Snaps a value to the wire's position grid.
fn snap_position(v: Vec2) -> Vec2 {
    Vec2::new(
        dequantize_position(quantize_position(v.x)),
        dequantize_position(quantize_position(v.y)),
    )
}

impl Game for Arena {
    fn join(&mut self, _player_name: &str) -> EntityId {
        let id = EntityId(self.next_id);
        // 4 billion joins per room lifetime; saturate rather than wrap so ids never repeat
        // silently (a room that long-lived should be recycled by its operator).
        self.next_id = self.next_id.saturating_add(1);
        let position = snap_position(self.spawn_point(id.0));
        let key = self.entities.insert(ArenaEntity {
            id,
            position,
            velocity: Vec2::ZERO,
            heading: 0.0,
            move_dir: MoveDir::ZERO,
        });
        self.keys_by_id.insert(id, key);
        id
    }

    fn leave(&mut self, entity: EntityId) {
        if let Some(key) = self.keys_by_id.remove(&entity) {
            self.entities.remove(key);
        }
    }

    fn apply_input(&mut self, entity: EntityId, input: &Input) {
        if let Some(e) = self
            .keys_by_id
            .get(&entity)
            .and_then(|key| self.entities.get_mut(*key))
        {
            e.move_dir = input.move_dir;
        }
    }

    fn step(&mut self, dt: f32) {
        let max = Vec2::splat(self.size);
        for entity in self.entities.values_mut() {
            // to_unit_vector clamps peer-controlled directions to length 1.
            let (x, y) = entity.move_dir.to_unit_vector();
            let wanted = Vec2::new(x, y) * ARENA_SPEED;
            let velocity = Vec2::new(
                dequantize_velocity(quantize_velocity(wanted.x)),
                dequantize_velocity(quantize_velocity(wanted.y)),
            );
            entity.position =
                snap_position((entity.position + velocity * dt).clamp(Vec2::ZERO, max));
            entity.velocity = velocity;
            if velocity != Vec2::ZERO {
                entity.heading = dequantize_heading(quantize_heading(velocity.y.atan2(velocity.x)));
            }
        }
    }

    fn world_size(&self) -> WorldSize {
        let side = self.size as u32;
        WorldSize {
            width: side,
            height: side,
        }
    }

    fn write_entities(&self, out: &mut Vec<EntityState>) {
        out.clear();
        out.extend(self.entities.values().map(|e| EntityState {
            id: e.id,
            x: quantize_position(e.position.x),
            y: quantize_position(e.position.y),
            vx: quantize_velocity(e.velocity.x),
            vy: quantize_velocity(e.velocity.y),
            heading: quantize_heading(e.heading),
        }));
        out.sort_unstable_by_key(|state| state.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ticksync_protocol::quantize::POSITION_PRECISION;

    const DT: f32 = 1.0 / 30.0;

    fn input(seq: u32, x: f32, y: f32) -> Input {
        Input {
            seq,
            move_dir: MoveDir::from_vector(x, y),
            buttons: 0,
        }
    }

    #[test]
    fn entity_moves_at_arena_speed_in_input_direction() {
        let mut arena = Arena::new(2000);
        let id = arena.join("a");
        let start = arena.entity(id).unwrap().position;
        arena.apply_input(id, &input(1, 1.0, 0.0));
        for _ in 0..30 {
            arena.step(DT);
        }
        let end = arena.entity(id).unwrap().position;
        assert!(
            (end.x - start.x - ARENA_SPEED).abs() < 0.5,
            "{start} -> {end}"
        );
        assert!((end.y - start.y).abs() < POSITION_PRECISION);
        assert_eq!(quantize_heading(arena.entity(id).unwrap().heading), 0);
    }

    #[test]
    fn oversized_move_vector_is_clamped_to_speed() {
        let mut arena = Arena::new(2000);
        let id = arena.join("a");
        // (127, 127) on the wire is a vector of length √2.
        arena.apply_input(
            id,
            &Input {
                seq: 1,
                move_dir: MoveDir { x: 127, y: 127 },
                buttons: 0,
            },
        );
        arena.step(DT);
        let speed = arena.entity(id).unwrap().velocity.length();
        assert!(speed <= ARENA_SPEED + 0.5, "speed {speed}");
    }

    #[test]
    fn position_is_clamped_to_the_world() {
        let mut arena = Arena::new(100);
        let id = arena.join("a");
        arena.apply_input(id, &input(1, -1.0, 1.0));
        for _ in 0..60 {
            arena.step(DT);
        }
        let p = arena.entity(id).unwrap().position;
        assert_eq!(p, Vec2::new(0.0, 100.0));
    }

    #[test]
    fn leave_removes_and_ids_are_not_reused() {
        let mut arena = Arena::new(2000);
        let a = arena.join("a");
        arena.leave(a);
        let b = arena.join("b");
        assert_ne!(a, b);
        let mut out = Vec::new();
        arena.write_entities(&mut out);
        assert_eq!(out.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b]);
        // Unknown ids are ignored, not a panic.
        arena.leave(a);
        arena.apply_input(a, &input(1, 1.0, 0.0));
    }

    #[test]
    fn entities_are_written_in_id_order() {
        let mut arena = Arena::new(2000);
        let ids: Vec<_> = (0..50).map(|_| arena.join("p")).collect();
        // Free slots in the middle so slot order and id order differ.
        for id in ids.iter().step_by(3) {
            arena.leave(*id);
        }
        for _ in 0..10 {
            arena.join("q");
        }
        let mut out = Vec::new();
        arena.write_entities(&mut out);
        assert!(out.windows(2).all(|w| w[0].id < w[1].id));
    }

    fn run(inputs: &[(usize, u32, i8, i8)]) -> Vec<EntityState> {
        let mut arena = Arena::new(2000);
        let ids: Vec<_> = (0..4).map(|_| arena.join("p")).collect();
        for &(player, seq, x, y) in inputs {
            let input = Input {
                seq,
                move_dir: MoveDir { x, y },
                buttons: 0,
            };
            arena.apply_input(ids[player % 4], &input);
            arena.step(DT);
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
        fn state_stays_on_the_quantization_grid(inputs in proptest::collection::vec((0usize..4, any::<u32>(), any::<i8>(), any::<i8>()), 1..100)) {
            // Re-quantizing what was written must give the same numbers: the sim state is
            // exactly representable on the wire.
            let mut arena = Arena::new(2000);
            let ids: Vec<_> = (0..4).map(|_| arena.join("p")).collect();
            for &(player, seq, x, y) in &inputs {
                arena.apply_input(ids[player % 4], &Input { seq, move_dir: MoveDir { x, y }, buttons: 0 });
                arena.step(DT);
            }
            for id in ids {
                let e = arena.entity(id).unwrap();
                prop_assert_eq!(snap_position(e.position), e.position);
                prop_assert!(e.position.x >= 0.0 && e.position.x <= 2000.0);
                prop_assert!(e.position.y >= 0.0 && e.position.y <= 2000.0);
            }
        }
    }
}
