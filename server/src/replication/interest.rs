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

use ticksync_protocol::{Entity, EntityId, Replicated};

use super::history::WorldFrame;

/// Most grid columns (and rows) per side. Bounds the grid's memory when the radius is tiny
/// compared with the world; cells then grow beyond the radius, which costs a few more
/// distance checks but stays correct.
const MAX_GRID_SIDE: i64 = 1024;

/// The area-of-interest rule of a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterestPolicy {
    /// Radius in the entity type's position units.
    pub radius_steps: i32,
    /// Most entities a client sees, itself included; the nearest win.
    pub max_entities: Option<usize>,
}

/// Entities bucketed by grid cell (a counting sort: flat vectors, no per-cell allocation).
#[derive(Debug, Default)]
pub struct SpatialGrid {
    /// Lowest coordinates of the entities, the grid's origin.
    origin: (i64, i64),
    cell_steps: i64,
    side: i64,
    /// `cell_start[c]..cell_start[c + 1]` is the range of `entries` in cell `c`.
    cell_start: Vec<u32>,
    /// Next free slot per cell while filling; kept to reuse its allocation.
    cursor: Vec<u32>,
    entries: Vec<GridEntry>,
    /// Indices of the entities without a position: everyone sees them.
    unplaced: Vec<u32>,
}

/// An entity's position stored next to its index, so a query reads one contiguous array
/// instead of chasing every candidate into the frame's entity list.
#[derive(Debug, Clone, Copy, Default)]
struct GridEntry {
    x: i32,
    y: i32,
    index: u32,
}

impl SpatialGrid {
    /// Rebuilds the grid over `entities` for queries of `radius_steps`.
    pub fn rebuild<E: Replicated>(&mut self, entities: &[Entity<E>], radius_steps: i32) {
        self.unplaced.clear();
        let (mut low, mut high) = ((i64::MAX, i64::MAX), (i64::MIN, i64::MIN));
        for (index, entity) in entities.iter().enumerate() {
            match entity.state.position() {
                Some((x, y)) => {
                    low = (low.0.min(i64::from(x)), low.1.min(i64::from(y)));
                    high = (high.0.max(i64::from(x)), high.1.max(i64::from(y)));
                }
                None => self.unplaced.push(index as u32),
            }
        }
        if low.0 > high.0 {
            low = (0, 0);
            high = (0, 0);
        }
        self.origin = low;
        let span = (high.0 - low.0).max(high.1 - low.1).max(1);
        let radius = i64::from(radius_steps.max(1));
        self.cell_steps = radius.max(span.div_euclid(MAX_GRID_SIDE) + 1);
        self.side = span / self.cell_steps + 1;
        let cells = (self.side * self.side) as usize;
        self.cell_start.clear();
        self.cell_start.resize(cells + 1, 0);
        for entity in entities {
            if let Some(position) = entity.state.position() {
                let cell = self.cell_of(position);
                self.cell_start[cell + 1] += 1;
            }
        }
        for cell in 0..cells {
            self.cell_start[cell + 1] += self.cell_start[cell];
        }
        self.entries.clear();
        self.entries
            .resize(self.cell_start[cells] as usize, GridEntry::default());
        // Fill each cell from its start; `cursor` tracks the next free slot per cell.
        self.cursor.clear();
        self.cursor.extend_from_slice(&self.cell_start);
        for (index, entity) in entities.iter().enumerate() {
            let Some((x, y)) = entity.state.position() else {
                continue;
            };
            let cell = self.cell_of((x, y));
            let slot = self.cursor[cell] as usize;
            self.entries[slot] = GridEntry {
                x,
                y,
                index: index as u32,
            };
            self.cursor[cell] += 1;
        }
    }

    fn coordinate(&self, steps: i32, origin: i64) -> i64 {
        ((i64::from(steps) - origin).div_euclid(self.cell_steps)).clamp(0, self.side - 1)
    }

    fn cell_of(&self, (x, y): (i32, i32)) -> usize {
        (self.coordinate(y, self.origin.1) * self.side + self.coordinate(x, self.origin.0)) as usize
    }

