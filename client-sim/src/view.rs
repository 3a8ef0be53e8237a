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
//! Pure logic, no I/O: [`crate::Client`] feeds it snapshots and tells it what it acked.

use std::collections::VecDeque;

use ticksync_protocol::delta::{self, ApplyError};
use ticksync_protocol::replicated::view_checksum;
use ticksync_protocol::{EntityState, Snapshot, Tick};

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
struct HeldView {
    tick: Tick,
    /// Sent to the server as an acknowledgement, so the server may use it as a baseline.
    acked: bool,
    entities: Vec<EntityState>,
}

/// The views a client holds, newest last. See the module documentation.
#[derive(Debug, Default)]
pub struct ViewStore {
    /// Sorted by tick, oldest first; the last one is the current view.
    views: VecDeque<HeldView>,
    /// Cleared lists whose allocations the next snapshots reuse.
    spare: Vec<Vec<EntityState>>,
}

impl ViewStore {
    pub fn new() -> Self {
        ViewStore::default()
    }

    /// The current view (the last snapshot applied), sorted by id; empty before the first.
    pub fn current(&self) -> &[EntityState] {
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
    pub fn apply(&mut self, snapshot: &Snapshot) -> Result<(), DesyncReason> {
        let applied_tick = self.tick();
        if snapshot.tick <= applied_tick {
            return Err(DesyncReason::NotNewer { applied_tick });
        }
        let baseline: &[EntityState] = if snapshot.is_full() {
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
        // A held baseline is older than the current view, which is older than `tick`, so
        // this does not underflow; full snapshots are applied to nothing, 0 ticks on.
        let ticks = if snapshot.is_full() {
            0
        } else {
            snapshot.tick - snapshot.baseline_tick
        };
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

    fn recycle(&mut self, mut entities: Vec<EntityState>) {
        if self.spare.len() < MAX_SPARE_VIEWS {
            entities.clear();
            self.spare.push(entities);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync_protocol::delta::{diff, Delta};
    use ticksync_protocol::{EntityDelta, EntityId, Replicated};

    fn entity(id: u32, x: i32, vx: i16) -> EntityState {
        EntityState {
            id: EntityId(id),
            x,
            y: 0,
            vx,
            vy: 0,
            heading: 0,
        }
    }

    fn full(tick: Tick, view: &[EntityState]) -> Snapshot {
        Snapshot {
            tick,
            baseline_tick: 0,
            last_input_seq: 0,
            checksum: view_checksum(view),
            created: view.to_vec(),
            changed: Vec::new(),
            removed: Vec::new(),
        }
    }

    fn delta_snapshot(
        tick: Tick,
        baseline_tick: Tick,
        baseline: &[EntityState],
        target: &[EntityState],
    ) -> Snapshot {
        let mut delta = Delta::default();
        diff(baseline, target, tick - baseline_tick, &mut delta);
        Snapshot {
            tick,
            baseline_tick,
            last_input_seq: 0,
            checksum: view_checksum(target),
            created: delta.created,
            changed: delta.changed,
            removed: delta.removed,
        }
    }

    /// The world at `tick`: entity 1 walks at 3 steps per tick, entity 2 turns at tick 5,
    /// entity 3 exists from tick 4 to tick 7.
    fn world(tick: Tick) -> Vec<EntityState> {
        let t = tick as i32;
        let mut view = vec![entity(1, 3 * t, 3)];
        view.push(if t < 5 {
            entity(2, 100, 0)
        } else {
            entity(2, 100 + 2 * (t - 5), 2)
        });
        if (4..=7).contains(&t) {
            view.push(entity(3, -t, 0));
        }
        view
    }

    #[test]
    fn full_then_delta_yields_the_servers_view() {
        let mut store = ViewStore::new();
        assert_eq!((store.tick(), store.current()), (0, &[][..]));
        store.apply(&full(3, &world(3))).unwrap();
        assert_eq!(store.current(), world(3));
        assert_eq!(store.tick(), 3);
        store.mark_current_acked();
        // Entity 1 moves as predicted (costs nothing), 2 turns, 3 is created.
        let snapshot = delta_snapshot(6, 3, &world(3), &world(6));
        assert!(!snapshot.changed.is_empty() && !snapshot.created.is_empty());
        assert!(snapshot
            .changed
            .iter()
            .all(|d: &EntityDelta| d.id != EntityId(1)));
        store.apply(&snapshot).unwrap();
        assert_eq!(store.current(), world(6));
        assert_eq!(store.tick(), 6);
        store.mark_current_acked();
        // Entity 3 is gone by tick 9: a removal.
        let snapshot = delta_snapshot(9, 6, &world(6), &world(9));
        assert_eq!(snapshot.removed, [EntityId(3)]);
        store.apply(&snapshot).unwrap();
        assert_eq!(store.current(), world(9));
        assert_eq!(store.held_views(), 2, "tick 3 is older than the baseline");
    }

    #[test]
    fn a_wrong_checksum_is_a_desync_that_keeps_the_last_good_view() {
        let mut store = ViewStore::new();
        store.apply(&full(1, &world(1))).unwrap();
        store.mark_current_acked();
        let mut bad = delta_snapshot(2, 1, &world(1), &world(2));
        bad.checksum ^= 1;
        assert!(matches!(
            store.apply(&bad),
            Err(DesyncReason::ChecksumMismatch { .. })
        ));
        assert_eq!(store.tick(), 1);
        assert_eq!(store.current(), world(1));
        // The server, still acked at 1, sends the next delta against 1: it applies.
        store
            .apply(&delta_snapshot(3, 1, &world(1), &world(3)))
            .unwrap();
        assert_eq!(store.current(), world(3));
    }

    #[test]
    fn unusable_snapshots_are_desyncs_not_panics() {
        let mut store = ViewStore::new();
        let orphan = delta_snapshot(5, 4, &world(4), &world(5));
        assert_eq!(
            store.apply(&orphan),
            Err(DesyncReason::MissingBaseline { baseline_tick: 4 })
        );
        store.apply(&full(5, &world(5))).unwrap();
        store.mark_current_acked();
        assert_eq!(
            store.apply(&full(5, &world(5))),
            Err(DesyncReason::NotNewer { applied_tick: 5 })
        );
        // A delta made against another state than the one held.
        let mut wrong = delta_snapshot(6, 5, &world(2), &world(6));
        wrong.removed.push(EntityId(99));
        assert!(matches!(store.apply(&wrong), Err(DesyncReason::Apply(_))));
        assert_eq!(store.tick(), 5);
    }

    #[test]
    fn views_older_than_the_baseline_or_never_acked_are_discarded() {
        let mut store = ViewStore::new();
        store.apply(&full(1, &world(1))).unwrap();
        store.mark_current_acked();
        // Every view is acked; the server's baseline trails by two ticks (its round trip).
        for tick in 2..200u32 {
            let baseline_tick = tick.saturating_sub(2).max(1);
            let snapshot = delta_snapshot(tick, baseline_tick, &world(baseline_tick), &world(tick));
            store.apply(&snapshot).unwrap();
            store.mark_current_acked();
            assert!(
                store.held_views() <= 3,
                "tick {tick}: {}",
                store.held_views()
            );
        }
        // Full snapshots that are never acked: the acked views stay (the server may still
        // receive those acks), but each unacked view is dropped once a newer one arrives.
        store.apply(&full(200, &world(200))).unwrap();
        let held = store.held_views();
        for tick in 201..210 {
            store.apply(&full(tick, &world(tick))).unwrap();
            assert_eq!(store.held_views(), held);
        }
    }

    #[test]
    fn a_server_that_never_moves_its_baseline_cannot_grow_the_store() {
        let mut store = ViewStore::new();
        store.apply(&full(1, &world(1))).unwrap();
        store.mark_current_acked();
        for tick in 2..(MAX_HELD_VIEWS as Tick * 3) {
            store.apply(&full(tick, &world(tick))).unwrap();
            store.mark_current_acked();
            assert!(store.held_views() <= MAX_HELD_VIEWS);
        }
        assert_eq!(store.held_views(), MAX_HELD_VIEWS);
        assert!(store.spare.len() <= MAX_SPARE_VIEWS);
    }

    #[test]
    fn the_world_helper_is_dead_reckoned_between_turns() {
        // Guards the fixtures above: entity 1 never needs a delta.
        assert_eq!(world(1)[0].predict(5), world(6)[0]);
    }
}
