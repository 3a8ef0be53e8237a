//! End to end: every client message type at its boundary values, against a real server.
//!
//! Each case checks the documented outcome (an `Error` message and a close code from
//! `ticksync_protocol::close_code`, or "accepted: the client keeps receiving snapshots")
//! while honest observers beside it must not miss a single tick. A property test then sends
//! arbitrary sequences of messages and holds the server to the same rules, and a policy
//! check keeps `unwrap`/`expect` out of the code that handles peer data.

use std::time::Duration;

use proptest::prelude::*;
use ticksync_arena::{ArenaInput, ArenaSchema, MoveDir};
use ticksync_protocol::codec::MAX_CLIENT_MESSAGE_BYTES;
use ticksync_protocol::codec::{decode_client_message, encode, CodecError};
use ticksync_protocol::{
    close_code, Ack, EntityId, ErrorCode, Hello, Input, InputSeq, Ping, Pong, Welcome,
    MAX_PLAYER_NAME_BYTES, PROTOCOL_VERSION,
};
use ticksync_server::ServerConfig;
use ticksync_tests::{
    ClientMessage, Observers, RawClient, RawEvent, ServerMessage, Snapshot, TestServer,
};
use tokio_tungstenite::tungstenite::Message;

/// Snapshots a client must still receive after an odd-but-valid message to count as "kept
/// playing".
const SNAPSHOTS_AFTER: usize = 3;

/// Largest position step an entity may move per tick: 300 units/s × 1/30 s × 64 steps, plus
/// one for rounding. A peer's move vector must never make it faster.
const MAX_STEPS_PER_TICK: i64 = 641;

/// What the server did with a connection.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Closed with this close code, after this `Error` message (none for a normal close).
    Closed { error: Option<ErrorCode>, code: u16 },
    /// Still in the game: snapshots keep coming.
    Playing,
}

fn closed(error: ErrorCode, code: u16) -> Outcome {
    Outcome::Closed {
        error: Some(error),
        code,
    }
}

fn hello(version: u16, name: &str) -> ClientMessage {
    ClientMessage::Hello(Hello {
        protocol_version: version,
        player_name: name.into(),
    })
}

fn input(seq: InputSeq, ack_tick: u32, move_dir: MoveDir) -> ClientMessage {
    ClientMessage::Input(Input {
        seq,
        ack_tick,
        payload: ArenaInput {
            move_dir,
            buttons: u8::MAX,
        },
    })
}

fn binary(bytes: Vec<u8>) -> Message {
    Message::Binary(bytes.into())
}

async fn join(server: &TestServer) -> (RawClient, Welcome) {
    RawClient::join(&server.url(), "boundary").await.unwrap()
}

/// Reads until the server closes (returning how) or `SNAPSHOTS_AFTER` snapshots arrived.
async fn outcome(client: &mut RawClient) -> Outcome {
    let mut error = None;
    let mut snapshots = 0;
    loop {
        match client.next_event().await.unwrap() {
            RawEvent::Message(ServerMessage::Error(message)) => error = Some(message.code),
            RawEvent::Message(ServerMessage::Snapshot(_)) => {
                snapshots += 1;
                if snapshots == SNAPSHOTS_AFTER {
                    return Outcome::Playing;
                }
            }
            RawEvent::Message(_) => {}
            RawEvent::Closed(close) => {
                let (code, _reason) = close.expect("a close frame with a code");
                return Outcome::Closed { error, code };
            }
        }
    }
}

/// Sends each frame on a fresh connection (after Hello/Welcome when `joined`) and checks
/// the outcome.
async fn check_frames(server: &TestServer, joined: bool, frames: Vec<Message>, expected: Outcome) {
    let mut client = if joined {
        join(server).await.0
    } else {
        RawClient::connect(&server.url()).await.unwrap()
    };
    for frame in frames.clone() {
        client.send_raw(frame).await.unwrap();
    }
    let seen = outcome(&mut client).await;
    let sizes: Vec<usize> = frames.iter().map(Message::len).collect();
    assert_eq!(
        seen, expected,
        "frames of {sizes:?} bytes (joined: {joined})"
    );
}

