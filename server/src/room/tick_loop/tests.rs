//! The tick loop's tests: joins, inputs, snapshots, slow clients, resumes and the parallel
//! paths, on a room driven tick by tick with test clients in place of sessions.

use super::*;
use crate::room::{DirectOutlet, Outlet, SessionLink, MESSAGE_RESERVE};
use ticksync_arena::{Arena, ArenaEntity, ArenaInput, ArenaSchema, MoveDir};
use ticksync_protocol::codec::decode_server_message;
use ticksync_protocol::{EntityId, Input, ServerMessage, Snapshot};
use tokio::sync::oneshot;

type Schema = ArenaSchema;

struct TestClient {
    inputs: mpsc::Sender<FromClient<Schema>>,
    shared: Arc<SessionLink>,
    frames: mpsc::Receiver<Bytes>,
    disconnect: oneshot::Receiver<Disconnect>,
    reply: oneshot::Receiver<Result<Welcome, JoinRefused>>,
}

fn settings() -> RoomSettings {
    RoomSettings {
        tick_rate_hz: 30,
        max_players: 3,
        max_inputs_per_tick: 4,
        max_messages_per_tick: 8,
        max_ticks_behind: 5,
        stats_interval: Duration::from_secs(3600),
        resume_grace_ticks: 0,
        replication: ReplicationSettings {
            history_ticks: 30,
            interest: None,
        },
    }
}

fn new_room() -> (Room<Arena>, RoomHandle<Schema>) {
    arena_room("test", settings())
}

/// An arena room named `name` with `settings`.
fn arena_room(name: &str, settings: RoomSettings) -> (Room<Arena>, RoomHandle<Schema>) {
    let status = Arc::new(RoomStatus::new(name, &settings));
    Room::new(settings, Arena::new(2000), Arc::default(), status).unwrap()
}

/// Joins with room for `outbound_capacity` snapshots after the `Welcome` and the arena's
/// greeting message, besides the message reserve.
fn join(handle: &RoomHandle<Schema>, outbound_capacity: usize) -> TestClient {
    let (frame_tx, frame_rx) = mpsc::channel(outbound_capacity + MESSAGE_RESERVE + 2);
    join_through(handle, Outlet::Queue(frame_tx), frame_rx)
}

/// Joins with `outlet` for its frames (`frames`: where a queue outlet's frames arrive).
fn join_through(
    handle: &RoomHandle<Schema>,
    outlet: Outlet,
    frames: mpsc::Receiver<Bytes>,
) -> TestClient {
    let (input_tx, input_rx) = mpsc::channel(16);
    let (disconnect_tx, disconnect_rx) = oneshot::channel();
    let (reply_tx, reply_rx) = oneshot::channel();
    let shared = Arc::new(SessionLink::default());
    handle
        .joins
        .try_send(Box::new(JoinRequest {
            player_name: "t".into(),
            claims: None,
            from_client: input_rx,
            outlet,
            disconnect: disconnect_tx,
            resume_token: None,
            shared: shared.clone(),
            reply: reply_tx,
        }))
        .unwrap();
    TestClient {
        inputs: input_tx,
        shared,
        frames,
        disconnect: disconnect_rx,
        reply: reply_rx,
    }
}

fn last_snapshot(client: &mut TestClient) -> Snapshot<ArenaEntity> {
    let mut last = None;
    while let Ok(frame) = client.frames.try_recv() {
        if let ServerMessage::Snapshot(s) = decode_server_message::<Schema>(&frame).unwrap() {
            last = Some(s);
        }
    }
    last.expect("no snapshot")
}

fn input(seq: u32, x: i8) -> FromClient<Schema> {
    input_arrived(seq, x, Instant::now())
}

fn input_arrived(seq: u32, x: i8, arrived: Instant) -> FromClient<Schema> {
    FromClient::Input {
        input: Input {
            seq,
            ack_tick: 0,
            payload: ArenaInput {
                move_dir: MoveDir { x, y: 0 },
                buttons: 0,
            },
        },
        arrived,
    }
}

