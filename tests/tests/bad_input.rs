//! End to end: misbehaving clients get a clear error and close code, and the honest players
//! beside them keep receiving every snapshot.
//!
//! Each case runs with honest observers that record the tick of every snapshot they get;
//! after the bad client has been dealt with, their ticks must be consecutive (no snapshot
//! dropped, no tick lost).

use std::time::Duration;

use ticksync_arena::{ArenaInput, MoveDir};
use ticksync_protocol::schema::schema_hash;
use ticksync_protocol::{close_code, ErrorCode, Hello, Input, WireFormat, PROTOCOL_VERSION};
use ticksync_server::ServerConfig;
use ticksync_tests::{
    arena_subprotocol, refused_upgrade, ClientMessage, Observers, RawClient, TestServer,
};
use tokio_tungstenite::tungstenite::Message;

fn hello(version: u16, name: &str) -> ClientMessage {
    ClientMessage::Hello(Hello {
        protocol_version: version,
        player_name: name.into(),
    })
}

/// Runs `misbehave` on a fresh connection (joined first when `join` is set) and checks the
/// server answers with `error` and closes with `code`, while observers see no gap.
async fn expect_rejection<F, Fut>(join: bool, error: ErrorCode, code: u16, misbehave: F)
where
    F: FnOnce(RawClient) -> Fut,
    Fut: std::future::Future<Output = RawClient>,
{
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    let client = if join {
        RawClient::join(&server.url(), "bad").await.unwrap().0
    } else {
        RawClient::connect(&server.url()).await.unwrap()
    };
    let mut client = misbehave(client).await;
    let (message, close) = client.expect_close().await.unwrap();
    let message = message.expect("an Error message before the close");
    assert_eq!(message.code, error, "{}", message.message);
    let (close_code, reason) = close.expect("a close frame");
    assert_eq!(close_code, code, "reason: {reason}");
    assert!(!reason.is_empty());
    observers.assert_no_gaps().await;
    server.stop().await;
}

async fn send_raw(mut client: RawClient, message: Message) -> RawClient {
    client.send_raw(message).await.unwrap();
    client
}

#[tokio::test]
async fn garbage_bytes_after_hello() {
    expect_rejection(
        true,
        ErrorCode::MalformedMessage,
        close_code::PROTOCOL_ERROR,
        |c| {
            send_raw(
                c,
                Message::Binary(vec![0xff, 0x13, 0x37, 0x00, 0x42].into()),
            )
        },
    )
    .await;
}

#[tokio::test]
async fn garbage_bytes_instead_of_hello() {
    expect_rejection(
        false,
        ErrorCode::MalformedMessage,
        close_code::PROTOCOL_ERROR,
        |c| send_raw(c, Message::Binary(vec![9; 40].into())),
    )
    .await;
}

#[tokio::test]
async fn wrong_protocol_version() {
    expect_rejection(
        false,
        ErrorCode::UnsupportedProtocolVersion,
        close_code::UNSUPPORTED_VERSION,
        |mut c| async move {
            c.send(&hello(PROTOCOL_VERSION + 1, "future"))
                .await
                .unwrap();
            c
        },
    )
    .await;
}

#[tokio::test]
async fn text_frame_on_the_binary_codec() {
    expect_rejection(
        true,
        ErrorCode::UnexpectedTextFrame,
        close_code::UNSUPPORTED_DATA,
        |c| send_raw(c, Message::Text("{\"Input\":{}}".into())),
    )
    .await;
}

#[tokio::test]
async fn oversized_frame() {
    let limit = ServerConfig::default().max_message_bytes;
    expect_rejection(
        true,
        ErrorCode::MessageTooLarge,
        close_code::MESSAGE_TOO_BIG,
        |c| send_raw(c, Message::Binary(vec![0u8; limit * 16].into())),
    )
    .await;
}

#[tokio::test]
async fn input_before_hello() {
    expect_rejection(
        false,
        ErrorCode::UnexpectedMessage,
        close_code::PROTOCOL_ERROR,
        |mut c| async move {
            let input = ClientMessage::Input(Input {
                seq: 1,
                ack_tick: 0,
                payload: ArenaInput {
                    move_dir: MoveDir::ZERO,
                    buttons: 0,
                },
            });
            c.send(&input).await.unwrap();
            c
        },
    )
    .await;
}

#[tokio::test]
async fn hello_twice() {
    expect_rejection(
        true,
        ErrorCode::UnexpectedMessage,
        close_code::PROTOCOL_ERROR,
        |mut c| async move {
            c.send(&hello(PROTOCOL_VERSION, "again")).await.unwrap();
            c
        },
    )
    .await;
}

