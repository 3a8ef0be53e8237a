//! Rooms and operations end to end: rooms made on first join by `?room=`, isolation between
//! rooms, per-room settings and capacity, the room limit, empty rooms closing, `GET /rooms`,
//! Prometheus counters that move with the events they count, health and readiness across a
//! drain, and the browser client's files served from the same port.

use std::collections::BTreeMap;
use std::time::Duration;

use ticksync_arena::ArenaMessage;
use ticksync_protocol::{close_code, EntityId, ErrorCode};
use ticksync_server::config::RoomOverrides;
use ticksync_server::ServerConfig;
use ticksync_tests::{http_get, RawClient, RawEvent, ServerMessage, TestServer, WAIT};
use tokio_tungstenite::tungstenite::Message;

/// The rooms `GET /rooms` lists, as JSON values by name.
async fn listed_rooms(server: &TestServer) -> BTreeMap<String, serde_json::Value> {
    let answer = http_get(server.admin(), "/rooms")
        .await
        .expect("GET /rooms");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.headers.contains("application/json"), "{answer:?}");
    let rooms: Vec<serde_json::Value> = serde_json::from_str(&answer.body).expect("JSON");
    rooms
        .into_iter()
        .map(|room| (room["name"].as_str().unwrap_or_default().to_owned(), room))
        .collect()
}

/// The world's size the arena tells a player right after `Welcome`, before any snapshot.
async fn world_size(client: &mut RawClient) -> (u32, u32) {
    match client.next_event().await.expect("an event after Welcome") {
        RawEvent::Message(ServerMessage::Message(ArenaMessage::World { width, height })) => {
            (width, height)
        }
        other => panic!("expected the arena's World message first, got {other:?}"),
    }
}

/// Polls `condition` every 20 ms until it holds, failing the test after [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn rooms_are_created_on_first_join_and_never_see_each_other() {
    let server = TestServer::start().await;
    let url = server.url();
    let (mut a1, _) = RawClient::join_room(&url, "a", "a1").await.expect("a1");
    let (_a2, _) = RawClient::join_room(&url, "a", "a2").await.expect("a2");
    let (mut b1, _) = RawClient::join_room(&url, "b", "b1").await.expect("b1");
    // Without ?room= a client lands in the default room, alone.
    let (mut lobby, _) = RawClient::join(&url, "lobby").await.expect("default room");
    // Snapshots queued before a2 joined show a1 alone; skip to the first with both.
    while a1.next_snapshot().await.expect("a snapshot").created.len() < 2 {}
    for _ in 0..30 {
        let in_a = a1.next_snapshot().await.expect("a snapshot");
        let in_b = b1.next_snapshot().await.expect("b snapshot");
        let in_default = lobby.next_snapshot().await.expect("default snapshot");
        // Nobody acknowledges, so every snapshot is a full view of the client's own room.
        assert_eq!(in_a.created.len(), 2, "room a: {in_a:?}");
        assert_eq!(in_b.created.len(), 1, "room b sees only itself: {in_b:?}");
        assert_eq!(in_default.created.len(), 1, "{in_default:?}");
    }
    let rooms = listed_rooms(&server).await;
    assert_eq!(
        rooms.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a", "arena", "b"]
    );
    assert_eq!(rooms["a"]["players"], 2);
    assert_eq!(rooms["b"]["players"], 1);
    assert_eq!(rooms["a"]["tick_rate_hz"], 30);
    assert_eq!(rooms["a"]["capacity"], ServerConfig::default().max_players);
    assert!(rooms["a"]["tick_p99_ms"].is_number());
    server.stop().await;
}

