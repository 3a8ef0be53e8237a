//! Holds PROTOCOL.md to the code, and regenerates the parts of it that the code determines.
//!
//! The document's hex dumps, annotated byte listings, JSON examples, the varint table, the
//! schema description and hash, and the numbers of the delta and checksum worked examples sit
//! between `<!-- BEGIN GENERATED name -->` and `<!-- END GENERATED name -->` lines. This test
//! builds every such block from the encoder (the arena's schema is the worked example, the
//! test game's schema shows game messages both ways) and fails, listing every stale block,
//! when the document differs. After a deliberate protocol or schema change, regenerate them:
//!
//! ```text
//! TICKSYNC_BLESS=1 cargo test -p ticksync-protocol --test wire_examples
//! ```
//!
//! which rewrites the blocks in PROTOCOL.md and then checks the rewritten text. Besides the
//! blocks, the test checks that every annotated listing adds up to its frame and decodes
//! back to its message, that no hex dump or JSON line lies outside a generated block, that
//! the prose quotes the real limits, codes and constants, and — with a small client written
//! from the document's rules alone (`doc_client` below) — that a client in another language
//! can decode, apply and verify snapshots of any game from `GET /schema`'s description.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use serde::Serialize;
use serde_json::Value;
use ticksync_arena::{ArenaEntity, ArenaInput, ArenaMessage, ArenaSchema, MoveDir};
use ticksync_protocol::codec::{
    self, MAX_CLIENT_JSON_MESSAGE_BYTES, MAX_CLIENT_MESSAGE_BYTES, MAX_SERVER_JSON_MESSAGE_BYTES,
    MAX_SERVER_MESSAGE_BYTES,
};
use ticksync_protocol::delta::{apply, diff, Delta};
use ticksync_protocol::describe::{layout_hash, WireType};
use ticksync_protocol::replicated::{entity_checksum, view_checksum, Checksum};
use ticksync_protocol::schema::{describe, schema_hash, subprotocol, ENVELOPE_VERSION};
use ticksync_protocol::testing::{Token, TokenClientMessage, TokenSchema, TokenServerMessage};
use ticksync_protocol::*;

// ---------------------------------------------------------------------------------------------
// The document, its generated blocks, and bless mode.
// ---------------------------------------------------------------------------------------------

const BLESS_VAR: &str = "TICKSYNC_BLESS";
const BLESS_COMMAND: &str = "TICKSYNC_BLESS=1 cargo test -p ticksync-protocol --test wire_examples";
const BEGIN: &str = "<!-- BEGIN GENERATED ";
const END: &str = "<!-- END GENERATED ";
const MARKER_TAIL: &str = " -->";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../PROTOCOL.md")
}

fn blessing() -> bool {
    std::env::var(BLESS_VAR).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// The document as the tests see it: as on disk, or as rewritten by bless mode.
struct Document {
    text: String,
    /// Generated blocks whose text differs from the code's: name and first difference.
    stale: Vec<(String, String)>,
    /// Problems bless cannot fix: unbalanced markers, unknown or missing blocks.
    broken: Vec<String>,
}

fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let path = doc_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let mut document = splice(&text, &generated_blocks());
        if blessing() && document.text != text {
            std::fs::write(&path, &document.text)
                .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
            eprintln!(
                "{BLESS_VAR}: rewrote {} generated block(s) of {}",
                document.stale.len(),
                path.display()
            );
        }
        if blessing() {
            document.stale.clear();
        } else {
            // Without bless the other tests read the document as it is on disk.
            document.text = text;
        }
        document
    })
}

/// The document's text (blessed, in bless mode).
fn doc() -> &'static str {
    &document().text
}

/// Replaces the content of every generated block of `text` with `blocks`' and reports what
/// differed (bless mode keeps the result; otherwise only the report is used).
fn splice(text: &str, blocks: &BTreeMap<&'static str, String>) -> Document {
    let mut out: Vec<String> = Vec::new();
    let mut stale = Vec::new();
    let mut broken = Vec::new();
    let mut seen = BTreeSet::new();
    let mut lines = text.split('\n').enumerate();
    while let Some((number, line)) = lines.next() {
        out.push(line.to_owned());
        let Some(name) = marker(line, BEGIN) else {
            if let Some(name) = marker(line, END) {
                broken.push(format!(
                    "line {}: END of {name} without its BEGIN",
                    number + 1
                ));
            }
            continue;
        };
        let mut content = Vec::new();
        let mut closed = false;
        for (inner_number, inner) in lines.by_ref() {
            if marker(inner, END) == Some(name) {
                closed = true;
                break;
            }
            if marker(inner, BEGIN).is_some() || marker(inner, END).is_some() {
                broken.push(format!(
                    "line {}: a marker inside block {name}",
                    inner_number + 1
                ));
            }
            content.push(inner);
        }
        if !closed {
            broken.push(format!("block {name} (line {}) has no END", number + 1));
        }
        if !seen.insert(name.to_owned()) {
            broken.push(format!("block {name} appears twice"));
        }
        let content = content.join("\n");
        match blocks.get(name) {
            None => {
                broken.push(format!(
                    "block {name} (line {}) is generated by nothing in wire_examples.rs",
                    number + 1
                ));
                out.push(content);
            }
            Some(generated) => {
                if &content != generated {
                    stale.push((name.to_owned(), first_difference(&content, generated)));
                }
                out.push(generated.clone());
            }
        }
        out.push(format!("{END}{name}{MARKER_TAIL}"));
    }
    for name in blocks.keys() {
        if !seen.contains(*name) {
            broken.push(format!(
                "PROTOCOL.md has no block {name}: add `{BEGIN}{name}{MARKER_TAIL}` and `{END}{name}{MARKER_TAIL}` lines where it belongs, then bless"
            ));
        }
    }
    Document {
        text: out.join("\n"),
        stale,
        broken,
    }
}

fn marker<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.strip_prefix(kind)?.strip_suffix(MARKER_TAIL)
}

fn first_difference(found: &str, expected: &str) -> String {
    let (mut found_lines, mut expected_lines) = (found.lines(), expected.lines());
    for number in 1.. {
        match (found_lines.next(), expected_lines.next()) {
            (None, None) => break,
            (found, expected) if found == expected => continue,
            (found, expected) => {
                return format!(
                    "line {number} of the block:\n      document: {}\n      encoder:  {}",
                    found.unwrap_or("(nothing)"),
                    expected.unwrap_or("(nothing)")
                )
            }
        }
    }
    "only in trailing whitespace".to_owned()
}

/// Every generated block, by name.
fn generated_blocks() -> BTreeMap<&'static str, String> {
    let mut blocks = BTreeMap::new();
    let mut add = |name: &'static str, content: String| {
        assert!(
            blocks
                .insert(name, format!("\n{}\n", content.trim_end()))
                .is_none(),
            "{name} twice"
        );
    };
    add("subprotocols", subprotocols_block());
    add("schema-arena", schema_block::<ArenaSchema>());
    add("schema-hash-arena", schema_hash_block::<ArenaSchema>());
    add("schema-tokens", schema_block::<TokenSchema>());
    add("varint-table", varint_table_block());
    for example in examples() {
        add(example.name, example.listing_block());
    }
    add("json-client", json_block(Side::Client));
    add("json-server", json_block(Side::Server));
    add("delta-example-views", delta_views_block());
    add("delta-example-steps", delta_steps_block());
    add("checksum-example", checksum_block());
    blocks
}

// ---------------------------------------------------------------------------------------------
// The examples.
// ---------------------------------------------------------------------------------------------

const RESUME_TOKEN: &str = "5f0c1e2d3b4a69788796a5b4c3d2e1f0";
const CLIENT_TIME_US: u64 = 1_700_000_000_123_456;

