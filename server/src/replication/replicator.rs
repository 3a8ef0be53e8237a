//! The per-tick replication step: capture the world once, then build each client's snapshot
//! frame as a delta against the view that client acknowledged.
//!
//! Baseline rule (DESIGN.md §2.2): the client's latest acknowledged tick, if it is still in
//! the history and older than the current tick; otherwise a full snapshot (baseline 0). The
//! client acknowledged only what it applied, so it always holds the baseline, and a snapshot
//! lost on the way never corrupts it.

use bytes::Bytes;
use ticksync_protocol::codec::{
    encode_snapshot, CodecError, EncodedBody, SnapshotHeader, SNAPSHOT_HEADER_MAX_BYTES,
};
use ticksync_protocol::delta::{diff, Delta};
use ticksync_protocol::replicated::view_checksum_from;
use ticksync_protocol::{EntityId, EntityState, InputSeq, Tick};

use super::history::{WorldFrame, WorldHistory};
use super::interest::{self, InterestPolicy};
use crate::game::Game;

/// Why a snapshot could not be built. Neither happens in a running room: the first is a
/// call before any capture, the second an encoder bug.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("no world state has been captured yet")]
    NothingCaptured,
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// How a room replicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// Frames kept as possible baselines (about one second of ticks).
    pub history_ticks: usize,
    /// Area of interest; `None` means everyone sees everyone.
    pub interest: Option<InterestPolicy>,
    /// Side of the world in position steps (sizes the interest grid).
    pub world_steps: i32,
}

/// Builds snapshot frames. One per room.
#[derive(Debug)]
pub struct Replicator {
    settings: ReplicationSettings,
    history: WorldHistory,
    /// Everyone-sees-everyone mode: this tick's encoded bodies by baseline tick (0 = full).
    /// Clients that acknowledged the same tick share one encoding.
    shared_bodies: Vec<(Tick, EncodedBody)>,
    scratch: Scratch,
}

/// Buffers reused across clients and ticks.
#[derive(Debug, Default)]
struct Scratch {
    delta: Delta<EntityState>,
    current_indices: Vec<u32>,
    baseline_indices: Vec<u32>,
    current_view: Vec<EntityState>,
    baseline_view: Vec<EntityState>,
    /// The body of the client being served, with area of interest on.
    body: EncodedBody,
}