#[tokio::test]
async fn rooms_take_their_own_settings_and_capacity_from_the_config() {
    let mut rooms = BTreeMap::new();
    let mut duel = RoomOverrides {
        tick_rate_hz: Some(60),
        max_players: Some(2),
        ..RoomOverrides::default()
    };
    // The world's size is the arena's own setting (`[rooms.duel.game] world_size`).
    duel.game.insert("world_size".into(), 500i64.into());
    rooms.insert("duel".to_owned(), duel);
    let server = TestServer::start_with(ServerConfig {
        rooms,
        ..ServerConfig::default()
    })
    .await;
    let url = server.url();
    let (mut first, welcome) = RawClient::join_room(&url, "duel", "p1").await.expect("p1");
    assert_eq!(welcome.tick_rate_hz, 60);
    assert_eq!(world_size(&mut first).await, (500, 500));
    let (_second, _) = RawClient::join_room(&url, "duel", "p2").await.expect("p2");
    let refused = RawClient::connect(&format!("{url}?room=duel"))
        .await
        .expect("connect")
        .hello("p3")
        .await;
    let message = format!("{:?}", refused.err());
    assert!(message.contains("RoomFull"), "{message}");
    // Other rooms keep the server-wide settings.
    let (mut other, welcome) = RawClient::join_room(&url, "other", "p")
        .await
        .expect("other");
    assert_eq!(welcome.tick_rate_hz, 30);
    let default_size = ticksync_arena::ArenaSettings::default().world_size;
    assert_ne!(default_size, 500);
    assert_eq!(world_size(&mut other).await, (default_size, default_size));
    assert_eq!(listed_rooms(&server).await["duel"]["capacity"], 2);
    server.stop().await;
}

#[tokio::test]
async fn a_new_room_past_the_limit_is_refused_with_4005() {
    let server = TestServer::start_with(ServerConfig {
        max_rooms: 2,
        ..ServerConfig::default()
    })
    .await;
    let url = server.url();
    let (_one, _) = RawClient::join_room(&url, "one", "p")
        .await
        .expect("second room");
    let mut client = RawClient::connect(&format!("{url}?room=two"))
        .await
        .expect("connect");
    client
        .send(&ticksync_protocol::ClientMessage::Hello(
            ticksync_protocol::Hello {
                protocol_version: ticksync_protocol::PROTOCOL_VERSION,
                player_name: "p".into(),
            },
        ))
        .await
        .expect("hello");
    let (error, close) = client.expect_close().await.expect("closed");
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::NoRoomAvailable));
    assert_eq!(
        close.map(|(code, _)| code),
        Some(close_code::NO_ROOM_AVAILABLE)
    );
    // Existing rooms still take players.
    RawClient::join_room(&url, "one", "q")
        .await
        .expect("join an existing room");
    RawClient::join(&url, "r")
        .await
        .expect("join the default room");
    server.stop().await;
}

