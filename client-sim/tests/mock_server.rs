//! The client library and the swarm against a minimal in-process stand-in for the server:
//! it checks the subprotocol, answers `Hello`, and every tick sends a snapshot acking the
//! last input — a delta against the latest tick the client acknowledged while that is in its
//! one-second history, a full snapshot otherwise, as the real server does. It answers `Ping`
//! and closes on `Leave`. It exists to test this crate's side of the protocol on its own;
//! the real server is exercised end to end in the workspace's `tests/`.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ticksync_protocol::codec::{decode_client_message, encode};
use ticksync_protocol::delta::{diff, Delta};
use ticksync_protocol::replicated::view_checksum;
use ticksync_protocol::{
    close_code, ClientMessage, EntityId, EntityState, ErrorCode, ErrorMessage, MoveDir, Pong,
    ServerMessage, Snapshot, Tick, Welcome, WorldSize, SUBPROTOCOL_BINCODE,
};
use ticksync_sim::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use ticksync_sim::tungstenite::protocol::frame::coding::CloseCode;
use ticksync_sim::tungstenite::protocol::CloseFrame;
use ticksync_sim::tungstenite::Message;
use ticksync_sim::{
    run_swarm, ChaosRates, Client, ClientError, ClientEvent, ClientOptions, DesyncReason, Mix,
    SwarmConfig,
};
use tokio::net::{TcpListener, TcpStream};

const TICK_RATE_HZ: u16 = 30;
/// A player with this name is refused, to test the refusal path.
const REFUSED_NAME: &str = "refuse-me";
/// A player with this name gets a wrong checksum in the snapshot of [`CORRUPT_TICK`].
const CORRUPTED_NAME: &str = "corrupt-me";
const CORRUPT_TICK: Tick = 5;
/// Ticks of views the mock keeps as possible baselines: one second, like the server.
const HISTORY_TICKS: usize = TICK_RATE_HZ as usize;
/// An entity that walks along y at constant speed: dead reckoning predicts it exactly.
const WALKER: EntityId = EntityId(1000);
/// An entity that exists for ten ticks out of twenty: created and removed over and over.
const BLINKER: EntityId = EntityId(1001);

async fn start_mock_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut next_id = 1;
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(serve(stream, next_id));
            next_id += 1;
        }
    });
    format!("ws://{addr}/ws")
}

fn binary(message: &ServerMessage) -> Message {
    Message::Binary(encode(message).unwrap().into())
}

#[allow(clippy::result_large_err)] // the signature is tungstenite's callback type
fn check_subprotocol(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(offered.split(',').any(|p| p.trim() == SUBPROTOCOL_BINCODE));
    response.headers_mut().insert(
        "sec-websocket-protocol",
        SUBPROTOCOL_BINCODE.parse().unwrap(),
    );
    Ok(response)
}

/// One client's world and what the mock remembers of it to encode deltas.
struct MockReplication {
    player: EntityState,
    /// The views sent, oldest first, at most [`HISTORY_TICKS`].
    history: VecDeque<(Tick, Vec<EntityState>)>,
    /// The latest tick the client acknowledged (0: none).
    acked: Tick,
}

impl MockReplication {
    fn new(id: u32) -> Self {
        MockReplication {
            player: EntityState {
                id: EntityId(id),
                x: 0,
                y: 0,
                vx: 0,
                vy: 0,
                heading: 0,
            },
            history: VecDeque::new(),
            acked: 0,
        }
    }

    fn on_ack(&mut self, tick: Tick) {
        assert!(
            tick >= self.acked,
            "acks never go back: {tick} < {}",
            self.acked
        );
        self.acked = tick;
    }

    fn on_input(&mut self, move_dir: MoveDir) {
        self.player.vx = i16::from(move_dir.x);
        self.player.vy = i16::from(move_dir.y);
    }

    fn world(&mut self, tick: Tick) -> Vec<EntityState> {
        self.player.x += i32::from(self.player.vx);
        self.player.y += i32::from(self.player.vy);
        let t = tick as i32;
        let mut view = vec![
            self.player,
            EntityState {
                id: WALKER,
                x: 500,
                y: 7 * t,
                vx: 0,
                vy: 7,
                heading: 16384,
            },
        ];
        if (tick / 10) % 2 == 0 {
            view.push(EntityState {
                id: BLINKER,
                x: t,
                y: -t,
                vx: 0,
                vy: 0,
                heading: 0,
            });
        }
        view.sort_by_key(|e| e.id);
        view
    }

