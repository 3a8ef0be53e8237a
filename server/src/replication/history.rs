//! The world's recent past: one [`CapturedWorld`] per tick for about a second, the baselines
//! that delta snapshots are encoded against, kept in the protocol crate's
//! [`History`] ring.

use ticksync_protocol::replicated::{entity_checksum, view_checksum_from};
use ticksync_protocol::sync::History;
use ticksync_protocol::{Entity, EntityId, Replicated, Tick};

use super::grid::SpatialGrid;

/// The replicated world after one tick.
#[derive(Debug)]
pub struct CapturedWorld<E: Replicated> {
    pub tick: Tick,
    /// Every entity, sorted by id.
    pub entities: Vec<Entity<E>>,
    /// `entity_checksum` of each entity, parallel to `entities`.
    pub checksums: Vec<u32>,
    /// Checksum of the whole world: the view checksum when everyone sees everyone.
    pub world_checksum: u32,
    /// Entities bucketed by position (empty when area of interest is off).
    pub grid: SpatialGrid,
}

impl<E: Replicated> Default for CapturedWorld<E> {
    fn default() -> Self {
        CapturedWorld {
            tick: 0,
            entities: Vec::new(),
            checksums: Vec::new(),
            world_checksum: 0,
            grid: SpatialGrid::default(),
        }
    }
}

impl<E: Replicated> CapturedWorld<E> {
    /// Index of an entity in `entities`.
    pub fn index_of(&self, id: EntityId) -> Option<usize> {
        self.entities.binary_search_by_key(&id, |e| e.id).ok()
    }
}

/// The last captured ticks of a room, oldest first.
pub type WorldHistory<E> = History<CapturedWorld<E>>;

/// Records the world of `tick` into `history`, filled in by `fill` (which writes the
/// entities, sorted by id), and computes its checksums. The caller rebuilds the grid if it
/// needs one.
pub fn capture<E: Replicated>(
    history: &mut WorldHistory<E>,
    tick: Tick,
    fill: impl FnOnce(&mut Vec<Entity<E>>),
) -> &mut CapturedWorld<E> {
    let captured = history.push(tick);
    captured.tick = tick;
    fill(&mut captured.entities);
    captured.checksums.clear();
    captured.checksums.extend(
        captured
            .entities
            .iter()
            .map(|entity| entity_checksum(entity.id, &entity.state)),
    );
    captured.world_checksum = view_checksum_from(captured.checksums.iter().copied());
    captured
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync_protocol::testing::Token;

    fn token(id: u32) -> Entity<Token> {
        Entity {
            id: EntityId(id),
            state: Token {
                x: id as i32,
                y: 0,
                dx: 0,
                dy: 0,
                hp: 1,
                down: false,
            },
        }
    }

    #[test]
    fn captured_ticks_carry_their_checksums() {
        let mut history = WorldHistory::new(2);
        for tick in 1..=3 {
            capture(&mut history, tick, |out| {
                out.clear();
                out.extend([token(1), token(tick + 1)]);
            });
        }
        assert!(history.get(1).is_none());
        let captured = history.get(3).unwrap();
        assert_eq!(captured.tick, 3);
        assert_eq!(captured.checksums.len(), 2);
        assert_eq!(
            captured.world_checksum,
            ticksync_protocol::replicated::view_checksum(&captured.entities)
        );
    }
}
