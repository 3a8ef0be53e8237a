//! The world's recent past: one [`WorldFrame`] per tick for about a second, the baselines
//! that delta snapshots are encoded against.

use std::collections::VecDeque;

use ticksync_protocol::replicated::{entity_checksum, view_checksum_from};
use ticksync_protocol::{EntityId, EntityState, Tick};

use super::interest::SpatialGrid;

/// The replicated world after one tick.
#[derive(Debug, Default)]
pub struct WorldFrame {
    pub tick: Tick,
    /// Every entity, sorted by id.
    pub entities: Vec<EntityState>,
    /// `entity_checksum` of each entity, parallel to `entities`.
    pub checksums: Vec<u32>,
    /// Checksum of the whole world: the view checksum when everyone sees everyone.
    pub world_checksum: u32,
    /// Entities bucketed by position (empty when area of interest is off).
    pub grid: SpatialGrid,
}

impl WorldFrame {
    /// Index of an entity in `entities`.
    pub fn index_of(&self, id: EntityId) -> Option<usize> {
        self.entities.binary_search_by_key(&id, |e| e.id).ok()
    }
}

/// A ring of the most recent frames, oldest first. Frames are reused so a steady-state tick
/// allocates nothing here.
#[derive(Debug)]
pub struct WorldHistory {
    frames: VecDeque<WorldFrame>,
    capacity: usize,
}

impl WorldHistory {
    /// A history of at most `capacity` frames (at least 1). It takes no memory until the
    /// first frame: a room nobody has joined keeps none.
    pub fn new(capacity: usize) -> WorldHistory {
        WorldHistory {
            frames: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records the world of `tick`, filled in by `fill` (which writes the entities, sorted by
    /// id). Computes the checksums; the caller rebuilds the grid if it needs one.
    pub fn push(
        &mut self,
        tick: Tick,
        fill: impl FnOnce(&mut Vec<EntityState>),
    ) -> &mut WorldFrame {
        let mut frame = if self.frames.len() >= self.capacity {
            self.frames.pop_front().unwrap_or_default()
        } else {
            WorldFrame::default()
        };
        frame.tick = tick;
        fill(&mut frame.entities);
        frame.checksums.clear();
        frame
            .checksums
            .extend(frame.entities.iter().map(entity_checksum));
        frame.world_checksum = view_checksum_from(frame.checksums.iter().copied());
        self.frames.push_back(frame);
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    /// The most recent frame.
    pub fn latest(&self) -> Option<&WorldFrame> {
        self.frames.back()
    }

    /// The frame of `tick`, if it is still in the history.
    pub fn get(&self, tick: Tick) -> Option<&WorldFrame> {
        // Ticks are consecutive, so the frame's position is arithmetic; the check guards
        // against a history that was not (a room whose tick jumped).
        let oldest = self.frames.front()?.tick;
        let index = usize::try_from(tick.checked_sub(oldest)?).ok()?;
        self.frames.get(index).filter(|frame| frame.tick == tick)
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: u32) -> EntityState {
        EntityState {
            id: EntityId(id),
            x: id as i32,
            y: 0,
            vx: 0,
            vy: 0,
            heading: 0,
        }
    }

    #[test]
    fn keeps_the_last_frames_and_finds_them_by_tick() {
        let mut history = WorldHistory::new(3);
        for tick in 1..=5 {
            history.push(tick, |out| {
                out.clear();
                out.push(entity(tick));
            });
        }
        assert_eq!(history.len(), 3);
        assert!(history.get(2).is_none());
        assert_eq!(history.get(3).unwrap().entities[0].id, EntityId(3));
        assert_eq!(history.get(5).unwrap().tick, 5);
        assert!(history.get(6).is_none());
        assert_eq!(history.latest().unwrap().tick, 5);
    }

    #[test]
    fn checksums_are_computed_per_frame() {
        let mut history = WorldHistory::new(2);
        let frame = history.push(1, |out| {
            out.clear();
            out.extend([entity(1), entity(2)]);
        });
        assert_eq!(frame.checksums.len(), 2);
        assert_eq!(
            frame.world_checksum,
            ticksync_protocol::replicated::view_checksum(&frame.entities)
        );
    }
}
