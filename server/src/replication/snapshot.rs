//! One client's snapshot, encoded from the captured tick.
//!
//! [`TickSnapshots`] only reads what the tick captured (the history, the interest grid and the
//! bodies shared by every client with the same baseline), so one value can be shared by the
//! threads that encode a large room's snapshots; everything a client's snapshot writes goes to a
//! [`Scratch`] of the thread building it.

use std::any::Any;
use std::cell::RefCell;

use bytes::Bytes;
use ticksync_protocol::codec::{
    encode_snapshot, CodecError, EncodedBody, SnapshotHeader, SNAPSHOT_HEADER_MAX_BYTES,
};
use ticksync_protocol::delta::{diff, Delta};
use ticksync_protocol::replicated::view_checksum_from;
use ticksync_protocol::sync::{baseline_tick, ticks_between};
use ticksync_protocol::{Entity, EntityId, InputSeq, Replicated, Tick};

use super::history::{CapturedWorld, WorldHistory};
use super::interest::{self, InterestPolicy};
use super::ReplicationError;

/// A client to encode a snapshot for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The entity the client controls (the centre of its area of interest); `None`: it
    /// sees everything.
    pub entity: Option<EntityId>,
    /// The last snapshot tick the client acknowledged (0: none).
    pub acked_tick: Tick,
    /// The last input applied for the client, reported back in the header.
    pub last_input_seq: InputSeq,
    /// Arrival feedback for `last_input_seq`, reported back in the header (the room
    /// measures it; replication only carries it).
    pub input_margin_100us: i16,
}

/// Buffers reused across clients and ticks: one per thread that encodes snapshots.
#[derive(Debug)]
pub(super) struct Scratch<E: Replicated> {
    pub delta: Delta<E>,
    current_indices: Vec<u32>,
    baseline_indices: Vec<u32>,
    current_view: Vec<Entity<E>>,
    baseline_view: Vec<Entity<E>>,
    /// The body of the client being served when it has no shared one.
    body: EncodedBody,
}

impl<E: Replicated> Default for Scratch<E> {
    fn default() -> Self {
        Scratch {
            delta: Delta::default(),
            current_indices: Vec::new(),
            baseline_indices: Vec::new(),
            current_view: Vec::new(),
            baseline_view: Vec::new(),
            body: EncodedBody::default(),
        }
    }
}

thread_local! {
    /// The scratch of a thread encoding a large room's snapshots in parallel (one of rayon's
    /// threads, or the room's own thread working alongside them). Typed by the game it was
    /// last used for: a thread serving rooms of one game downcasts it once per piece of
    /// work; one serving another game replaces it.
    static THREAD_SCRATCH: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Runs `work` with this thread's scratch.
pub(super) fn with_thread_scratch<E: Replicated, R>(work: impl FnOnce(&mut Scratch<E>) -> R) -> R {
    THREAD_SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let fits = slot
                .as_ref()
                .is_some_and(|scratch| scratch.is::<Scratch<E>>());
            if !fits {
                *slot = Some(Box::new(Scratch::<E>::default()));
            }
            match slot
                .as_mut()
                .and_then(|scratch| scratch.downcast_mut::<Scratch<E>>())
            {
                Some(scratch) => work(scratch),
                None => work(&mut Scratch::default()),
            }
        }
        // Only reachable if `work` re-entered this function on the same thread, which snapshot
        // encoding never does; a fresh scratch is then just slower, never wrong.
        Err(_) => work(&mut Scratch::default()),
    })
}

/// The captured tick, read-only: what every client's snapshot of this tick is encoded from.
#[derive(Debug)]
pub(super) struct TickSnapshots<'a, E: Replicated> {
    current: &'a CapturedWorld<E>,
    history: &'a WorldHistory<E>,
    interest: Option<&'a InterestPolicy>,
    /// Everyone-sees-everyone mode: encoded bodies by baseline tick (0 = full).
    shared_bodies: &'a [(Tick, EncodedBody)],
}

impl<E: Replicated> Clone for TickSnapshots<'_, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: Replicated> Copy for TickSnapshots<'_, E> {}