async fn check_messages(
    server: &TestServer,
    joined: bool,
    messages: &[ClientMessage],
    expected: Outcome,
) {
    let frames = messages
        .iter()
        .map(|m| binary(encode(m).unwrap()))
        .collect();
    check_frames(server, joined, frames, expected).await;
}

#[tokio::test]
async fn frames_at_the_size_limits() {
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    let max_frame = ServerConfig::default().max_message_bytes;
    let malformed = closed(ErrorCode::MalformedMessage, close_code::PROTOCOL_ERROR);
    let too_large = closed(ErrorCode::MessageTooLarge, close_code::MESSAGE_TOO_BIG);
    for joined in [false, true] {
        check_frames(&server, joined, vec![binary(vec![])], malformed.clone()).await;
        // The codec's own limit, then one past it (the WebSocket limit is larger).
        let at_codec_limit = vec![0u8; MAX_CLIENT_MESSAGE_BYTES];
        check_frames(
            &server,
            joined,
            vec![binary(at_codec_limit)],
            malformed.clone(),
        )
        .await;
        let past_codec_limit = vec![0u8; MAX_CLIENT_MESSAGE_BYTES + 1];
        check_frames(
            &server,
            joined,
            vec![binary(past_codec_limit)],
            too_large.clone(),
        )
        .await;
        // The WebSocket frame limit exactly, and one past it.
        let at_frame_limit = vec![0u8; max_frame];
        check_frames(
            &server,
            joined,
            vec![binary(at_frame_limit)],
            too_large.clone(),
        )
        .await;
        let past_frame_limit = vec![0u8; max_frame + 1];
        check_frames(
            &server,
            joined,
            vec![binary(past_frame_limit)],
            too_large.clone(),
        )
        .await;
    }
    // A Hello filling the codec's limit exactly decodes; its name is far over the name
    // limit, so it is refused as an invalid Hello.
    let full_hello = hello_of_encoded_len(MAX_CLIENT_MESSAGE_BYTES);
    let invalid_hello = closed(ErrorCode::InvalidHello, close_code::PROTOCOL_ERROR);
    check_frames(&server, false, vec![binary(full_hello)], invalid_hello).await;
    observers.assert_no_gaps().await;
    server.stop().await;
}

/// The encoding of a Hello of exactly `len` bytes (a name of `len - 4` bytes for lengths
/// where the name's length prefix takes three bytes).
fn hello_of_encoded_len(len: usize) -> Vec<u8> {
    let mut name_len = len;
    loop {
        let bytes = encode(&hello(PROTOCOL_VERSION, &"n".repeat(name_len))).unwrap();
        if bytes.len() <= len {
            assert_eq!(bytes.len(), len, "no Hello encodes to exactly {len} bytes");
            return bytes;
        }
        name_len -= 1;
    }
}

#[tokio::test]
async fn hello_at_its_limits() {
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    let invalid = closed(ErrorCode::InvalidHello, close_code::PROTOCOL_ERROR);
    let longest_name = "x".repeat(MAX_PLAYER_NAME_BYTES);
    let longest_multibyte_name = "é".repeat(MAX_PLAYER_NAME_BYTES / 2);
    let cases = [
        (hello(PROTOCOL_VERSION, ""), Outcome::Playing),
        (hello(PROTOCOL_VERSION, &longest_name), Outcome::Playing),
        (
            hello(PROTOCOL_VERSION, &longest_multibyte_name),
            Outcome::Playing,
        ),
        (
            hello(PROTOCOL_VERSION, &format!("{longest_name}y")),
            invalid.clone(),
        ),
        (
            hello(PROTOCOL_VERSION, &format!("{longest_multibyte_name}y")),
            invalid.clone(),
        ),
        (
            hello(u16::MAX, "future"),
            closed(
                ErrorCode::UnsupportedProtocolVersion,
                close_code::UNSUPPORTED_VERSION,
            ),
        ),
        (
            hello(0, "past"),
            closed(
                ErrorCode::UnsupportedProtocolVersion,
                close_code::UNSUPPORTED_VERSION,
            ),
        ),
    ];
    for (message, expected) in cases {
        check_messages(&server, false, &[message], expected).await;
    }
    observers.assert_no_gaps().await;
    server.stop().await;
}

