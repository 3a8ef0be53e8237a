//! Holds PROTOCOL.md to the code: every hex dump and JSON line in it is compared with what
//! `codec::encode` and `WireFormat::Json.encode` produce, every annotated byte listing must add
//! up to its dump, and the varint table, the delta and checksum worked examples and the tables
//! of codes and limits are recomputed here. A protocol change fails this test until the
//! document follows it (and an edit to the document fails it until the code agrees).

use ticksync_protocol::codec::{self, MAX_CLIENT_JSON_MESSAGE_BYTES, MAX_CLIENT_MESSAGE_BYTES};
use ticksync_protocol::delta::{apply, diff, Delta};
use ticksync_protocol::replicated::{entity_checksum, view_checksum, Checksum};
use ticksync_protocol::*;

/// The document under test.
const DOC: &str = include_str!("../../PROTOCOL.md");

// ---------------------------------------------------------------------------------------------
// The examples, as the document shows them.
// ---------------------------------------------------------------------------------------------

const RESUME_TOKEN: &str = "5f0c1e2d3b4a69788796a5b4c3d2e1f0";
const CLIENT_TIME_US: u64 = 1_700_000_000_123_456;

enum Message {
    Client(ClientMessage),
    Server(ServerMessage),
}

struct Example {
    /// The variant name, as in the document's tables and annotations.
    name: &'static str,
    message: Message,
    hex: &'static str,
    json: &'static str,
}

fn entity(id: u32, x: i32, y: i32, vx: i16, vy: i16, heading: u16) -> EntityState {
    EntityState {
        id: EntityId(id),
        x,
        y,
        vx,
        vy,
        heading,
    }
}

/// The view of the full snapshot and of the checksum example (§4, §8).
fn full_view() -> Vec<EntityState> {
    vec![
        entity(2, 70000, 12800, -453, 453, 24576),
        entity(7, 64000, 64000, 0, 0, 0),
    ]
}

/// The worked delta example (§7): the acknowledged view at tick 1238...
fn delta_baseline() -> Vec<EntityState> {
    vec![
        entity(3, 64000, 32000, 640, 0, 0),
        entity(5, 1000, 1000, 0, 640, 16384),
        entity(6, 5000, 5000, 640, 0, 0),
        entity(8, 20000, 20000, 0, 0, 0),
    ]
}

/// ...and the view at tick 1240.
fn delta_target() -> Vec<EntityState> {
    vec![
        entity(3, 65280, 32000, 640, 0, 0),
        entity(5, 360, 1640, -640, 0, 32768),
        entity(6, 5640, 5000, 0, 0, 0),
        entity(9, 12800, 64000, 0, 0, 49152),
    ]
}

const DELTA_BASELINE_TICK: Tick = 1238;
const DELTA_TICK: Tick = 1240;

fn delta_snapshot() -> Snapshot {
    Snapshot {
        tick: DELTA_TICK,
        baseline_tick: DELTA_BASELINE_TICK,
        last_input_seq: 42,
        checksum: 0x1d35_fd44,
        created: vec![entity(9, 12800, 64000, 0, 0, 49152)],
        changed: vec![
            EntityDelta {
                id: EntityId(5),
                position_offset: Some((-640, -640)),
                velocity: Some((-640, 0)),
                heading: Some(32768),
            },
            EntityDelta {
                id: EntityId(6),
                position_offset: Some((-640, 0)),
                velocity: Some((0, 0)),
                heading: None,
            },
        ],
        removed: vec![EntityId(8)],
    }
}

