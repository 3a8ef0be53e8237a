//! The per-tick replication step: capture the world once, then encode each client's snapshot
//! as a delta against the view that client acknowledged.
//!
//! Baseline rule (ARCHITECTURE.md §2.2): the client's latest acknowledged tick, if it is still in
//! the history and older than the current tick; otherwise a full snapshot (baseline 0). The
//! client acknowledged only what it applied, so it always holds the baseline, and a snapshot
//! lost on the way never corrupts it.
//!
//! A large room's snapshots are encoded in parallel ([`Replicator::serve`] with
//! [`Execution::Parallel`]): the captured tick is shared read-only, each thread has its own
//! scratch, each client is served by exactly one thread, and the snapshots are byte for byte
//! those of the sequential path.

use std::ops::Add;

use bytes::Bytes;
use ticksync_protocol::codec::{CodecError, EncodedBody};
use ticksync_protocol::{Entity, EntityId, InputSeq, Replicated, Tick};

use super::fan_out::fan_out;
use super::history::{capture, CapturedWorld, WorldHistory};
use super::interest::{self, InterestPolicy};
use super::snapshot::{with_thread_scratch, Scratch, TickSnapshots, Viewer};

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
    /// Captured ticks kept as possible baselines (about one second of ticks).
    pub history_ticks: usize,
    /// Area of interest; `None` means everyone sees everyone.
    pub interest: Option<InterestPolicy>,
}

/// Clients from which a room with area of interest encodes its snapshots in parallel.
///
/// Parallel work wakes rayon's threads, which sleep between ticks; below this the wake-up
/// costs about what it saves. Measured on a shared 2-core machine, sequential and parallel
/// ticks interleaved, each after 30 ms idle as in a room (a hand-run variant of
/// `benches/replication.rs`), p50 / mean: 64 clients 151 / 148 → 173 / 308 µs (loses),
/// 128 clients 354 / 343 → 330 / 424 µs (a wash), 256 clients 817 / 835 → 633 / 758 µs
/// (wins), 1,000 clients 4.1 / 4.3 → 2.9 / 3.3 ms.
pub const PARALLEL_MIN_CLIENTS_AOI: usize = 256;

/// Clients from which an everyone-sees-everyone room encodes its snapshots in parallel.
///
/// There a client's own work is a header and a copy of the shared body (a fraction of a
/// microsecond), so only a big room pays for waking the helpers; until then a helper that
/// wakes late costs more than the whole job. Measured as above, p50 / p90: 1,000 clients
/// 349 / 512 → 422 / 5,995 µs (loses), 2,000 clients 787 / 930 → 707 / 4,794 µs (the median
/// wins, the tail loses), 4,000 clients 1,584 / 1,844 → 1,157 / 1,397 µs (wins).
pub const PARALLEL_MIN_CLIENTS_EVERYONE: usize = 4000;

/// Clients per piece of parallel work (see `fan_out`): about 100 µs of work with area of
/// interest and a few µs without, so taking a piece (a lock) is noise, and a helper that is
/// preempted mid-piece holds the tick up by at most that much.
const CLIENTS_PER_PIECE: usize = 32;

/// Where a tick's per-client snapshots are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// On the calling thread, one client after another.
    Sequential,
    /// On the calling thread and rayon's global pool together (see `fan_out`). That pool (one
    /// thread per core; `RAYON_NUM_THREADS` overrides) is separate from the tokio runtimes
    /// (the rooms' tick runtime and the socket runtime); the calling thread blocks until its
    /// helpers are done, which is one more reason a heavy room's tick runs under
    /// `block_in_place` (see `room::tick_loop`).
    Parallel,
}

/// Encodes snapshots. One per room.
#[derive(Debug)]
pub struct Replicator<E: Replicated> {
    settings: ReplicationSettings,
    history: WorldHistory<E>,
    /// Everyone-sees-everyone mode: this tick's encoded bodies by baseline tick (0 = full).
    /// Clients that acknowledged the same tick share one encoding.
    shared_bodies: Vec<(Tick, EncodedBody)>,
    /// The viewers of the clients being served, parallel to them (reused across ticks).
    viewers: Vec<Option<Viewer>>,
    /// The calling thread's buffers on the sequential path (in parallel, each thread, the
    /// caller included, uses its own thread's).
    scratch: Scratch<E>,
}