#[test]
fn snapshots_report_how_early_the_last_input_arrived() {
    let (mut room, handle) = new_room();
    let mut a = join(&handle, 64);
    room.tick(1.0 / 30.0);
    assert_eq!(last_snapshot(&mut a).input_margin_100us, 0, "no input yet");
    // One input per tick, 5 ms before the tick: a margin of at least 50 units.
    let early = Instant::now() - Duration::from_millis(5);
    a.inputs.try_send(input_arrived(1, 127, early)).unwrap();
    room.tick(1.0 / 30.0);
    let snapshot = last_snapshot(&mut a);
    assert_eq!(snapshot.last_input_seq, 1);
    assert!(
        (50..330).contains(&snapshot.input_margin_100us),
        "{}",
        snapshot.input_margin_100us
    );
    // The feedback stays with that input while no newer one is applied.
    room.tick(1.0 / 30.0);
    let again = last_snapshot(&mut a);
    assert_eq!(again.input_margin_100us, snapshot.input_margin_100us);
    assert_eq!(room.metrics.inputs_missed_tick.get(), 0);
    // Two inputs arriving after the last tick share the next one: the first missed its
    // tick, which the margin reports as negative.
    a.inputs.try_send(input(2, 127)).unwrap();
    a.inputs.try_send(input(3, 127)).unwrap();
    room.tick(1.0 / 30.0);
    let missed = last_snapshot(&mut a);
    assert_eq!(missed.last_input_seq, 3);
    assert!(
        missed.input_margin_100us < 0,
        "{}",
        missed.input_margin_100us
    );
    assert_eq!(room.metrics.inputs_missed_tick.get(), 1);
}

#[test]
fn joins_get_welcome_and_everyone_sees_everyone() {
    let (mut room, handle) = new_room();
    let mut a = join(&handle, 8);
    let mut b = join(&handle, 8);
    room.tick(1.0 / 30.0);
    let wa = a.reply.try_recv().unwrap().unwrap();
    let wb = b.reply.try_recv().unwrap().unwrap();
    assert_ne!(wa.entity_id, wb.entity_id);
    for client in [&mut a, &mut b] {
        let ids: Vec<EntityId> = last_snapshot(client).created.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![wa.entity_id.unwrap(), wb.entity_id.unwrap()]);
    }
}

#[test]
fn the_welcome_is_the_first_frame_a_member_is_handed() {
    let (mut room, handle) = new_room();
    let mut a = join(&handle, 8);
    room.tick(1.0 / 30.0);
    let reply = a.reply.try_recv().unwrap().unwrap();
    let first = a.frames.try_recv().unwrap();
    match decode_server_message::<Schema>(&first).unwrap() {
        ServerMessage::Welcome(welcome) => assert_eq!(welcome, reply),
        other => panic!("first frame: {}", other.name()),
    }
    // The game's greeting and the snapshot come after it.
    assert!(last_snapshot(&mut a)
        .created
        .iter()
        .any(|e| Some(e.id) == reply.entity_id));
}

#[test]
fn snapshots_are_deltas_against_the_acknowledged_tick() {
    let (mut room, handle) = new_room();
    let mut a = join(&handle, 64);
    let _b = join(&handle, 64);
    room.tick(1.0 / 30.0);
    a.inputs.try_send(input(1, 127)).unwrap();
    room.tick(1.0 / 30.0);
    let full = last_snapshot(&mut a);
    assert!(full.is_full());
    assert_eq!(full.created.len(), 2);
    // Acknowledge it; the next snapshots are deltas against it. Both entities keep their
    // course, so dead reckoning predicts them exactly: nothing changed.
    a.shared.acked_tick.store(full.tick, Ordering::Relaxed);
    room.tick(1.0 / 30.0);
    room.tick(1.0 / 30.0);
    let delta = last_snapshot(&mut a);
    assert_eq!(delta.baseline_tick, full.tick);
    assert!(
        delta.created.is_empty() && delta.changed.is_empty() && delta.removed.is_empty(),
        "{delta:?}"
    );
    // An acknowledgement older than the history falls back to a full snapshot.
    for _ in 0..40 {
        room.tick(1.0 / 30.0);
    }
    let stale = last_snapshot(&mut a);
    assert!(stale.is_full());
    assert_eq!(stale.created.len(), 2);
}

#[test]
fn room_full_is_refused() {
    let (mut room, handle) = new_room();
    let mut clients: Vec<_> = (0..4).map(|_| join(&handle, 8)).collect();
    room.tick(1.0 / 30.0);
    let refused = clients[3].reply.try_recv().unwrap();
    assert_eq!(refused, Err(JoinRefused::RoomFull { capacity: 3 }));
    assert!(clients[0].reply.try_recv().unwrap().is_ok());
}

