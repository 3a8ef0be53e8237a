//! Area of interest: which entities a client sees.
//!
//! A client sees every entity within a radius of its own entity (and always itself),
//! optionally capped to the nearest N. Candidates come from a uniform grid rebuilt once per
//! tick, so a query touches the few cells around the client: a tick costs
//! O(players × neighbours), not O(players²).
//!
//! Positions are what the game's entity type says they are ([`Replicated::position`], in
//! its own units); the grid spans the entities' bounding box, so no world size is needed.
//! Entities without a position are seen by everyone, and a client without an entity (a
//! spectator) sees everything.

use ticksync_protocol::{EntityId, Replicated};

use super::history::CapturedWorld;

/// The area-of-interest rule of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestPolicy {
    /// Radius in the entity type's position units.
    pub radius_steps: i32,
    /// Most entities a client sees, itself included; the nearest win.
    pub max_entities: Option<usize>,
}

fn distance_squared(a: (i32, i32), b: (i32, i32)) -> i64 {
    let dx = i64::from(a.0) - i64::from(b.0);
    let dy = i64::from(a.1) - i64::from(b.1);
    dx * dx + dy * dy
}

/// Writes into `out` the indices (ascending, so in id order) of the entities of `world` that
/// `viewer` sees: every entity when the viewer controls none (or one without a position),
/// nothing when its entity is not in the captured tick.
pub fn select<E: Replicated>(
    world: &CapturedWorld<E>,
    viewer: Option<EntityId>,
    policy: &InterestPolicy,
    out: &mut Vec<u32>,
) {
    out.clear();
    let everything = |out: &mut Vec<u32>| out.extend(0..world.entities.len() as u32);
    let Some(viewer) = viewer else {
        return everything(out);
    };
    let Some(me) = world.index_of(viewer) else {
        return;
    };
    let Some(center) = world.entities[me].state.position() else {
        return everything(out);
    };
    let limit = i64::from(policy.radius_steps).pow(2);
    world
        .grid
        .for_each_near(center, policy.radius_steps, |index, position| {
            if distance_squared(position, center) <= limit {
                out.push(index);
            }
        });
    if let Some(max) = policy.max_entities.filter(|max| out.len() > *max) {
        // The viewer first (it is always visible), then the nearest, ties broken by id so
        // the choice is deterministic.
        let key = |index: &u32| {
            let entity = &world.entities[*index as usize];
            let distance = entity
                .state
                .position()
                .map_or(0, |position| distance_squared(position, center));
            (*index as usize != me, distance, entity.id)
        };
        if max == 0 {
            out.clear();
        } else {
            out.select_nth_unstable_by_key(max - 1, key);
            out.truncate(max);
        }
    }
    out.extend_from_slice(&world.grid.unplaced);
    out.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use ticksync_protocol::testing::Token;
    use ticksync_protocol::Entity;

    fn world_of(positions: &[(i32, i32)], radius: i32, _world: i32) -> CapturedWorld<Token> {
        let mut world = CapturedWorld {
            entities: positions
                .iter()
                .enumerate()
                .map(|(i, &(x, y))| Entity {
                    id: EntityId(i as u32 + 1),
                    state: Token {
                        x,
                        y,
                        dx: 0,
                        dy: 0,
                        hp: 1,
                        down: false,
                    },
                })
                .collect(),
            ..CapturedWorld::default()
        };
        world.grid.rebuild(&world.entities, radius);
        world
    }

    fn brute_force(world: &CapturedWorld<Token>, viewer: usize, radius: i32) -> Vec<u32> {
        let center = world.entities[viewer].state.position().unwrap();
        (0..world.entities.len() as u32)
            .filter(|&i| {
                distance_squared(world.entities[i as usize].state.position().unwrap(), center)
                    <= i64::from(radius).pow(2)
            })
            .collect()
    }

    #[test]
    fn sees_within_the_radius_and_always_itself() {
        let world = world_of(&[(0, 0), (100, 0), (101, 0), (5000, 5000)], 100, 6400);
        let policy = InterestPolicy {
            radius_steps: 100,
            max_entities: None,
        };
        let mut out = Vec::new();
        select(&world, Some(EntityId(1)), &policy, &mut out);
        assert_eq!(out, vec![0, 1]);
        select(&world, Some(EntityId(4)), &policy, &mut out);
        assert_eq!(out, vec![3], "a lone client sees only itself");
        select(&world, Some(EntityId(99)), &policy, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn the_cap_keeps_the_viewer_and_the_nearest() {
        let world = world_of(
            &[(50, 50), (50, 50), (60, 50), (90, 50), (51, 50)],
            1000,
            6400,
        );
        let policy = InterestPolicy {
            radius_steps: 1000,
            max_entities: Some(3),
        };
        let mut out = Vec::new();
        // Viewer is entity 3 at (60, 50): itself, then 5 at distance 9, then 1 and 2 at 10 (id
        // breaks the tie: 1).
        select(&world, Some(EntityId(3)), &policy, &mut out);
        assert_eq!(out, vec![0, 2, 4]);
    }

    proptest! {
        #[test]
        fn grid_query_matches_brute_force(
            positions in proptest::collection::vec((0i32..20_000, 0i32..20_000), 1..120),
            radius in 1i32..6000,
            viewer in any::<prop::sample::Index>(),
        ) {
            let world = world_of(&positions, radius, 20_000);
            let viewer = viewer.index(positions.len());
            let policy = InterestPolicy { radius_steps: radius, max_entities: None };
            let mut out = Vec::new();
            select(&world, Some(EntityId(viewer as u32 + 1)), &policy, &mut out);
            prop_assert_eq!(out, brute_force(&world, viewer, radius));
        }
    }
}