#[tokio::test]
async fn player_name_with_control_characters() {
    expect_rejection(
        false,
        ErrorCode::InvalidHello,
        close_code::PROTOCOL_ERROR,
        |mut c| async move {
            c.send(&hello(PROTOCOL_VERSION, "evil\u{7}bell"))
                .await
                .unwrap();
            c
        },
    )
    .await;
}

#[tokio::test]
async fn upgrade_without_or_with_a_wrong_subprotocol_is_refused_with_a_reason() {
    let server = TestServer::start().await;
    let bincode = arena_subprotocol(WireFormat::Bincode);
    let json = arena_subprotocol(WireFormat::Json);
    let (status, body) = refused_upgrade(RawClient::connect_offering(&server.url(), None).await);
    assert_eq!(status, 400);
    assert!(body.contains(&bincode) && body.contains(&json), "{body}");

    // Not a subprotocol of this schema at all (the name of the pre-schema protocol).
    let (status, body) = refused_upgrade(
        RawClient::connect_offering(&server.url(), Some("ticksync.v1.bincode")).await,
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("ticksync.v1.bincode") && body.contains(&bincode),
        "{body}"
    );

    // A client built for another layout of the arena: the refusal names both schemas.
    let served_hash = format!("{:08x}", schema_hash::<ticksync_arena::ArenaSchema>());
    let stale_hash = if served_hash == "00000000" {
        "00000001"
    } else {
        "00000000"
    };
    let stale = format!("ticksync.v{PROTOCOL_VERSION}.arena.{stale_hash}.bincode");
    let (status, body) =
        refused_upgrade(RawClient::connect_offering(&server.url(), Some(&stale)).await);
    assert_eq!(status, 400);
    assert!(
        body.contains(&format!("arena {stale_hash}"))
            && body.contains(&format!("arena {served_hash}"))
            && body.contains(&bincode),
        "{body}"
    );

    let wrong_path = format!("ws://{}/elsewhere", server.addr);
    let (status, body) = refused_upgrade(RawClient::connect(&wrong_path).await);
    assert_eq!(status, 404);
    assert!(body.contains("/ws"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn full_room_refuses_with_a_clear_error() {
    let server = TestServer::start_with(ServerConfig {
        max_players: 2,
        ..ServerConfig::default()
    })
    .await;
    let _a = RawClient::join(&server.url(), "a").await.unwrap();
    let _b = RawClient::join(&server.url(), "b").await.unwrap();
    let mut c = RawClient::connect(&server.url()).await.unwrap();
    c.send(&hello(PROTOCOL_VERSION, "c")).await.unwrap();
    let (error, close) = c.expect_close().await.unwrap();
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::RoomFull));
    assert_eq!(close.map(|c| c.0), Some(close_code::ROOM_FULL));
    server.stop().await;
}

#[tokio::test]
async fn frozen_clients_are_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(ServerConfig {
        idle_timeout: Duration::from_millis(600),
        ..ServerConfig::default()
    })
    .await;
    let (mut client, _) = RawClient::join(&server.url(), "frozen").await.unwrap();
    // Frozen: sends nothing and does not read, so it cannot answer the server's pings.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (error, close) = client.expect_close().await.unwrap();
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::IdleTimeout));
    assert_eq!(close.map(|c| c.0), Some(close_code::IDLE_TIMEOUT));
    server.stop().await;
}

#[tokio::test]
async fn quiet_clients_that_answer_pings_stay_connected() {
    let server = TestServer::start_with(ServerConfig {
        idle_timeout: Duration::from_millis(600),
        ..ServerConfig::default()
    })
    .await;
    let (mut client, _) = RawClient::join(&server.url(), "quiet").await.unwrap();
    // Reads (so its WebSocket stack answers pings) but sends no message for 3 idle timeouts.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1800);
    while tokio::time::Instant::now() < deadline {
        client.next_snapshot().await.expect("still connected");
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_tells_every_player_and_closes_with_1001() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for i in 0..3 {
        clients.push(
            RawClient::join(&server.url(), &format!("p{i}"))
                .await
                .unwrap()
                .0,
        );
    }
    let url = server.url();
    let summary = server.stop().await;
    assert_eq!(summary.sessions_abandoned, 0);
    for client in &mut clients {
        let (error, close) = client.expect_close().await.unwrap();
        assert_eq!(error.map(|e| e.code), Some(ErrorCode::ServerShuttingDown));
        assert_eq!(close.map(|c| c.0), Some(close_code::GOING_AWAY));
    }
    assert!(
        RawClient::connect(&url).await.is_err(),
        "no longer accepting"
    );
}