#[test]
fn inputs_apply_in_order_and_stale_ones_are_ignored() {
    let (mut room, handle) = new_room();
    let mut a = join(&handle, 64);
    room.tick(1.0 / 30.0);
    let welcome = a.reply.try_recv().unwrap().unwrap();
    // Out of order within one tick: 2 then 1; the room sorts, applies 1 then 2.
    a.inputs.try_send(input(2, 127)).unwrap();
    a.inputs.try_send(input(1, -127)).unwrap();
    room.tick(1.0 / 30.0);
    let snapshot = last_snapshot(&mut a);
    assert_eq!(snapshot.last_input_seq, 2);
    let me = snapshot
        .created
        .iter()
        .find(|e| Some(e.id) == welcome.entity_id)
        .unwrap();
    assert!(me.state.vx > 0, "input 2 (moving +x) must win: {me:?}");
    // A replayed old sequence is ignored.
    a.inputs.try_send(input(1, -127)).unwrap();
    room.tick(1.0 / 30.0);
    let snapshot = last_snapshot(&mut a);
    assert_eq!(snapshot.last_input_seq, 2);
    assert!(snapshot.created[0].state.vx > 0);
}

/// The arena, keeping the context of every input the room hands it.
struct RecordingArena {
    arena: Arena,
    contexts: Arc<std::sync::Mutex<Vec<InputContext>>>,
}

impl Game for RecordingArena {
    type Schema = ArenaSchema;
    type Settings = ticksync_arena::ArenaSettings;
    fn join(
        &mut self,
        request: &ticksync_game::JoinRequest<'_>,
        out: &mut Outbox<ArenaSchema>,
    ) -> Result<Option<EntityId>, ticksync_game::Refusal> {
        self.arena.join(request, out)
    }
    fn leave(&mut self, player: PlayerId, out: &mut Outbox<ArenaSchema>) {
        self.arena.leave(player, out)
    }
    fn input(&mut self, context: InputContext, input: &ArenaInput) {
        self.contexts.lock().unwrap().push(context);
        self.arena.input(context, input)
    }
    fn step(&mut self, dt: f32, out: &mut Outbox<ArenaSchema>) {
        self.arena.step(dt, out)
    }
    fn write_entities(&self, out: &mut Vec<ticksync_protocol::Entity<ArenaEntity>>) {
        self.arena.write_entities(out)
    }
}

#[test]
fn inputs_carry_their_context_with_the_acknowledged_tick_bounded() {
    let contexts = Arc::default();
    let game = RecordingArena {
        arena: Arena::new(2000),
        contexts: Arc::clone(&contexts),
    };
    let status = Arc::new(RoomStatus::new("test", &settings()));
    let (mut room, handle) = Room::new(settings(), game, Arc::default(), status).unwrap();
    let a = join(&handle, 64);
    for _ in 0..3 {
        room.tick(1.0 / 30.0);
    }
    let acking = |seq, ack_tick| FromClient::Input {
        input: Input {
            seq,
            ack_tick,
            payload: ArenaInput::default(),
        },
        arrived: Instant::now(),
    };
    // Tick 3 is the newest snapshot: an input acknowledging tick 2 is applied in tick 4,
    // its sender's view one tick old; one claiming tick 99 is bounded to tick 3.
    a.inputs.try_send(acking(1, 2)).unwrap();
    a.inputs.try_send(acking(2, 99)).unwrap();
    a.inputs.try_send(acking(3, 0)).unwrap();
    room.tick(1.0 / 30.0);
    let contexts = contexts.lock().unwrap();
    let player = contexts[0].player;
    let expected = |seq, ack_tick| InputContext {
        player,
        seq,
        ack_tick,
        tick: 4,
    };
    assert_eq!(
        *contexts,
        vec![expected(1, 2), expected(2, 3), expected(3, 0)]
    );
    assert_eq!(contexts[0].view_age_ticks(), Some(1));
    assert_eq!(contexts[1].view_age_ticks(), Some(0));
    assert_eq!(contexts[2].view_age_ticks(), None);
}

#[test]
fn inputs_per_tick_are_bounded() {
    let (mut room, handle) = new_room();
    let mut a = join(&handle, 64);
    room.tick(1.0 / 30.0);
    for seq in 1..=10 {
        a.inputs.try_send(input(seq, 127)).unwrap();
    }
    room.tick(1.0 / 30.0);
    assert_eq!(last_snapshot(&mut a).last_input_seq, 4);
    room.tick(1.0 / 30.0);
    assert_eq!(last_snapshot(&mut a).last_input_seq, 8);
}