/// Reads snapshots until `done` holds for one, at most 60 of them (two seconds of ticks: on
/// a loaded machine the client reads a second or more behind the room, and the snapshots
/// queued before its last message cannot show the message's effect yet).
async fn snapshot_where(client: &mut RawClient, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    for _ in 0..60 {
        let snapshot = client.next_snapshot().await.unwrap();
        if done(&snapshot) {
            return snapshot;
        }
    }
    panic!("no snapshot met the condition within 60 ticks");
}

/// Sends inputs with the given sequence numbers and returns the `last_input_seq` the
/// server settles on (read after a few ticks, so every input had its chance).
async fn settled_input_seq(server: &TestServer, seqs: &[InputSeq]) -> InputSeq {
    let (mut client, _) = join(server).await;
    for &seq in seqs {
        client.send(&input(seq, 0, MoveDir::ZERO)).await.unwrap();
        // One tick apart, so the room applies each on its own.
        client.next_snapshot().await.unwrap();
    }
    for _ in 0..SNAPSHOTS_AFTER {
        client.next_snapshot().await.unwrap();
    }
    let settled = client.next_snapshot().await.unwrap().last_input_seq;
    client.send(&ClientMessage::Leave).await.unwrap();
    settled
}

#[tokio::test]
async fn input_sequences_at_their_limits() {
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    // 0 is "nothing applied yet": an input with it is stale from the start.
    assert_eq!(settled_input_seq(&server, &[0]).await, 0);
    assert_eq!(settled_input_seq(&server, &[u32::MAX]).await, u32::MAX);
    assert_eq!(
        settled_input_seq(&server, &[1, u32::MAX - 1]).await,
        u32::MAX - 1
    );
    // No wrap-around: after u32::MAX every sequence is stale.
    assert_eq!(settled_input_seq(&server, &[u32::MAX, 1]).await, u32::MAX);
    assert_eq!(
        settled_input_seq(&server, &[u32::MAX, 0, 1, 2]).await,
        u32::MAX
    );
    observers.assert_no_gaps().await;
    server.stop().await;
}

#[tokio::test]
async fn acknowledgements_of_ticks_not_reached_are_ignored() {
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    let (mut client, _) = join(&server).await;
    for lie in [
        input(1, u32::MAX, MoveDir::ZERO),
        ClientMessage::Ack(Ack { tick: u32::MAX }),
        ClientMessage::Ack(Ack { tick: 0 }),
        input(2, 0, MoveDir::ZERO),
    ] {
        client.send(&lie).await.unwrap();
    }
    // Nothing real was acknowledged, so snapshots stay full and keep coming.
    for _ in 0..SNAPSHOTS_AFTER {
        let snapshot = client.next_snapshot().await.unwrap();
        assert!(
            snapshot.is_full(),
            "baseline {} from a lie",
            snapshot.baseline_tick
        );
    }
    // A real acknowledgement still works afterwards: deltas against it follow. The client
    // catches up first: on a loaded machine it can read a second behind the room, and a tick
    // it acknowledges then has left the room's history (full snapshots are right for that).
    ping(&mut client, 0).await;
    let acked = client.next_snapshot().await.unwrap().tick;
    client
        .send(&ClientMessage::Ack(Ack { tick: acked }))
        .await
        .unwrap();
    snapshot_where(&mut client, |s| s.baseline_tick == acked).await;
    observers.assert_no_gaps().await;
    server.stop().await;
}

/// Sends a `Ping` and reads until its `Pong`. The `Pong` comes behind every frame the room
/// handed over before it, so afterwards the client has read all it was behind by.
async fn ping(client: &mut RawClient, client_time_us: u64) -> Pong {
    client
        .send(&ClientMessage::Ping(Ping { client_time_us }))
        .await
        .unwrap();
    loop {
        match client.next_event().await.unwrap() {
            RawEvent::Message(ServerMessage::Pong(pong)) => return pong,
            RawEvent::Message(_) => continue,
            RawEvent::Closed(close) => panic!("closed after a ping: {close:?}"),
        }
    }
}

