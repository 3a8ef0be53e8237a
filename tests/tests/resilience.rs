//! End to end: players lose connections and stall, and nobody else notices.
//!
//! - A client that stops reading is closed as too slow within the configured time, without
//!   a tick gap for anyone else and without growing the server's memory, over `ws://` and
//!   over `wss://` (where the room seals its frames itself); once the room kicks it, its
//!   connection is gone within a second, whether it keeps sending or sends nothing.
//! - A player whose connection drops keeps its entity for the grace period and takes it
//!   back with its resume token; after the grace period, with a forged token, or on the
//!   losing side of a race for one token, `Resume` is refused with a clear error.

use std::time::Duration;

use ticksync_arena::{ArenaEntity, ArenaInput, MoveDir};
use ticksync_protocol::{
    close_code, EntityId, ErrorCode, Hello, Input, Resume, Welcome, WireFormat, PROTOCOL_VERSION,
};
use ticksync_server::ServerConfig;
use ticksync_sim::{run_swarm, SwarmConfig};
use ticksync_tests::{
    arena_subprotocol, ClientMessage, Observers, RawClient, RawEvent, ServerMessage, TestServer,
    OBSERVERS, WAIT,
};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn resident_bytes() -> u64 {
    ticksync_server::metrics::process_rss_bytes().unwrap_or(0)
}