#[test]
fn a_departed_session_is_removed_from_everyones_snapshot() {
    let (mut room, handle) = new_room();
    let mut a = join(&handle, 8);
    let b = join(&handle, 8);
    room.tick(1.0 / 30.0);
    assert_eq!(last_snapshot(&mut a).created.len(), 2);
    drop(b);
    room.tick(1.0 / 30.0);
    room.tick(1.0 / 30.0);
    assert_eq!(last_snapshot(&mut a).created.len(), 1);
}

#[test]
fn a_client_that_never_reads_is_disconnected_without_blocking_others() {
    let (mut room, handle) = new_room();
    let mut slow = join(&handle, 1);
    let mut fast = join(&handle, 64);
    for _ in 0..10 {
        room.tick(1.0 / 30.0);
        // The fast client reads every tick.
        last_snapshot(&mut fast);
    }
    assert_eq!(slow.disconnect.try_recv(), Ok(Disconnect::TooSlow));
    room.tick(1.0 / 30.0);
    assert_eq!(
        last_snapshot(&mut fast).created.len(),
        1,
        "slow player's entity is gone"
    );
    assert_eq!(room.metrics.kicks(KickReason::Slow), 1);
}

/// The frame each client has queued (at most one: the queues are drained first).
fn take_frames(clients: &mut [TestClient]) -> Vec<Option<Bytes>> {
    clients
        .iter_mut()
        .map(|client| client.frames.try_recv().ok())
        .collect()
}

/// A room above the parallel threshold hands every member the same bytes whether its
/// frames are built in order or in parallel.
fn check_room_parallel_matches_sequential(interest: Option<InterestPolicy>) {
    let players = 300;
    let settings = RoomSettings {
        max_players: players,
        replication: ReplicationSettings {
            interest,
            ..settings().replication
        },
        ..settings()
    };
    let (mut room, handle) = arena_room("big", settings);
    let mut clients: Vec<_> = (0..players).map(|_| join(&handle, 64)).collect();
    for tick in 1..=12u32 {
        for (i, client) in clients.iter().enumerate() {
            if (i as u32 + tick) % 5 == 0 {
                let x = ((i * 37 + tick as usize) % 255) as i8;
                client.inputs.try_send(input(tick, x)).unwrap();
            }
        }
        room.tick(1.0 / 30.0);
    }
    assert_eq!(room.members.len(), players);
    // Acknowledgements of every kind: none, several recent ones, from the future.
    for (i, client) in clients.iter().enumerate() {
        let acked = [0, 11, 10, 9, 1, 13][i % 6];
        client.shared.acked_tick.store(acked, Ordering::Relaxed);
    }
    for client in &mut clients {
        while client.frames.try_recv().is_ok() {}
    }
    let sent_before = room.metrics.snapshots_sent.get();
    room.serve_members(Execution::Sequential);
    let sequential = take_frames(&mut clients);
    room.serve_members(Execution::Parallel);
    let parallel = take_frames(&mut clients);
    assert!(sequential.iter().all(Option::is_some));
    assert!(sequential == parallel, "parallel frames differ");
    let sent = room.metrics.snapshots_sent.get() - sent_before;
    assert_eq!(sent, 2 * players as u64);
}

#[test]
fn a_large_room_hands_out_the_same_frames_in_parallel() {
    check_room_parallel_matches_sequential(None);
    check_room_parallel_matches_sequential(Some(InterestPolicy {
        radius_steps: 300 * 64,
        max_entities: Some(24),
    }));
}

#[test]
fn slow_clients_are_counted_and_kicked_in_parallel_too() {
    // As many as join in one tick.
    let players = MAX_JOINS_PER_TICK;
    let settings = RoomSettings {
        max_players: players,
        ..settings()
    };
    let (mut room, handle) = arena_room("big", settings);
    // Half never read (a queue of one), half read every tick.
    let mut clients: Vec<_> = (0..players)
        .map(|i| join(&handle, if i % 2 == 0 { 1 } else { 64 }))
        .collect();
    room.tick(1.0 / 30.0);
    assert_eq!(room.members.len(), players);
    for _ in 0..8 {
        room.tick += 1;
        room.replicator
            .capture(room.tick, |out| room.game.write_entities(out));
        room.serve_members(Execution::Parallel);
        for client in clients.iter_mut().skip(1).step_by(2) {
            while client.frames.try_recv().is_ok() {}
        }
    }
    let slow = players as u64 / 2;
    assert_eq!(room.metrics.kicks(KickReason::Slow), slow);
    for (i, client) in clients.iter_mut().enumerate() {
        let expected = (i % 2 == 0).then_some(Disconnect::TooSlow);
        assert_eq!(client.disconnect.try_recv().ok(), expected);
    }
    // The first frame reached every queue, then the slow ones dropped 5 each.
    assert_eq!(room.metrics.snapshots_dropped.get(), slow * 5);
}