fn examples() -> Vec<Example> {
    use Message::{Client, Server};
    vec![
        Example {
            name: "Hello",
            message: Client(ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                player_name: "ada".into(),
            })),
            hex: "00 01 03 61 64 61",
            json: r#"{"Hello":{"protocol_version":1,"player_name":"ada"}}"#,
        },
        Example {
            name: "Input",
            message: Client(ClientMessage::Input(Input {
                seq: 42,
                ack_tick: 1238,
                move_dir: MoveDir { x: 127, y: -90 },
                buttons: 1,
            })),
            hex: "01 2a fb d6 04 7f a6 01",
            json: r#"{"Input":{"seq":42,"ack_tick":1238,"move_dir":{"x":127,"y":-90},"buttons":1}}"#,
        },
        Example {
            name: "Ping",
            message: Client(ClientMessage::Ping(Ping {
                client_time_us: CLIENT_TIME_US,
            })),
            hex: "02 fd 40 22 20 18 24 0a 06 00",
            json: r#"{"Ping":{"client_time_us":1700000000123456}}"#,
        },
        Example {
            name: "Ack",
            message: Client(ClientMessage::Ack(Ack { tick: 1240 })),
            hex: "03 fb d8 04",
            json: r#"{"Ack":{"tick":1240}}"#,
        },
        Example {
            name: "Leave",
            message: Client(ClientMessage::Leave),
            hex: "04",
            json: r#""Leave""#,
        },
        Example {
            name: "Resume",
            message: Client(ClientMessage::Resume(Resume {
                protocol_version: PROTOCOL_VERSION,
                resume_token: RESUME_TOKEN.into(),
            })),
            hex: "05 01 20 35 66 30 63 31 65 32 64 33 62 34 61 36 39 37 38 38 37 39 36 61 35 62 34 63 33 64 32 65 31 66 30",
            json: r#"{"Resume":{"protocol_version":1,"resume_token":"5f0c1e2d3b4a69788796a5b4c3d2e1f0"}}"#,
        },
        Example {
            name: "Welcome",
            message: Server(ServerMessage::Welcome(Welcome {
                entity_id: EntityId(7),
                tick_rate_hz: 30,
                tick: 1234,
                world_size: WorldSize {
                    width: 2000,
                    height: 2000,
                },
                resume_token: RESUME_TOKEN.into(),
                resumed: false,
            })),
            hex: "00 07 1e fb d2 04 fb d0 07 fb d0 07 20 35 66 30 63 31 65 32 64 33 62 34 61 36 39 37 38 38 37 39 36 61 35 62 34 63 33 64 32 65 31 66 30 00",
            json: r#"{"Welcome":{"entity_id":7,"tick_rate_hz":30,"tick":1234,"world_size":{"width":2000,"height":2000},"resume_token":"5f0c1e2d3b4a69788796a5b4c3d2e1f0","resumed":false}}"#,
        },
        Example {
            name: "Snapshot",
            message: Server(ServerMessage::Snapshot(Snapshot {
                tick: 1235,
                baseline_tick: 0,
                last_input_seq: 0,
                checksum: 0x75e2_b5d9,
                created: full_view(),
                changed: vec![],
                removed: vec![],
            })),
            hex: "01 fb d3 04 00 00 fc d9 b5 e2 75 02 02 fc e0 22 02 00 fb 00 64 fb 89 03 fb 8a 03 fb 00 60 07 fc 00 f4 01 00 fc 00 f4 01 00 00 00 00 00 00",
            json: r#"{"Snapshot":{"tick":1235,"baseline_tick":0,"last_input_seq":0,"checksum":1977791961,"created":[{"id":2,"x":70000,"y":12800,"vx":-453,"vy":453,"heading":24576},{"id":7,"x":64000,"y":64000,"vx":0,"vy":0,"heading":0}],"changed":[],"removed":[]}}"#,
        },
        Example {
            name: "Snapshot",
            message: Server(ServerMessage::Snapshot(delta_snapshot())),
            hex: "01 fb d8 04 fb d6 04 2a fc 44 fd 35 1d 01 09 fb 00 64 fc 00 f4 01 00 00 00 fb 00 c0 02 05 01 fb ff 04 fb ff 04 01 fb ff 04 00 01 fb 00 80 06 01 fb ff 04 00 01 00 00 00 01 08",
            json: r#"{"Snapshot":{"tick":1240,"baseline_tick":1238,"last_input_seq":42,"checksum":490077508,"created":[{"id":9,"x":12800,"y":64000,"vx":0,"vy":0,"heading":49152}],"changed":[{"id":5,"position_offset":[-640,-640],"velocity":[-640,0],"heading":32768},{"id":6,"position_offset":[-640,0],"velocity":[0,0],"heading":null}],"removed":[8]}}"#,
        },
        Example {
            name: "Pong",
            message: Server(ServerMessage::Pong(Pong {
                client_time_us: CLIENT_TIME_US,
                server_tick: 1240,
            })),
            hex: "02 fd 40 22 20 18 24 0a 06 00 fb d8 04",
            json: r#"{"Pong":{"client_time_us":1700000000123456,"server_tick":1240}}"#,
        },
        Example {
            name: "Error",
            message: Server(ServerMessage::Error(ErrorMessage {
                code: ErrorCode::RoomFull,
                message: "the room is full (10000 players)".into(),
            })),
            hex: "03 07 20 74 68 65 20 72 6f 6f 6d 20 69 73 20 66 75 6c 6c 20 28 31 30 30 30 30 20 70 6c 61 79 65 72 73 29",
            json: r#"{"Error":{"code":7,"message":"the room is full (10000 players)"}}"#,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_hex_byte(token: &str) -> bool {
    token.len() == 2
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn parse_hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|token| {
            assert!(is_hex_byte(token), "not a hex byte: {token:?} in {text:?}");
            u8::from_str_radix(token, 16).unwrap()
        })
        .collect()
}

