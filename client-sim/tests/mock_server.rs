//! The client library and the swarm against a minimal in-process stand-in for the server:
//! it checks the subprotocol, answers `Hello`, sends a snapshot per tick acking the last
//! input, answers `Ping` and closes on `Leave`. It exists to test this crate's side of the
//! protocol on its own; the real server is exercised end to end in the workspace's `tests/`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ticksync_protocol::codec::{decode_client_message, encode};
use ticksync_protocol::{
    close_code, ClientMessage, EntityId, EntityState, ErrorCode, ErrorMessage, MoveDir, Pong,
    ServerMessage, Snapshot, Welcome, WorldSize, SUBPROTOCOL_BINCODE,
};
use ticksync_sim::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use ticksync_sim::tungstenite::protocol::frame::coding::CloseCode;
use ticksync_sim::tungstenite::protocol::CloseFrame;
use ticksync_sim::tungstenite::Message;
use ticksync_sim::{run_swarm, Client, ClientError, ClientEvent, ClientOptions, SwarmConfig};
use tokio::net::{TcpListener, TcpStream};

const TICK_RATE_HZ: u16 = 30;
/// A player with this name is refused, to test the refusal path.
const REFUSED_NAME: &str = "refuse-me";

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
    let welcome = Welcome {
        entity_id: EntityId(id),
        tick_rate_hz: TICK_RATE_HZ,
        tick: 0,
        world_size: WorldSize {
            width: 2000,
            height: 2000,
        },
    };
    ws.send(binary(&ServerMessage::Welcome(welcome)))
        .await
        .unwrap();

    let mut ticks = tokio::time::interval(Duration::from_secs(1) / u32::from(TICK_RATE_HZ));
    let (mut tick, mut last_input_seq, mut x) = (0u32, 0u32, 0i32);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                tick += 1;
                let entity = EntityState { id: EntityId(id), x, y: 0, vx: 0, vy: 0, heading: 0 };
                let snapshot = Snapshot { tick, last_input_seq, entities: vec![entity] };
                if ws.send(binary(&ServerMessage::Snapshot(snapshot))).await.is_err() {
                    return;
                }
            }
            frame = ws.next() => match frame {
                Some(Ok(Message::Binary(payload))) => match decode_client_message(&payload) {
                    Ok(ClientMessage::Input(input)) => {
                        assert_eq!(input.seq, last_input_seq + 1, "inputs must be sequenced");
                        last_input_seq = input.seq;
                        x += i32::from(input.move_dir.x);
                    }
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
                    Ok(ClientMessage::Hello(_)) | Err(_) => return,
                },
                Some(Ok(_)) => {}
                _ => return,
            },
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
                assert!(snapshot.entities.iter().any(|e| e.id == me));
            }
            ClientEvent::Pong { round_trip, .. } => {
                got_pong = true;
                assert!(round_trip < Duration::from_secs(5));
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(got_pong);
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
    assert!(report.ack_latency_p50_ms.is_some(), "{report}");
    assert!(report.duration_s >= 1.5);
}
