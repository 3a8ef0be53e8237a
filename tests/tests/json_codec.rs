//! The JSON text codec (`ticksync.v2.arena.<hash>.json`) end to end: the same messages and semantics as
//! bincode — identical snapshots for identical requests, bots of both codecs in one room
//! without desyncs — and the same refusals for bad input, each with its error and close code
//! while honest players keep receiving every tick.

use std::time::Duration;

use ticksync_arena::{ArenaInput, ArenaMessage, MoveDir};
use ticksync_protocol::{close_code, ErrorCode, Input, WireFormat, PROTOCOL_VERSION};
use ticksync_server::ServerConfig;
use ticksync_sim::{run_swarm, SwarmConfig};
use ticksync_tests::{
    ClientMessage, Observers, RawClient, RawEvent, ServerMessage, Snapshot, TestServer,
};
use tokio_tungstenite::tungstenite::Message;

/// The next snapshot of `client` whose tick is at least `tick`.
async fn snapshot_at_or_after(client: &mut RawClient, tick: u32) -> Snapshot {
    loop {
        let snapshot = client.next_snapshot().await.expect("snapshot");
        if snapshot.tick >= tick {
            return snapshot;
        }
    }
}

#[tokio::test]
async fn both_codecs_carry_the_same_snapshot_for_the_same_tick() {
    let server = TestServer::start().await;
    let (mut binary, _) = RawClient::join(&server.url(), "binary")
        .await
        .expect("bincode join");
    let (mut text, welcome) = RawClient::connect_json(&server.url())
        .await
        .expect("json connect")
        .hello("text")
        .await
        .expect("json join");
    assert_eq!(welcome.tick_rate_hz, 30);
    // Neither client acknowledges anything, so both get full snapshots of the same world:
    // for the same tick they must be the same message, whichever codec carried it.
    let first = snapshot_at_or_after(&mut text, 0).await;
    let from_text = snapshot_at_or_after(&mut text, first.tick + 2).await;
    let from_binary = snapshot_at_or_after(&mut binary, from_text.tick).await;
    assert_eq!(from_binary.tick, from_text.tick, "ticks line up");
    assert!(from_text.is_full());
    assert_eq!(from_text.created.len(), 2, "{from_text:?}");
    assert_eq!(from_text, from_binary);
    server.stop().await;
}

#[tokio::test]
async fn a_json_player_moves_by_its_inputs_and_gets_deltas_against_its_acks() {
    let server = TestServer::start().await;
    let (mut player, welcome) = RawClient::connect_json(&server.url())
        .await
        .expect("json connect")
        .hello("mover")
        .await
        .expect("json join");
    let me = welcome.entity_id.expect("an arena player owns an entity");
    let start = snapshot_at_or_after(&mut player, 0).await;
    let x_of = |snapshot: &Snapshot| {
        snapshot
            .created
            .iter()
            .find(|entity| entity.id == me)
            .map(|entity| entity.state.x)
    };
    let start_x = x_of(&start).expect("own entity in the first full snapshot");
    let mut ack = start.tick;
    let mut saw_delta = false;
    for seq in 1..=30 {
        if seq == 1 {
            // The documented JSON shape of an input, written by hand as a client in another
            // language would: the transport fields, then the game's payload.
            let text = format!(
                r#"{{"Input":{{"seq":{seq},"ack_tick":{ack},"payload":{{"move_dir":{{"x":127,"y":0}},"buttons":0}}}}}}"#
            );
            player
                .send_raw(Message::Text(text.into()))
                .await
                .expect("send input");
        } else {
            player
                .send(&ClientMessage::Input(Input {
                    seq,
                    ack_tick: ack,
                    payload: ArenaInput {
                        move_dir: MoveDir { x: 127, y: 0 },
                        buttons: 0,
                    },
                }))
                .await
                .expect("send input");
        }
        let snapshot = player.next_snapshot().await.expect("snapshot");
        saw_delta |= snapshot.baseline_tick != 0;
        ack = snapshot.tick;
    }
    assert!(saw_delta, "acks sent as JSON must produce delta snapshots");
    // Ask for a full snapshot again (ack nothing new) to read the absolute position.
    let mut observer = RawClient::connect_json(&server.url())
        .await
        .expect("observer connect")
        .hello("observer")
        .await
        .expect("observer join")
        .0;
    let now = snapshot_at_or_after(&mut observer, 0).await;
    let moved = x_of(&now).expect("entity visible") - start_x;
    // 30 inputs at 300 units/s, 1/64 unit per step: at least a few units to the right.
    assert!(moved > 64 * 50, "moved only {moved} steps");
    server.stop().await;
}