fn encode_example(message: &Message, format: WireFormat) -> Vec<u8> {
    match message {
        Message::Client(message) => format.encode(message).unwrap(),
        Message::Server(message) => format.encode(message).unwrap(),
    }
}

/// The annotated listing that follows the dump `hex` in the document: the first ```text block
/// after the inline code span `` `hex` ``. Returns its lines.
fn annotation_of(hex: &str) -> Vec<&'static str> {
    let marker = format!("`{hex}`");
    let at = DOC
        .find(&marker)
        .unwrap_or_else(|| panic!("PROTOCOL.md lacks the dump {marker}"));
    let rest = &DOC[at + marker.len()..];
    let start = rest.find("```text\n").expect("an annotated listing") + "```text\n".len();
    let block = &rest[start..];
    let end = block.find("\n```").expect("the listing's end");
    block[..end].lines().collect()
}

/// The bytes of an annotated listing: on each line, what comes before the first run of two
/// spaces, when it is hex bytes (lines that start with spaces continue the previous one).
fn annotated_bytes(lines: &[&str]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for line in lines {
        let column = line.split_once("  ").map_or(*line, |(bytes, _)| bytes);
        bytes.extend(parse_hex(column));
    }
    bytes
}

/// FNV-1a 32 written from PROTOCOL.md §8 alone, independent of the crate's `Checksum`.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// The entity's checksum input as §8 describes it: 18 bytes, fixed-width little-endian.
fn checksum_bytes(e: &EntityState) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend(e.id.0.to_le_bytes());
    bytes.extend(e.x.to_le_bytes());
    bytes.extend(e.y.to_le_bytes());
    bytes.extend(e.vx.to_le_bytes());
    bytes.extend(e.vy.to_le_bytes());
    bytes.extend(e.heading.to_le_bytes());
    bytes
}

/// The view checksum as §8 describes it.
fn documented_view_checksum(view: &[EntityState]) -> u32 {
    let bytes: Vec<u8> = view
        .iter()
        .flat_map(|e| fnv1a(&checksum_bytes(e)).to_le_bytes())
        .collect();
    fnv1a(&bytes)
}