impl<E: Replicated> Replicator<E> {
    pub fn new(settings: ReplicationSettings) -> Replicator<E> {
        Replicator {
            history: WorldHistory::new(settings.history_ticks),
            settings,
            shared_bodies: Vec::new(),
            viewers: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    /// How a tick for `clients` clients is best built: in parallel from
    /// [`PARALLEL_MIN_CLIENTS_AOI`] or [`PARALLEL_MIN_CLIENTS_EVERYONE`] clients on, when
    /// rayon's pool has more than one thread.
    pub fn execution_for(&self, clients: usize) -> Execution {
        let threshold = match self.settings.interest {
            Some(_) => PARALLEL_MIN_CLIENTS_AOI,
            None => PARALLEL_MIN_CLIENTS_EVERYONE,
        };
        // Checked in this order so that a small room never starts rayon's pool.
        if clients >= threshold && rayon::current_num_threads() > 1 {
            Execution::Parallel
        } else {
            Execution::Sequential
        }
    }

    /// Captures the world after `tick`: entity states, checksums and (with area of interest)
    /// the spatial grid. Once per tick, before any `snapshot_for` or `serve`.
    pub fn capture(&mut self, tick: Tick, fill: impl FnOnce(&mut Vec<Entity<E>>)) {
        let captured = capture(&mut self.history, tick, fill);
        if let Some(policy) = &self.settings.interest {
            captured
                .grid
                .rebuild(&captured.entities, policy.radius_steps);
        }
        self.shared_bodies.clear();
    }

    /// Whether the client controlling `viewer` sees `entity` in the current captured tick.
    /// Without area of interest: whether the entity exists.
    pub fn sees(&self, viewer: Option<EntityId>, entity: EntityId, scratch: &mut Vec<u32>) -> bool {
        let Some((_, captured)) = self.history.latest() else {
            return false;
        };
        let Some(index) = captured.index_of(entity) else {
            return false;
        };
        match &self.settings.interest {
            None => true,
            Some(policy) => {
                interest::select(captured, viewer, policy, scratch);
                scratch.binary_search(&(index as u32)).is_ok()
            }
        }
    }

    /// The encoded snapshot of the current tick for the client controlling `viewer`, which
    /// last acknowledged `acked_tick` (0: nothing yet).
    pub fn snapshot_for(
        &mut self,
        viewer: Option<EntityId>,
        acked_tick: Tick,
        last_input_seq: InputSeq,
    ) -> Result<Bytes, ReplicationError> {
        self.share_bodies([acked_tick], Execution::Sequential);
        let snapshots = TickSnapshots::new(
            &self.history,
            self.settings.interest.as_ref(),
            &self.shared_bodies,
        )?;
        let viewer = Viewer {
            entity: viewer,
            acked_tick,
            last_input_seq,
            // Arrival feedback is the room's business (see `room::Member`), not replication's.
            input_margin_100us: 0,
        };
        snapshots.encode_for(viewer, &mut self.scratch)
    }

    /// Encodes the current tick's snapshot for every client that `viewer` names (`None`: skip
    /// it) and hands it to `deliver`, which says what became of it; returns the sum of what
    /// `deliver` returned. `viewer` is read first, once per client, in order. With
    /// [`Execution::Parallel`], `deliver` runs on the calling thread and rayon's threads,
    /// each client on exactly one of them.
    pub fn serve<C, T>(
        &mut self,
        clients: &mut [C],
        execution: Execution,
        viewer: impl FnMut(&C) -> Option<Viewer>,
        deliver: impl Fn(&mut C, Result<Bytes, ReplicationError>) -> T + Sync,
    ) -> Result<T, ReplicationError>
    where
        C: Send,
        T: Default + Add<Output = T> + Send,
    {
        let mut viewers = std::mem::take(&mut self.viewers);
        viewers.clear();
        viewers.extend(clients.iter().map(viewer));
        let served = self.serve_viewers(clients, &viewers, execution, deliver);
        self.viewers = viewers;
        served
    }

    fn serve_viewers<C, T>(
        &mut self,
        clients: &mut [C],
        viewers: &[Option<Viewer>],
        execution: Execution,
        deliver: impl Fn(&mut C, Result<Bytes, ReplicationError>) -> T + Sync,
    ) -> Result<T, ReplicationError>
    where
        C: Send,
        T: Default + Add<Output = T> + Send,
    {
        // Everyone-sees-everyone: the bodies first, so the per-client part is only a header
        // and a copy.
        self.share_bodies(viewers.iter().flatten().map(|v| v.acked_tick), execution);
        let snapshots = TickSnapshots::new(
            &self.history,
            self.settings.interest.as_ref(),
            &self.shared_bodies,
        )?;
        let served = match execution {
            Execution::Sequential => {
                serve_in_order(&snapshots, clients, viewers, &mut self.scratch, &deliver)
            }
            Execution::Parallel => fan_out(clients, CLIENTS_PER_PIECE, |offset, clients| {
                with_thread_scratch(|scratch| {
                    serve_in_order(&snapshots, clients, &viewers[offset..], scratch, &deliver)
                })
            }),
        };
        Ok(served)
    }

    /// Everyone-sees-everyone mode: encodes the body of each distinct baseline that clients
    /// which acknowledged `acked_ticks` get and this tick has none for yet. A body that fails
    /// to encode is left out; each of its clients then tries alone and reports the error.
    fn share_bodies(&mut self, acked_ticks: impl IntoIterator<Item = Tick>, execution: Execution) {
        if self.settings.interest.is_some() {
            return;
        }
        let Ok(snapshots) = TickSnapshots::new(&self.history, None, &[]) else {
            return;
        };
        let mut missing: Vec<(Tick, Option<&CapturedWorld<E>>)> = Vec::new();
        for acked_tick in acked_ticks {
            let baseline = snapshots.baseline(acked_tick);
            let tick = baseline.map_or(0, |captured| captured.tick);
            let known = |bodies: &[(Tick, EncodedBody)]| bodies.iter().any(|(t, _)| *t == tick);
            if !known(&self.shared_bodies) && !missing.iter().any(|(t, _)| *t == tick) {
                missing.push((tick, baseline));
            }
        }
        let mut bodies: Vec<PendingBody<'_, E>> = missing
            .into_iter()
            .map(|(tick, baseline)| (tick, baseline, None))
            .collect();
        match execution {
            Execution::Parallel if bodies.len() > 1 => {
                // One body per piece; the sum (bodies encoded) is not needed.
                fan_out(&mut bodies, 1, |_, bodies| {
                    with_thread_scratch(|scratch| {
                        for (_, baseline, body) in bodies.iter_mut() {
                            *body = snapshots
                                .encode_shared_body(*baseline, &mut scratch.delta)
                                .ok();
                        }
                    });
                    bodies.len()
                });
            }
            _ => {
                for (_, baseline, body) in &mut bodies {
                    *body = snapshots
                        .encode_shared_body(*baseline, &mut self.scratch.delta)
                        .ok();
                }
            }
        }
        self.shared_bodies.extend(
            bodies
                .into_iter()
                .filter_map(|(tick, _, body)| Some((tick, body?))),
        );
    }
}

/// A shared body to encode: its baseline tick, the baseline captured tick (none: full), and the
/// encoding once done.
type PendingBody<'a, E> = (Tick, Option<&'a CapturedWorld<E>>, Option<EncodedBody>);

/// Encodes and delivers the snapshots of `clients` in order — `viewers[i]` is `clients[i]`'s
/// viewer; a client without one is skipped — and sums what `deliver` returns. The one loop
/// behind both the sequential path and each parallel piece.
fn serve_in_order<E: Replicated, C, T>(
    snapshots: &TickSnapshots<'_, E>,
    clients: &mut [C],
    viewers: &[Option<Viewer>],
    scratch: &mut Scratch<E>,
    deliver: &impl Fn(&mut C, Result<Bytes, ReplicationError>) -> T,
) -> T
where
    T: Default + Add<Output = T>,
{
    clients
        .iter_mut()
        .zip(viewers)
        .filter_map(|(client, viewer)| Some((client, (*viewer)?)))
        .fold(T::default(), |sum, (client, viewer)| {
            let snapshot = snapshots.encode_for(viewer, scratch);
            sum + deliver(client, snapshot)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ticksync_arena::{Arena, ArenaEntity, ArenaSchema, MoveDir};
    use ticksync_game::Game;
    use ticksync_protocol::codec::decode_server_message;
    use ticksync_protocol::sync::ViewStore;
    use ticksync_protocol::{Entity, PlayerId, ServerMessage, Snapshot};

    type View = Vec<Entity<ArenaEntity>>;

    /// Joins a new player and returns its entity.
    fn join(arena: &mut Arena) -> EntityId {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT_PLAYER: AtomicU32 = AtomicU32::new(1);
        arena.spawn(PlayerId(NEXT_PLAYER.fetch_add(1, Ordering::Relaxed)))
    }

    /// Steers the entity `id`.
    fn steer(arena: &mut Arena, id: EntityId, move_dir: MoveDir) {
        if let Some(player) = arena.entity(id).map(|mover| mover.player) {
            arena.steer(player, move_dir);
        }
    }

    fn leave(arena: &mut Arena, id: EntityId) {
        if let Some(player) = arena.entity(id).map(|mover| mover.player) {
            arena.remove(player);
        }
    }

    fn capture(replicator: &mut Replicator<ArenaEntity>, tick: Tick, arena: &Arena) {
        replicator.capture(tick, |out| arena.write_entities(out));
    }

    const DT: f32 = 1.0 / 30.0;

    fn decode(encoded: &[u8]) -> Snapshot<ArenaEntity> {
        match decode_server_message::<ArenaSchema>(encoded).unwrap() {
            ServerMessage::Snapshot(snapshot) => snapshot,
            other => panic!("not a snapshot: {other:?}"),
        }
    }

    /// A client that keeps the views it may be sent deltas against with the protocol's own
    /// view store, as every real client does.
    #[derive(Default)]
    struct ModelClient {
        views: ViewStore<ArenaEntity>,
        acked: Tick,
    }

    impl ModelClient {
        fn receive(&mut self, snapshot: &Snapshot<ArenaEntity>) -> View {
            self.views
                .apply(snapshot)
                .unwrap_or_else(|error| panic!("desync at tick {}: {error}", snapshot.tick));
            self.views.mark_current_acked();
            self.acked = snapshot.tick;
            self.views.current().to_vec()
        }
    }

    /// Runs a world of `players` moving entities for `ticks` ticks; one client applies every
    /// snapshot it is not told to lose. Returns the views it applied.
    fn run(
        interest: Option<InterestPolicy>,
        players: usize,
        ticks: u32,
        losses: &[bool],
    ) -> Vec<(Tick, View)> {
        let mut arena = Arena::new(200);
        let ids: Vec<_> = (0..players).map(|_| join(&mut arena)).collect();
        let mut replicator = Replicator::new(ReplicationSettings {
            history_ticks: 30,
            interest,
        });
        let mut client = ModelClient::default();
        let mut applied = Vec::new();
        for tick in 1..=ticks {
            // Everyone turns now and then, and some run into the world's edge.
            for (i, id) in ids.iter().enumerate() {
                if (tick as usize + i * 7) % 11 == 0 {
                    let angle = (tick as f32 * 0.7) + i as f32;
                    steer(
                        &mut arena,
                        *id,
                        MoveDir::from_vector(angle.cos(), angle.sin()),
                    );
                }
            }
            arena.advance(DT);
            capture(&mut replicator, tick, &arena);
            let encoded = replicator
                .snapshot_for(Some(ids[0]), client.acked, 0)
                .unwrap();
            let snapshot = decode(&encoded);
            if losses[tick as usize % losses.len()] {
                continue;
            }
            applied.push((tick, client.receive(&snapshot)));
        }
        applied
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

    /// A client of the `serve` tests: what it asks for and what it was handed.
    #[derive(Debug, Clone)]
    struct ServedClient {
        viewer: Option<Viewer>,
        snapshot: Option<Bytes>,
    }

    fn serve_all(
        replicator: &mut Replicator<ArenaEntity>,
        clients: &mut [ServedClient],
        execution: Execution,
    ) -> usize {
        replicator
            .serve(
                clients,
                execution,
                |client| client.viewer,
                |client, snapshot| {
                    client.snapshot = Some(snapshot.unwrap());
                    1usize
                },
            )
            .unwrap()
    }

    /// Runs a world of `players` (some leaving, some joining) and, at each of the last ticks,
    /// encodes every client's snapshot three ways — `snapshot_for` one client at a time, `serve`
    /// in order and `serve` in parallel, each on its own replicator — and checks that they
    /// are the same bytes. Acknowledgements are random: none, current, recent, older than
    /// the history, from the future, shared by many clients or not.
    fn check_parallel_matches_sequential(
        interest: Option<InterestPolicy>,
        players: usize,
        seed: u64,
    ) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let mut arena = Arena::new(400);
        let mut ids: Vec<_> = (0..players).map(|_| join(&mut arena)).collect();
        let settings = ReplicationSettings {
            history_ticks: 20,
            interest,
        };
        let mut reference = Replicator::new(settings);
        let mut sequential = Replicator::new(settings);
        let mut parallel = Replicator::new(settings);
        for tick in 1..=30u32 {
            for id in &ids {
                if rng.random_bool(0.2) {
                    let move_dir = MoveDir::from_vector(
                        rng.random_range(-1.0..=1.0),
                        rng.random_range(-1.0..=1.0),
                    );
                    steer(&mut arena, *id, move_dir);
                }
            }
            if rng.random_bool(0.3) {
                // Leaves stay among the clients (a viewer not in the world), joins are new.
                leave(&mut arena, ids[rng.random_range(0..ids.len())]);
                ids.push(join(&mut arena));
            }
            arena.advance(DT);
            for replicator in [&mut reference, &mut sequential, &mut parallel] {
                capture(replicator, tick, &arena);
            }
            if tick < 20 {
                continue;
            }
            let common = tick.saturating_sub(rng.random_range(1..4));
            let clients: Vec<ServedClient> = ids
                .iter()
                .map(|&entity| {
                    let acked_tick = match rng.random_range(0..8) {
                        0 => 0,
                        1 => tick,
                        2 => tick + 3,
                        3 => tick.saturating_sub(25),
                        4 => tick.saturating_sub(rng.random_range(1..20)),
                        _ => common,
                    };
                    let viewer = Viewer {
                        entity: Some(entity),
                        acked_tick,
                        last_input_seq: rng.random(),
                        input_margin_100us: 0,
                    };
                    ServedClient {
                        viewer: rng.random_bool(0.95).then_some(viewer),
                        snapshot: None,
                    }
                })
                .collect();
            let expected: Vec<Option<Bytes>> = clients
                .iter()
                .map(|client| {
                    client.viewer.map(|v| {
                        reference
                            .snapshot_for(v.entity, v.acked_tick, v.last_input_seq)
                            .unwrap()
                    })
                })
                .collect();
            let served = expected.iter().flatten().count();
            for (replicator, execution) in [
                (&mut sequential, Execution::Sequential),
                (&mut parallel, Execution::Parallel),
            ] {
                let mut clients = clients.clone();
                assert_eq!(serve_all(replicator, &mut clients, execution), served);
                let snapshots: Vec<_> = clients.into_iter().map(|client| client.snapshot).collect();
                assert!(
                    snapshots == expected,
                    "{execution:?} snapshots differ at tick {tick}"
                );
            }
        }
    }

    #[test]
    fn a_large_room_is_the_same_bytes_in_parallel() {
        let policy = InterestPolicy {
            radius_steps: 60 * 64,
            max_entities: Some(16),
        };
        check_parallel_matches_sequential(Some(policy), 600, 1);
        check_parallel_matches_sequential(None, 600, 2);
    }

    #[test]
    fn only_large_rooms_go_parallel() {
        let settings = |interest| ReplicationSettings {
            history_ticks: 30,
            interest,
        };
        let aoi = Replicator::<ArenaEntity>::new(settings(Some(InterestPolicy {
            radius_steps: 64,
            max_entities: None,
        })));
        let everyone = Replicator::<ArenaEntity>::new(settings(None));
        let parallel = if rayon::current_num_threads() > 1 {
            Execution::Parallel
        } else {
            Execution::Sequential
        };
        assert_eq!(
            aoi.execution_for(PARALLEL_MIN_CLIENTS_AOI - 1),
            Execution::Sequential
        );
        assert_eq!(aoi.execution_for(PARALLEL_MIN_CLIENTS_AOI), parallel);
        assert_eq!(
            everyone.execution_for(PARALLEL_MIN_CLIENTS_EVERYONE - 1),
            Execution::Sequential
        );
        assert_eq!(
            everyone.execution_for(PARALLEL_MIN_CLIENTS_EVERYONE),
            parallel
        );
    }

    #[test]
    fn serve_before_any_capture_is_an_error() {
        let mut replicator = Replicator::<ArenaEntity>::new(ReplicationSettings {
            history_ticks: 30,
            interest: None,
        });
        let mut clients = vec![ServedClient {
            viewer: None,
            snapshot: None,
        }];
        let served = replicator.serve(&mut clients, Execution::Parallel, |c| c.viewer, |_, _| 1);
        assert!(matches!(served, Err(ReplicationError::NothingCaptured)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Snapshots encoded in parallel are byte for byte the sequential ones, for random worlds,
        /// acknowledgements and interest policies.
        #[test]
        fn parallel_snapshots_are_the_sequential_snapshots(
            players in 1usize..200,
            seed in any::<u64>(),
            radius in prop::option::of(5i32..150),
            cap in prop::option::of(1usize..12),
        ) {
            let interest = radius.map(|radius| InterestPolicy {
                radius_steps: radius * 64,
                max_entities: cap,
            });
            check_parallel_matches_sequential(interest, players, seed);
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