impl<'a, E: Replicated> TickSnapshots<'a, E> {
    pub fn new(
        history: &'a WorldHistory<E>,
        interest: Option<&'a InterestPolicy>,
        shared_bodies: &'a [(Tick, EncodedBody)],
    ) -> Result<TickSnapshots<'a, E>, ReplicationError> {
        let (_, current) = history.latest().ok_or(ReplicationError::NothingCaptured)?;
        Ok(TickSnapshots {
            current,
            history,
            interest,
            shared_bodies,
        })
    }

    /// The baseline of a client that acknowledged `acked_tick`, by the protocol's
    /// baseline rule; `None`: a full snapshot.
    pub fn baseline(&self, acked_tick: Tick) -> Option<&'a CapturedWorld<E>> {
        // One history lookup: the rule asks whether the tick is held, and that answer is
        // the captured tick.
        let mut captured = None;
        baseline_tick(acked_tick, self.current.tick, |tick| {
            captured = self.history.get(tick);
            captured.is_some()
        })?;
        captured
    }

    /// Everyone-sees-everyone mode: the body every client with `baseline` gets.
    pub fn encode_shared_body(
        &self,
        baseline: Option<&CapturedWorld<E>>,
        delta: &mut Delta<E>,
    ) -> Result<EncodedBody, CodecError> {
        let baseline_entities = baseline.map_or(&[][..], |captured| &captured.entities);
        encode_delta(
            baseline_entities,
            &self.current.entities,
            ticks_since(self.current, baseline),
            delta,
        )
    }

    /// The snapshot of the current tick for `viewer`, encoded.
    pub fn encode_for(
        &self,
        viewer: Viewer,
        scratch: &mut Scratch<E>,
    ) -> Result<Bytes, ReplicationError> {
        let current = self.current;
        let baseline = self.baseline(viewer.acked_tick);
        let baseline_tick = baseline.map_or(0, |captured| captured.tick);
        let ticks = ticks_since(current, baseline);
        let (checksum, body) = match self.interest {
            None => {
                let shared = self
                    .shared_bodies
                    .iter()
                    .find(|(tick, _)| *tick == baseline_tick);
                let body = match shared {
                    Some((_, body)) => body,
                    // Not prepared for this baseline: encode it for this client alone. The
                    // bytes are the same, only the work is not shared.
                    None => {
                        scratch.body = self.encode_shared_body(baseline, &mut scratch.delta)?;
                        &scratch.body
                    }
                };
                (current.world_checksum, body)
            }
            Some(policy) => {
                interest::select(current, viewer.entity, policy, &mut scratch.current_indices);
                gather(current, &scratch.current_indices, &mut scratch.current_view);
                match baseline {
                    Some(captured) => {
                        interest::select(
                            captured,
                            viewer.entity,
                            policy,
                            &mut scratch.baseline_indices,
                        );
                        gather(
                            captured,
                            &scratch.baseline_indices,
                            &mut scratch.baseline_view,
                        );
                    }
                    None => scratch.baseline_view.clear(),
                }
                scratch.body = encode_delta(
                    &scratch.baseline_view,
                    &scratch.current_view,
                    ticks,
                    &mut scratch.delta,
                )?;
                let checksum = view_checksum_from(
                    scratch
                        .current_indices
                        .iter()
                        .map(|&i| current.checksums[i as usize]),
                );
                (checksum, &scratch.body)
            }
        };
        let header = SnapshotHeader {
            tick: current.tick,
            baseline_tick,
            last_input_seq: viewer.last_input_seq,
            input_margin_100us: viewer.input_margin_100us,
            checksum,
        };
        let mut snapshot = Vec::with_capacity(SNAPSHOT_HEADER_MAX_BYTES + body.len());
        encode_snapshot(header, body, &mut snapshot)?;
        Ok(Bytes::from(snapshot))
    }
}

/// Ticks from the baseline to the current tick (0 for a full snapshot).
fn ticks_since<E: Replicated>(
    current: &CapturedWorld<E>,
    baseline: Option<&CapturedWorld<E>>,
) -> Tick {
    ticks_between(baseline.map_or(0, |captured| captured.tick), current.tick)
}

fn gather<E: Replicated>(captured: &CapturedWorld<E>, indices: &[u32], out: &mut Vec<Entity<E>>) {
    out.clear();
    out.extend(
        indices
            .iter()
            .map(|&i| captured.entities[i as usize].clone()),
    );
}

fn encode_delta<E: Replicated>(
    baseline: &[Entity<E>],
    target: &[Entity<E>],
    ticks: Tick,
    delta: &mut Delta<E>,
) -> Result<EncodedBody, CodecError> {
    diff(baseline, target, ticks, delta);
    EncodedBody::new(&delta.created, &delta.changed, &delta.removed)
}