/// The own entity's velocity in a full snapshot.
fn own_velocity(snapshot: &Snapshot, entity: EntityId) -> (i64, i64) {
    let state = &snapshot
        .created
        .iter()
        .find(|created| created.id == entity)
        .expect("a full snapshot holds the player's own entity")
        .state;
    (i64::from(state.vx), i64::from(state.vy))
}

#[tokio::test]
async fn extreme_move_directions_are_clamped_to_the_arena_speed() {
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    let directions = [
        MoveDir {
            x: i8::MAX,
            y: i8::MAX,
        },
        MoveDir {
            x: i8::MIN,
            y: i8::MIN,
        },
        MoveDir {
            x: i8::MIN,
            y: i8::MAX,
        },
        MoveDir { x: i8::MAX, y: 0 },
        MoveDir { x: i8::MIN, y: 0 },
    ];
    let (mut client, welcome) = join(&server).await;
    let me = welcome.entity_id.expect("an arena player owns an entity");
    for (seq, direction) in (1..).zip(directions) {
        // ack_tick 0: every snapshot stays full, so the own state is always in `created`.
        client.send(&input(seq, 0, direction)).await.unwrap();
        let moving = snapshot_where(&mut client, |s| s.last_input_seq == seq).await;
        for snapshot in [moving, client.next_snapshot().await.unwrap()] {
            let (vx, vy) = own_velocity(&snapshot, me);
            assert!(
                vx * vx + vy * vy <= MAX_STEPS_PER_TICK * MAX_STEPS_PER_TICK,
                "{direction:?} moved ({vx}, {vy}) steps in a tick"
            );
        }
    }
    observers.assert_no_gaps().await;
    server.stop().await;
}

#[tokio::test]
async fn ping_with_the_largest_time_is_echoed() {
    let server = TestServer::start().await;
    let (mut client, _) = join(&server).await;
    assert_eq!(ping(&mut client, u64::MAX).await.client_time_us, u64::MAX);
    assert_eq!(outcome(&mut client).await, Outcome::Playing);
    server.stop().await;
}

#[tokio::test]
async fn leave_twice_closes_normally_once() {
    let server = TestServer::start().await;
    let observers = Observers::join(&server).await;
    let (mut client, _) = join(&server).await;
    client.send(&ClientMessage::Leave).await.unwrap();
    // The second may already find the connection closing; either way it changes nothing.
    let _ = client.send(&ClientMessage::Leave).await;
    let (error, close) = client.expect_close().await.unwrap();
    assert_eq!(error, None, "a normal close carries no Error");
    assert_eq!(close.map(|(code, _)| code), Some(close_code::NORMAL));
    observers.assert_no_gaps().await;
    server.stop().await;
}

/// One step of an arbitrary client, after its first message.
#[derive(Debug, Clone)]
enum Step {
    Send(ClientMessage),
    Raw(Vec<u8>),
    Text(String),
}

fn any_move_dir() -> impl Strategy<Value = MoveDir> {
    (any::<i8>(), any::<i8>()).prop_map(|(x, y)| MoveDir { x, y })
}

fn boundary_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u32::MAX - 1),
        Just(u32::MAX),
        any::<u32>()
    ]
}

