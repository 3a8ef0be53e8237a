//! [`ViewStore`]: the client's side of delta replication — the views (entity lists) of recent
//! snapshots that the server may use as baselines, and the step that turns a delta
//! [`Snapshot`] into the next view.
//!
//! The server encodes each snapshot against the latest tick this client acknowledged
//! (ARCHITECTURE.md §2.2). So the client must keep every view it has acknowledged until the server
//! has moved past it, and nothing else:
//!
//! - a view that was never acknowledged can never be a baseline (acks only ever name the
//!   newest view), so it is dropped as soon as a newer view exists;
//! - the server's baseline only moves forward (it is the latest ack it received, and acks
//!   are monotonic), so views older than a snapshot's `baseline_tick` are dropped.
//!
//! With one ack per tick that leaves about one round trip's worth of views — 2 to 4 at
//! 30 Hz on a LAN — and [`MAX_HELD_VIEWS`] bounds it whatever the server does.
//!
//! Pure logic, no I/O: a client feeds it snapshots and tells it what it acknowledged.

use std::collections::VecDeque;

use crate::delta::{self, ApplyError};
use crate::messages::{Entity, Snapshot, Tick};
use crate::replicated::{view_checksum, Replicated};

/// Most views held at once. The server keeps about one second of history (30 ticks at
/// 30 Hz) and falls back to a full snapshot for an older baseline, so a view older than two
/// seconds is never needed; 64 covers that at 30 Hz with room to spare while bounding a
/// client's memory to 64 views even against a server that never moves its baseline.
pub const MAX_HELD_VIEWS: usize = 64;

/// Emptied views kept for reuse. Applying a snapshot needs one fresh list and pruning
/// usually frees one, so a few spares make the steady state allocation-free; more would
/// only keep memory from a past burst alive.
const MAX_SPARE_VIEWS: usize = 4;

/// Why a snapshot could not be applied. Each means the client's state no longer matches
/// what the server believes it holds: a desync.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DesyncReason {
    /// The snapshot is a delta against a view this client does not hold (never received,
    /// never acknowledged, or already discarded).
    #[error("its baseline (tick {baseline_tick}) is not a view this client holds")]
    MissingBaseline { baseline_tick: Tick },
    /// The delta's lists do not fit the baseline view.
    #[error("its delta does not fit the baseline view: {0}")]
    Apply(#[from] ApplyError),
    /// The delta applied, but the result is not the view the server describes.
    #[error("view checksum {actual:#010x} does not match the server's {expected:#010x}")]
    ChecksumMismatch { expected: u32, actual: u32 },
    /// The snapshot is not newer than the view already applied. WebSocket delivery is
    /// ordered, so only a confused server sends one; applying it would move the
    /// acknowledgement backwards.
    #[error("it is not newer than the view already applied (tick {applied_tick})")]
    NotNewer { applied_tick: Tick },
}

/// One held view: the entities after a tick, sorted by id.
#[derive(Debug)]
struct HeldView<E: Replicated> {
    tick: Tick,
    /// Sent to the server as an acknowledgement, so the server may use it as a baseline.
    acked: bool,
    entities: Vec<Entity<E>>,
}

/// The views a client holds, newest last. See the module documentation.
#[derive(Debug)]
pub struct ViewStore<E: Replicated> {
    /// Sorted by tick, oldest first; the last one is the current view.
    views: VecDeque<HeldView<E>>,
    /// Cleared lists whose allocations the next snapshots reuse.
    spare: Vec<Vec<Entity<E>>>,
}

impl<E: Replicated> Default for ViewStore<E> {
    fn default() -> Self {
        ViewStore {
            views: VecDeque::new(),
            spare: Vec::new(),
        }
    }
}

impl<E: Replicated> ViewStore<E> {
    pub fn new() -> Self {
        ViewStore::default()
    }

    /// The current view (the last snapshot applied), sorted by id; empty before the first.
    pub fn current(&self) -> &[Entity<E>] {
        self.views
            .back()
            .map_or(&[], |view| view.entities.as_slice())
    }

    /// Tick of the current view: the tick to acknowledge (0 before the first snapshot).
    pub fn tick(&self) -> Tick {
        self.views.back().map_or(0, |view| view.tick)
    }

    /// How many views are held (the current one included).
    pub fn held_views(&self) -> usize {
        self.views.len()
    }

    /// Records that the current view's tick was sent to the server as an acknowledgement,
    /// so it must be kept until the server's baseline moves past it.
    pub fn mark_current_acked(&mut self) {
        if let Some(view) = self.views.back_mut() {
            view.acked = true;
        }
    }

    /// Applies `snapshot` on top of its baseline view and makes the result current.
    ///
    /// On error nothing changes: the current view (and so the tick to acknowledge) stays
    /// the last good one, and every held view is kept.
    pub fn apply(&mut self, snapshot: &Snapshot<E>) -> Result<(), DesyncReason> {
        let applied_tick = self.tick();
        if snapshot.tick <= applied_tick {
            return Err(DesyncReason::NotNewer { applied_tick });
        }
        let baseline: &[Entity<E>] = if snapshot.is_full() {
            &[]
        } else {
            match self.views.iter().find(|v| v.tick == snapshot.baseline_tick) {
                Some(view) => &view.entities,
                None => {
                    return Err(DesyncReason::MissingBaseline {
                        baseline_tick: snapshot.baseline_tick,
                    })
                }
            }
        };
        let ticks = snapshot.ticks_since_baseline();
        let mut entities = self.spare.pop().unwrap_or_default();
        let applied = delta::apply(
            baseline,
            &snapshot.created,
            &snapshot.changed,
            &snapshot.removed,
            ticks,
            &mut entities,
        );
        if let Err(error) = applied {
            self.recycle(entities);
            return Err(error.into());
        }
        let actual = view_checksum(&entities);
        if actual != snapshot.checksum {
            self.recycle(entities);
            return Err(DesyncReason::ChecksumMismatch {
                expected: snapshot.checksum,
                actual,
            });
        }
        self.prune(snapshot.baseline_tick);
        self.views.push_back(HeldView {
            tick: snapshot.tick,
            acked: false,
            entities,
        });
        while self.views.len() > MAX_HELD_VIEWS {
            if let Some(oldest) = self.views.pop_front() {
                self.recycle(oldest.entities);
            }
        }
        Ok(())
    }

    /// Drops the views no future snapshot can use, before a newer view is pushed: those
    /// older than the server's current baseline, and the unacknowledged ones (only a view
    /// that is current when an ack is sent is ever acknowledged, and it is about to stop
    /// being current).
    fn prune(&mut self, baseline_tick: Tick) {
        let mut kept = 0;
        for index in 0..self.views.len() {
            let keep = {
                let view = &self.views[index];
                view.acked && view.tick >= baseline_tick
            };
            if keep {
                self.views.swap(kept, index);
                kept += 1;
            }
        }
        while self.views.len() > kept {
            if let Some(dropped) = self.views.pop_back() {
                self.recycle(dropped.entities);
            }
        }
    }

    fn recycle(&mut self, mut entities: Vec<Entity<E>>) {
        if self.spare.len() < MAX_SPARE_VIEWS {
            entities.clear();
            self.spare.push(entities);
        }
    }
}
