//! The `ticksync-server` binary shuts down gracefully on SIGTERM: connected players get an
//! `Error` message and close code 1001, and the process exits 0 soon after. With a drain
//! period, readiness turns off first while the server keeps serving.

#![cfg(unix)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ticksync_arena::ArenaSchema;
use ticksync_protocol::codec::{decode_server_message, encode};
use ticksync_protocol::schema::subprotocol;
use ticksync_protocol::{
    close_code, ClientMessage, ErrorCode, Hello, WireFormat, PROTOCOL_VERSION,
};

type ServerMessage = ticksync_protocol::ServerMessage<ArenaSchema>;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

mod common;

use common::{assert_exits_cleanly, http_get, send_sigterm, spawn_server, WAIT};

/// The status code of `GET path` at `addr` (`HOST:PORT`).
async fn http_status(addr: &str, path: &str) -> u16 {
    let answer = http_get(addr, path).await;
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

#[tokio::test]
async fn sigterm_with_a_drain_period_turns_readiness_off_before_stopping() {
    let mut server = spawn_server(&["--drain-period", "1500ms"], &[]);
    let admin = server.admin.clone();
    let child = &mut server.child;
    assert_eq!(http_status(&admin, "/readyz").await, 200);
    send_sigterm(child);
    let deadline = std::time::Instant::now() + WAIT;
    while http_status(&admin, "/readyz").await != 503 {
        assert!(
            std::time::Instant::now() < deadline,
            "readiness never turned off"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Still alive and answering while draining.
    assert_eq!(http_status(&admin, "/healthz").await, 200);
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before the drain period"
    );
    assert_exits_cleanly(child).await;
}

#[tokio::test]
async fn sigterm_closes_players_with_1001_and_exits_cleanly() {
    let mut server = spawn_server(&[], &[]);
    let url = server.url.clone();
    let child = &mut server.child;
    let mut request = url.as_str().into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        subprotocol::<ArenaSchema>(WireFormat::Bincode)
            .parse()
            .unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connects");
    let hello = ClientMessage::<ArenaSchema>::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        player_name: "signal".into(),
    });
    ws.send(Message::Binary(encode(&hello).unwrap().into()))
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let Message::Binary(bytes) = first else {
        panic!("expected Welcome, got {first:?}")
    };
    assert!(matches!(
        decode_server_message::<ArenaSchema>(&bytes).unwrap(),
        ServerMessage::Welcome(_)
    ));

    send_sigterm(child);

    let mut error_code = None;
    let close = loop {
        let frame = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("server closes in time");
        match frame {
            Some(Ok(Message::Binary(bytes))) => {
                if let ServerMessage::Error(error) =
                    decode_server_message::<ArenaSchema>(&bytes).unwrap()
                {
                    error_code = Some(error.code);
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            other => panic!("connection ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(error_code, Some(ErrorCode::ServerShuttingDown));
    assert_eq!(close, Some(close_code::GOING_AWAY));
    assert_exits_cleanly(child).await;
}