impl Replicator {
    pub fn new(settings: ReplicationSettings) -> Replicator {
        Replicator {
            history: WorldHistory::new(settings.history_ticks),
            settings,
            shared_bodies: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// Captures the world after `tick`: entity states, checksums and (with area of interest)
    /// the spatial grid. Once per tick, before any `snapshot_for`.
    pub fn capture<G: Game + ?Sized>(&mut self, tick: Tick, game: &G) {
        let frame = self.history.push(tick, |out| game.write_entities(out));
        if let Some(policy) = &self.settings.interest {
            frame.grid.rebuild(
                &frame.entities,
                policy.radius_steps,
                self.settings.world_steps,
            );
        }
        self.shared_bodies.clear();
    }

    /// The snapshot frame of the current tick for the client controlling `viewer`, which
    /// last acknowledged `acked_tick` (0: nothing yet).
    pub fn snapshot_for(
        &mut self,
        viewer: EntityId,
        acked_tick: Tick,
        last_input_seq: InputSeq,
    ) -> Result<Bytes, ReplicationError> {
        let Some(current) = self.history.latest() else {
            return Err(ReplicationError::NothingCaptured);
        };
        let baseline = (acked_tick != 0 && acked_tick < current.tick)
            .then(|| self.history.get(acked_tick))
            .flatten();
        let baseline_tick = baseline.map_or(0, |frame| frame.tick);
        let ticks = current.tick - baseline_tick.min(current.tick);
        let (checksum, body) = match &self.settings.interest {
            None => {
                let index = match self
                    .shared_bodies
                    .iter()
                    .position(|(tick, _)| *tick == baseline_tick)
                {
                    Some(index) => index,
                    None => {
                        let baseline_entities = baseline.map_or(&[][..], |frame| &frame.entities);
                        let body = encode_delta(
                            baseline_entities,
                            &current.entities,
                            ticks,
                            &mut self.scratch.delta,
                        )?;
                        self.shared_bodies.push((baseline_tick, body));
                        self.shared_bodies.len() - 1
                    }
                };
                (current.world_checksum, &self.shared_bodies[index].1)
            }
            Some(policy) => {
                let scratch = &mut self.scratch;
                interest::select(current, viewer, policy, &mut scratch.current_indices);
                gather(current, &scratch.current_indices, &mut scratch.current_view);
                match baseline {
                    Some(frame) => {
                        interest::select(frame, viewer, policy, &mut scratch.baseline_indices);
                        gather(frame, &scratch.baseline_indices, &mut scratch.baseline_view);
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
            last_input_seq,
            checksum,
        };
        let mut frame = Vec::with_capacity(SNAPSHOT_HEADER_MAX_BYTES + body.len());
        encode_snapshot(header, body, &mut frame)?;
        Ok(Bytes::from(frame))
    }
}

fn gather(frame: &WorldFrame, indices: &[u32], out: &mut Vec<EntityState>) {
    out.clear();
    out.extend(indices.iter().map(|&i| frame.entities[i as usize]));
}

fn encode_delta(
    baseline: &[EntityState],
    target: &[EntityState],
    ticks: Tick,
    delta: &mut Delta<EntityState>,
) -> Result<EncodedBody, CodecError> {
    diff(baseline, target, ticks, delta);
    EncodedBody::new(&delta.created, &delta.changed, &delta.removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::arena::Arena;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use ticksync_protocol::codec::decode_server_message;
    use ticksync_protocol::delta::apply;
    use ticksync_protocol::replicated::view_checksum;
    use ticksync_protocol::{Input, MoveDir, ServerMessage, Snapshot};

    const DT: f32 = 1.0 / 30.0;

    fn decode(frame: &[u8]) -> Snapshot {
        match decode_server_message(frame).unwrap() {
            ServerMessage::Snapshot(snapshot) => snapshot,
            other => panic!("not a snapshot: {other:?}"),
        }
    }

    /// A client that keeps the views it may be sent deltas against, as a real one does.
    #[derive(Default)]
    struct ModelClient {
        views: BTreeMap<Tick, Vec<EntityState>>,
        acked: Tick,
    }

    impl ModelClient {
        fn receive(&mut self, snapshot: &Snapshot) -> Vec<EntityState> {
            let baseline = if snapshot.is_full() {
                Vec::new()
            } else {
                self.views
                    .get(&snapshot.baseline_tick)
                    .cloned()
                    .expect("the server only uses baselines the client acknowledged")
            };
            let mut view = Vec::new();
            apply(
                &baseline,
                &snapshot.created,
                &snapshot.changed,
                &snapshot.removed,
                snapshot.tick - snapshot.baseline_tick.min(snapshot.tick),
                &mut view,
            )
            .unwrap();
            assert_eq!(
                view_checksum(&view),
                snapshot.checksum,
                "desync at tick {}",
                snapshot.tick
            );
            self.views.insert(snapshot.tick, view.clone());
            self.acked = snapshot.tick;
            view
        }
    }

    /// Runs a world of `players` moving entities for `ticks` ticks; one client applies every
    /// snapshot it is not told to lose. Returns the views it applied.
    fn run(
        interest: Option<InterestPolicy>,
        players: usize,
        ticks: u32,
        losses: &[bool],
    ) -> Vec<(Tick, Vec<EntityState>)> {
        let mut arena = Arena::new(200);
        let ids: Vec<_> = (0..players).map(|_| arena.join("p")).collect();
        let mut replicator = Replicator::new(ReplicationSettings {
            history_ticks: 30,
            interest,
            world_steps: 200 * 64,
        });
        let mut client = ModelClient::default();
        let mut applied = Vec::new();
        for tick in 1..=ticks {
            // Everyone turns now and then, and some run into the world's edge.
            for (i, id) in ids.iter().enumerate() {
                if (tick as usize + i * 7) % 11 == 0 {
                    let angle = (tick as f32 * 0.7) + i as f32;
                    let input = Input {
                        seq: tick,
                        ack_tick: 0,
                        move_dir: MoveDir::from_vector(angle.cos(), angle.sin()),
                        buttons: 0,
                    };
                    arena_apply(&mut arena, *id, &input);
                }
            }
            crate::game::Game::step(&mut arena, DT);
            replicator.capture(tick, &arena);
            let frame = replicator.snapshot_for(ids[0], client.acked, 0).unwrap();
            let snapshot = decode(&frame);
            if losses[tick as usize % losses.len()] {
                continue;
            }
            applied.push((tick, client.receive(&snapshot)));
        }
        applied
    }

    fn arena_apply(arena: &mut Arena, id: ticksync_protocol::EntityId, input: &Input) {
        crate::game::Game::apply_input(arena, id, input);
    }

    #[test]
    fn everyone_mode_client_tracks_the_world_exactly() {
        let applied = run(None, 20, 90, &[false]);
        assert_eq!(applied.len(), 90);
        assert!(applied.iter().all(|(_, view)| view.len() == 20));
    }

    #[test]
    fn interest_views_stay_inside_the_radius() {
        let policy = InterestPolicy {
            radius_steps: 40 * 64,
            max_entities: Some(6),
        };
        let applied = run(Some(policy), 30, 120, &[false]);
        for (_, view) in &applied {
            assert!(!view.is_empty() && view.len() <= 6);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Whatever snapshots are lost, the client never desyncs (the checksum check inside
        /// `receive` would panic) and never lacks a baseline.
        #[test]
        fn lost_snapshots_never_corrupt_the_client(
            losses in proptest::collection::vec(prop::bool::weighted(0.3), 1..16),
            aoi in any::<bool>(),
        ) {
            let interest = aoi.then_some(InterestPolicy { radius_steps: 50 * 64, max_entities: None });
            run(interest, 12, 60, &losses);
        }
    }
}