/// Collapses every run of whitespace to one space, so a phrase may wrap across lines.
fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_in_doc(text: &str) {
    assert!(
        normalized(DOC).contains(&normalized(text)),
        "PROTOCOL.md lacks {text:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_hex_dump_is_the_bincode_encoders_output() {
    for example in examples() {
        let encoded = encode_example(&example.message, WireFormat::Bincode);
        assert_eq!(hex(&encoded), example.hex, "{}", example.name);
        let bytes = parse_hex(example.hex);
        match &example.message {
            Message::Client(message) => {
                assert_eq!(&codec::decode_client_message(&bytes).unwrap(), message)
            }
            Message::Server(message) => {
                assert_eq!(&codec::decode_server_message(&bytes).unwrap(), message)
            }
        }
    }
}

#[test]
fn every_json_example_is_the_json_encoders_output() {
    assert!(WireFormat::Json.uses_text_frames());
    for example in examples() {
        let encoded = encode_example(&example.message, WireFormat::Json);
        assert_eq!(
            String::from_utf8(encoded).unwrap(),
            example.json,
            "{}",
            example.name
        );
        let bytes = example.json.as_bytes();
        match &example.message {
            Message::Client(message) => {
                assert!(bytes.len() <= MAX_CLIENT_JSON_MESSAGE_BYTES);
                assert_eq!(
                    &WireFormat::Json.decode_client_message(bytes).unwrap(),
                    message
                )
            }
            Message::Server(message) => assert_eq!(
                &WireFormat::Json.decode_server_message(bytes).unwrap(),
                message
            ),
        }
    }
}

#[test]
fn every_example_appears_verbatim_in_protocol_md() {
    for example in examples() {
        assert_in_doc(&format!("`{}`", example.hex));
        assert!(
            DOC.lines().any(|line| line == example.json),
            "PROTOCOL.md lacks the JSON line {}",
            example.json
        );
    }
}

#[test]
fn every_annotated_listing_adds_up_to_its_dump() {
    for example in examples() {
        let lines = annotation_of(example.hex);
        assert_eq!(
            hex(&annotated_bytes(&lines)),
            example.hex,
            "annotation of {}",
            example.name
        );
        // The first line names the variant, and the variant table agrees.
        let variant = parse_hex(example.hex)[0];
        let first = format!("variant {variant}: {}", example.name);
        assert!(lines[0].contains(&first), "{:?} lacks {first:?}", lines[0]);
        assert_in_doc(&format!("| {variant} | `{}` |", example.name));
    }
}

#[test]
fn protocol_md_has_no_unchecked_dumps_or_json() {
    let table_bytes: Vec<String> = varint_table().into_iter().map(|row| row.2).collect();
    let dumps: Vec<&str> = examples().iter().map(|e| e.hex).collect();
    // Inline code spans of four or more hex bytes are example dumps or varint-table rows.
    for (index, span) in DOC.split('`').enumerate() {
        let tokens: Vec<&str> = span.split(' ').collect();
        if index % 2 == 1 && tokens.len() >= 4 && tokens.iter().all(|t| is_hex_byte(t)) {
            assert!(
                dumps.contains(&span) || table_bytes.iter().any(|bytes| bytes == span),
                "PROTOCOL.md shows bytes no test checks: `{span}`"
            );
        }
    }
    // Every line of a ```json block is an example.
    let jsons: Vec<&str> = examples().iter().map(|e| e.json).collect();
    let mut in_json = false;
    for line in DOC.lines() {
        match line {
            "```json" => in_json = true,
            "```" => in_json = false,
            _ if in_json => assert!(jsons.contains(&line), "unchecked JSON: {line}"),
            _ => {}
        }
    }
}

/// The rows of §4's table: type, value as written, bytes as encoded.
fn varint_table() -> Vec<(&'static str, &'static str, String)> {
    fn row<T: serde::Serialize>(
        ty: &'static str,
        shown: &'static str,
        value: T,
    ) -> (&'static str, &'static str, String) {
        (ty, shown, hex(&codec::encode(&value).unwrap()))
    }
    vec![
        row("u32", "0", 0u32),
        row("u32", "250", 250u32),
        row("u32", "251", 251u32),
        row("u32", "1240", 1240u32),
        row("u32", "65535", 65535u32),
        row("u32", "65536", 65536u32),
        row("u32", "4294967295", u32::MAX),
        row("u64", "4294967296", 1u64 << 32),
        row("u16", "32768", 32768u16),
        row("i32", "0", 0i32),
        row("i32", "-1", -1i32),
        row("i32", "1", 1i32),
        row("i32", "-2", -2i32),
        row("i32", "125", 125i32),
        row("i32", "-126", -126i32),
        row("i32", "64000", 64000i32),
        row("i32", "-2147483648", i32::MIN),
        row("i16", "-640", -640i16),
        row("u8", "255", 255u8),
        row("i8", "127", 127i8),
        row("i8", "-90", -90i8),
        row("bool", "true", true),
        row("Option<u16>", "None", None::<u16>),
        row("Option<u16>", "Some(16384)", Some(16384u16)),
        row("(i16, i16)", "(-640, 0)", (-640i16, 0i16)),
        row("Vec<u32>", "[8, 300]", vec![8u32, 300]),
        row("String", "\"ada\"", "ada".to_owned()),
    ]
}

#[test]
fn the_varint_table_is_what_bincode_writes() {
    for (ty, shown, bytes) in varint_table() {
        assert_in_doc(&format!("| `{ty}` | {shown} | `{bytes}` |"));
    }
}

#[test]
fn the_decoder_behaves_as_documented() {
    // A longer varint than needed is accepted; a tag wider than the type is not.
    assert_eq!(
        codec::decode_client_message(&parse_hex("fb 04 00")).unwrap(),
        ClientMessage::Leave
    );
    assert_in_doc("(`fb 04 00` reads as 4)");
    assert!(codec::decode_client_message(&parse_hex("00 fc 01 00 00 00 00")).is_err());
    assert!(codec::decode_client_message(&parse_hex("03 fd 05 00 00 00 00 00 00 00")).is_err());
    assert!(codec::decode_client_message(&parse_hex("03 ff")).is_err());
    // bool and Option tags other than 0 and 1, invalid UTF-8, trailing bytes.
    let welcome = parse_hex("00 01 1e 01 01 01 00 02");
    assert!(codec::decode_server_message(&welcome).is_err());
    let option = parse_hex("01 01 00 00 00 00 01 01 02 00 00 00");
    assert!(codec::decode_server_message(&option).is_err());
    assert!(codec::decode_client_message(&parse_hex("00 01 01 ff")).is_err());
    assert!(codec::decode_client_message(&parse_hex("04 00")).is_err());
    // JSON: any key order, whitespace and unknown keys; integers only; every field required.
    let json = |text: &str| WireFormat::Json.decode_client_message(text.as_bytes());
    assert_eq!(
        json(r#" { "Ack" : { "extra" : 1, "tick" : 5 } } "#).unwrap(),
        ClientMessage::Ack(Ack { tick: 5 })
    );
    assert!(json(r#"{"Ack":{"tick":5.0}}"#).is_err());
    assert!(json(r#"{"Ack":{}}"#).is_err());
    // An i8 is a raw byte: -128 is legal on the wire and read as -127.
    assert_eq!(
        MoveDir { x: -128, y: 0 }.to_unit_vector(),
        MoveDir { x: -127, y: 0 }.to_unit_vector()
    );
}

#[test]
fn size_limits_are_the_documented_ones() {
    assert_in_doc(&format!(
        "(`MAX_CLIENT_MESSAGE_BYTES`) | {MAX_CLIENT_MESSAGE_BYTES} bytes |"
    ));
    assert_in_doc(&format!(
        "(`MAX_CLIENT_JSON_MESSAGE_BYTES`) | {MAX_CLIENT_JSON_MESSAGE_BYTES} bytes |"
    ));
    assert_in_doc(&format!("≤ {MAX_PLAYER_NAME_BYTES} bytes of UTF-8"));
    assert_in_doc(&format!("≤ {MAX_RESUME_TOKEN_BYTES} bytes |"));
    assert_in_doc(&format!("must be {PROTOCOL_VERSION}."));
    assert_in_doc(&format!("The path is exactly `{WEBSOCKET_PATH}`."));
    for format in WireFormat::ALL {
        assert_in_doc(&format!("| `{}` |", format.subprotocol()));
    }
    // The largest bincode entity state, as §2 says.
    let widest = entity(u32::MAX, i32::MIN, i32::MIN, i16::MIN, i16::MIN, u16::MAX);
    let bytes = codec::encode(&widest).unwrap().len();
    assert_in_doc(&format!("at most {bytes} bytes each in bincode"));
}

#[test]
fn the_worked_delta_example_is_what_the_server_sends_and_the_client_applies() {
    let (baseline, target) = (delta_baseline(), delta_target());
    let ticks = DELTA_TICK - DELTA_BASELINE_TICK;
    // The server's diff produces exactly the documented lists...
    let mut delta = Delta::default();
    diff(&baseline, &target, ticks, &mut delta);
    let snapshot = delta_snapshot();
    assert_eq!(delta.created, snapshot.created);
    assert_eq!(delta.changed, snapshot.changed);
    assert_eq!(delta.removed, snapshot.removed);
    // ...which turn the baseline into the target, whose checksum the snapshot carries.
    let mut view = Vec::new();
    apply(
        &baseline,
        &snapshot.created,
        &snapshot.changed,
        &snapshot.removed,
        ticks,
        &mut view,
    )
    .unwrap();
    assert_eq!(view, target);
    assert_eq!(view_checksum(&target), snapshot.checksum);
    assert_eq!(documented_view_checksum(&target), snapshot.checksum);
    assert_in_doc(&format!(
        "its checksum is `{:#010x}` ({})",
        snapshot.checksum, snapshot.checksum
    ));
    // The tables and the predictions in the text.
    for (label, view) in [("baseline", &baseline), ("target", &target)] {
        for e in view {
            assert_in_doc(&format!(
                "| {label} #{} | {} | {} | {} | {} | {} |",
                e.id.0, e.x, e.y, e.vx, e.vy, e.heading
            ));
        }
    }
    let predicted = |id: u32| {
        let e = baseline.iter().find(|e| e.id.0 == id).unwrap();
        e.predict(ticks)
    };
    for id in [5, 6] {
        let p = predicted(id);
        assert_in_doc(&format!(
            "predicted ({}, {}, {}, {}, {})",
            p.x, p.y, p.vx, p.vy, p.heading
        ));
    }
    let p3 = predicted(3);
    assert_in_doc(&format!("predicted `64000 + 640·{ticks} = {}`", p3.x));
    assert_eq!(
        p3, target[0],
        "#3 is not in the snapshot because it is as predicted"
    );
}

#[test]
fn the_worked_checksum_example_holds() {
    let view = full_view();
    let mut view_bytes = Vec::new();
    for e in &view {
        let bytes = checksum_bytes(e);
        assert_eq!(bytes.len(), 18);
        let mut checksum = Checksum::new();
        checksum.write_bytes(&bytes);
        assert_eq!(checksum.finish(), entity_checksum(e));
        assert_eq!(fnv1a(&bytes), entity_checksum(e));
        assert_in_doc(&format!("    bytes   {}\n", hex(&bytes)));
        assert_in_doc(&format!(
            "    entity checksum {:#010x}\n",
            entity_checksum(e)
        ));
        view_bytes.extend(entity_checksum(e).to_le_bytes());
    }
    let checksum = view_checksum(&view);
    assert_eq!(fnv1a(&view_bytes), checksum);
    assert_eq!(documented_view_checksum(&view), checksum);
    assert_in_doc(&format!("view: FNV-1a over {}\n", hex(&view_bytes)));
    assert_in_doc(&format!("view checksum {checksum:#010x} ({checksum})"));
    // The full snapshot example carries it.
    let full = examples()
        .into_iter()
        .find(|e| e.hex.starts_with("01 fb d3 04 00"))
        .unwrap();
    let Message::Server(ServerMessage::Snapshot(snapshot)) = full.message else {
        panic!("not the full snapshot")
    };
    assert_eq!(snapshot.checksum, checksum);
    assert_eq!(snapshot.created, view);
    // The empty view, and the FNV-1a reference vectors quoted.
    assert_eq!(view_checksum::<EntityState>(&[]), 0x811c_9dc5);
    assert_in_doc("An empty view's checksum is the offset basis,\n`0x811c9dc5`");
    for (text, hash) in [("a", 0xe40c_292cu32), ("foobar", 0xbf9c_f968)] {
        let mut checksum = Checksum::new();
        checksum.write_bytes(text.as_bytes());
        assert_eq!(checksum.finish(), hash);
        assert_eq!(fnv1a(text.as_bytes()), hash);
        assert_in_doc(&format!("`{text}`"));
        assert_in_doc(&format!("`{hash:#010x}`"));
    }
}

#[test]
fn the_code_tables_match_the_code() {
    // Error codes: 1 to 16 are named, the next is unknown to this build.
    for number in 1..=16u16 {
        let code = ErrorCode::from(number);
        assert!(!matches!(code, ErrorCode::Other(_)), "{number}");
        assert_eq!(code.as_u16(), number);
        assert_in_doc(&format!("| {number} | `{code:?}` |"));
    }
    assert_eq!(ErrorCode::from(17), ErrorCode::Other(17));
    // Close codes: every constant of `close_code`, with its name.
    for (code, name) in [
        (close_code::NORMAL, "Normal"),
        (close_code::GOING_AWAY, "Going away"),
        (close_code::PROTOCOL_ERROR, "Protocol error"),
        (close_code::UNSUPPORTED_DATA, "Unsupported data"),
        (close_code::POLICY_VIOLATION, "Policy violation"),
        (close_code::MESSAGE_TOO_BIG, "Message too big"),
        (close_code::INTERNAL_ERROR, "Internal error"),
        (close_code::UNSUPPORTED_VERSION, "Unsupported version"),
        (close_code::ROOM_FULL, "Room full"),
        (close_code::IDLE_TIMEOUT, "Idle timeout"),
        (close_code::RESUME_REFUSED, "Resume refused"),
        (close_code::REPLACED, "Replaced"),
        (close_code::NO_ROOM_AVAILABLE, "No room available"),
    ] {
        assert_in_doc(&format!("| {code} | {name} |"));
    }
}