#[tokio::test]
async fn bots_of_both_codecs_share_a_room_without_desyncs() {
    let server = TestServer::start_with(ServerConfig {
        max_connections_per_ip: 0,
        ..ServerConfig::default()
    })
    .await;
    let swarm = |format: WireFormat, seed: u64| {
        let mut config = SwarmConfig::new(server.url(), 10, Duration::from_secs(4));
        config.format = format;
        config.seed = seed;
        async move {
            run_swarm(config)
                .await
                .expect("the default mix is the arena's")
        }
    };
    let (json, bincode) = tokio::join!(swarm(WireFormat::Json, 1), swarm(WireFormat::Bincode, 2));
    for (codec, report) in [("json", &json), ("bincode", &bincode)] {
        assert_eq!(report.bots_connected, 10, "{codec}: {report}");
        assert_eq!(report.desyncs, 0, "{codec}: {report}");
        assert_eq!(report.disconnects, 0, "{codec}: {report}");
        assert!(report.snapshots_per_bot_per_s > 15.0, "{codec}: {report}");
        assert!(report.ack_latency_p99_ms.is_some(), "{codec}: {report}");
    }
    // JSON spells everything out: the same stream costs more bytes than bincode.
    assert!(
        json.downlink_bytes_per_bot_per_s > bincode.downlink_bytes_per_bot_per_s,
        "json {} vs bincode {}",
        json.downlink_bytes_per_bot_per_s,
        bincode.downlink_bytes_per_bot_per_s
    );
    server.stop().await;
}

/// Sends `frame` on a fresh JSON session that has said Hello, and returns the error code and
/// close code the server answers with.
async fn json_session_answer(server: &TestServer, frame: Message) -> (ErrorCode, u16) {
    let (mut client, _) = RawClient::connect_json(&server.url())
        .await
        .expect("json connect")
        .hello("bad")
        .await
        .expect("json join");
    client.send_raw(frame).await.expect("send");
    let (error, close) = client.expect_close().await.expect("closed");
    let error = error.expect("an Error message before the close");
    let (code, _reason) = close.expect("a close frame");
    (error.code, code)
}

#[tokio::test]
async fn bad_json_input_gets_an_error_and_a_close_code_while_others_play_on() {
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    let oversized = format!(
        r#"{{"Hello":{{"protocol_version":{PROTOCOL_VERSION},"player_name":"{}"}}}}"#,
        "x".repeat(3000)
    );
    let cases = [
        (
            Message::Binary(vec![1, 2, 3].into()),
            ErrorCode::UnexpectedBinaryFrame,
            close_code::UNSUPPORTED_DATA,
        ),
        (
            Message::Text("{not json".into()),
            ErrorCode::MalformedMessage,
            close_code::PROTOCOL_ERROR,
        ),
        (
            Message::Text(r#"{"Teleport":{"x":1}}"#.into()),
            ErrorCode::MalformedMessage,
            close_code::PROTOCOL_ERROR,
        ),
        (
            Message::Text(oversized.into()),
            ErrorCode::MessageTooLarge,
            close_code::MESSAGE_TOO_BIG,
        ),
    ];
    for (frame, error, close) in cases {
        let description = format!("{frame:?}").chars().take(60).collect::<String>();
        assert_eq!(
            json_session_answer(&server, frame).await,
            (error, close),
            "{description}"
        );
    }
    // A bincode session is told off for a text frame, as before.
    let (mut binary, _) = RawClient::join(&server.url(), "b").await.expect("join");
    binary
        .send_raw(Message::Text(r#""Leave""#.into()))
        .await
        .expect("send");
    let (error, close) = binary.expect_close().await.expect("closed");
    assert_eq!(
        error.map(|error| error.code),
        Some(ErrorCode::UnexpectedTextFrame)
    );
    assert_eq!(
        close.map(|(code, _)| code),
        Some(close_code::UNSUPPORTED_DATA)
    );
    observers.assert_no_gaps().await;
    server.stop().await;
}

#[tokio::test]
async fn leave_as_json_closes_normally() {
    let server = TestServer::start().await;
    let (mut client, _) = RawClient::connect_json(&server.url())
        .await
        .expect("connect")
        .hello("leaver")
        .await
        .expect("join");
    client.send(&ClientMessage::Leave).await.expect("send");
    loop {
        match client.next_event().await.expect("event") {
            RawEvent::Message(ServerMessage::Snapshot(_)) => continue,
            // The arena tells every player the world's size at join.
            RawEvent::Message(ServerMessage::Message(ArenaMessage::World { .. })) => continue,
            RawEvent::Message(other) => panic!("unexpected {other:?}"),
            RawEvent::Closed(close) => {
                assert_eq!(close.map(|(code, _)| code), Some(close_code::NORMAL));
                break;
            }
        }
    }
    server.stop().await;
}