    /// The snapshot of `tick`: a delta against the acknowledged view if still in history.
    fn snapshot(&mut self, tick: Tick, last_input_seq: u32) -> Snapshot {
        let view = self.world(tick);
        let acked = self.acked;
        let baseline = self.history.iter().find(|(t, _)| *t == acked && acked != 0);
        let mut delta = Delta::default();
        let baseline_tick = match baseline {
            Some((baseline_tick, baseline)) => {
                diff(baseline, &view, tick - baseline_tick, &mut delta);
                *baseline_tick
            }
            None => {
                delta.created = view.clone();
                0
            }
        };
        let checksum = view_checksum(&view);
        self.history.push_back((tick, view));
        if self.history.len() > HISTORY_TICKS {
            self.history.pop_front();
        }
        Snapshot {
            tick,
            baseline_tick,
            last_input_seq,
            checksum,
            created: delta.created,
            changed: delta.changed,
            removed: delta.removed,
        }
    }
}

async fn serve(stream: TcpStream, id: u32) {
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, check_subprotocol)
        .await
        .unwrap();
    let Some(Ok(Message::Binary(hello))) = ws.next().await else {
        return;
    };
    let ClientMessage::Hello(hello) = decode_client_message(&hello).unwrap() else {
        panic!("first message was not Hello")
    };
    if hello.player_name == REFUSED_NAME {
        let error = ErrorMessage {
            code: ErrorCode::RoomFull,
            message: "room is full".into(),
        };
        let _ = ws.send(binary(&ServerMessage::Error(error))).await;
        let close = CloseFrame {
            code: CloseCode::from(close_code::ROOM_FULL),
            reason: "full".into(),
        };
        let _ = ws.close(Some(close)).await;
        return;
    }
    let corrupt = hello.player_name == CORRUPTED_NAME;
    let welcome = Welcome {
        entity_id: EntityId(id),
        tick_rate_hz: TICK_RATE_HZ,
        tick: 0,
        world_size: WorldSize {
            width: 2000,
            height: 2000,
        },
        resume_token: format!("{id:032x}"),
        resumed: false,
    };
    ws.send(binary(&ServerMessage::Welcome(welcome)))
        .await
        .unwrap();

    let mut ticks = tokio::time::interval(Duration::from_secs(1) / u32::from(TICK_RATE_HZ));
    let (mut tick, mut last_input_seq) = (0u32, 0u32);
    let mut replication = MockReplication::new(id);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                tick += 1;
                let mut snapshot = replication.snapshot(tick, last_input_seq);
                if corrupt && tick == CORRUPT_TICK {
                    snapshot.checksum ^= 0x5a5a;
                }
                if ws.send(binary(&ServerMessage::Snapshot(snapshot))).await.is_err() {
                    return;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(payload))) => match decode_client_message(&payload) {
                    Ok(ClientMessage::Input(input)) => {
                        assert_eq!(input.seq, last_input_seq + 1, "inputs must be sequenced");
                        last_input_seq = input.seq;
                        replication.on_ack(input.ack_tick);
                        replication.on_input(input.move_dir);
                    }
                    Ok(ClientMessage::Ack(ack)) => replication.on_ack(ack.tick),
                    Ok(ClientMessage::Ping(ping)) => {
                        let pong = Pong { client_time_us: ping.client_time_us, server_tick: tick };
                        let _ = ws.send(binary(&ServerMessage::Pong(pong))).await;
                    }
                    Ok(ClientMessage::Leave) => {
                        let close = CloseFrame { code: CloseCode::Normal, reason: "bye".into() };
                        let _ = ws.close(Some(close)).await;
                        // Drain until the client's close reply ends the stream.
                        while let Some(Ok(_)) = ws.next().await {}
                        return;
                    }
                    Ok(ClientMessage::Hello(_) | ClientMessage::Resume(_)) | Err(_) => return,
                },
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

