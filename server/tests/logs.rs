//! The `ticksync-server` binary's log stays quiet at its default level whatever clients do:
//! refused upgrades and rooms opening and closing are logged at debug, and one line per
//! interval sums up the refusals.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{assert_exits_cleanly, http_get, send_sigterm, spawn_server, WAIT};
use futures_util::SinkExt;
use ticksync_arena::ArenaSchema;
use ticksync_protocol::codec::encode;
use ticksync_protocol::schema::subprotocol;
use ticksync_protocol::token::{mint, JoinClaims};
use ticksync_protocol::{Hello, WireFormat, PROTOCOL_VERSION};

type ClientMessage = ticksync_protocol::ClientMessage<ArenaSchema>;

fn bincode_subprotocol() -> String {
    subprotocol::<ArenaSchema>(WireFormat::Bincode)
}
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Upgrades refused for a forged token.
const REFUSED: usize = 200;
/// Rooms opened (by a join) and closed (empty) meanwhile.
const ROOMS: usize = 20;

/// An upgrade with `token`; returns the status line of the answer.
async fn upgrade_with_token(addr: &str, token: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!(
        "GET /ws?token={token} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: {}\r\n\r\n",
        bincode_subprotocol()
    );
    tcp.write_all(request.as_bytes()).await.expect("writes");
    let mut answer = String::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_string(&mut answer)).await;
    answer.lines().next().unwrap_or_default().to_owned()
}

/// Joins room `room` and leaves at once.
async fn visit_room(url: &str, room: &str) {
    let mut request = format!("{url}?room={room}").into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        bincode_subprotocol().parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    let hello = ClientMessage::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        player_name: "visitor".into(),
    });
    ws.send(Message::Binary(encode(&hello).unwrap().into()))
        .await
        .unwrap();
    // The Welcome means the room exists; then leave.
    let _ = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws)).await;
    ws.send(Message::Binary(
        encode(&ClientMessage::Leave).unwrap().into(),
    ))
    .await
    .unwrap();
    // Read until the server closes: dropping the socket with the room's frames still unread
    // would reset the connection, and a reset can overtake the Leave (the player would then
    // wait out the resume grace and keep the room open).
    let closed = tokio::time::timeout(WAIT, async {
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut ws).await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server did not close after Leave in {WAIT:?}"
    );
}

#[tokio::test]
async fn refusals_and_rooms_do_not_flood_the_default_log() {
    let mut server = spawn_server(
        &[
            "--stats-interval",
            "1s",
            "--empty-room-timeout",
            "100ms",
            "--max-connections-per-ip",
            "0",
        ],
        &[(
            "TICKSYNC_TOKEN_SECRET",
            "a secret of at least 32 bytes nobody guessed",
        )],
    );
    let game = server
        .url
        .trim_start_matches("ws://")
        .trim_end_matches("/ws")
        .to_owned();
    // Signed with another secret.
    let claims = JoinClaims::new("p", "p", "arena", Duration::from_secs(600));
    let forged = mint(b"a guess", &claims).unwrap();
    for _ in 0..REFUSED {
        let status = upgrade_with_token(&game, &forged).await;
        assert!(status.contains(" 401 "), "{status}");
    }
    // With tokens on, a visit needs one; so rooms are visited on a second server without.
    let mut open = spawn_server(
        &["--stats-interval", "1s", "--empty-room-timeout", "100ms"],
        &[],
    );
    for i in 0..ROOMS {
        visit_room(&open.url, &format!("room-{i}")).await;
    }
    // The refusals are summed up within an interval or two (maybe split over two lines).
    let (mut logged, mut summed) = (Vec::new(), 0);
    let deadline = std::time::Instant::now() + WAIT;
    while summed < REFUSED {
        let remaining = deadline.saturating_duration_since(std::time::Instant::now());
        let line = server
            .lines
            .recv_timeout(remaining)
            .expect("a summary of the refusals");
        let Some(summary) = line.split("refusal_log: ").nth(1) else {
            logged.push(line);
            continue;
        };
        assert!(summary.contains("(token forged: "), "{summary}");
        let count = summary
            .split(' ')
            .next()
            .and_then(|n| n.parse::<usize>().ok());
        summed += count.unwrap_or_else(|| panic!("a count first: {summary}"));
    }
    assert_eq!(summed, REFUSED);
    assert!(
        logged.len() <= 2,
        "refusals logged at the default level: {logged:#?}"
    );
    // The rooms have all closed: ask the server, then read what it logged meanwhile.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let rooms = http_get(&open.admin, "/rooms").await;
        if rooms.matches("\"name\"").count() == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "rooms close: {rooms}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for binary in [&mut server, &mut open] {
        send_sigterm(&binary.child);
        assert_exits_cleanly(&mut binary.child).await;
    }
    // Everything it logged, up to its exit: nothing about the rooms clients opened.
    let lines: Vec<String> = open.lines.iter().collect();
    let about_rooms: Vec<&String> = lines.iter().filter(|line| line.contains("room-")).collect();
    assert!(
        about_rooms.is_empty(),
        "{ROOMS} rooms opened and closed were logged: {about_rooms:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains("ticksync-server stopped")),
        "{lines:#?}"
    );
}