/// The stalled-client test measures the memory of the whole test process, so it runs alone:
/// it holds this for writing, every other test here (each with a server, some with a swarm of
/// bots) for reading.
static PROCESS_MEMORY: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_nobody_else_notices() {
    let _alone = PROCESS_MEMORY.write().await;
    let server = TestServer::start_with(ServerConfig {
        slow_client_timeout: Duration::from_secs(1),
        max_connections_per_ip: 0,
        ..ServerConfig::default()
    })
    .await;
    let swarm = tokio::spawn(run_swarm(SwarmConfig::new(
        server.url(),
        100,
        Duration::from_secs(8),
    )));
    let observers = Observers::join(&server).await;

    // Every bot in (the swarm's buffers are the process's memory too), then a client with
    // a tiny receive window that joins and never reads again.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.metrics.snapshot().players < 100 + OBSERVERS as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bots never all joined"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stalled = join_and_stop_reading(&server, "stalled", WireFormat::Bincode).await;
    let rss_at_stall = resident_bytes();

    // The server gives up on it: snapshots pile up, are dropped, and after the slow-client
    // timeout the session is closed.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.metrics.snapshot().kicks_slow == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled client was never closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_after = resident_bytes();
    // Bounded by construction: eight queued frames and a 1 MiB write buffer.
    assert!(
        rss_after.saturating_sub(rss_at_stall) < 32 * 1024 * 1024,
        "RSS grew from {rss_at_stall} to {rss_after}"
    );
    observers.assert_no_gaps().await;
    let report = swarm
        .await
        .unwrap()
        .expect("the default mix is the arena's");
    assert_eq!(report.bots_connected, 100, "{report}");
    assert_eq!(report.disconnects, 0, "{report}");
    assert_eq!(report.desyncs, 0);
    drop(stalled);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wss_client_that_stops_reading_is_closed_and_the_others_play_on() {
    let _shared = PROCESS_MEMORY.read().await;
    let dir = std::env::temp_dir().join(format!("ticksync-stall-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("dev-cert.pem");
    let server = TestServer::start_with(ServerConfig {
        dev_tls_cert: Some(cert.clone()),
        slow_client_timeout: Duration::from_secs(1),
        max_connections_per_ip: 0,
        ..ServerConfig::default()
    })
    .await;
    // Bots keep the snapshots large enough to fill a stalled reader's buffers in seconds.
    let mut bots = SwarmConfig::new(server.url(), 60, Duration::from_secs(8));
    bots.tls = ticksync_sim::tls_config(&ticksync_sim::TlsTrust::CaFile(cert.clone())).unwrap();
    let swarm = tokio::spawn(run_swarm(bots));
    let (mut healthy, _) = RawClient::join_tls(&server.url(), &cert).await.unwrap();

    // A wss client with a tiny receive window that joins and then never reads again.
    let stalled = stall(&server, "stalled", WireFormat::Bincode, Some(&cert)).await;

    // The healthy player reads on; the stalled one is closed as too slow.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last_tick = 0;
    while server.metrics.snapshot().kicks_slow == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled wss client was never closed: {:?}",
            server.metrics.snapshot()
        );
        let snapshot = healthy.next_snapshot().await.unwrap();
        assert!(snapshot.tick > last_tick, "snapshots in order");
        last_tick = snapshot.tick;
    }
    // And the healthy one keeps getting every tick's snapshot after the kick.
    for _ in 0..30 {
        let snapshot = healthy.next_snapshot().await.unwrap();
        assert_eq!(snapshot.tick, last_tick + 1, "a tick was skipped");
        last_tick = snapshot.tick;
    }
    let report = swarm
        .await
        .unwrap()
        .expect("the default mix is the arena's");
    assert_eq!(report.bots_connected, 60, "{report}");
    assert_eq!(report.disconnects, 0, "{report}");
    assert_eq!(report.desyncs, 0, "{report}");
    drop(stalled);
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

type StalledWs =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client speaking `format` with a tiny receive window that joins and never reads again.
async fn join_and_stop_reading(server: &TestServer, name: &str, format: WireFormat) -> StalledWs {
    stall(server, name, format, None).await
}

/// [`join_and_stop_reading`], over TLS trusting the certificate at `ca_cert` when given.
async fn stall(
    server: &TestServer,
    name: &str,
    format: WireFormat,
    ca_cert: Option<&std::path::Path>,
) -> StalledWs {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let mut request = server.url().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        arena_subprotocol(format).parse().unwrap(),
    );
    let connector = ca_cert.and_then(|path| {
        let trust = ticksync_sim::TlsTrust::CaFile(path.to_owned());
        ticksync_sim::tls_config(&trust)
            .unwrap()
            .map(tokio_tungstenite::Connector::Rustls)
    });
    let (mut ws, _) =
        tokio_tungstenite::client_async_tls_with_config(request, tcp, None, connector)
            .await
            .unwrap();
    let hello = ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        player_name: name.into(),
    });
    let bytes = format.encode(&hello).unwrap();
    let frame = match format {
        WireFormat::Bincode => Message::Binary(bytes.into()),
        WireFormat::Json => Message::Text(String::from_utf8(bytes).unwrap().into()),
    };
    futures_util::SinkExt::send(&mut ws, frame).await.unwrap();
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kicked_client_is_disconnected_within_a_second_whatever_it_does() {
    let _shared = PROCESS_MEMORY.read().await;
    let server = TestServer::start_with(ServerConfig {
        tick_rate_hz: 60,
        slow_client_timeout: Duration::from_millis(500),
        socket_send_buffer_bytes: 4096,
        max_connections_per_ip: 0,
        ..ServerConfig::default()
    })
    .await;
    // Players that read, so the stalled clients' (JSON) snapshots are big and fill their
    // sockets within a second.
    let swarm = tokio::spawn(run_swarm(SwarmConfig::new(
        server.url(),
        30,
        Duration::from_secs(4),
    )));
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.metrics.snapshot().players < 30 {
        assert!(tokio::time::Instant::now() < deadline, "the swarm joins");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let open_before = server.metrics.snapshot().connections_open;
    // One keeps sending inputs (so it is never idle) and never reads; one does neither.
    let mut sender = join_and_stop_reading(&server, "sends-never-reads", WireFormat::Json).await;
    let _silent = join_and_stop_reading(&server, "silent", WireFormat::Json).await;
    let sending = tokio::spawn(async move {
        for seq in 1..=1_000u32 {
            let input = ClientMessage::Input(Input {
                seq,
                ack_tick: 0,
                payload: ArenaInput {
                    move_dir: MoveDir::from_vector(1.0, 0.0),
                    buttons: 0,
                },
            });
            let text = String::from_utf8(WireFormat::Json.encode(&input).unwrap()).unwrap();
            let sent = tokio::time::timeout(
                Duration::from_millis(500),
                futures_util::SinkExt::send(&mut sender, Message::Text(text.into())),
            )
            .await;
            if !matches!(sent, Ok(Ok(()))) {
                return tokio::time::Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server never closed a client that keeps sending");
    });
    // Watch the kicks and the connections closing.
    let (mut kicked_at, mut closed_at) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + WAIT;
    while closed_at.len() < 2 {
        let now = tokio::time::Instant::now();
        assert!(
            now < deadline,
            "kicked {} but closed {} of 2 stalled clients",
            kicked_at.len(),
            closed_at.len()
        );
        let kicks = server.metrics.snapshot().kicks_slow as usize;
        kicked_at.resize(kicks.max(kicked_at.len()), now);
        let open = server.metrics.snapshot().connections_open;
        let closed = (open_before + 2).saturating_sub(open) as usize;
        closed_at.resize(closed.max(closed_at.len()), now);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        kicked_at.len(),
        2,
        "both stalled clients were kicked as slow"
    );
    for (kicked, closed) in kicked_at.iter().zip(&closed_at) {
        let took = closed.saturating_duration_since(*kicked);
        println!("kick to close: {} ms", took.as_millis());
        assert!(
            took < Duration::from_secs(1),
            "closed {took:?} after its kick"
        );
    }
    // The sender sees its connection gone too (reset), within a second of its close.
    let send_failed_at = tokio::time::timeout(WAIT, sending).await.unwrap().unwrap();
    assert!(send_failed_at.saturating_duration_since(closed_at[1]) < Duration::from_secs(1));
    let report = swarm.await.unwrap().expect("the swarm runs");
    assert_eq!(report.disconnects, 0, "{report}");
    assert_eq!(report.desyncs, 0, "{report}");
    server.stop().await;
}

async fn resume(url: &str, token: &str) -> RawClient {
    let mut client = RawClient::connect(url).await.unwrap();
    let resume = ClientMessage::Resume(Resume {
        protocol_version: PROTOCOL_VERSION,
        resume_token: token.to_owned(),
    });
    client.send(&resume).await.unwrap();
    client
}

/// The entity an arena player controls (the arena gives every player one).
fn entity(welcome: &Welcome) -> EntityId {
    welcome.entity_id.expect("an arena player owns an entity")
}

async fn expect_welcome(client: &mut RawClient) -> Welcome {
    match client.next_event().await.unwrap() {
        RawEvent::Message(ServerMessage::Welcome(welcome)) => welcome,
        other => panic!("expected Welcome, got {other:?}"),
    }
}

async fn expect_refused(client: &mut RawClient) {
    let (error, close) = client.expect_close().await.unwrap();
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::ResumeRefused));
    assert_eq!(close.map(|c| c.0), Some(close_code::RESUME_REFUSED));
}

/// The first snapshot after `after_tick` that holds `entity`, or `None` if a snapshot
/// after that tick lacks it.
async fn state_of(
    client: &mut RawClient,
    entity: EntityId,
    after_tick: u32,
) -> Option<ArenaEntity> {
    loop {
        let snapshot = client.next_snapshot().await.unwrap();
        if snapshot.tick > after_tick {
            return snapshot
                .created
                .iter()
                .find(|e| e.id == entity)
                .map(|e| e.state);
        }
    }
}

#[tokio::test]
async fn a_dropped_player_resumes_the_same_entity_within_the_grace_period() {
    let _shared = PROCESS_MEMORY.read().await;
    let server = TestServer::start_with(ServerConfig {
        resume_grace: Duration::from_secs(5),
        ..ServerConfig::default()
    })
    .await;
    let (mut observer, _) = RawClient::join(&server.url(), "observer").await.unwrap();
    let (player, welcome) = RawClient::join(&server.url(), "player").await.unwrap();
    assert!(!welcome.resumed);
    let me = entity(&welcome);
    let before = state_of(&mut observer, me, welcome.tick)
        .await
        .expect("player visible");
    drop(player);
    // Still there while the server waits for a resume.
    let dropped_at = observer.next_snapshot().await.unwrap().tick;
    let waiting = state_of(&mut observer, me, dropped_at + 5).await;
    assert_eq!(
        waiting,
        Some(before),
        "entity kept, unchanged (it had no input)"
    );

    let mut back = resume(&server.url(), &welcome.resume_token).await;
    let resumed = expect_welcome(&mut back).await;
    assert!(resumed.resumed);
    assert_eq!(resumed.entity_id, Some(me));
    assert_ne!(
        resumed.resume_token, welcome.resume_token,
        "tokens are single-use"
    );
    let first = back.next_snapshot().await.unwrap();
    assert!(
        first.is_full(),
        "a resumed session starts from a full snapshot"
    );
    let mine = first.created.iter().find(|e| e.id == me).map(|e| e.state);
    assert_eq!(mine, Some(before), "same id, same state");

    // The old token is spent.
    let mut again = resume(&server.url(), &welcome.resume_token).await;
    expect_refused(&mut again).await;
    server.stop().await;
}

#[tokio::test]
async fn resume_after_the_grace_period_or_with_a_forged_token_is_refused() {
    let _shared = PROCESS_MEMORY.read().await;
    let server = TestServer::start_with(ServerConfig {
        resume_grace: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let (mut observer, _) = RawClient::join(&server.url(), "observer").await.unwrap();
    let (player, welcome) = RawClient::join(&server.url(), "player").await.unwrap();
    let me = entity(&welcome);
    state_of(&mut observer, me, welcome.tick)
        .await
        .expect("player visible");
    drop(player);
    // Gone from everyone's view once the grace period ends.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let snapshot = observer.next_snapshot().await.unwrap();
        if snapshot.created.iter().all(|e| e.id != me) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "entity never removed"
        );
    }
    let mut late = resume(&server.url(), &welcome.resume_token).await;
    expect_refused(&mut late).await;
    let mut forged = resume(&server.url(), "00000000000000000000000000000000").await;
    expect_refused(&mut forged).await;
    server.stop().await;
}

#[tokio::test]
async fn two_connections_racing_for_one_token_exactly_one_wins() {
    let _shared = PROCESS_MEMORY.read().await;
    let server = TestServer::start_with(ServerConfig {
        resume_grace: Duration::from_secs(5),
        ..ServerConfig::default()
    })
    .await;
    let (player, welcome) = RawClient::join(&server.url(), "player").await.unwrap();
    let me = entity(&welcome);
    drop(player);
    let url = server.url();
    let (mut first, mut second) = tokio::join!(
        resume(&url, &welcome.resume_token),
        resume(&url, &welcome.resume_token)
    );
    let (a, b) = tokio::join!(first.next_event(), second.next_event());
    let outcomes = [a.unwrap(), b.unwrap()];
    let winners = outcomes
        .iter()
        .filter(|event| matches!(event, RawEvent::Message(ServerMessage::Welcome(w)) if w.entity_id == Some(me) && w.resumed))
        .count();
    let refused = outcomes
        .iter()
        .filter(|event| matches!(event, RawEvent::Message(ServerMessage::Error(e)) if e.code == ErrorCode::ResumeRefused))
        .count();
    assert_eq!((winners, refused), (1, 1), "{outcomes:?}");
    server.stop().await;
}

#[tokio::test]
async fn resuming_while_the_old_connection_lingers_replaces_it() {
    let _shared = PROCESS_MEMORY.read().await;
    let server = TestServer::start().await;
    let (mut old, welcome) = RawClient::join(&server.url(), "player").await.unwrap();
    let me = entity(&welcome);
    // The old connection is still open (the server has not noticed anything wrong).
    let mut new = resume(&server.url(), &welcome.resume_token).await;
    let resumed = expect_welcome(&mut new).await;
    assert_eq!(resumed.entity_id, Some(me));
    let (error, close) = old.expect_close().await.unwrap();
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::Replaced));
    assert_eq!(close.map(|c| c.0), Some(close_code::REPLACED));
    // The entity lives on with the new connection.
    let snapshot = new.next_snapshot().await.unwrap();
    assert!(snapshot.created.iter().any(|e| e.id == me));
    server.stop().await;
}

#[tokio::test]
async fn a_connection_between_upgrade_and_welcome_gets_a_close_frame_at_shutdown() {
    let _shared = PROCESS_MEMORY.read().await;
    let server = TestServer::start().await;
    // Upgraded (101 received), no Hello yet.
    let mut waiting = RawClient::connect(&server.url()).await.unwrap();
    let (summary, closed) = tokio::join!(server.stop(), waiting.expect_close());
    let (error, close) = closed.unwrap();
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::ServerShuttingDown));
    assert_eq!(close.map(|c| c.0), Some(close_code::GOING_AWAY));
    assert_eq!(summary.sessions_abandoned, 0);
}