/// Reads events until a snapshot is applied (sending an input first if `input` is set) and
/// returns it; panics on anything but snapshots, pongs and desyncs (returned as `Err`).
async fn next_snapshot(
    client: &mut Client,
    input: Option<MoveDir>,
) -> Result<std::sync::Arc<Snapshot>, (Tick, DesyncReason)> {
    loop {
        if let Some(move_dir) = input {
            client.send_input(move_dir, 0).await.unwrap();
        }
        match client.next_event().await.unwrap() {
            ClientEvent::Snapshot(snapshot) => return Ok(snapshot),
            ClientEvent::Pong { .. } => {}
            ClientEvent::Error(ClientError::Desync { tick, reason }) => return Err((tick, reason)),
            other => panic!("unexpected event {other:?}"),
        }
    }
}

#[tokio::test]
async fn client_connects_sends_inputs_sees_acks_and_leaves() {
    let url = start_mock_server().await;
    let mut client = Client::connect(&url, ClientOptions::named("ada"))
        .await
        .unwrap();
    assert_eq!(client.welcome().tick_rate_hz, TICK_RATE_HZ);
    let me = client.entity_id();

    let mut last_ack = 0;
    let mut sent = 0;
    let mut got_pong = false;
    let mut deltas = 0;
    client.ping().await.unwrap();
    while last_ack < 10 {
        if sent < 10 {
            sent = client
                .send_input(MoveDir { x: 100, y: 0 }, 0)
                .await
                .unwrap();
        }
        match client.next_event().await.unwrap() {
            ClientEvent::Snapshot(snapshot) => {
                assert!(snapshot.last_input_seq >= last_ack, "acks never go back");
                last_ack = snapshot.last_input_seq;
                assert_eq!(client.view_tick(), snapshot.tick);
                assert!(client.view().iter().any(|e| e.id == me));
                assert!(client.view().is_sorted_by_key(|e| e.id));
                deltas += u32::from(!snapshot.is_full());
            }
            ClientEvent::Pong { round_trip, .. } => {
                got_pong = true;
                assert!(round_trip < Duration::from_secs(5));
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(got_pong);
    // Inputs carry acks, so once one arrives the mock sends deltas.
    assert!(
        deltas > 0,
        "no delta snapshot in {} ticks",
        client.view_tick()
    );
    assert_eq!(client.counters().desyncs, 0);
    assert_eq!(client.counters().acks_sent, 0, "inputs carry the acks");
    assert_eq!(client.last_acked_input(), 10);
    assert_eq!(client.last_sent_input(), 10);
    assert!(!client.ack_latency_us().is_empty());
    let counters = client.counters();
    assert_eq!(counters.inputs_sent, 10);
    assert!(counters.snapshots_received > 0 && counters.bytes_received > 0);
    assert_eq!(client.latest_snapshot().unwrap().last_input_seq, 10);

    let close = client.leave_and_wait(Duration::from_secs(2)).await.unwrap();
    assert_eq!(close.code, Some(close_code::NORMAL));
    assert!(client.is_closed());
    assert!(client.next_event().await.is_none());
    assert!(matches!(
        client.send_input(MoveDir::ZERO, 0).await,
        Err(ClientError::Closed)
    ));
}

#[tokio::test]
async fn garbage_from_the_client_is_sent_raw() {
    let url = start_mock_server().await;
    let mut client = Client::connect(&url, ClientOptions::default())
        .await
        .unwrap();
    client
        .send_raw(Message::Binary(vec![0xff, 0xff].into()))
        .await
        .unwrap();
    // The mock drops the connection on a malformed frame: the client sees it end.
    loop {
        match client.next_event().await {
            Some(ClientEvent::Closed { .. }) => break,
            Some(_) => {}
            None => panic!("Closed must come before None"),
        }
    }
}

#[tokio::test]
async fn refusal_is_a_typed_error() {
    let url = start_mock_server().await;
    let error = Client::connect(&url, ClientOptions::named(REFUSED_NAME))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ClientError::Refused {
                code: ErrorCode::RoomFull,
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let error = Client::connect(&format!("ws://{addr}/ws"), ClientOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Connect(_)), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_reports_what_its_bots_measured() {
    let url = start_mock_server().await;
    let report = run_swarm(SwarmConfig::new(url, 8, Duration::from_millis(1500))).await;
    assert_eq!(report.bots_requested, 8);
    assert_eq!(report.bots_connected, 8);
    assert_eq!(report.connect_failures, 0);
    assert_eq!(report.disconnects, 0);
    assert!(
        (20.0..=40.0).contains(&report.snapshots_per_bot_per_s),
        "{report}"
    );
    assert!(report.uplink_bytes_per_bot_per_s > 0.0);
    assert_eq!(report.desyncs, 0, "{report}");
    assert!(report.ack_latency_p50_ms.is_some(), "{report}");
    assert!(report.duration_s >= 1.5);
}

#[tokio::test]
async fn full_and_delta_snapshots_rebuild_the_servers_world() {
    let url = start_mock_server().await;
    let mut client = Client::connect(&url, ClientOptions::named("bea"))
        .await
        .unwrap();
    let me = client.entity_id();
    let east = MoveDir { x: 50, y: 0 };
    let first = next_snapshot(&mut client, Some(east)).await.unwrap();
    assert!(first.is_full(), "nothing acked yet: a full snapshot");
    let (mut deltas, mut created, mut removed, mut max_held) = (0, 0, 0, 0);
    while client.view_tick() < 45 {
        let snapshot = next_snapshot(&mut client, Some(east)).await.unwrap();
        deltas += u32::from(!snapshot.is_full());
        created += u32::from(!snapshot.is_full() && !snapshot.created.is_empty());
        removed += u32::from(!snapshot.removed.is_empty());
        max_held = max_held.max(client.held_views());
        let tick = snapshot.tick as i32;
        let walker = client.view().iter().find(|e| e.id == WALKER).unwrap();
        assert_eq!(walker.y, 7 * tick, "dead reckoned between deltas");
        let has_blinker = client.view().iter().any(|e| e.id == BLINKER);
        assert_eq!(has_blinker, (snapshot.tick / 10) % 2 == 0, "tick {tick}");
    }
    assert!(deltas > 30, "{deltas} deltas");
    assert!(
        created > 0 && removed > 0,
        "created {created}, removed {removed}"
    );
    // One ack per tick over a local round trip: a handful of views, far from the cap.
    assert!(max_held <= 16, "{max_held} views held");
    let player = client.view().iter().find(|e| e.id == me).unwrap();
    assert!(player.x > 0 && player.vx == 50, "{player:?}");
    assert_eq!(client.counters().desyncs, 0);
}

#[tokio::test]
async fn a_wrong_checksum_is_a_desync_and_the_ack_stays_at_the_last_good_tick() {
    let url = start_mock_server().await;
    let mut client = Client::connect(&url, ClientOptions::named(CORRUPTED_NAME))
        .await
        .unwrap();
    let mut desync = None;
    while client.view_tick() < CORRUPT_TICK + 10 {
        match next_snapshot(&mut client, Some(MoveDir::ZERO)).await {
            Ok(snapshot) => assert_ne!(snapshot.tick, CORRUPT_TICK),
            Err((tick, reason)) => {
                assert_eq!(tick, CORRUPT_TICK);
                assert!(matches!(reason, DesyncReason::ChecksumMismatch { .. }));
                // The view, and so the tick every input acknowledges, stays at the last
                // good snapshot.
                assert_eq!(client.view_tick(), CORRUPT_TICK - 1);
                desync = Some(tick);
            }
        }
    }
    assert_eq!(desync, Some(CORRUPT_TICK));
    // The mock, acked at most at tick 4, goes on with deltas the client can apply.
    assert_eq!(client.counters().desyncs, 1);
    assert_eq!(
        client.counters().snapshots_applied,
        client.counters().snapshots_received - 1
    );
}

#[tokio::test]
async fn a_client_without_inputs_acks_every_snapshot_when_asked() {
    let url = start_mock_server().await;
    let options = ClientOptions {
        ack_every_snapshot: true,
        ..ClientOptions::named("spectator")
    };
    let mut client = Client::connect(&url, options).await.unwrap();
    let mut deltas = 0;
    while client.view_tick() < 20 {
        deltas += u32::from(!next_snapshot(&mut client, None).await.unwrap().is_full());
    }
    assert!(deltas > 10, "{deltas} deltas");
    let counters = client.counters();
    assert_eq!(counters.inputs_sent, 0);
    assert!(counters.acks_sent >= 19, "{counters:?}");
    assert_eq!(counters.desyncs, 0);
}

#[tokio::test]
async fn a_client_that_never_acks_gets_full_snapshots_and_holds_one_view() {
    let url = start_mock_server().await;
    let mut client = Client::connect(&url, ClientOptions::named("lurker"))
        .await
        .unwrap();
    assert_eq!(client.ack().await.unwrap(), 0, "nothing to acknowledge yet");
    while client.view_tick() < 10 {
        assert!(next_snapshot(&mut client, None).await.unwrap().is_full());
        assert_eq!(client.held_views(), 1);
    }
    // An explicit ack makes the next snapshots deltas.
    let acked = client.ack().await.unwrap();
    assert!(acked >= 10);
    loop {
        let snapshot = next_snapshot(&mut client, None).await.unwrap();
        if !snapshot.is_full() {
            assert_eq!(snapshot.baseline_tick, acked);
            break;
        }
    }
    assert_eq!(client.counters().acks_sent, 1);
}

#[tokio::test]
async fn snapshot_loss_of_one_discards_everything() {
    let url = start_mock_server().await;
    let options = ClientOptions {
        snapshot_loss: 1.0,
        ..ClientOptions::named("deaf")
    };
    let mut client = Client::connect(&url, options).await.unwrap();
    let reading = async {
        loop {
            client.send_input(MoveDir::ZERO, 0).await.unwrap();
            match client.next_event().await.unwrap() {
                ClientEvent::Pong { .. } => {}
                other => panic!("no event expected, got {other:?}"),
            }
        }
    };
    // `next_event` never returns: every frame is a snapshot, and every one is lost.
    assert!(tokio::time::timeout(Duration::from_millis(300), reading)
        .await
        .is_err());
    let counters = client.counters();
    assert!(counters.snapshots_received >= 3, "{counters:?}");
    assert_eq!(counters.snapshots_discarded, counters.snapshots_received);
    assert_eq!(counters.snapshots_applied, 0);
    assert_eq!((client.view_tick(), client.view().len()), (0, 0));
    assert!(client.latest_snapshot().is_none());
    assert_eq!(
        client.last_acked_input(),
        0,
        "a lost snapshot acks no input"
    );
}

#[tokio::test]
async fn lost_snapshots_never_desync_a_client() {
    let url = start_mock_server().await;
    let options = ClientOptions {
        snapshot_loss: 0.5,
        loss_seed: 7,
        ..ClientOptions::named("lossy")
    };
    let mut client = Client::connect(&url, options).await.unwrap();
    let mut deltas = 0;
    while client.counters().snapshots_applied < 30 {
        let snapshot = next_snapshot(&mut client, Some(MoveDir { x: 0, y: 20 }))
            .await
            .unwrap();
        deltas += u32::from(!snapshot.is_full());
    }
    let counters = client.counters();
    assert!(counters.snapshots_discarded > 5, "{counters:?}");
    assert!(deltas > 20, "{deltas} deltas");
    assert_eq!(counters.desyncs, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circling_and_idle_bots_on_a_ramp_play_cleanly() {
    let url = start_mock_server().await;
    let config = SwarmConfig {
        mix: "circle=50,idle=50".parse::<Mix>().unwrap(),
        ramp: Some(8.0),
        // No trace here: it would print hundreds of lines into `cargo test`'s output, where
        // skip notices must stand out. The trace is covered through the binary below.
        ..SwarmConfig::new(url, 4, Duration::from_millis(2000))
    };
    let report = run_swarm(config).await;
    assert_eq!(report.bots_requested, 4, "{report}");
    assert_eq!(report.bots_connected, 4, "{report}");
    assert_eq!((report.disconnects, report.reconnects), (0, 0), "{report}");
    assert_eq!(report.desyncs, 0, "{report}");
    // The mock sends every tick in order: nothing is skipped.
    assert_eq!(report.tick_gaps, 0, "{report}");
    assert!(
        (20.0..=40.0).contains(&report.snapshots_per_bot_per_s),
        "{report}"
    );
    // Circling bots send inputs (so latencies), idle ones only acks.
    assert!(report.ack_latency_p99_ms.is_some(), "{report}");
    assert_eq!(report.chaos.bots, 0);
}

#[tokio::test]
async fn an_idle_client_acks_every_snapshot_and_gets_deltas() {
    let url = start_mock_server().await;
    let options = ClientOptions {
        ack_every_snapshot: true,
        ..ClientOptions::named("idler")
    };
    let mut client = Client::connect(&url, options).await.unwrap();
    let mut deltas = 0;
    while client.counters().snapshots_applied < 15 {
        deltas += u32::from(!next_snapshot(&mut client, None).await.unwrap().is_full());
    }
    assert!(deltas >= 10, "{deltas}");
    let counters = client.counters();
    assert_eq!(counters.inputs_sent, 0);
    assert_eq!(counters.tick_gaps, 0);
    assert!(counters.acks_sent >= 14, "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_bots_misbehave_reconnect_and_are_reported_apart() {
    let url = start_mock_server().await;
    let config = SwarmConfig {
        mix: "random-walk=50,chaos=50".parse::<Mix>().unwrap(),
        chaos: ChaosRates {
            burst_one_in: 4,
            garbage_one_in: 15,
            oversized_one_in: 15,
            stall_one_in: 15,
            disconnect_one_in: 15,
            stall_min: Duration::from_millis(50),
            stall_max: Duration::from_millis(200),
            reconnect_delay: Duration::from_millis(50),
        },
        ..SwarmConfig::new(url, 4, Duration::from_millis(2500))
    };
    let report = run_swarm(config).await;
    let chaos = &report.chaos;
    assert_eq!(chaos.bots, 2, "{report}");
    assert!(chaos.connects >= 3, "{report}");
    assert!(chaos.reconnects >= 1, "{report}");
    assert_eq!(chaos.connects, chaos.reconnects + 2, "{report}");
    assert!(chaos.bursts > 0, "{report}");
    assert!(
        chaos.garbage_frames + chaos.oversized_frames > 0,
        "{report}"
    );
    assert!(
        chaos.disconnects + chaos.server_closes.values().sum::<u64>() >= chaos.reconnects,
        "{report}"
    );
    // The honest half is unaffected and reported on its own.
    assert_eq!(report.bots_requested, 2, "{report}");
    assert_eq!(report.bots_connected, 2, "{report}");
    assert_eq!(report.disconnects, 0, "{report}");
    assert_eq!(report.desyncs, 0, "{report}");
    assert!(report.to_string().contains("chaos bots (2"));
}

/// Runs the `ticksync-sim` binary with `args` and returns its exit status (`None`: killed
/// after 60 s), stdout and stderr.
fn run_sim(args: &[&str]) -> (Option<std::process::ExitStatus>, String, String) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticksync-sim"))
        .args(args)
        .env_remove("TICKSYNC_URL")
        .env_remove("TICKSYNC_TOKEN_SECRET")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ticksync-sim starts");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for ticksync-sim") {
            break Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status,
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_shows_the_handshake_every_frame_in_bytes_and_json_and_each_checksum_verdict() {
    let url = start_mock_server().await;
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_sim(&["--url", &url, "--bots", "1", "--duration", "1", "--trace"])
    })
    .await
    .unwrap();
    let all = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert!(status.is_some_and(|s| s.success()), "{all}");
    for expected in [
        // The upgrade both ways, and the codec chosen.
        "--> HTTP upgrade request",
        "GET /ws HTTP/1.1",
        "sec-websocket-protocol: ticksync.v1.bincode",
        "<-- HTTP 101 Switching Protocols",
        "--- subprotocol ticksync.v1.bincode: binary (bincode)",
        // Hello, as JSON and as the bytes of PROTOCOL.md §4.
        "--> binary 8 B {\"Hello\":{\"protocol_version\":1,\"player_name\":\"bot-0\"}}",
        "0000  00 01 05 62 6f 74 2d 30",
        "<-- binary ",
        "{\"Welcome\":{\"entity_id\":",
        "{\"Snapshot\":{\"tick\":",
        "{\"Input\":{\"seq\":1,",
        // A verdict per snapshot.
        "(baseline 0): checksum 0x",
        "matches the view",
    ] {
        assert!(stderr.contains(expected), "trace lacks {expected:?}\n{all}");
    }
    assert!(
        !stderr.contains("EntityId(") && !stderr.contains("Some("),
        "no Rust Debug output in a trace\n{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upgrade_is_traced_and_the_summary_quotes_the_server() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const BODY: &str = "join token refused: token has expired";
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = vec![0; 8192];
                let _ = stream.read(&mut head).await;
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_sim(&["--url", &url, "--bots", "1", "--duration", "1", "--trace"])
    })
    .await
    .unwrap();
    let all = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(1),
        "no bot connected\n{all}"
    );
    assert!(stderr.contains("<-- HTTP 401 Unauthorized"), "{all}");
    assert!(
        stderr.contains(&format!("    {BODY}")),
        "the trace shows the body\n{all}"
    );
    assert!(
        stdout.contains(&format!("the server said: {BODY}")),
        "the summary quotes the server\n{all}"
    );
}
