//! End to end: misbehaving clients get a clear error and close code, and the honest players
//! beside them keep receiving every snapshot.
//!
//! Each case runs with honest observers that record the tick of every snapshot they get;
//! after the bad client has been dealt with, their ticks must be consecutive (no snapshot
//! dropped, no tick lost).

use std::time::Duration;

use ticksync_protocol::{
    close_code, ClientMessage, ErrorCode, Hello, Input, MoveDir, Tick, PROTOCOL_VERSION,
};
use ticksync_server::ServerConfig;
use ticksync_tests::{RawClient, TestServer};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};

const OBSERVERS: usize = 3;

/// Honest players reading snapshots in the background.
struct Observers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Vec<Tick>>>,
}

impl Observers {
    async fn join(server: &TestServer) -> Observers {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for i in 0..OBSERVERS {
            let (mut client, _) = RawClient::join(&server.url(), &format!("observer-{i}"))
                .await
                .unwrap();
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                let mut ticks = Vec::new();
                loop {
                    tokio::select! {
                        _ = stopped.changed() => return ticks,
                        snapshot = client.next_snapshot() => ticks.push(snapshot.expect("observer keeps its snapshots").tick),
                    }
                }
            }));
        }
        Observers { stop, tasks }
    }

    /// Stops the observers and checks each saw an unbroken run of ticks.
    async fn assert_no_gaps(self) {
        // Let a few more ticks pass after the bad client is gone.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.stop.send_replace(true);
        for task in self.tasks {
            let ticks = task.await.expect("observer task");
            assert!(
                ticks.len() >= 5,
                "observer saw only {} snapshots",
                ticks.len()
            );
            for pair in ticks.windows(2) {
                assert_eq!(
                    pair[1],
                    pair[0] + 1,
                    "observer missed ticks between {} and {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
}

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
                move_dir: MoveDir::ZERO,
                buttons: 0,
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

/// The HTTP status and body of a refused upgrade.
fn refused_upgrade(result: anyhow::Result<RawClient>) -> (u16, String) {
    let error = match result {
        Ok(_) => panic!("the upgrade should have been refused"),
        Err(error) => error,
    };
    match error.downcast::<tungstenite::Error>() {
        Ok(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            (response.status().as_u16(), body.unwrap_or_default())
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn upgrade_without_or_with_a_wrong_subprotocol_is_refused_with_a_reason() {
    let server = TestServer::start().await;
    let (status, body) = refused_upgrade(RawClient::connect_offering(&server.url(), None).await);
    assert_eq!(status, 400);
    assert!(body.contains("ticksync.v1.bincode"), "{body}");

    let (status, body) = refused_upgrade(
        RawClient::connect_offering(&server.url(), Some("ticksync.v2.bincode")).await,
    );
    assert_eq!(status, 400);
    assert!(
        body.contains("ticksync.v2.bincode") && body.contains("ticksync.v1.bincode"),
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
async fn silent_clients_are_closed_after_the_idle_timeout() {
    let server = TestServer::start_with(ServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    })
    .await;
    let (mut client, _) = RawClient::join(&server.url(), "silent").await.unwrap();
    let (error, close) = client.expect_close().await.unwrap();
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::IdleTimeout));
    assert_eq!(close.map(|c| c.0), Some(close_code::IDLE_TIMEOUT));
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