/// A connection the room serves itself, counting what the room does with it.
#[derive(Debug, Default)]
struct CountingConnection {
    reads: AtomicU32,
    sends: AtomicU32,
}

impl DirectOutlet for CountingConnection {
    fn send(&self, _: PlayerId, _: &Bytes, _: usize) -> Delivery {
        self.sends.fetch_add(1, Ordering::Relaxed);
        Delivery::Queued
    }

    fn read_inputs(&self, _: &ArrivalClock, _: Tick) {
        self.reads.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn a_room_serving_many_connections_itself_reads_and_writes_each_once_per_tick() {
    let players = PARALLEL_MIN_SOCKETS + 1;
    let settings = RoomSettings {
        max_players: players,
        ..settings()
    };
    let (mut room, handle) = arena_room("big", settings);
    let connections: Vec<Arc<CountingConnection>> = (0..players).map(|_| Arc::default()).collect();
    // One member on a queue: the room serves the others itself.
    let _queued = join(&handle, 64);
    let _clients: Vec<TestClient> = connections[1..]
        .iter()
        .map(|connection| {
            let outlet = Outlet::Direct {
                connection: connection.clone(),
                capacity: 8,
            };
            join_through(&handle, outlet, mpsc::channel(1).1)
        })
        .collect();
    for _ in 0..players.div_ceil(MAX_JOINS_PER_TICK) {
        room.tick(1.0 / 30.0);
    }
    assert_eq!(room.members.len(), players);
    // Across cores wherever there are several.
    let spread = if rayon::current_num_threads() > 1 {
        Execution::Parallel
    } else {
        Execution::Sequential
    };
    assert_eq!(room.socket_execution(), spread);
    let counts = |c: &CountingConnection| {
        (
            c.reads.load(Ordering::Relaxed),
            c.sends.load(Ordering::Relaxed),
        )
    };
    let before: Vec<_> = connections[1..].iter().map(|c| counts(c)).collect();
    for _ in 0..3 {
        room.tick(1.0 / 30.0);
    }
    for (connection, (reads, sends)) in connections[1..].iter().zip(before) {
        assert_eq!(counts(connection), (reads + 3, sends + 3));
    }
    // One connection fewer than the threshold: in order on the tick's thread.
    room.members.retain(|m| m.is_direct());
    room.members.pop();
    assert_eq!(room.members.len(), PARALLEL_MIN_SOCKETS - 1);
    assert_eq!(room.socket_execution(), Execution::Sequential);
}
/// A connection whose writes fail: the peer is gone.
#[derive(Debug)]
struct LostConnection;

impl DirectOutlet for LostConnection {
    fn send(&self, _: PlayerId, _: &Bytes, _: usize) -> Delivery {
        Delivery::Gone
    }

    fn read_inputs(&self, _: &ArrivalClock, _: Tick) {}
}

#[test]
fn a_connection_the_room_finds_lost_waits_for_a_resume_and_its_session_hears_so() {
    let settings = RoomSettings {
        resume_grace_ticks: 30,
        ..settings()
    };
    let (mut room, handle) = arena_room("lost", settings);
    let outlet = Outlet::Direct {
        connection: Arc::new(LostConnection),
        capacity: 8,
    };
    // The session is still running (it holds its queue and its end of the link): the
    // room sees the failed write first.
    let mut client = join_through(&handle, outlet, mpsc::channel(1).1);
    room.tick(1.0 / 30.0);
    room.tick(1.0 / 30.0);
    assert!(room.members.is_empty());
    assert_eq!(room.detached.count(), 1, "the player waits for a resume");
    assert_eq!(client.disconnect.try_recv(), Ok(Disconnect::ConnectionLost));
    // The session then ends as dropped: the player still waits.
    client.shared.end_resumable();
    room.tick(1.0 / 30.0);
    assert_eq!(room.detached.count(), 1);
}