/// A message of one of the two schemas the document uses.
#[derive(Debug, Clone, PartialEq)]
enum Message {
    ArenaClient(ClientMessage<ArenaSchema>),
    ArenaServer(ServerMessage<ArenaSchema>),
    TokenClient(ClientMessage<TokenSchema>),
    TokenServer(ServerMessage<TokenSchema>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

impl Message {
    fn encode(&self, format: WireFormat) -> Vec<u8> {
        match self {
            Message::ArenaClient(m) => format.encode(m),
            Message::ArenaServer(m) => format.encode(m),
            Message::TokenClient(m) => format.encode(m),
            Message::TokenServer(m) => format.encode(m),
        }
        .unwrap()
    }

    /// Decodes `frame` as a message of the same schema and direction.
    fn decode_like(&self, format: WireFormat, frame: &[u8]) -> Message {
        match self {
            Message::ArenaClient(_) => {
                Message::ArenaClient(format.decode_client_message(frame).unwrap())
            }
            Message::ArenaServer(_) => {
                Message::ArenaServer(format.decode_server_message(frame).unwrap())
            }
            Message::TokenClient(_) => {
                Message::TokenClient(format.decode_client_message(frame).unwrap())
            }
            Message::TokenServer(_) => {
                Message::TokenServer(format.decode_server_message(frame).unwrap())
            }
        }
    }

    fn side(&self) -> Side {
        match self {
            Message::ArenaClient(_) | Message::TokenClient(_) => Side::Client,
            Message::ArenaServer(_) | Message::TokenServer(_) => Side::Server,
        }
    }
}

struct Example {
    /// The generated block's name.
    name: &'static str,
    /// The envelope variant, as in §3's tables.
    variant: &'static str,
    message: Message,
    listing: Listing,
}

impl Example {
    fn listing_block(&self) -> String {
        let frame = self.message.encode(WireFormat::Bincode);
        assert_eq!(
            self.listing.bytes, frame,
            "the annotation of {} does not add up to the encoder's frame",
            self.name
        );
        format!(
            "```text\n{}\n\n{}\n```",
            wrapped_hex(&frame, 0),
            self.listing.lines.join("\n")
        )
    }
}

fn arena(id: u32, x: i32, y: i32, vx: i16, vy: i16, heading: u16) -> Entity<ArenaEntity> {
    Entity {
        id: EntityId(id),
        state: ArenaEntity {
            x,
            y,
            vx,
            vy,
            heading,
        },
    }
}

/// The view of the full snapshot and of the checksum example.
fn full_view() -> Vec<Entity<ArenaEntity>> {
    vec![
        arena(2, 70000, 12800, -453, 453, 24576),
        arena(7, 64000, 64000, 0, 0, 0),
    ]
}

const FULL_TICK: Tick = 1235;
const DELTA_BASELINE_TICK: Tick = 1238;
const DELTA_TICK: Tick = 1240;

/// The worked delta example: the acknowledged view at tick 1238...
fn delta_baseline() -> Vec<Entity<ArenaEntity>> {
    vec![
        arena(3, 64000, 32000, 640, 0, 0),
        arena(5, 1000, 1000, 0, 640, 16384),
        arena(6, 5000, 5000, 640, 0, 0),
        arena(8, 20000, 20000, 0, 0, 0),
    ]
}

/// ...and the view at tick 1240.
fn delta_target() -> Vec<Entity<ArenaEntity>> {
    vec![
        arena(3, 65280, 32000, 640, 0, 0),
        arena(5, 360, 1640, -640, 0, 32768),
        arena(6, 5640, 5000, 0, 0, 0),
        arena(9, 12800, 64000, 0, 0, 49152),
    ]
}

fn full_snapshot() -> Snapshot<ArenaEntity> {
    let created = full_view();
    Snapshot {
        tick: FULL_TICK,
        baseline_tick: 0,
        last_input_seq: 0,
        input_margin_100us: 0,
        checksum: view_checksum(&created),
        created,
        changed: vec![],
        removed: vec![],
    }
}

/// The server's snapshot for the worked example, made by the crate's own diff.
fn delta_snapshot() -> Snapshot<ArenaEntity> {
    let (baseline, target) = (delta_baseline(), delta_target());
    let mut delta = Delta::default();
    diff(
        &baseline,
        &target,
        DELTA_TICK - DELTA_BASELINE_TICK,
        &mut delta,
    );
    Snapshot {
        tick: DELTA_TICK,
        baseline_tick: DELTA_BASELINE_TICK,
        last_input_seq: 42,
        input_margin_100us: 15,
        checksum: view_checksum(&target),
        created: delta.created,
        changed: delta.changed,
        removed: delta.removed,
    }
}

fn examples() -> Vec<Example> {
    let hello = Hello {
        protocol_version: PROTOCOL_VERSION,
        player_name: "ada".into(),
    };
    let input = Input {
        seq: 42,
        ack_tick: 1238,
        payload: ArenaInput {
            move_dir: MoveDir { x: 127, y: -90 },
            buttons: 1,
        },
    };
    let welcome = Welcome {
        player_id: PlayerId(3),
        entity_id: Some(EntityId(7)),
        tick_rate_hz: 30,
        tick: 1234,
        resume_token: RESUME_TOKEN.into(),
        resumed: false,
    };
    let world = ArenaMessage::World {
        width: 2000,
        height: 2000,
    };
    let error = ErrorMessage {
        code: ErrorCode::JoinRefused,
        message: "the match has already started".into(),
    };
    let said = TokenServerMessage::Said {
        from: PlayerId(3),
        text: "gg".into(),
    };
    vec![
        Example {
            name: "bincode-hello",
            variant: "Hello",
            listing: Listing::new()
                .variant(0, "Hello")
                .field(
                    0,
                    &hello.protocol_version,
                    format!("protocol_version = {PROTOCOL_VERSION}"),
                )
                .string(0, "player_name", &hello.player_name),
            message: Message::ArenaClient(ClientMessage::Hello(hello)),
        },
        Example {
            name: "bincode-input",
            variant: "Input",
            listing: Listing::new()
                .variant(1, "Input")
                .field(0, &input.seq, format!("seq = {}", input.seq))
                .field(0, &input.ack_tick, format!("ack_tick = {}", input.ack_tick))
                .note(0, "payload: the arena's ArenaInput")
                .field(
                    1,
                    &input.payload.move_dir.x,
                    "move_dir.x = 127 (raw i8: +1.0)",
                )
                .field(
                    1,
                    &input.payload.move_dir.y,
                    "move_dir.y = -90 (raw i8, two's complement)",
                )
                .field(1, &input.payload.buttons, "buttons = 1"),
            message: Message::ArenaClient(ClientMessage::Input(input)),
        },
        Example {
            name: "bincode-ping",
            variant: "Ping",
            listing: Listing::new().variant(2, "Ping").field(
                0,
                &CLIENT_TIME_US,
                format!("client_time_us = {CLIENT_TIME_US} (tag fd, 8 bytes)"),
            ),
            message: Message::ArenaClient(ClientMessage::Ping(Ping {
                client_time_us: CLIENT_TIME_US,
            })),
        },
        Example {
            name: "bincode-ack",
            variant: "Ack",
            listing: Listing::new().variant(3, "Ack").field(
                0,
                &1240u32,
                "tick = 1240 (tag fb, then 0x04d8 little-endian)",
            ),
            message: Message::ArenaClient(ClientMessage::Ack(Ack { tick: 1240 })),
        },
        Example {
            name: "bincode-leave",
            variant: "Leave",
            listing: Listing::new().variant(4, "Leave (no fields)"),
            message: Message::ArenaClient(ClientMessage::Leave),
        },
        Example {
            name: "bincode-resume",
            variant: "Resume",
            listing: Listing::new()
                .variant(5, "Resume")
                .field(
                    0,
                    &PROTOCOL_VERSION,
                    format!("protocol_version = {PROTOCOL_VERSION}"),
                )
                .string(0, "resume_token", RESUME_TOKEN),
            message: Message::ArenaClient(ClientMessage::Resume(Resume {
                protocol_version: PROTOCOL_VERSION,
                resume_token: RESUME_TOKEN.into(),
            })),
        },
        Example {
            name: "bincode-client-message",
            variant: "Message",
            listing: Listing::new()
                .variant(6, "Message")
                .note(0, "payload: the test game's TokenClientMessage")
                .field(1, &0u32, "variant 0: Say")
                .string(1, "text", "gg"),
            message: Message::TokenClient(ClientMessage::Message(TokenClientMessage::Say(
                "gg".into(),
            ))),
        },
        Example {
            name: "bincode-welcome",
            variant: "Welcome",
            listing: Listing::new()
                .variant(0, "Welcome")
                .field(0, &welcome.player_id, "player_id = 3")
                .field(0, &1u8, "entity_id: Some")
                .field(1, &EntityId(7), "7")
                .field(0, &welcome.tick_rate_hz, "tick_rate_hz = 30")
                .field(0, &welcome.tick, "tick = 1234")
                .string(0, "resume_token", RESUME_TOKEN)
                .field(0, &false, "resumed = false"),
            message: Message::ArenaServer(ServerMessage::Welcome(welcome)),
        },
        Example {
            name: "bincode-world",
            variant: "Message",
            listing: Listing::new()
                .variant(4, "Message")
                .note(0, "payload: the arena's ArenaMessage")
                .field(1, &0u32, "variant 0: World")
                .field(1, &2000u32, "width = 2000")
                .field(1, &2000u32, "height = 2000"),
            message: Message::ArenaServer(ServerMessage::Message(world)),
        },
        Example {
            name: "bincode-snapshot-full",
            variant: "Snapshot",
            listing: snapshot_listing(&full_snapshot(), 0),
            message: Message::ArenaServer(ServerMessage::Snapshot(full_snapshot())),
        },
        Example {
            name: "bincode-snapshot-delta",
            variant: "Snapshot",
            listing: snapshot_listing(&delta_snapshot(), DELTA_TICK - DELTA_BASELINE_TICK),
            message: Message::ArenaServer(ServerMessage::Snapshot(delta_snapshot())),
        },
        Example {
            name: "bincode-pong",
            variant: "Pong",
            listing: Listing::new()
                .variant(2, "Pong")
                .field(
                    0,
                    &CLIENT_TIME_US,
                    format!("client_time_us = {CLIENT_TIME_US}"),
                )
                .field(0, &1240u32, "server_tick = 1240"),
            message: Message::ArenaServer(ServerMessage::Pong(Pong {
                client_time_us: CLIENT_TIME_US,
                server_tick: 1240,
            })),
        },
        Example {
            name: "bincode-error",
            variant: "Error",
            listing: Listing::new()
                .variant(3, "Error")
                .field(
                    0,
                    &error.code,
                    format!("code = {} ({:?})", error.code.as_u16(), error.code),
                )
                .string(0, "message", &error.message),
            message: Message::ArenaServer(ServerMessage::Error(error)),
        },
        Example {
            name: "bincode-server-message",
            variant: "Message",
            listing: Listing::new()
                .variant(4, "Message")
                .note(0, "payload: the test game's TokenServerMessage")
                .field(1, &0u32, "variant 0: Said")
                .field(2, &PlayerId(3), "from = 3")
                .string(2, "text", "gg"),
            message: Message::TokenServer(ServerMessage::Message(said)),
        },
    ]
}

/// The annotated listing of an arena snapshot, its fields read from the schema description
/// so a new field shows up by itself.
fn snapshot_listing(snapshot: &Snapshot<ArenaEntity>, ticks: u32) -> Listing {
    let fields = Fields::of::<ArenaEntity>();
    let mut listing = Listing::new().variant(1, "Snapshot").field(
        0,
        &snapshot.tick,
        format!("tick = {}", snapshot.tick),
    );
    listing = if snapshot.is_full() {
        listing.field(0, &0u32, "baseline_tick = 0: a full snapshot")
    } else {
        listing.field(
            0,
            &snapshot.baseline_tick,
            format!(
                "baseline_tick = {} ({ticks} ticks earlier)",
                snapshot.baseline_tick
            ),
        )
    };
    listing = listing
        .field(
            0,
            &snapshot.last_input_seq,
            format!("last_input_seq = {}", snapshot.last_input_seq),
        )
        .field(
            0,
            &snapshot.input_margin_100us,
            format!(
                "input_margin_100us = {} ({} ms before its tick)",
                snapshot.input_margin_100us,
                f64::from(snapshot.input_margin_100us) / 10.0
            ),
        )
        .field(
            0,
            &snapshot.checksum,
            format!("checksum = {:#010x}", snapshot.checksum),
        )
        .field(
            0,
            &(snapshot.created.len() as u64),
            count("created", snapshot.created.len(), "entity", "entities"),
        );
    for entity in &snapshot.created {
        listing = listing.field(1, &entity.id, format!("id = {}", entity.id.0));
        for (field, value) in fields.iter().zip(fields.values(&entity.state)) {
            let zigzag = match field.ty.as_str() {
                "i16" | "i32" | "i64" if !(-125..=125).contains(&value) => {
                    format!(" (zigzag {})", zigzag(value))
                }
                _ => String::new(),
            };
            listing = listing.raw(
                1,
                &field.encode(value),
                format!("{} = {value}{zigzag}", field.name),
            );
        }
    }
    listing = listing.field(
        0,
        &(snapshot.changed.len() as u64),
        count("changed", snapshot.changed.len(), "entry", "entries"),
    );
    for changed in &snapshot.changed {
        let present = fields.delta_values(&changed.delta);
        let mask: u64 = present
            .iter()
            .enumerate()
            .filter(|(_, value)| value.is_some())
            .map(|(bit, _)| 1u64 << bit)
            .sum();
        let names: Vec<&str> = fields
            .iter()
            .zip(&present)
            .filter(|(_, value)| value.is_some())
            .map(|(field, _)| field.name.as_str())
            .collect();
        listing = listing
            .field(1, &changed.id, format!("id = {}", changed.id.0))
            .field(
                1,
                &mask,
                format!(
                    "mask = {mask} = {}: {}",
                    binary(mask, fields.0.len()),
                    names.join(", ")
                ),
            );
        for (field, value) in fields.iter().zip(&present) {
            let Some(value) = *value else { continue };
            let note = if field.predict.is_some() {
                format!("{}: {value} from the prediction", field.name)
            } else {
                format!("{} = {value}", field.name)
            };
            listing = listing.raw(2, &field.encode(value), note);
        }
    }
    listing = listing.field(
        0,
        &(snapshot.removed.len() as u64),
        count("removed", snapshot.removed.len(), "id", "ids"),
    );
    for id in &snapshot.removed {
        listing = listing.field(1, id, format!("{}", id.0));
    }
    listing
}

/// A delta mask in binary, one digit per field.
fn binary(mask: u64, fields: usize) -> String {
    format!("{mask:#0width$b}", width = fields + 2)
}

fn count(list: &str, n: usize, one: &str, many: &str) -> String {
    format!("{list}: {n} {}", if n == 1 { one } else { many })
}

fn zigzag(value: i128) -> i128 {
    if value < 0 {
        -2 * value - 1
    } else {
        2 * value
    }
}

// ---------------------------------------------------------------------------------------------
// Annotated listings.
// ---------------------------------------------------------------------------------------------

/// The bytes of a frame built part by part from the encoder, each part with its annotation.
#[derive(Debug, Default)]
struct Listing {
    bytes: Vec<u8>,
    lines: Vec<String>,
}

/// Where the annotation starts on a line of depth 0; each level of nesting indents both
/// columns by two.
const NOTE_COLUMN: usize = 16;

impl Listing {
    fn new() -> Listing {
        Listing::default()
    }

    fn variant(self, index: u32, name: &str) -> Listing {
        self.field(0, &index, format!("variant {index}: {name}"))
    }

    /// Appends `value` as the encoder writes it.
    fn field<T: Serialize>(self, depth: usize, value: &T, note: impl Into<String>) -> Listing {
        let bytes = codec::encode(value).unwrap();
        self.raw(depth, &bytes, note)
    }

    fn raw(mut self, depth: usize, bytes: &[u8], note: impl Into<String>) -> Listing {
        let indent = " ".repeat(2 * depth);
        let shown = hex(bytes);
        if shown.len() + 2 <= NOTE_COLUMN {
            self.lines.push(format!(
                "{indent}{shown:<width$}{}",
                note.into(),
                width = NOTE_COLUMN
            ));
        } else {
            self.lines.push(wrapped_hex(bytes, 2 * depth));
            self.lines.push(format!(
                "{indent}{}{}",
                " ".repeat(NOTE_COLUMN),
                note.into()
            ));
        }
        self.bytes.extend_from_slice(bytes);
        self
    }

    fn note(mut self, depth: usize, note: &str) -> Listing {
        self.lines
            .push(format!("{}{note}", " ".repeat(2 * depth + NOTE_COLUMN)));
        self
    }

    /// A string: its length, then its bytes 16 a line with the text they spell.
    fn string(self, depth: usize, name: &str, text: &str) -> Listing {
        let mut listing = self.field(
            depth,
            &(text.len() as u64),
            format!("{name}: length {}", text.len()),
        );
        for chunk in text.as_bytes().chunks(16) {
            let spelled = format!("{:?}", std::str::from_utf8(chunk).unwrap());
            listing = listing.raw(depth, chunk, spelled);
        }
        listing
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `bytes` as hex, 16 a line, each line indented by `indent`.
fn wrapped_hex(bytes: &[u8], indent: usize) -> String {
    bytes
        .chunks(16)
        .map(|chunk| format!("{}{}", " ".repeat(indent), hex(chunk)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_hex_byte(token: &str) -> bool {
    token.len() == 2
        && token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex_line(line: &str) -> Option<Vec<u8>> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    (!tokens.is_empty() && tokens.iter().all(|t| is_hex_byte(t))).then(|| {
        tokens
            .iter()
            .map(|t| u8::from_str_radix(t, 16).unwrap())
            .collect()
    })
}

/// Reads a listing block back as a reader would: the frame (the hex lines before the blank
/// line) and the annotated bytes (on each later line, what precedes the first two spaces).
fn read_listing(block: &str) -> (Vec<u8>, Vec<u8>) {
    let body = block
        .trim()
        .strip_prefix("```text\n")
        .and_then(|b| b.strip_suffix("\n```"))
        .expect("a ```text block");
    let (frame, annotated) = body.split_once("\n\n").expect("frame, blank line, listing");
    let frame = frame
        .lines()
        .flat_map(|l| hex_line(l).expect("hex"))
        .collect();
    let annotated = annotated
        .lines()
        .flat_map(|line| {
            let trimmed = line.trim_start();
            let column = trimmed.split_once("  ").map_or(trimmed, |(bytes, _)| bytes);
            hex_line(column).unwrap_or_default()
        })
        .collect();
    (frame, annotated)
}

// ---------------------------------------------------------------------------------------------
// Entity fields, read from the schema description (what a client in another language has).
// ---------------------------------------------------------------------------------------------

struct Field {
    name: String,
    ty: String,
    /// Index of the velocity field that advances this one.
    predict: Option<usize>,
}

struct Fields(Vec<Field>);

impl Fields {
    /// The fields as `GET /schema` describes them.
    fn from_description(entity: &Value) -> Fields {
        let raw = entity["fields"].as_array().expect("fields");
        let names: Vec<&str> = raw.iter().map(|f| f["name"].as_str().unwrap()).collect();
        Fields(
            raw.iter()
                .map(|f| Field {
                    name: f["name"].as_str().unwrap().to_owned(),
                    ty: f["type"].as_str().unwrap().to_owned(),
                    predict: f["predict"]
                        .as_str()
                        .map(|v| names.iter().position(|n| *n == v).expect("velocity")),
                })
                .collect(),
        )
    }

    fn of<E: Replicated>() -> Fields {
        Fields::from_description(&serde_json::to_value(E::description()).unwrap())
    }

    fn iter(&self) -> std::slice::Iter<'_, Field> {
        self.0.iter()
    }

    /// A state's field values in declaration order (booleans as 0 and 1).
    fn values<E: Serialize>(&self, state: &E) -> Vec<i128> {
        let json = serde_json::to_value(state).unwrap();
        self.iter().map(|f| number(&json[&f.name])).collect()
    }

    /// A delta's present fields, by the JSON object that lists only those.
    fn delta_values<D: Serialize>(&self, delta: &D) -> Vec<Option<i128>> {
        let json = serde_json::to_value(delta).unwrap();
        self.iter().map(|f| json.get(&f.name).map(number)).collect()
    }
}

fn number(value: &Value) -> i128 {
    match value {
        Value::Bool(b) => i128::from(*b),
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .expect("an integer"),
        other => panic!("not a field value: {other}"),
    }
}

impl Field {
    /// The field's bincode bytes, by its wire type.
    fn encode(&self, value: i128) -> Vec<u8> {
        let encoded = match self.ty.as_str() {
            "u8" => codec::encode(&(value as u8)),
            "i8" => codec::encode(&(value as i8)),
            "u16" => codec::encode(&(value as u16)),
            "i16" => codec::encode(&(value as i16)),
            "u32" => codec::encode(&(value as u32)),
            "i32" => codec::encode(&(value as i32)),
            "u64" => codec::encode(&(value as u64)),
            "i64" => codec::encode(&(value as i64)),
            "bool" => codec::encode(&(value != 0)),
            other => panic!("no example uses {other}"),
        };
        encoded.unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// The other generated blocks.
// ---------------------------------------------------------------------------------------------

fn subprotocols_block() -> String {
    let rows: Vec<String> = WireFormat::ALL
        .into_iter()
        .map(|format| {
            let (frames, encoding) = match format {
                WireFormat::Bincode => ("binary", "bincode 2, standard configuration ([§4](#4-the-bincode-encoding)) — compact, the default"),
                WireFormat::Json => ("text", "JSON, serde's default shape ([§5](#5-the-json-encoding)) — for browsers and scripts"),
            };
            format!("| `{}` | {frames} | {encoding} |", subprotocol::<ArenaSchema>(format))
        })
        .collect();
    format!(
        "| subprotocol (the arena) | frames | encoding |\n|---|---|---|\n{}",
        rows.join("\n")
    )
}

fn schema_block<S: Schema>() -> String {
    format!(
        "```json\n{}\n```",
        serde_json::to_string_pretty(&describe::<S>()).unwrap()
    )
}

/// The canonical text of the schema hash, as the document explains it.
fn canonical_text<S: Schema>() -> String {
    format!(
        "ticksync.v{ENVELOPE_VERSION};game={};entity={};layout={}",
        S::NAME,
        serde_json::to_string(&S::Entity::description()).unwrap(),
        S::LAYOUT
    )
}

fn schema_hash_block<S: Schema>() -> String {
    let hash = schema_hash::<S>();
    format!(
        "```text\n{}\n\nFNV-1a of those {} bytes = {hash:#010x}: hash \"{hash:08x}\"\n```",
        canonical_text::<S>(),
        canonical_text::<S>().len()
    )
}

/// The rows of §4's table: type, value as written, bytes as encoded.
fn varint_table() -> Vec<(&'static str, &'static str, String)> {
    fn row<T: Serialize>(
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
        row("u64", "31 (a delta mask)", 31u64),
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
        row("Option<u32>", "None", None::<u32>),
        row("Option<u32>", "Some(7)", Some(7u32)),
        row("Vec<u32>", "[8, 300]", vec![8u32, 300]),
        row("String", "\"ada\"", "ada".to_owned()),
    ]
}

fn varint_table_block() -> String {
    let rows: Vec<String> = varint_table()
        .into_iter()
        .map(|(ty, shown, bytes)| format!("| `{ty}` | {shown} | `{bytes}` |"))
        .collect();
    format!(
        "| type | value | bytes |\n|---|---|---|\n{}",
        rows.join("\n")
    )
}

fn json_block(side: Side) -> String {
    let lines: Vec<String> = examples()
        .into_iter()
        .filter(|example| example.message.side() == side)
        .map(|example| String::from_utf8(example.message.encode(WireFormat::Json)).unwrap())
        .collect();
    format!("```json\n{}\n```", lines.join("\n"))
}

fn values_tuple(values: &[i128]) -> String {
    let shown: Vec<String> = values.iter().map(i128::to_string).collect();
    format!("({})", shown.join(", "))
}

fn delta_views_block() -> String {
    let fields = Fields::of::<ArenaEntity>();
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let mut rows = vec![
        format!("| entity | {} |", names.join(" | ")),
        format!("|---|{}", "---|".repeat(names.len())),
    ];
    for (label, tick, view) in [
        ("baseline", DELTA_BASELINE_TICK, delta_baseline()),
        ("target", DELTA_TICK, delta_target()),
    ] {
        for entity in view {
            let values: Vec<String> = fields
                .values(&entity.state)
                .iter()
                .map(i128::to_string)
                .collect();
            rows.push(format!(
                "| {label} (tick {tick}) #{} | {} |",
                entity.id.0,
                values.join(" | ")
            ));
        }
    }
    rows.join("\n")
}

fn delta_steps_block() -> String {
    let fields = Fields::of::<ArenaEntity>();
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let ticks = DELTA_TICK - DELTA_BASELINE_TICK;
    let (baseline, target, snapshot) = (delta_baseline(), delta_target(), delta_snapshot());
    let mut lines = vec![format!(
        "`n` = {DELTA_TICK} − {DELTA_BASELINE_TICK} = {ticks}; states are {}.\n",
        values_tuple_names(&names)
    )];
    for old in &baseline {
        let id = old.id.0;
        let predicted = fields.values(&old.state.predict(ticks));
        let Some(new) = target.iter().find(|e| e.id == old.id) else {
            lines.push(format!("- #{id} left the view: `removed` lists it."));
            continue;
        };
        let wanted = fields.values(&new.state);
        if predicted == wanted {
            lines.push(format!(
                "- #{id} predicted {} is its state: not in the snapshot (a straight line costs nothing).",
                values_tuple(&predicted)
            ));
            continue;
        }
        let mut parts = Vec::new();
        let mut mask = 0u64;
        for (bit, field) in fields.iter().enumerate() {
            if predicted[bit] == wanted[bit] {
                continue;
            }
            mask |= 1 << bit;
            parts.push(if field.predict.is_some() {
                format!(
                    "`{}` {} − {} = {}",
                    field.name,
                    wanted[bit],
                    predicted[bit],
                    wanted[bit] - predicted[bit]
                )
            } else {
                format!("`{}` = {}", field.name, wanted[bit])
            });
        }
        lines.push(format!(
            "- #{id} predicted {}, actual {}: `changed` with mask {mask} = `{}` and {}.",
            values_tuple(&predicted),
            values_tuple(&wanted),
            binary(mask, fields.0.len()),
            parts.join(", ")
        ));
    }
    for new in target
        .iter()
        .filter(|e| !baseline.iter().any(|b| b.id == e.id))
    {
        lines.push(format!(
            "- #{} is new: `created` with its full state {}.",
            new.id.0,
            values_tuple(&fields.values(&new.state))
        ));
    }
    lines.push(String::new());
    lines.push(format!(
        "The view's checksum ([§8](#8-the-view-checksum)) is `{:#010x}` ({}), which the snapshot carries.",
        snapshot.checksum, snapshot.checksum
    ));
    lines.join("\n")
}

fn values_tuple_names(names: &[&str]) -> String {
    format!("({})", names.join(", "))
}

/// The bytes an entity's checksum covers, as §8 describes them: the id as a `u32`, then each
/// field in declaration order as its type's little-endian bytes (`bool` one byte).
fn documented_checksum_bytes(fields: &Fields, id: u32, values: &[i128]) -> Vec<u8> {
    let mut bytes = id.to_le_bytes().to_vec();
    for (field, value) in fields.iter().zip(values) {
        let width = doc_client::width(&field.ty);
        bytes.extend_from_slice(&(*value as u128).to_le_bytes()[..width]);
    }
    bytes
}

fn checksum_block() -> String {
    let fields = Fields::of::<ArenaEntity>();
    let mut lines = Vec::new();
    let mut view_bytes = Vec::new();
    for entity in full_view() {
        let values = fields.values(&entity.state);
        let shown: Vec<String> = fields
            .iter()
            .zip(&values)
            .map(|(f, v)| format!("{}={v}", f.name))
            .collect();
        let bytes = documented_checksum_bytes(&fields, entity.id.0, &values);
        let checksum = entity_checksum(entity.id, &entity.state);
        assert_eq!(fnv1a(&bytes), checksum, "§8's entity checksum bytes");
        lines.push(format!("#{:<3}{}", entity.id.0, shown.join(" ")));
        lines.push(format!("    bytes   {}", hex(&bytes)));
        lines.push(format!("    entity checksum {checksum:#010x}"));
        view_bytes.extend(checksum.to_le_bytes());
    }
    let checksum = view_checksum(&full_view());
    assert_eq!(fnv1a(&view_bytes), checksum, "§8's view checksum");
    lines.push(format!("view: FNV-1a over {}", hex(&view_bytes)));
    lines.push(format!("    view checksum {checksum:#010x} ({checksum})"));
    format!("```text\n{}\n```", lines.join("\n"))
}

/// FNV-1a 32 written from PROTOCOL.md §8 alone, independent of the crate's `Checksum`.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

// ---------------------------------------------------------------------------------------------
// A client written from the document alone: it knows the envelope and the generic rules of
// §4, §7 and §8, and learns the game's entity from `GET /schema`'s description.
// ---------------------------------------------------------------------------------------------

mod doc_client {
    use super::{Fields, Value};

    /// An entity: its id and its field values in declaration order (booleans 0 and 1).
    pub type Entity = (u32, Vec<i128>);

    #[derive(Debug, PartialEq)]
    pub struct Snapshot {
        pub tick: u32,
        pub baseline_tick: u32,
        pub last_input_seq: u32,
        pub input_margin_100us: i16,
        pub checksum: u32,
        pub created: Vec<Entity>,
        pub changed: Vec<(u32, Vec<Option<i128>>)>,
        pub removed: Vec<u32>,
    }

    /// Bytes of a field's type in the checksum; its range follows.
    pub fn width(ty: &str) -> usize {
        match ty {
            "u8" | "i8" | "bool" => 1,
            "u16" | "i16" => 2,
            "u32" | "i32" | "f32" => 4,
            "u64" | "i64" => 8,
            other => panic!("unknown wire type {other}"),
        }
    }

    fn signed(ty: &str) -> bool {
        ty.starts_with('i')
    }

    fn range(ty: &str) -> (i128, i128) {
        let bits = 8 * width(ty) as u32;
        match ty {
            "bool" => (0, 1),
            _ if signed(ty) => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
            _ => (0, (1i128 << bits) - 1),
        }
    }

    struct Reader<'a>(&'a [u8]);

    impl Reader<'_> {
        fn byte(&mut self) -> Result<u8, String> {
            let (first, rest) = self.0.split_first().ok_or("truncated")?;
            self.0 = rest;
            Ok(*first)
        }

        fn le(&mut self, n: usize) -> Result<u64, String> {
            let mut value = 0u64;
            for i in 0..n {
                value |= u64::from(self.byte()?) << (8 * i);
            }
            Ok(value)
        }

        /// §4: below 251 one byte; `fb` + 2 bytes, `fc` + 4, `fd` + 8.
        fn varint(&mut self) -> Result<u64, String> {
            match self.byte()? {
                b @ 0..=250 => Ok(u64::from(b)),
                251 => self.le(2),
                252 => self.le(4),
                253 => self.le(8),
                tag => Err(format!("bad varint tag {tag:#x}")),
            }
        }

        fn u32(&mut self) -> Result<u32, String> {
            u32::try_from(self.varint()?).map_err(|e| e.to_string())
        }

        fn value(&mut self, ty: &str) -> Result<i128, String> {
            Ok(match ty {
                "u8" => i128::from(self.byte()?),
                "i8" => i128::from(self.byte()? as i8),
                "bool" => match self.byte()? {
                    b @ (0 | 1) => i128::from(b),
                    b => return Err(format!("bad bool {b}")),
                },
                _ if signed(ty) => {
                    let z = self.varint()?;
                    i128::from((z >> 1) as i64 ^ -((z & 1) as i64))
                }
                _ => i128::from(self.varint()?),
            })
        }
    }

    /// Reads a bincode `Snapshot` frame (envelope variant 1).
    pub fn read_bincode(fields: &Fields, frame: &[u8]) -> Result<Snapshot, String> {
        let mut r = Reader(frame);
        if r.u32()? != 1 {
            return Err("not a Snapshot".into());
        }
        let (tick, baseline_tick, last_input_seq) = (r.u32()?, r.u32()?, r.u32()?);
        let input_margin_100us = i16::try_from(r.value("i16")?).map_err(|e| e.to_string())?;
        let checksum = r.u32()?;
        let mut created = Vec::new();
        for _ in 0..r.varint()? {
            let id = r.u32()?;
            let values = fields
                .iter()
                .map(|f| r.value(&f.ty))
                .collect::<Result<_, _>>()?;
            created.push((id, values));
        }
        let mut changed = Vec::new();
        for _ in 0..r.varint()? {
            let id = r.u32()?;
            let mask = r.varint()?;
            if fields.0.len() < 64 && mask >> fields.0.len() != 0 {
                return Err(format!("mask {mask:#x} names unknown fields"));
            }
            let mut present = Vec::new();
            for (bit, field) in fields.iter().enumerate() {
                present.push(if mask & (1 << bit) != 0 {
                    Some(r.value(&field.ty)?)
                } else {
                    None
                });
            }
            changed.push((id, present));
        }
        let mut removed = Vec::new();
        for _ in 0..r.varint()? {
            removed.push(r.u32()?);
        }
        if !r.0.is_empty() {
            return Err("trailing bytes".into());
        }
        Ok(Snapshot {
            tick,
            baseline_tick,
            last_input_seq,
            input_margin_100us,
            checksum,
            created,
            changed,
            removed,
        })
    }

    /// Reads a JSON `Snapshot` text frame.
    pub fn read_json(fields: &Fields, text: &[u8]) -> Result<Snapshot, String> {
        let json: Value = serde_json::from_slice(text).map_err(|e| e.to_string())?;
        let s = &json["Snapshot"];
        let int = |v: &Value| super::number(v);
        let u32_of = |v: &Value| v.as_u64().map(|n| n as u32).ok_or("not a u32");
        let list = |v: &Value| v.as_array().cloned().ok_or("not a list");
        Ok(Snapshot {
            tick: u32_of(&s["tick"])?,
            baseline_tick: u32_of(&s["baseline_tick"])?,
            last_input_seq: u32_of(&s["last_input_seq"])?,
            input_margin_100us: s["input_margin_100us"]
                .as_i64()
                .and_then(|n| i16::try_from(n).ok())
                .ok_or("not an i16")?,
            checksum: u32_of(&s["checksum"])?,
            created: list(&s["created"])?
                .iter()
                .map(|e| {
                    Ok((
                        u32_of(&e["id"])?,
                        fields.iter().map(|f| int(&e["state"][&f.name])).collect(),
                    ))
                })
                .collect::<Result<_, &str>>()?,
            changed: list(&s["changed"])?
                .iter()
                .map(|e| {
                    Ok((
                        u32_of(&e["id"])?,
                        fields
                            .iter()
                            .map(|f| e["delta"].get(&f.name).map(int))
                            .collect(),
                    ))
                })
                .collect::<Result<_, &str>>()?,
            removed: list(&s["removed"])?
                .iter()
                .map(u32_of)
                .collect::<Result<_, _>>()?,
        })
    }

    /// §7: predict `n` ticks: a field with `predict` adds velocity × n, saturated to its range.
    pub fn predict(fields: &Fields, values: &[i128], n: u32) -> Vec<i128> {
        fields
            .iter()
            .zip(values)
            .map(|(field, value)| match field.predict {
                Some(velocity) => {
                    let (min, max) = range(&field.ty);
                    (value + values[velocity] * i128::from(n)).clamp(min, max)
                }
                None => *value,
            })
            .collect()
    }

    /// §7: a present predicted field adds its offset with wrap-around in its type's width; any
    /// other present field replaces the value.
    fn apply_delta(fields: &Fields, predicted: &[i128], delta: &[Option<i128>]) -> Vec<i128> {
        fields
            .iter()
            .zip(predicted.iter().zip(delta))
            .map(|(field, (value, present))| match (present, field.predict) {
                (None, _) => *value,
                (Some(new), None) => *new,
                (Some(offset), Some(_)) => {
                    let (min, _) = range(&field.ty);
                    let modulus = 1i128 << (8 * width(&field.ty));
                    (value + offset - min).rem_euclid(modulus) + min
                }
            })
            .collect()
    }

    /// §7's steps, on the view held for `baseline_tick`.
    pub fn apply(
        fields: &Fields,
        baseline: &[Entity],
        s: &Snapshot,
    ) -> Result<Vec<Entity>, String> {
        let strictly_increasing = |ids: &[u32]| ids.windows(2).all(|w| w[0] < w[1]);
        let created_ids: Vec<u32> = s.created.iter().map(|e| e.0).collect();
        let changed_ids: Vec<u32> = s.changed.iter().map(|e| e.0).collect();
        if !strictly_increasing(&created_ids)
            || !strictly_increasing(&changed_ids)
            || !strictly_increasing(&s.removed)
        {
            return Err("unsorted".into());
        }
        let n = if s.baseline_tick == 0 {
            0
        } else {
            s.tick - s.baseline_tick
        };
        let mut view = Vec::new();
        for (id, values) in baseline {
            let changed = s.changed.iter().find(|c| c.0 == *id);
            if s.removed.contains(id) {
                if changed.is_some() {
                    return Err(format!("#{id} both changed and removed"));
                }
                continue;
            }
            let predicted = predict(fields, values, n);
            view.push((
                *id,
                match changed {
                    Some((_, delta)) => apply_delta(fields, &predicted, delta),
                    None => predicted,
                },
            ));
        }
        for id in s.removed.iter().chain(&changed_ids) {
            if !baseline.iter().any(|e| e.0 == *id) {
                return Err(format!("#{id} is not in the baseline"));
            }
        }
        for created in &s.created {
            if baseline.iter().any(|e| e.0 == created.0) {
                return Err(format!("#{} created twice", created.0));
            }
            view.push(created.clone());
        }
        view.sort_by_key(|e| e.0);
        Ok(view)
    }

    /// §8: FNV-1a over the entity checksums, each over the id and the fields' bytes.
    pub fn view_checksum(fields: &Fields, view: &[Entity]) -> u32 {
        let mut bytes = Vec::new();
        for (id, values) in view {
            let entity = super::fnv1a(&super::documented_checksum_bytes(fields, *id, values));
            bytes.extend(entity.to_le_bytes());
        }
        super::fnv1a(&bytes)
    }
}

fn generic_view<E: Replicated>(fields: &Fields, view: &[Entity<E>]) -> Vec<doc_client::Entity> {
    view.iter()
        .map(|e| (e.id.0, fields.values(&e.state)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Prose checks.
// ---------------------------------------------------------------------------------------------

/// Collapses every run of whitespace to one space, so a phrase may wrap across lines.
fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn assert_in_doc(text: &str) {
    assert!(
        normalized(doc()).contains(&normalized(text)),
        "PROTOCOL.md lacks {text:?}"
    );
}

/// The content of the document's generated block `name`, as the document has it.
fn doc_block(name: &str) -> Option<String> {
    let begin = format!("{BEGIN}{name}{MARKER_TAIL}\n");
    let end = format!("\n{END}{name}{MARKER_TAIL}");
    let start = doc().find(&begin)? + begin.len();
    let length = doc()[start..].find(&end)?;
    Some(doc()[start..start + length].to_owned())
}

/// The document with every generated block's content removed: the hand-written prose.
fn prose() -> String {
    let mut out = Vec::new();
    let mut inside = false;
    for line in doc().lines() {
        if marker(line, BEGIN).is_some() {
            inside = true;
        } else if marker(line, END).is_some() {
            inside = false;
        } else if !inside {
            out.push(line);
        }
    }
    out.join("\n")
}

// ---------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------

#[test]
fn generated_blocks_are_current() {
    let document = document();
    assert!(
        document.broken.is_empty(),
        "PROTOCOL.md's generated blocks are out of shape (bless cannot fix this):\n  {}",
        document.broken.join("\n  ")
    );
    if !document.stale.is_empty() {
        let listed: Vec<String> = document
            .stale
            .iter()
            .map(|(name, difference)| format!("  {name}: {difference}"))
            .collect();
        panic!(
            "{} generated block(s) of PROTOCOL.md differ from what the encoder produces:\n{}\n\n\
             If the code is right (a deliberate protocol or schema change), regenerate them with\n\n    \
             {BLESS_COMMAND}\n\nand review the diff of PROTOCOL.md (its prose may need the same change).",
            document.stale.len(),
            listed.join("\n")
        );
    }
}

#[test]
fn bless_rewrites_only_what_is_between_the_markers() {
    let blocks = BTreeMap::from([("a", "\nnew\n".to_owned()), ("b", "\nsame\n".to_owned())]);
    let text = "prose\n<!-- BEGIN GENERATED a -->\n\nold\n\n<!-- END GENERATED a -->\nmore prose\n<!-- BEGIN GENERATED b -->\n\nsame\n\n<!-- END GENERATED b -->\n";
    let spliced = splice(text, &blocks);
    assert!(spliced.broken.is_empty(), "{:?}", spliced.broken);
    assert_eq!(spliced.stale.len(), 1);
    assert_eq!(spliced.stale[0].0, "a");
    assert_eq!(spliced.text, text.replace("old", "new"));
    // Blessing twice changes nothing more.
    let again = splice(&spliced.text, &blocks);
    assert!(again.stale.is_empty() && again.text == spliced.text);
    // What bless cannot fix is reported, not rewritten.
    let unknown = splice(
        "<!-- BEGIN GENERATED c -->\n<!-- END GENERATED c -->",
        &blocks,
    );
    assert_eq!(unknown.broken.len(), 3, "{:?}", unknown.broken);
    let unclosed = splice("<!-- BEGIN GENERATED a -->\nx\n", &blocks);
    assert!(unclosed.broken.iter().any(|p| p.contains("has no END")));
}

#[test]
fn every_example_round_trips_through_both_codecs() {
    for example in examples() {
        for format in WireFormat::ALL {
            let frame = example.message.encode(format);
            assert_eq!(
                example.message.decode_like(format, &frame),
                example.message,
                "{} in {format}",
                example.name
            );
            if example.message.side() == Side::Client {
                assert!(frame.len() <= format.max_client_message_bytes());
            }
        }
    }
}

#[test]
fn every_listing_in_the_document_adds_up_to_its_frame() {
    for example in examples() {
        let block = doc_block(example.name)
            .unwrap_or_else(|| panic!("PROTOCOL.md has no block {}", example.name));
        let (frame, annotated) = read_listing(&block);
        let encoded = example.message.encode(WireFormat::Bincode);
        assert_eq!(
            hex(&frame),
            hex(&encoded),
            "the frame of {} in PROTOCOL.md is not the encoder's",
            example.name
        );
        assert_eq!(
            hex(&annotated),
            hex(&encoded),
            "the annotated bytes of {} in PROTOCOL.md are not the encoder's",
            example.name
        );
        // The first line names the envelope variant, and §3's table agrees.
        let variant = frame[0];
        assert!(
            block.contains(&format!("variant {variant}: {}", example.variant)),
            "{}",
            example.name
        );
        assert_in_doc(&format!("| {variant} | `{}` |", example.variant));
    }
}

#[test]
fn no_bytes_or_json_outside_generated_blocks() {
    let prose = prose();
    for (index, span) in prose.split('`').enumerate() {
        let tokens: Vec<&str> = span.split(' ').collect();
        if index % 2 == 1 && tokens.len() >= 4 && tokens.iter().all(|t| is_hex_byte(t)) {
            panic!(
                "PROTOCOL.md shows bytes outside a generated block, which no test checks: `{span}`"
            );
        }
    }
    let mut in_json = false;
    for line in prose.lines() {
        match line {
            "```json" => in_json = true,
            "```" => in_json = false,
            _ if in_json && line.starts_with('{') => {
                panic!("PROTOCOL.md shows JSON outside a generated block: {line}")
            }
            _ => {}
        }
    }
}

#[test]
fn the_worked_delta_example_is_what_the_server_sends_and_the_client_applies() {
    let (baseline, target) = (delta_baseline(), delta_target());
    let ticks = DELTA_TICK - DELTA_BASELINE_TICK;
    let snapshot = delta_snapshot();
    // The example shows every kind of entry, and a mask that leaves fields out.
    assert!(!snapshot.created.is_empty() && !snapshot.removed.is_empty());
    assert_eq!(snapshot.changed.len(), 2);
    assert!(
        baseline.len() > snapshot.changed.len() + snapshot.removed.len(),
        "one as predicted"
    );
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
    // The document's client agrees, from the bytes and from the JSON.
    let fields = Fields::of::<ArenaEntity>();
    let message = ServerMessage::<ArenaSchema>::Snapshot(snapshot.clone());
    let generic_baseline = generic_view(&fields, &baseline);
    for format in WireFormat::ALL {
        let frame = format.encode(&message).unwrap();
        let read = match format {
            WireFormat::Bincode => doc_client::read_bincode(&fields, &frame),
            WireFormat::Json => doc_client::read_json(&fields, &frame),
        }
        .unwrap();
        let applied = doc_client::apply(&fields, &generic_baseline, &read).unwrap();
        assert_eq!(applied, generic_view(&fields, &target), "{format}");
        assert_eq!(doc_client::view_checksum(&fields, &applied), read.checksum);
    }
}

/// A small deterministic generator, so the cross-check needs no extra crate.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[self.next() as usize % choices.len()]
    }
}

#[test]
fn a_client_written_from_the_document_follows_any_schema() {
    // The test game's entity has a u8 and a bool besides a predicted position; extremes
    // exercise saturating prediction and wrapping offsets.
    let description = serde_json::to_value(describe::<TokenSchema>()).unwrap();
    let fields = Fields::from_description(&description["entity"]);
    let mut rng = Lcg(12);
    let coordinates = [0, 5, -7, 1000, -64000, i32::MAX - 3, i32::MIN + 2];
    let velocities = [0, 1, -1, 640, -640, i16::MAX, i16::MIN];
    let token = |rng: &mut Lcg| Token {
        x: rng.pick(&coordinates),
        y: rng.pick(&coordinates),
        dx: rng.pick(&velocities),
        dy: rng.pick(&velocities),
        hp: rng.pick(&[0, 1, 99, 255]),
        down: rng.pick(&[false, true]),
    };
    for round in 0..300 {
        let ticks = rng.pick(&[1u32, 2, 3, 29]);
        let mut baseline = Vec::new();
        let mut target = Vec::new();
        for id in 1..=8u32 {
            let in_baseline = rng.next() % 4 != 0;
            let in_target = rng.next() % 4 != 0;
            let old = token(&mut rng);
            if in_baseline {
                baseline.push(Entity {
                    id: EntityId(id),
                    state: old.clone(),
                });
            }
            if in_target {
                let state = match (in_baseline, rng.next() % 3) {
                    (true, 0) => old.predict(ticks),
                    (true, 1) => Token {
                        hp: old.hp.wrapping_add(1),
                        ..old.predict(ticks)
                    },
                    _ => token(&mut rng),
                };
                target.push(Entity {
                    id: EntityId(id),
                    state,
                });
            }
        }
        let mut delta = Delta::default();
        diff(&baseline, &target, ticks, &mut delta);
        let message = ServerMessage::<TokenSchema>::Snapshot(Snapshot {
            tick: 100 + ticks,
            baseline_tick: 100,
            last_input_seq: round,
            input_margin_100us: 0,
            checksum: view_checksum(&target),
            created: delta.created,
            changed: delta.changed,
            removed: delta.removed,
        });
        for format in WireFormat::ALL {
            let frame = format.encode(&message).unwrap();
            let read = match format {
                WireFormat::Bincode => doc_client::read_bincode(&fields, &frame),
                WireFormat::Json => doc_client::read_json(&fields, &frame),
            }
            .unwrap();
            let applied = doc_client::apply(&fields, &generic_view(&fields, &baseline), &read)
                .unwrap_or_else(|error| panic!("round {round} {format}: {error}"));
            assert_eq!(
                applied,
                generic_view(&fields, &target),
                "round {round} {format}"
            );
            assert_eq!(doc_client::view_checksum(&fields, &applied), read.checksum);
        }
    }
}

#[test]
fn the_checksum_and_hash_examples_hold() {
    let snapshot = full_snapshot();
    let fields = Fields::of::<ArenaEntity>();
    assert_eq!(
        doc_client::view_checksum(&fields, &generic_view(&fields, &snapshot.created)),
        snapshot.checksum
    );
    assert_eq!(view_checksum::<ArenaEntity>(&[]), 0x811c_9dc5);
    assert_in_doc("An empty view's checksum is the offset basis, `0x811c9dc5`");
    for (text, hash) in [("a", 0xe40c_292cu32), ("foobar", 0xbf9c_f968)] {
        let mut checksum = Checksum::new();
        checksum.write_bytes(text.as_bytes());
        assert_eq!(checksum.finish(), hash);
        assert_eq!(fnv1a(text.as_bytes()), hash);
        assert_in_doc(&format!("`{text}` → `{hash:#010x}`"));
    }
    // The schema hash is FNV-1a over the canonical text the document shows, for any game.
    assert_eq!(
        fnv1a(canonical_text::<ArenaSchema>().as_bytes()),
        schema_hash::<ArenaSchema>()
    );
    assert_eq!(
        fnv1a(canonical_text::<TokenSchema>().as_bytes()),
        schema_hash::<TokenSchema>()
    );
    assert_eq!(layout_hash("a"), 0xe40c_292c);
}

#[test]
fn the_description_format_is_documented() {
    let description = serde_json::to_value(describe::<ArenaSchema>()).unwrap();
    for key in description.as_object().unwrap().keys() {
        assert_in_doc(&format!("| `{key}` |"));
    }
    for key in description["entity"].as_object().unwrap().keys() {
        assert_in_doc(&format!("| `entity.{key}` |"));
    }
    for key in ["name", "type", "predict", "interest"] {
        assert_in_doc(&format!("| `entity.fields[].{key}` |"));
    }
    for ty in [
        WireType::U8,
        WireType::I8,
        WireType::U16,
        WireType::I16,
        WireType::U32,
        WireType::I32,
        WireType::U64,
        WireType::I64,
        WireType::Bool,
        WireType::F32,
    ] {
        let name = serde_json::to_value(ty).unwrap();
        assert_in_doc(&format!("| `{}` |", name.as_str().unwrap()));
    }
    assert_in_doc(&format!(
        "`ticksync.v{ENVELOPE_VERSION}.<game>.<hash>.<codec>`"
    ));
}

#[test]
fn the_decoder_behaves_as_documented() {
    type Arena = ClientMessage<ArenaSchema>;
    let decode = |hex: &str| {
        let bytes: Vec<u8> = hex
            .split(' ')
            .map(|t| u8::from_str_radix(t, 16).unwrap())
            .collect();
        codec::decode_client_message::<ArenaSchema>(&bytes)
    };
    // A longer varint than needed is accepted; a tag wider than the type is not.
    assert_eq!(decode("fb 04 00").unwrap(), Arena::Leave);
    assert_in_doc("(`fb 04 00` reads as 4)");
    assert!(decode("00 fc 02 00 00 00 00").is_err(), "fc for a u16");
    assert!(
        decode("03 fd 05 00 00 00 00 00 00 00").is_err(),
        "fd for a u32"
    );
    assert!(decode("03 ff").is_err());
    // Invalid UTF-8, trailing bytes.
    assert!(decode("00 02 01 ff").is_err());
    assert!(decode("04 00").is_err());
    // A game without client messages: `Message` never decodes.
    assert!(decode("06").is_err() && decode("06 00").is_err());
    // A delta mask naming a field the entity does not have.
    let bad_mask = [1u8, 5, 4, 0, 1, 0, 1, 7, 0x20, 0, 0];
    assert!(codec::decode_server_message::<ArenaSchema>(&bad_mask).is_err());
    let fields = Fields::of::<ArenaEntity>();
    assert!(doc_client::read_bincode(&fields, &bad_mask).is_err());
    // JSON: any key order, whitespace and unknown keys; integers only; every field required.
    let json = |text: &str| WireFormat::Json.decode_client_message::<ArenaSchema>(text.as_bytes());
    assert_eq!(
        json(r#" { "Ack" : { "extra" : 1, "tick" : 5 } } "#).unwrap(),
        Arena::Ack(Ack { tick: 5 })
    );
    assert!(json(r#"{"Ack":{"tick":5.0}}"#).is_err());
    assert!(json(r#"{"Ack":{}}"#).is_err());
    // A JSON delta with an unknown or repeated field is refused.
    let server =
        |text: &str| WireFormat::Json.decode_server_message::<ArenaSchema>(text.as_bytes());
    let snapshot = |delta: &str| {
        format!(
            r#"{{"Snapshot":{{"tick":2,"baseline_tick":1,"last_input_seq":0,"input_margin_100us":0,"checksum":0,"created":[],"changed":[{{"id":1,"delta":{delta}}}],"removed":[]}}}}"#
        )
    };
    assert!(server(&snapshot(r#"{"x":1}"#)).is_ok());
    assert!(server(&snapshot(r#"{"z":1}"#)).is_err());
    assert!(server(&snapshot(r#"{"x":1,"x":2}"#)).is_err());
    // An i8 is a raw byte: -128 is legal on the wire and read as -127.
    assert_eq!(
        MoveDir { x: -128, y: 0 }.to_unit_vector(),
        MoveDir { x: -127, y: 0 }.to_unit_vector()
    );
}

#[test]
fn limits_and_constants_are_the_documented_ones() {
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
    assert_in_doc(&format!(
        "up to {} MiB (bincode) and {} MiB (JSON)",
        MAX_SERVER_MESSAGE_BYTES >> 20,
        MAX_SERVER_JSON_MESSAGE_BYTES >> 20
    ));
    // The largest bincode arena entity, as §2 says.
    let widest = arena(u32::MAX, i32::MIN, i32::MIN, i16::MIN, i16::MIN, u16::MAX);
    let bytes = codec::encode(&widest).unwrap().len();
    assert_in_doc(&format!("at most {bytes} bytes each in bincode"));
    // The arena's units.
    let description = ArenaEntity::description();
    assert_in_doc(&format!("`position_scale` {}", description.position_scale));
    assert_eq!(ArenaSchema::NAME, "arena");
    assert_in_doc(&format!("`{}`", ArenaSchema::LAYOUT));
}

#[test]
fn the_code_tables_match_the_code() {
    // Error codes: 1 to 20 are named, the next is unknown to this build.
    for number in 1..=20u16 {
        let code = ErrorCode::from(number);
        assert!(!matches!(code, ErrorCode::Other(_)), "{number}");
        assert_eq!(code.as_u16(), number);
        assert_in_doc(&format!("| {number} | `{code:?}` |"));
    }
    assert_eq!(ErrorCode::from(21), ErrorCode::Other(21));
    // The error → close code table lives once, in `ErrorCode::close_code`: each error's row
    // names its close code, and each close code's row names the errors sent with it.
    for code in ErrorCode::known() {
        let number = code.as_u16();
        let close = code.close_code().expect("a known code has a close code");
        let row_start = format!("| {number} | `{}` |", code.name());
        let row = doc()
            .lines()
            .find(|line| line.starts_with(&row_start))
            .unwrap_or_else(|| panic!("PROTOCOL.md §9 has no row {row_start:?}"));
        assert!(
            row.ends_with(&format!("({close}) |")) || row.ends_with(&format!("(close {close}) |")),
            "PROTOCOL.md §9: error {number} is sent with close {close}, its row says otherwise: {row}"
        );
        let close_row = doc()
            .lines()
            .find(|line| line.starts_with(&format!("| {close} | ")))
            .unwrap_or_else(|| panic!("PROTOCOL.md §9 has no row for close code {close}"));
        assert!(
            close_row.contains(&format!("`Error` {number}")),
            "PROTOCOL.md §9: close {close}'s row does not name `Error` {number}: {close_row}"
        );
    }
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
        (close_code::JOIN_REFUSED, "Join refused"),
        (close_code::KICKED, "Kicked"),
        (close_code::ROOM_ENDED, "Room ended"),
    ] {
        assert_in_doc(&format!("| {code} | {name} |"));
    }
}