#[tokio::test]
async fn an_invalid_room_name_is_refused_at_the_upgrade() {
    let server = TestServer::start().await;
    let refused = RawClient::connect(&format!("{}?room=no%20spaces", server.url())).await;
    let (status, body) = ticksync_tests::refused_upgrade(refused);
    assert_eq!(status, 400);
    assert!(body.contains("room"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn an_empty_room_closes_after_its_timeout_and_comes_back_on_the_next_join() {
    // A room the configuration names, so it has metric series of its own.
    let rooms = BTreeMap::from([("match".to_owned(), RoomOverrides::default())]);
    let server = TestServer::start_with(ServerConfig {
        empty_room_timeout: Duration::from_millis(200),
        rooms,
        ..ServerConfig::default()
    })
    .await;
    let url = server.url();
    let (mut player, _) = RawClient::join_room(&url, "match", "p")
        .await
        .expect("join");
    player.next_snapshot().await.expect("playing");
    assert!(listed_rooms(&server).await.contains_key("match"));
    player
        .send(&ticksync_protocol::ClientMessage::Leave)
        .await
        .expect("leave");
    player.expect_close().await.expect("closed after Leave");
    eventually("the empty room closes", || async {
        !listed_rooms(&server).await.contains_key("match")
    })
    .await;
    // The default room never closes, even when empty.
    assert!(listed_rooms(&server).await.contains_key("arena"));
    let series = r#"ticksync_tick_duration_seconds_count{room="match"}"#;
    assert_eq!(
        sample(&scrape(&server).await, series),
        None,
        "closed room's series dropped"
    );
    let (mut again, welcome) = RawClient::join_room(&url, "match", "p")
        .await
        .expect("rejoin");
    assert_eq!(
        welcome.entity_id,
        Some(EntityId(1)),
        "a fresh room numbers entities anew"
    );
    again.next_snapshot().await.expect("playing again");
    eventually("the new room's ticks are exported", || async {
        sample(&scrape(&server).await, series).is_some_and(|ticks| ticks > 0.0)
    })
    .await;
    let summary = server.stop().await;
    assert!(
        summary
            .rooms
            .iter()
            .filter(|(name, _)| name == "match")
            .count()
            == 2,
        "both incarnations of the room reported: {:?}",
        summary.rooms
    );
}

/// The value of the sample `series` (name with labels, exactly as exposed) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

async fn scrape(server: &TestServer) -> String {
    let answer = http_get(server.admin(), "/metrics")
        .await
        .expect("GET /metrics");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.headers.contains("openmetrics-text"), "{answer:?}");
    answer.body
}

#[tokio::test]
async fn metrics_move_when_the_events_they_count_happen() {
    let server = TestServer::start().await;
    let url = server.url();
    let before = scrape(&server).await;
    assert_eq!(sample(&before, "ticksync_players"), Some(0.0), "{before}");
    assert_eq!(sample(&before, "ticksync_rooms"), Some(1.0), "{before}");
    assert!(before.trim_end().ends_with("# EOF"), "{before}");

    let (mut player, _) = RawClient::join_room(&url, "m", "p").await.expect("join");
    player.next_snapshot().await.expect("playing");
    eventually("the player is counted", || async {
        sample(&scrape(&server).await, "ticksync_players") == Some(1.0)
    })
    .await;
    let text = scrape(&server).await;
    assert_eq!(sample(&text, "ticksync_rooms"), Some(2.0), "{text}");
    // Room m is a client's: it counts in the series all such rooms share.
    assert_eq!(
        sample(&text, r#"ticksync_room_players{room="(other)"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"ticksync_room_players{room="arena"}"#),
        Some(0.0),
        "{text}"
    );
    let ticks = sample(
        &text,
        r#"ticksync_tick_duration_seconds_count{room="(other)"}"#,
    )
    .expect("tick histogram of the other rooms");
    assert!(ticks >= 1.0, "{text}");
    assert!(
        sample(&text, "ticksync_bytes_out_total").unwrap_or(0.0) > 0.0,
        "{text}"
    );

    // A protocol violation: a kick and a disconnect with its reason.
    player
        .send_raw(Message::Binary(vec![0xff, 0xff, 0xff].into()))
        .await
        .expect("garbage");
    player.expect_close().await.expect("kicked");
    // A handshake failure: no subprotocol offered.
    let _ = RawClient::connect_offering(&url, None).await;
    eventually(
        "kick, disconnect and handshake failure are counted",
        || async {
            let text = scrape(&server).await;
            sample(&text, r#"ticksync_kicks_total{reason="protocol"}"#) == Some(1.0)
                && sample(
                    &text,
                    r#"ticksync_disconnects_total{reason="protocol_error"}"#,
                ) == Some(1.0)
                && sample(
                    &text,
                    r#"ticksync_handshake_failures_total{reason="subprotocol"}"#,
                ) == Some(1.0)
                && sample(&text, "ticksync_players") == Some(0.0)
        },
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_scrape_costs_the_same_with_a_thousand_rooms() {
    let server = TestServer::start().await;
    let alone = scrape(&server).await;
    // Rooms anyone could open by naming them in the URL.
    for i in 0..999 {
        server.open_room(&format!("r-{i}")).expect("room opens");
    }
    eventually("every room is counted", || async {
        sample(&scrape(&server).await, "ticksync_rooms") == Some(1000.0)
    })
    .await;
    let text = scrape(&server).await;
    // One (other) series instead of one per room: 1.2 MB before.
    assert!(!text.contains("room=\"r-"), "{text}");
    assert!(
        text.len() < alone.len() + 2048,
        "{} bytes with 1,000 rooms, {} with one",
        text.len(),
        alone.len()
    );
    assert_eq!(
        sample(&text, r#"ticksync_room_players{room="(other)"}"#),
        Some(0.0),
        "{text}"
    );
    // The room list is the place for every room.
    assert_eq!(listed_rooms(&server).await.len(), 1000);
    server.stop().await;
}

#[tokio::test]
async fn the_operations_port_answers_while_the_game_port_is_full() {
    let server = TestServer::start_with(ServerConfig {
        max_connections: 2,
        handshake_timeout: Duration::from_secs(30),
        ..ServerConfig::default()
    })
    .await;
    // Two connections that say nothing fill the game port.
    let _held = [
        tokio::net::TcpStream::connect(server.addr).await.unwrap(),
        tokio::net::TcpStream::connect(server.addr).await.unwrap(),
    ];
    eventually("both connections are open", || async {
        server.metrics.snapshot().connections_open == 2
    })
    .await;
    // A third is refused at accept, as players are.
    let mut third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut refused = Vec::new();
    let _ = tokio::time::timeout(
        WAIT,
        tokio::io::AsyncReadExt::read_to_end(&mut third, &mut refused),
    )
    .await;
    let refused = String::from_utf8_lossy(&refused);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    // Liveness and readiness do not depend on the players' limits.
    assert_eq!(
        http_get(server.admin(), "/healthz").await.unwrap().status,
        200
    );
    assert_eq!(
        http_get(server.admin(), "/readyz").await.unwrap().status,
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn operations_endpoints_are_not_on_the_game_port_and_can_be_turned_off() {
    let server = TestServer::start().await;
    for path in ["/metrics", "/rooms", "/healthz", "/readyz"] {
        let answer = http_get(server.addr, path).await.unwrap();
        assert_eq!(answer.status, 404, "{path}: {answer:?}");
        assert!(answer.body.contains("admin_bind"), "{path}: {answer:?}");
    }
    let page = http_get(server.admin(), "/").await.unwrap();
    assert_eq!(page.status, 404, "{page:?}");
    server.stop().await;
    let off = TestServer::start_with(ServerConfig {
        admin_bind: None,
        ..ServerConfig::default()
    })
    .await;
    assert_eq!(off.admin_addr, None);
    RawClient::join(&off.url(), "p")
        .await
        .expect("players still play");
    off.stop().await;
}

#[tokio::test]
async fn health_and_readiness_across_a_drain() {
    let server = TestServer::start().await;
    assert_eq!(
        http_get(server.admin(), "/healthz").await.unwrap().status,
        200
    );
    assert_eq!(
        http_get(server.admin(), "/readyz").await.unwrap().status,
        200
    );
    let (mut player, _) = RawClient::join(&server.url(), "p").await.expect("join");

    server.drain.start();
    let ready = http_get(server.admin(), "/readyz").await.unwrap();
    assert_eq!(ready.status, 503, "{ready:?}");
    assert!(ready.body.contains("draining"));
    assert_eq!(
        http_get(server.admin(), "/healthz").await.unwrap().status,
        200
    );
    // No new players while draining...
    let (status, body) = ticksync_tests::refused_upgrade(RawClient::connect(&server.url()).await);
    assert_eq!(status, 503, "{body}");
    // ...but those in play keep playing.
    let first = player
        .next_snapshot()
        .await
        .expect("snapshot while draining");
    let later = player
        .next_snapshot()
        .await
        .expect("snapshot while draining");
    assert_eq!(later.tick, first.tick + 1);
    server.stop().await;
}

#[tokio::test]
async fn the_browser_client_is_served_from_the_game_port() {
    let server = TestServer::start().await;
    let page = http_get(server.addr, "/").await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.headers.contains("text/html"), "{page:?}");
    assert!(page.body.contains("app.js"), "the page loads its script");
    for script in ["/app.js", "/ticksync.js"] {
        let answer = http_get(server.addr, script).await.unwrap();
        assert_eq!(answer.status, 200, "{script}");
        assert!(answer.headers.contains("text/javascript"), "{script}");
        assert!(!answer.body.is_empty(), "{script}");
    }
    let missing = http_get(server.addr, "/nothing-here").await.unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/metrics"), "{missing:?}");
    server.stop().await;
}

#[tokio::test]
async fn rooms_tick_on_dedicated_threads_or_on_the_socket_threads() {
    for tick_threads in [Some(0), Some(1), None] {
        let server = TestServer::start_with(ServerConfig {
            tick_threads,
            ..ServerConfig::default()
        })
        .await;
        let (mut player, _) = RawClient::join_room(&server.url(), "x", "p")
            .await
            .expect("join");
        let first = player.next_snapshot().await.expect("snapshot");
        let second = player.next_snapshot().await.expect("snapshot");
        assert_eq!(second.tick, first.tick + 1, "tick_threads {tick_threads:?}");
        let summary = server.stop().await;
        assert!(summary.ticks.ticks > 0, "the default room ticked");
        assert!(summary.rooms.iter().any(|(name, _)| name == "x"));
    }
}