fn any_hello() -> impl Strategy<Value = ClientMessage> {
    let version = prop_oneof![8 => Just(PROTOCOL_VERSION), 1 => any::<u16>()];
    let name = prop_oneof![
        6 => "[a-z]{0,32}",
        1 => "[a-z]{33,40}",
        1 => "[a-z]{0,4}[\u{0}-\u{1f}][a-z]{0,4}",
    ];
    (version, name).prop_map(|(version, name)| hello(version, &name))
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (boundary_u32(), boundary_u32(), any_move_dir(), any::<u8>()).prop_map(
            |(seq, ack_tick, move_dir, buttons)| Step::Send(ClientMessage::Input(Input {
                seq,
                ack_tick,
                payload: ArenaInput { move_dir, buttons },
            }))
        ),
        2 => boundary_u32().prop_map(|tick| Step::Send(ClientMessage::Ack(Ack { tick }))),
        2 => any::<u64>().prop_map(|client_time_us| {
            Step::Send(ClientMessage::Ping(Ping { client_time_us }))
        }),
        1 => Just(Step::Send(ClientMessage::Leave)),
        1 => any_hello().prop_map(Step::Send),
        2 => prop::collection::vec(any::<u8>(), 0..24).prop_map(Step::Raw),
        1 => Just(Step::Raw(vec![0; ServerConfig::default().max_message_bytes + 1])),
        1 => "[a-z]{0,8}".prop_map(Step::Text),
    ]
}

/// What the server must do with a first message followed by `steps`, derived from
/// `session/`: the first message that ends the session decides the close.
fn expected_outcome(first: &ClientMessage, steps: &[Step]) -> Outcome {
    let ClientMessage::Hello(hello) = first else {
        return closed(ErrorCode::UnexpectedMessage, close_code::PROTOCOL_ERROR);
    };
    if hello.protocol_version != PROTOCOL_VERSION {
        return closed(
            ErrorCode::UnsupportedProtocolVersion,
            close_code::UNSUPPORTED_VERSION,
        );
    }
    if hello.validate().is_err() {
        return closed(ErrorCode::InvalidHello, close_code::PROTOCOL_ERROR);
    }
    for step in steps {
        let message = match step {
            Step::Send(message) => message.clone(),
            Step::Text(_) => {
                return closed(ErrorCode::UnexpectedTextFrame, close_code::UNSUPPORTED_DATA)
            }
            Step::Raw(bytes) => match decode_client_message::<ArenaSchema>(bytes) {
                Ok(message) => message,
                Err(CodecError::TooLarge { .. }) => {
                    return closed(ErrorCode::MessageTooLarge, close_code::MESSAGE_TOO_BIG)
                }
                Err(_) => return closed(ErrorCode::MalformedMessage, close_code::PROTOCOL_ERROR),
            },
        };
        match message {
            ClientMessage::Input(_) | ClientMessage::Ack(_) | ClientMessage::Ping(_) => {}
            ClientMessage::Leave => {
                return Outcome::Closed {
                    error: None,
                    code: close_code::NORMAL,
                }
            }
            ClientMessage::Hello(_) | ClientMessage::Resume(_) => {
                return closed(ErrorCode::UnexpectedMessage, close_code::PROTOCOL_ERROR)
            }
            // The arena takes no messages from players: no such message can be built (or
            // decoded, so a raw one is malformed above).
            ClientMessage::Message(never) => match never {},
        }
    }
    Outcome::Playing
}

async fn run_sequence(server: &TestServer, first: &ClientMessage, steps: &[Step]) -> Outcome {
    let mut client = RawClient::connect(&server.url()).await.unwrap();
    let frames =
        std::iter::once(binary(encode(first).unwrap())).chain(steps.iter().map(
            |step| match step {
                Step::Send(message) => binary(encode(message).unwrap()),
                Step::Raw(bytes) => binary(bytes.clone()),
                Step::Text(text) => Message::Text(text.as_str().into()),
            },
        ));
    for frame in frames {
        // Once the server has closed, later sends may fail; the outcome is what counts.
        if client.send_raw(frame).await.is_err() {
            break;
        }
    }
    outcome(&mut client).await
}

#[test]
fn arbitrary_message_sequences_end_as_documented() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start());
    let observers = runtime.block_on(Observers::join(&server));
    let strategy = (
        prop_oneof![4 => any_hello(), 1 => any_step().prop_filter_map("a message", |s| match s {
            Step::Send(message) => Some(message),
            _ => None,
        })],
        prop::collection::vec(any_step(), 0..10),
    );
    let config = ProptestConfig {
        cases: 16,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((first, steps) in strategy)| {
        let expected = expected_outcome(&first, &steps);
        let seen = runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(15), run_sequence(&server, &first, &steps))
                .await
        });
        prop_assert_eq!(seen.ok(), Some(expected));
    });
    runtime.block_on(observers.assert_no_gaps());
    runtime.block_on(server.stop());
}

