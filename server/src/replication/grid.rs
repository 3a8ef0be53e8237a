//! The spatial grid area of interest queries: the entities of one captured tick bucketed by
//! position, rebuilt once per tick, so a query touches the few cells around a client. Its
//! own file so that the history (which keeps a grid per captured tick) and the interest rule
//! (which queries it) both depend on it and not on each other.

use ticksync_protocol::{Entity, Replicated};

/// Most grid columns (and rows) per side. Bounds the grid's memory when the radius is tiny
/// compared with the world; cells then grow beyond the radius, which costs a few more
/// distance checks but stays correct.
const MAX_GRID_SIDE: i64 = 1024;

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
    pub(super) unplaced: Vec<u32>,
}

/// An entity's position stored next to its index, so a query reads one contiguous array
/// instead of chasing every candidate into the captured tick's entity list.
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
    pub(super) fn for_each_near(
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