    /// Calls `visit` with the index and position of every entity in the cells overlapping
    /// the square of half-side `radius` around `center`.
    fn for_each_near(
        &self,
        (x, y): (i32, i32),
        radius: i32,
        mut visit: impl FnMut(u32, (i32, i32)),
    ) {
        if self.side == 0 {
            return;
        }
        let (x0, x1) = (
            self.coordinate(x.saturating_sub(radius), self.origin.0),
            self.coordinate(x.saturating_add(radius), self.origin.0),
        );
        let (y0, y1) = (
            self.coordinate(y.saturating_sub(radius), self.origin.1),
            self.coordinate(y.saturating_add(radius), self.origin.1),
        );
        for row in y0..=y1 {
            let first = (row * self.side + x0) as usize;
            let last = (row * self.side + x1) as usize;
            let (start, end) = (
                self.cell_start[first] as usize,
                self.cell_start[last + 1] as usize,
            );
            for entry in &self.entries[start..end] {
                visit(entry.index, (entry.x, entry.y));
            }
        }
    }
}

fn distance_squared(a: (i32, i32), b: (i32, i32)) -> i64 {
    let dx = i64::from(a.0) - i64::from(b.0);
    let dy = i64::from(a.1) - i64::from(b.1);
    dx * dx + dy * dy
}

/// Writes into `out` the indices (ascending, so in id order) of the entities of `frame` that
/// `viewer` sees: every entity when the viewer controls none (or one without a position),
/// nothing when its entity is not in the frame.
pub fn select<E: Replicated>(
    frame: &WorldFrame<E>,
    viewer: Option<EntityId>,
    policy: &InterestPolicy,
    out: &mut Vec<u32>,
) {
    out.clear();
    let everything = |out: &mut Vec<u32>| out.extend(0..frame.entities.len() as u32);
    let Some(viewer) = viewer else {
        return everything(out);
    };
    let Some(me) = frame.index_of(viewer) else {
        return;
    };
    let Some(center) = frame.entities[me].state.position() else {
        return everything(out);
    };
    let limit = i64::from(policy.radius_steps).pow(2);
    frame
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
            let entity = &frame.entities[*index as usize];
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
    out.extend_from_slice(&frame.grid.unplaced);
    out.sort_unstable();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    use ticksync_protocol::testing::Token;

    fn frame_of(positions: &[(i32, i32)], radius: i32, _world: i32) -> WorldFrame<Token> {
        let mut frame = WorldFrame {
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
            ..WorldFrame::default()
        };
        frame.grid.rebuild(&frame.entities, radius);
        frame
    }

    fn brute_force(frame: &WorldFrame<Token>, viewer: usize, radius: i32) -> Vec<u32> {
        let center = frame.entities[viewer].state.position().unwrap();
        (0..frame.entities.len() as u32)
            .filter(|&i| {
                distance_squared(frame.entities[i as usize].state.position().unwrap(), center)
                    <= i64::from(radius).pow(2)
            })
            .collect()
    }

    #[test]
    fn sees_within_the_radius_and_always_itself() {
        let frame = frame_of(&[(0, 0), (100, 0), (101, 0), (5000, 5000)], 100, 6400);
        let policy = InterestPolicy {
            radius_steps: 100,
            max_entities: None,
        };
        let mut out = Vec::new();
        select(&frame, Some(EntityId(1)), &policy, &mut out);
        assert_eq!(out, vec![0, 1]);
        select(&frame, Some(EntityId(4)), &policy, &mut out);
        assert_eq!(out, vec![3], "a lone client sees only itself");
        select(&frame, Some(EntityId(99)), &policy, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn the_cap_keeps_the_viewer_and_the_nearest() {
        let frame = frame_of(
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
        select(&frame, Some(EntityId(3)), &policy, &mut out);
        assert_eq!(out, vec![0, 2, 4]);
    }

    proptest! {
        #[test]
        fn grid_query_matches_brute_force(
            positions in proptest::collection::vec((0i32..20_000, 0i32..20_000), 1..120),
            radius in 1i32..6000,
            viewer in any::<prop::sample::Index>(),
        ) {
            let frame = frame_of(&positions, radius, 20_000);
            let viewer = viewer.index(positions.len());
            let policy = InterestPolicy { radius_steps: radius, max_entities: None };
            let mut out = Vec::new();
            select(&frame, Some(EntityId(viewer as u32 + 1)), &policy, &mut out);
            prop_assert_eq!(out, brute_force(&frame, viewer, radius));
        }
    }
}
