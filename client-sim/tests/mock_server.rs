//! The client library and the swarm against the in-process mock server of `mock/`: the
//! handshake, inputs and their acks, deltas rebuilding the mock's world, desyncs, loss,
//! acknowledgement policies, game messages, a refused upgrade, and swarms of arena bots,
//! chaos bots and a bot of a test's own.

mod mock;

use std::time::Duration;

use mock::*;
use ticksync_arena::{ArenaInput, ArenaSchema, MoveDir};
use ticksync_protocol::sync::DesyncReason;
use ticksync_protocol::testing::TokenSchema;
use ticksync_protocol::{close_code, ErrorCode, Snapshot, Tick};
use ticksync_sim::client::tungstenite::Message;
use ticksync_sim::client::{ClientError, ClientEvent, ClientOptions};
use ticksync_sim::{
    run_swarm, run_swarm_with, Bot, BotFactory, ChaosRates, Mix, SwarmConfig, Turn,
};
use tokio::net::TcpListener;

type Client = ticksync_sim::client::Client<ArenaSchema>;

fn input(move_dir: MoveDir) -> ArenaInput {
    ArenaInput {
        move_dir,
        buttons: 0,
    }
}

/// Reads events until a snapshot is applied (sending an input first if `input` is set) and
/// returns it; panics on anything but snapshots, pongs, the welcome, game messages and
/// desyncs (returned as `Err`).
async fn next_snapshot(
    client: &mut Client,
    move_dir: Option<MoveDir>,
) -> Result<std::sync::Arc<Snapshot<ticksync_arena::ArenaEntity>>, (Tick, DesyncReason)> {
    loop {
        if let Some(move_dir) = move_dir {
            client.send_input(input(move_dir)).await.unwrap();
        }
        match client.next_event().await.unwrap() {
            ClientEvent::Snapshot(snapshot) => return Ok(snapshot),
            ClientEvent::Pong { .. } | ClientEvent::Welcome(_) | ClientEvent::Message(_) => {}
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
    let me = client.entity_id().unwrap();
    match client.next_event().await.unwrap() {
        ClientEvent::Welcome(welcome) => assert_eq!(&welcome, client.welcome()),
        other => panic!("the first event is the Welcome, not {other:?}"),
    }
    let mut world = None;

    let mut last_ack = 0;
    let mut sent = 0;
    let mut got_pong = false;
    let mut deltas = 0;
    client.ping().await.unwrap();
    while last_ack < 10 {
        if sent < 10 {
            sent = client
                .send_input(input(MoveDir { x: 100, y: 0 }))
                .await
                .unwrap();
        }
        match client.next_event().await.unwrap() {
            ClientEvent::Message(ticksync_arena::ArenaMessage::World { width, height }) => {
                assert_eq!(
                    client.view_tick(),
                    0,
                    "the world's size comes before snapshots"
                );
                world = Some((width, height));
            }
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
    assert_eq!(world, Some(WORLD));
    assert_eq!(client.counters().game_messages_received, 1);
    assert!(client.entity(me).is_some());
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
        client.send_input(input(MoveDir::ZERO)).await,
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
    let report = run_swarm(SwarmConfig::new(url, 8, Duration::from_millis(1500)))
        .await
        .unwrap();
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
    // Every arena bot learnt the world's size after its welcome.
    assert_eq!(report.game_counters["welcomes"], 8, "{report}");
    assert_eq!(report.game_counters["world_messages"], 8, "{report}");
}

#[tokio::test]
async fn full_and_delta_snapshots_rebuild_the_servers_world() {
    let url = start_mock_server().await;
    let mut client = Client::connect(&url, ClientOptions::named("bea"))
        .await
        .unwrap();
    let me = client.entity_id().unwrap();
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
        let walker = client.entity(WALKER).unwrap();
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
    let player = client.entity(me).unwrap();
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
    assert_eq!(
        client.send_ack().await.unwrap(),
        0,
        "nothing to acknowledge yet"
    );
    while client.view_tick() < 10 {
        assert!(next_snapshot(&mut client, None).await.unwrap().is_full());
        assert_eq!(client.held_views(), 1);
    }
    // An explicit ack makes the next snapshots deltas.
    let acked = client.send_ack().await.unwrap();
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
            client.send_input(input(MoveDir::ZERO)).await.unwrap();
            match client.next_event().await.unwrap() {
                ClientEvent::Pong { .. } | ClientEvent::Welcome(_) | ClientEvent::Message(_) => {}
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
    let report = run_swarm(config).await.unwrap();
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
    let report = run_swarm(config).await.unwrap();
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

#[tokio::test]
async fn another_games_client_is_refused_with_the_servers_reason() {
    let url = start_mock_server().await;
    let error =
        ticksync_sim::client::Client::<TokenSchema>::connect(&url, ClientOptions::default())
            .await
            .unwrap_err();
    let ClientError::UpgradeRejected { status, body } = &error else {
        panic!("expected a refused upgrade, got {error:?}");
    };
    assert_eq!(*status, 400);
    assert!(
        body.contains("ticksync.v2.arena.") && body.contains("ticksync.v2.tokens."),
        "{body}"
    );
    assert!(
        error.to_string().contains("HTTP 400: this server speaks"),
        "{error}"
    );
}

/// A bot of a test's own through the generic swarm: it counts what it sees and sends a
/// fixed input, and the report sums its counters.
#[derive(Debug, Default)]
struct Counting {
    snapshots: u64,
    inputs: u64,
    largest_view: u64,
}

impl Bot for Counting {
    type Schema = ArenaSchema;

    fn on_snapshot(
        &mut self,
        _snapshot: &Snapshot<ticksync_arena::ArenaEntity>,
        view: &[ticksync_protocol::Entity<ticksync_arena::ArenaEntity>],
    ) {
        self.snapshots += 1;
        self.largest_view = self.largest_view.max(view.len() as u64);
    }

    fn next_input(&mut self, turn: &Turn<'_, ArenaSchema>) -> Option<ArenaInput> {
        self.inputs += 1;
        // Its own entity is in view once the first snapshot is in.
        assert!(turn.view_tick == 0 || turn.own_entity().is_some());
        Some(input(MoveDir { x: 0, y: 10 }))
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("snapshots_seen", self.snapshots),
            ("inputs_chosen", self.inputs),
            ("largest_view", self.largest_view),
        ]
    }
}

struct CountingBots;

impl BotFactory for CountingBots {
    type Bot = Counting;

    fn behaviours(&self) -> &[&'static str] {
        &["counting"]
    }

    fn bot(&self, _behaviour: &str, _seed: u64, _index: usize) -> Counting {
        Counting::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_of_its_own_plays_through_the_generic_swarm() {
    let url = start_mock_server().await;
    let config = SwarmConfig::new(url.clone(), 3, Duration::from_millis(1200));
    let report = run_swarm_with(config, CountingBots).await.unwrap();
    assert_eq!(report.bots_connected, 3, "{report}");
    assert_eq!(report.desyncs, 0, "{report}");
    let counters = &report.game_counters;
    assert!(counters["snapshots_seen"] >= 3 * 20, "{report}");
    assert!(counters["inputs_chosen"] >= 3 * 20, "{report}");
    assert!(counters["largest_view"] >= 3 * 2, "{report}");
    assert!(report.to_string().contains("snapshots_seen"), "{report}");

    let arena_mix = SwarmConfig {
        mix: "random-walk".parse::<Mix>().unwrap(),
        ..SwarmConfig::new(url, 1, Duration::from_millis(100))
    };
    let error = run_swarm_with(arena_mix, CountingBots).await.unwrap_err();
    assert!(
        error.to_string().contains("expected counting, chaos"),
        "{error}"
    );
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
        "sec-websocket-protocol: ticksync.v2.arena.",
        "<-- HTTP 101 Switching Protocols",
        "--- subprotocol ticksync.v2.arena.",
        ".bincode: binary (bincode)",
        // Hello, as JSON and as the bytes of PROTOCOL.md §4.
        "--> binary 8 B {\"Hello\":{\"protocol_version\":2,\"player_name\":\"bot-0\"}}",
        "0000  00 02 05 62 6f 74 2d 30",
        "<-- binary ",
        "{\"Welcome\":{\"player_id\":",
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