/// Source files that handle peer data, relative to the workspace root: the protocol's codec,
/// deltas, replicated-state apply, sync machinery, handshake names and join tokens; the
/// server's network layer, rooms (inputs and game messages) and replication (acks); the
/// client library (everything a server sends); the game API and the arena (player inputs,
/// join claims).
const PEER_DATA_SOURCES: &[&str] = &[
    "protocol/src/codec.rs",
    "protocol/src/delta.rs",
    "protocol/src/messages.rs",
    "protocol/src/replicated.rs",
    "protocol/src/schema.rs",
    "protocol/src/token.rs",
];
/// Folders walked recursively: every `.rs` file below them is checked.
const PEER_DATA_SOURCE_DIRS: &[&str] = &[
    "protocol/src/codec",
    "protocol/src/delta",
    "protocol/src/sync",
    "server/src/net",
    "server/src/room",
    "server/src/replication",
    "client/src",
    "game/src",
    "games/arena/src",
];

/// Lines that may call `expect` although their file handles peer data, because the value
/// cannot come from a peer: (file, exact trimmed line).
const ALLOWED_EXPECTS: &[(&str, &str)] = &[(
    // A histogram built from constant bounds.
    "client/src/latency.rs",
    ".expect(\"constant histogram bounds are valid\")",
)];

/// A test module in its own file (`foo/tests.rs`, declared `#[cfg(test)] mod tests;` in
/// `foo.rs` or `foo/mod.rs`): test code, skipped. Panics if the declaration is not behind
/// `#[cfg(test)]`, so a file named `tests.rs` cannot hide library code.
fn is_test_module(path: &std::path::Path) -> bool {
    if path.file_name().is_none_or(|name| name != "tests.rs") {
        return false;
    }
    let folder = path.parent().expect("a file has a folder");
    let parents = [folder.with_extension("rs"), folder.join("mod.rs")];
    let declared = parents.iter().any(|parent| {
        std::fs::read_to_string(parent).is_ok_and(|source| {
            source
                .replace(char::is_whitespace, "")
                .contains("#[cfg(test)]modtests;")
        })
    });
    assert!(
        declared,
        "{} is not declared `#[cfg(test)] mod tests;`",
        path.display()
    );
    true
}

/// Lines of the non-test part of each file (cut at the first `#[cfg(test)]`) that call
/// `.unwrap()` or `.expect(`.
fn unwrap_calls_outside_tests() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<_> = PEER_DATA_SOURCES.iter().map(|p| root.join(p)).collect();
    for file in &files {
        assert!(
            file.is_file(),
            "{} is gone: update the list",
            file.display()
        );
    }
    // Walk the folders recursively: a layer may split a concept into a subfolder.
    let mut folders: Vec<_> = PEER_DATA_SOURCE_DIRS.iter().map(|d| root.join(d)).collect();
    for folder in &folders {
        assert!(
            folder.is_dir(),
            "{} is gone: update the list",
            folder.display()
        );
    }
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !is_test_module(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(
        files.len() > PEER_DATA_SOURCES.len() + PEER_DATA_SOURCE_DIRS.len(),
        "too few sources found under {}",
        root.display()
    );
    let mut found = Vec::new();
    for path in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let library = source.split("#[cfg(test)]").next().unwrap_or_default();
        let name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        for (number, line) in library.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if (code.contains(".unwrap()") || code.contains(".expect("))
                && !ALLOWED_EXPECTS.contains(&(name.as_str(), line.trim()))
            {
                found.push(format!("{name}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn peer_data_code_has_no_unwrap_or_expect() {
    let found = unwrap_calls_outside_tests();
    assert!(
        found.is_empty(),
        "unwrap/expect outside tests in code that handles peer data:\n{}",
        found.join("\n")
    );
}
