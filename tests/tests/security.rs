//! End to end: admission and limits — join tokens, browser origins, slowloris, floods,
//! connection limits, wss, and plain HTTP on the WebSocket port. Each hostile case is
//! refused cleanly while honest players keep their tick rate.

use std::time::Duration;

use ticksync_arena::{ArenaInput, MoveDir};
use ticksync_protocol::token::{mint, JoinClaims};
use ticksync_protocol::{close_code, EntityId, ErrorCode, Input, Welcome, WireFormat};
use ticksync_server::config::Secret;
use ticksync_server::ServerConfig;
use ticksync_tests::{
    arena_subprotocol, refused_upgrade, ClientMessage, Observers, RawClient, TestServer, WAIT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const SECRET: &str = "correct horse battery staple";

/// The arena's bincode subprotocol, the header value an honest native client offers.
fn bincode_protocol() -> String {
    arena_subprotocol(WireFormat::Bincode)
}

/// The entity an arena player controls (the arena gives every player one).
fn entity(welcome: &Welcome) -> EntityId {
    welcome.entity_id.expect("an arena player owns an entity")
}

fn with_tokens() -> ServerConfig {
    ServerConfig {
        token_secret: Some(Secret::new(SECRET)),
        ..ServerConfig::default()
    }
}

fn token(secret: &str, room: &str, ttl_secs: i64) -> String {
    let mut claims = JoinClaims::new("player-7", "Ada", room, Duration::ZERO);
    claims.exp = claims.exp.saturating_add_signed(ttl_secs);
    mint(secret.as_bytes(), &claims).unwrap()
}

#[tokio::test]
async fn a_valid_token_joins_under_its_display_name() {
    let server = TestServer::start_with(with_tokens()).await;
    let url = format!("{}?token={}", server.url(), token(SECRET, "arena", 60));
    let (mut client, welcome) = RawClient::join(&url, "ignored-name").await.unwrap();
    let snapshot = client.next_snapshot().await.unwrap();
    assert!(snapshot.created.iter().any(|e| e.id == entity(&welcome)));
    // The bearer header works too.
    let bearer = format!("Bearer {}", token(SECRET, "arena", 60));
    let protocol = bincode_protocol();
    let client = RawClient::connect_with(
        &server.url(),
        &[
            ("Sec-WebSocket-Protocol", &protocol),
            ("Authorization", &bearer),
        ],
        None,
    )
    .await
    .unwrap();
    client.hello("x").await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn missing_expired_forged_and_wrong_room_tokens_get_401() {
    let server = TestServer::start_with(with_tokens()).await;
    let cases = [
        ("missing", server.url()),
        (
            "expired",
            format!("{}?token={}", server.url(), token(SECRET, "arena", -3600)),
        ),
        (
            "forged",
            format!(
                "{}?token={}",
                server.url(),
                token("guessed secret", "arena", 60)
            ),
        ),
        (
            "wrong room",
            format!("{}?token={}", server.url(), token(SECRET, "lobby", 60)),
        ),
        ("garbage", format!("{}?token=not-a-jwt", server.url())),
    ];
    for (case, url) in cases {
        let (status, body) = refused_upgrade(RawClient::connect(&url).await);
        assert_eq!(status, 401, "{case}: {body}");
        assert!(body.contains("token"), "{case}: {body}");
    }
    assert_eq!(server.metrics.snapshot().admissions_refused, 5);
    server.stop().await;
}

#[tokio::test]
async fn a_token_with_only_sub_and_exp_joins_any_room_and_a_bad_name_claim_is_named() {
    let server = TestServer::start_with(with_tokens()).await;
    let mut bare = JoinClaims::new("player-8", "unused", "unused", Duration::from_secs(60));
    bare.name = None;
    bare.room = None;
    let bare = mint(SECRET.as_bytes(), &bare).unwrap();
    let url = format!("{}?room=lobby&token={bare}", server.url());
    let (mut client, welcome) = RawClient::join(&url, "from-hello").await.unwrap();
    let snapshot = client.next_snapshot().await.unwrap();
    assert!(snapshot
        .created
        .iter()
        .any(|e| Some(e.id) == welcome.entity_id));

    // A name claim the protocol refuses is refused at the upgrade, and the answer says the
    // name came from the token.
    let long_name = "n".repeat(ticksync_protocol::MAX_PLAYER_NAME_BYTES + 1);
    let claims = JoinClaims::new("player-9", long_name, "arena", Duration::from_secs(60));
    let token = mint(SECRET.as_bytes(), &claims).unwrap();
    let url = format!("{}?token={token}", server.url());
    let (status, body) = refused_upgrade(RawClient::connect(&url).await);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("`name` claim"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn origins_outside_the_allow_list_get_403() {
    let server = TestServer::start_with(ServerConfig {
        allowed_origins: vec!["https://play.example.com".into()],
        ..ServerConfig::default()
    })
    .await;
    let protocol = bincode_protocol();
    let allowed = RawClient::connect_with(
        &server.url(),
        &[
            ("Sec-WebSocket-Protocol", &protocol),
            ("Origin", "https://play.example.com"),
        ],
        None,
    )
    .await
    .unwrap();
    allowed.hello("browser").await.unwrap();
    let (status, body) = refused_upgrade(
        RawClient::connect_with(
            &server.url(),
            &[
                ("Sec-WebSocket-Protocol", &protocol),
                ("Origin", "https://evil.example"),
            ],
            None,
        )
        .await,
    );
    assert_eq!(status, 403, "{body}");
    // Native clients send no Origin and are allowed.
    RawClient::join(&server.url(), "native").await.unwrap();
    server.stop().await;
}

/// Reads until the server closes the connection; returns what it sent.
async fn read_until_closed(tcp: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut received))
        .await
        .expect("server closes in time");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn slowloris_and_silent_connections_are_dropped_at_the_handshake_timeout() {
    let server = TestServer::start_with(ServerConfig {
        handshake_timeout: Duration::from_millis(600),
        ..ServerConfig::default()
    })
    .await;
    let observers = Observers::join(&server).await;
    // Silent: opens TCP, sends nothing.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // Slowloris: sends a header byte every 100 ms, never finishing.
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let dripping = async {
        for byte in
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if slow.write_all(&[*byte]).await.is_err() {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the server let a slowloris client drip headers for {:?}",
            started.elapsed()
        );
    };
    let cut_at = tokio::time::timeout(WAIT, dripping)
        .await
        .expect("slowloris is cut off");
    assert!(cut_at.duration_since(started) < Duration::from_secs(3));
    assert_eq!(
        read_until_closed(&mut silent).await,
        "",
        "silent clients get nothing"
    );
    observers.assert_no_gaps().await;
    server.stop().await;
}

#[tokio::test]
async fn an_input_flood_closes_the_flooder_with_1008_and_spares_the_others() {
    let server = TestServer::start_with(ServerConfig {
        max_messages_per_second: 60,
        flood_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    })
    .await;
    let observers = Observers::join(&server).await;
    let (mut flooder, _) = RawClient::join(&server.url(), "flooder").await.unwrap();
    // As fast as the socket takes them, bounded in count.
    let mut sent = 0u32;
    for seq in 1..=20_000u32 {
        let input = ClientMessage::Input(Input {
            seq,
            ack_tick: 0,
            payload: ArenaInput {
                move_dir: MoveDir::from_vector(1.0, 0.0),
                buttons: 0,
            },
        });
        if flooder.send(&input).await.is_err() {
            break;
        }
        sent += 1;
        if seq % 500 == 0 {
            // Give the server's reader a moment so the flood spans the flood timeout.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let (error, close) = flooder.expect_close().await.unwrap();
    assert_eq!(
        error.map(|e| e.code),
        Some(ErrorCode::Flooding),
        "after {sent} inputs"
    );
    assert_eq!(close.map(|c| c.0), Some(close_code::POLICY_VIOLATION));
    observers.assert_no_gaps().await;
    assert!(server.metrics.snapshot().messages_dropped > 0);
    server.stop().await;
}

#[tokio::test]
async fn per_ip_and_total_connection_limits_answer_503() {
    let server = TestServer::start_with(ServerConfig {
        max_connections_per_ip: 2,
        ..ServerConfig::default()
    })
    .await;
    let _a = RawClient::join(&server.url(), "a").await.unwrap();
    let _b = RawClient::join(&server.url(), "b").await.unwrap();
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    let answer = read_until_closed(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("too many connections from this address"),
        "{answer}"
    );
    server.stop().await;

    let server = TestServer::start_with(ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    })
    .await;
    let _only = RawClient::join(&server.url(), "only").await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    let answer = read_until_closed(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    server.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_websocket_path_gets_426() {
    let server = TestServer::start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    assert!(answer.contains(&bincode_protocol()), "{answer}");
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /favicon.ico HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    assert!(read_until_closed(&mut tcp)
        .await
        .starts_with("HTTP/1.1 404"));
    server.stop().await;
}

/// Sends `request` as is and returns the whole answer.
async fn exchange(server: &TestServer, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    read_until_closed(&mut tcp).await
}

#[tokio::test]
async fn malformed_upgrades_get_400_naming_the_problem() {
    let server = TestServer::start().await;
    let good = format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: {}\r\n\r\n",
        arena_subprotocol(WireFormat::Bincode)
    );
    let accepted = exchange_until(&server, good.as_bytes(), "\r\n\r\n").await;
    assert!(accepted.starts_with("HTTP/1.1 101"), "{accepted}");
    let cases = [
        (
            "HTTP/1.0",
            good.replacen("HTTP/1.1", "HTTP/1.0", 1),
            "HTTP/1.1",
        ),
        ("POST", good.replacen("GET", "POST", 1), "GET"),
        (
            "no key",
            good.replacen("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1),
            "Sec-WebSocket-Key",
        ),
        (
            "version 8",
            good.replacen("Version: 13", "Version: 8", 1),
            "Sec-WebSocket-Version: 13",
        ),
        (
            "no Connection: Upgrade",
            good.replacen("Connection: Upgrade", "Connection: keep-alive", 1),
            "Connection",
        ),
        (
            "bytes sent along",
            format!("{good}\u{1}\u{2}"),
            "after the request head",
        ),
        (
            "a room of dots",
            good.replacen("/ws", "/ws?room=..", 1),
            "only dots",
        ),
    ];
    for (case, request, named) in cases {
        let answer = exchange(&server, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{case}: {answer}");
        assert!(answer.contains(named), "{case}: {answer}");
    }
    // The head limit is 8 KiB of head, however the reads fall.
    let padded = |size: usize| {
        let start = "GET / HTTP/1.1\r\nX: ";
        format!("{start}{}\r\n\r\n", "a".repeat(size - start.len() - 4))
    };
    let answer = exchange(&server, padded(8 * 1024).as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for size in [8 * 1024 + 1, 8_300] {
        let answer = exchange(&server, padded(size).as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{size} bytes: {answer}");
    }
    server.stop().await;
}

/// Sends `request` and reads until `end` has been received (the server keeps the connection).
async fn exchange_until(server: &TestServer, request: &[u8], end: &str) -> String {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let reading = async {
        let mut chunk = [0u8; 1024];
        while !String::from_utf8_lossy(&received).contains(end) {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, reading)
        .await
        .expect("answer in time");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn wss_round_trip_with_a_generated_certificate() {
    let dir = std::env::temp_dir().join(format!("ticksync-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("dev-cert.pem");
    let server = TestServer::start_with(ServerConfig {
        dev_tls_cert: Some(cert.clone()),
        ..ServerConfig::default()
    })
    .await;
    let url = server.url();
    assert!(url.starts_with("wss://"), "{url}");
    let (mut client, welcome) = RawClient::join_tls(&url, &cert).await.unwrap();
    let snapshot = client.next_snapshot().await.unwrap();
    assert!(snapshot.created.iter().any(|e| e.id == entity(&welcome)));
    // A client that does not trust the certificate cannot connect.
    let other = dir.join("other.pem");
    let other_cert = rcgen_free_cert(&other);
    assert!(RawClient::join_tls(&url, &other_cert).await.is_err());
    // Plain ws:// to a wss:// port fails rather than hangs.
    let plain = url.replacen("wss://", "ws://", 1);
    assert!(RawClient::connect(&plain).await.is_err());
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Writes a certificate unrelated to the server's (a second server's dev certificate).
fn rcgen_free_cert(path: &std::path::Path) -> std::path::PathBuf {
    ticksync_server::net::tls::dev_acceptor(path).expect("second certificate");
    path.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swarm_plays_over_wss_with_per_bot_tokens() {
    let dir = std::env::temp_dir().join(format!("ticksync-swarm-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("dev-cert.pem");
    let server = TestServer::start_with(ServerConfig {
        dev_tls_cert: Some(cert.clone()),
        ..with_tokens()
    })
    .await;
    let mut config = ticksync_sim::SwarmConfig::new(server.url(), 8, Duration::from_secs(2));
    config.tls = ticksync_sim::tls_config(&ticksync_sim::TlsTrust::CaFile(cert)).unwrap();
    config.token_secret = Some(SECRET.to_owned());
    let report = ticksync_sim::run_swarm(config.clone())
        .await
        .expect("the default mix is the arena's");
    assert_eq!(report.bots_connected, 8, "{report}");
    assert_eq!(report.desyncs, 0);
    assert!(report.snapshots_per_bot_per_s > 15.0, "{report}");
    // The same swarm with the wrong secret is refused at the handshake.
    config.token_secret = Some("wrong".to_owned());
    let refused = ticksync_sim::run_swarm(config)
        .await
        .expect("the default mix is the arena's");
    assert_eq!(refused.bots_connected, 0);
    assert_eq!(refused.connect_failures, 8);
    server.stop().await;
    std::fs::remove_dir_all(&dir).ok();
}
