//! The byte format of every message, defined in one place: bincode 2 with its standard
//! configuration (little-endian, variable-length integers), one message per WebSocket frame.
//! The same messages also travel as JSON text frames ([`WireFormat::Json`], subprotocol
//! [`crate::SUBPROTOCOL_JSON`]) for clients without a bincode decoder: same types, same
//! semantics, serde's default JSON representation.
//!
//! Every decode is bounded — the input length is checked against a per-direction limit before
//! bincode sees it, and bincode's own allocation limit is set to the same value — and every
//! failure is a [`CodecError`], never a panic. A frame must hold exactly one message:
//! trailing bytes are an error, so two peers can never disagree about where a message ends.

use bincode::config::{self, Configuration};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::game_state::{EntityDelta, EntityState};
use crate::messages::{ClientMessage, EntityId, InputSeq, ServerMessage, Tick};

/// Largest client message accepted. A `Hello` with the longest name is under 50 bytes and an
/// `Input` under 20; 1 KiB leaves room for growth without letting a peer make the server
/// parse much.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 1024;

/// Largest server message a client accepts: a full snapshot of 100,000 arena entities at the
/// worst-case 24 bytes each fits, with margin.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("message is {actual} bytes; the limit is {limit}")]
    TooLarge { actual: usize, limit: usize },
    #[error("message has {extra} unexpected trailing bytes after {consumed}")]
    TrailingBytes { consumed: usize, extra: usize },
    #[error("malformed message: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("could not encode message: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("malformed JSON message: {0}")]
    Json(#[from] serde_json::Error),
}

/// Largest client message accepted on the JSON codec. JSON spells numbers and field names
/// out, so the same messages are a few times larger than in bincode: an `Input` is about 80
/// bytes, a `Hello` with the longest name about 100.
pub const MAX_CLIENT_JSON_MESSAGE_BYTES: usize = 2 * 1024;

/// Largest server message a JSON client accepts (a full snapshot of 100,000 entities at about
/// 70 bytes each fits).
pub const MAX_SERVER_JSON_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// The two encodings of the protocol, chosen per connection by the WebSocket subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// bincode 2, binary frames: [`crate::SUBPROTOCOL_BINCODE`]. The compact default.
    Bincode,
    /// JSON, text frames: [`crate::SUBPROTOCOL_JSON`]. For browsers and scripts.
    Json,
}

impl WireFormat {
    /// Every format, in the server's order of preference.
    pub const ALL: [WireFormat; 2] = [WireFormat::Bincode, WireFormat::Json];

    /// The WebSocket subprotocol that selects this format.
    pub fn subprotocol(self) -> &'static str {
        match self {
            WireFormat::Bincode => crate::SUBPROTOCOL_BINCODE,
            WireFormat::Json => crate::SUBPROTOCOL_JSON,
        }
    }

    /// The format a subprotocol name selects, if any.
    pub fn from_subprotocol(name: &str) -> Option<WireFormat> {
        WireFormat::ALL
            .into_iter()
            .find(|format| format.subprotocol() == name)
    }

    /// Whether frames of this format are WebSocket text frames (else binary).
    pub fn uses_text_frames(self) -> bool {
        self == WireFormat::Json
    }

    /// Encodes a message; for [`WireFormat::Json`] the bytes are UTF-8 text.
    pub fn encode<M: Serialize>(self, message: &M) -> Result<Vec<u8>, CodecError> {
        match self {
            WireFormat::Bincode => encode(message),
            WireFormat::Json => Ok(serde_json::to_vec(message)?),
        }
    }

    /// Decodes one client message from a whole frame payload, bounded like
    /// [`decode_client_message`].
    pub fn decode_client_message(self, frame: &[u8]) -> Result<ClientMessage, CodecError> {
        match self {
            WireFormat::Bincode => decode_client_message(frame),
            WireFormat::Json => decode_json::<ClientMessage>(frame, MAX_CLIENT_JSON_MESSAGE_BYTES),
        }
    }

    /// Decodes one server message from a whole frame payload.
    pub fn decode_server_message(self, frame: &[u8]) -> Result<ServerMessage, CodecError> {
        match self {
            WireFormat::Bincode => decode_server_message(frame),
            WireFormat::Json => decode_json::<ServerMessage>(frame, MAX_SERVER_JSON_MESSAGE_BYTES),
        }
    }

    /// Largest client message this format accepts.
    pub fn max_client_message_bytes(self) -> usize {
        match self {
            WireFormat::Bincode => MAX_CLIENT_MESSAGE_BYTES,
            WireFormat::Json => MAX_CLIENT_JSON_MESSAGE_BYTES,
        }
    }
}

impl std::fmt::Display for WireFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.subprotocol())
    }
}

/// serde_json allocates in proportion to its input and refuses trailing non-whitespace, so
/// the length check up front bounds the work like bincode's budget does.
fn decode_json<M: DeserializeOwned>(frame: &[u8], limit: usize) -> Result<M, CodecError> {
    if frame.len() > limit {
        return Err(CodecError::TooLarge {
            actual: frame.len(),
            limit,
        });
    }
    Ok(serde_json::from_slice(frame)?)
}

/// The one configuration every encode and decode uses.
fn wire_config() -> Configuration {
    config::standard()
}

/// Encodes any protocol message into a fresh buffer.
pub fn encode<M: Serialize>(message: &M) -> Result<Vec<u8>, CodecError> {
    Ok(bincode::serde::encode_to_vec(message, wire_config())?)
}

/// Appends the encoding of `message` to `out` and returns the number of bytes written.
pub fn encode_into<M: Serialize>(message: &M, out: &mut Vec<u8>) -> Result<usize, CodecError> {
    Ok(bincode::serde::encode_into_std_write(
        message,
        out,
        wire_config(),
    )?)
}

/// Decodes one client message from a whole frame.
pub fn decode_client_message(frame: &[u8]) -> Result<ClientMessage, CodecError> {
    decode_bounded::<ClientMessage, MAX_CLIENT_MESSAGE_BYTES, CLIENT_DECODE_BUDGET>(frame)
}

/// Decodes one server message from a whole frame.
pub fn decode_server_message(frame: &[u8]) -> Result<ServerMessage, CodecError> {
    decode_bounded::<ServerMessage, MAX_SERVER_MESSAGE_BYTES, SERVER_DECODE_BUDGET>(frame)
}

/// bincode's decode budget counts both the bytes it reads and the memory it reserves for
/// strings and lists, so a frame at the size limit needs more than its own length. Four
/// times the frame limit admits every frame within the limit while still bounding what a
/// hostile length prefix can make the decoder reserve.
const DECODE_BUDGET_FACTOR: usize = 4;
const CLIENT_DECODE_BUDGET: usize = MAX_CLIENT_MESSAGE_BYTES * DECODE_BUDGET_FACTOR;
const SERVER_DECODE_BUDGET: usize = MAX_SERVER_MESSAGE_BYTES * DECODE_BUDGET_FACTOR;

fn decode_bounded<M: DeserializeOwned, const LIMIT: usize, const BUDGET: usize>(
    frame: &[u8],
) -> Result<M, CodecError> {
    if frame.len() > LIMIT {
        return Err(CodecError::TooLarge {
            actual: frame.len(),
            limit: LIMIT,
        });
    }
    let (message, consumed) =
        bincode::serde::decode_from_slice(frame, wire_config().with_limit::<BUDGET>())?;
    if consumed != frame.len() {
        return Err(CodecError::TrailingBytes {
            consumed,
            extra: frame.len() - consumed,
        });
    }
    Ok(message)
}

/// The body of a snapshot — its created, changed and removed lists — encoded once and
/// shared by every client whose snapshot has the same body (in everyone-sees-everyone mode,
/// all clients that acknowledged the same baseline).
///
/// bincode lays a struct out as its fields in order with no framing, so a `Snapshot` frame is
/// `variant | tick | baseline_tick | last_input_seq | checksum | created | changed | removed`.
/// [`encode_snapshot`] writes the per-client header and appends this shared part, producing
/// exactly the bytes of `encode(&ServerMessage::Snapshot(..))` (a test holds it to that).
#[derive(Debug, Clone, Default)]
pub struct EncodedBody {
    bytes: Vec<u8>,
}

impl EncodedBody {
    /// Encodes the three lists of a snapshot body (each sorted by id).
    pub fn new(
        created: &[EntityState],
        changed: &[EntityDelta],
        removed: &[EntityId],
    ) -> Result<Self, CodecError> {
        Ok(EncodedBody {
            bytes: encode(&(created, changed, removed))?,
        })
    }

    /// Size of the shared part in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Index of `ServerMessage::Snapshot` among the enum's variants, as bincode writes it.
const SNAPSHOT_VARIANT: u32 = 1;

/// Whether a server frame encoded by this crate is a `Snapshot`, judged by its variant tag
/// alone (e.g. for a test hook that loses snapshots but not errors). Only for frames this
/// crate encoded: the decoder also accepts non-canonical varints (`fb 01 00` is variant 1
/// too), which this quick check does not recognise.
pub fn is_snapshot_frame(frame: &[u8]) -> bool {
    // Variant indices below 251 are a single varint byte.
    frame.first() == Some(&(SNAPSHOT_VARIANT as u8))
}

/// The per-client fields of a snapshot frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub tick: Tick,
    pub baseline_tick: Tick,
    pub last_input_seq: InputSeq,
    pub checksum: u32,
}

/// Longest encoding of a [`SnapshotHeader`] with its variant tag: five varints of at most
/// five bytes.
pub const SNAPSHOT_HEADER_MAX_BYTES: usize = 25;

/// Appends a complete `ServerMessage::Snapshot` frame for one client to `out`.
pub fn encode_snapshot(
    header: SnapshotHeader,
    body: &EncodedBody,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let SnapshotHeader {
        tick,
        baseline_tick,
        last_input_seq,
        checksum,
    } = header;
    encode_into(
        &(
            SNAPSHOT_VARIANT,
            tick,
            baseline_tick,
            last_input_seq,
            checksum,
        ),
        out,
    )?;
    out.extend_from_slice(&body.bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game_state::MoveDir;
    use crate::messages::*;
    use proptest::prelude::*;

    fn sample_entities() -> Vec<EntityState> {
        vec![
            EntityState {
                id: EntityId(1),
                x: 64_000,
                y: -5,
                vx: 1200,
                vy: -1200,
                heading: 8192,
            },
            EntityState {
                id: EntityId(300),
                x: 0,
                y: 128_000,
                vx: 0,
                vy: 0,
                heading: u16::MAX,
            },
        ]
    }

    fn sample_deltas() -> Vec<EntityDelta> {
        vec![
            EntityDelta {
                id: EntityId(5),
                position_offset: Some((-3, 12)),
                velocity: Some((0, 640)),
                heading: Some(16384),
            },
            EntityDelta {
                id: EntityId(6),
                position_offset: None,
                velocity: None,
                heading: Some(1),
            },
        ]
    }

    fn every_client_message() -> Vec<ClientMessage> {
        vec![
            ClientMessage::Hello(Hello {
                protocol_version: crate::PROTOCOL_VERSION,
                player_name: "bot-1".into(),
            }),
            ClientMessage::Input(Input {
                seq: 1,
                ack_tick: 77,
                move_dir: MoveDir { x: 127, y: -127 },
                buttons: 0b101,
            }),
            ClientMessage::Ack(Ack { tick: 12 }),
            ClientMessage::Ping(Ping {
                client_time_us: u64::MAX,
            }),
            ClientMessage::Leave,
            ClientMessage::Resume(Resume {
                protocol_version: crate::PROTOCOL_VERSION,
                resume_token: "0123456789abcdef0123456789abcdef".into(),
            }),
        ]
    }

    fn every_server_message() -> Vec<ServerMessage> {
        vec![
            ServerMessage::Welcome(Welcome {
                entity_id: EntityId(7),
                tick_rate_hz: 30,
                tick: 12345,
                world_size: WorldSize {
                    width: 2000,
                    height: 2000,
                },
                resume_token: "0123456789abcdef0123456789abcdef".into(),
                resumed: false,
            }),
            ServerMessage::Snapshot(Snapshot {
                tick: 99,
                baseline_tick: 97,
                last_input_seq: 42,
                checksum: 0xdead_beef,
                created: sample_entities(),
                changed: sample_deltas(),
                removed: vec![EntityId(2), EntityId(1000)],
            }),
            ServerMessage::Pong(Pong {
                client_time_us: 17,
                server_tick: 4,
            }),
            ServerMessage::Error(ErrorMessage {
                code: ErrorCode::UnsupportedProtocolVersion,
                message: "version 9 is not supported".into(),
            }),
        ]
    }

    // The message tests below run against both wire formats: the codecs must agree on
    // every message, every limit and every refusal.

    #[test]
    fn every_client_message_round_trips() {
        for format in WireFormat::ALL {
            for message in every_client_message() {
                let bytes = format.encode(&message).unwrap();
                assert!(bytes.len() <= format.max_client_message_bytes());
                assert_eq!(
                    format.decode_client_message(&bytes).unwrap(),
                    message,
                    "{format}"
                );
            }
        }
    }

    #[test]
    fn every_server_message_round_trips() {
        for format in WireFormat::ALL {
            for message in every_server_message() {
                let bytes = format.encode(&message).unwrap();
                assert_eq!(
                    format.decode_server_message(&bytes).unwrap(),
                    message,
                    "{format}"
                );
            }
        }
    }

    #[test]
    fn json_frames_are_text_in_serdes_default_shape() {
        let input = ClientMessage::Input(Input {
            seq: 3,
            ack_tick: 10,
            move_dir: MoveDir { x: 127, y: 0 },
            buttons: 0,
        });
        let text = String::from_utf8(WireFormat::Json.encode(&input).unwrap()).unwrap();
        assert_eq!(
            text,
            r#"{"Input":{"seq":3,"ack_tick":10,"move_dir":{"x":127,"y":0},"buttons":0}}"#
        );
        assert_eq!(
            String::from_utf8(WireFormat::Json.encode(&ClientMessage::Leave).unwrap()).unwrap(),
            r#""Leave""#
        );
        assert!(WireFormat::Json.uses_text_frames());
        assert!(!WireFormat::Bincode.uses_text_frames());
        for format in WireFormat::ALL {
            assert_eq!(
                WireFormat::from_subprotocol(format.subprotocol()),
                Some(format)
            );
        }
        assert_eq!(WireFormat::from_subprotocol("ticksync.v2.json"), None);
    }

    #[test]
    fn json_refuses_what_bincode_refuses() {
        // Unknown variants, wrong field types and missing fields are decode errors, never
        // defaults.
        for text in [
            r#"{"Teleport":{"x":1}}"#,
            r#"{"Ack":{"tick":-1}}"#,
            r#"{"Ack":{}}"#,
            r#"{"Input":{"seq":1,"ack_tick":0,"move_dir":{"x":300,"y":0},"buttons":0}}"#,
            "[]",
            "",
        ] {
            assert!(
                WireFormat::Json
                    .decode_client_message(text.as_bytes())
                    .is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn input_is_compact() {
        let input = ClientMessage::Input(Input {
            seq: 100,
            ack_tick: 200,
            move_dir: MoveDir { x: 90, y: -90 },
            buttons: 0,
        });
        // variant + seq + ack (one byte under 251) + two i8 + buttons: six bytes.
        assert_eq!(encode(&input).unwrap().len(), 6);
    }

    fn snapshot_from_parts(
        header: SnapshotHeader,
        created: Vec<EntityState>,
        changed: Vec<EntityDelta>,
        removed: Vec<EntityId>,
    ) -> ServerMessage {
        ServerMessage::Snapshot(Snapshot {
            tick: header.tick,
            baseline_tick: header.baseline_tick,
            last_input_seq: header.last_input_seq,
            checksum: header.checksum,
            created,
            changed,
            removed,
        })
    }

    #[test]
    fn shared_snapshot_encoding_matches_plain_encoding() {
        let header = SnapshotHeader {
            tick: u32::MAX,
            baseline_tick: u32::MAX - 1,
            last_input_seq: u32::MAX,
            checksum: u32::MAX,
        };
        let removed = vec![EntityId(9)];
        let body = EncodedBody::new(&sample_entities(), &sample_deltas(), &removed).unwrap();
        let mut framed = Vec::new();
        encode_snapshot(header, &body, &mut framed).unwrap();
        assert!(framed.len() <= SNAPSHOT_HEADER_MAX_BYTES + body.len());
        assert!(is_snapshot_frame(&framed));
        let pong = encode(&ServerMessage::Pong(Pong {
            client_time_us: 1,
            server_tick: 1,
        }))
        .unwrap();
        assert!(!is_snapshot_frame(&pong));
        let plain = encode(&snapshot_from_parts(
            header,
            sample_entities(),
            sample_deltas(),
            removed,
        ))
        .unwrap();
        assert_eq!(framed, plain);
    }

    #[test]
    fn truncated_frames_are_errors() {
        for format in WireFormat::ALL {
            for message in every_client_message() {
                let bytes = format.encode(&message).unwrap();
                for cut in 0..bytes.len() {
                    assert!(
                        format.decode_client_message(&bytes[..cut]).is_err(),
                        "{format}: {message:?} cut at {cut}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_frame_at_the_size_limit_decodes() {
        // Hello variant, version, then a name that fills the frame to exactly the limit.
        let mut name_len = MAX_CLIENT_MESSAGE_BYTES;
        loop {
            let hello = ClientMessage::Hello(Hello {
                protocol_version: 1,
                player_name: "n".repeat(name_len),
            });
            let bytes = encode(&hello).unwrap();
            if bytes.len() <= MAX_CLIENT_MESSAGE_BYTES {
                assert_eq!(bytes.len(), MAX_CLIENT_MESSAGE_BYTES);
                assert_eq!(decode_client_message(&bytes).unwrap(), hello);
                break;
            }
            name_len -= 1;
        }
    }

    #[test]
    fn trailing_bytes_are_errors() {
        let mut bytes = encode(&ClientMessage::Leave).unwrap();
        bytes.push(0);
        assert!(matches!(
            decode_client_message(&bytes),
            Err(CodecError::TrailingBytes { extra: 1, .. })
        ));
        let mut text = WireFormat::Json.encode(&ClientMessage::Leave).unwrap();
        text.extend_from_slice(b" \"Leave\"");
        assert!(WireFormat::Json.decode_client_message(&text).is_err());
    }

    #[test]
    fn oversized_frames_are_refused_before_decoding() {
        for format in WireFormat::ALL {
            let bytes = vec![b' '; format.max_client_message_bytes() + 1];
            assert!(matches!(
                format.decode_client_message(&bytes),
                Err(CodecError::TooLarge { .. })
            ));
        }
    }

    #[test]
    fn huge_declared_lengths_do_not_allocate_or_panic() {
        // Hello variant, version 1, then a string length of u64::MAX (varint tag 253).
        let mut bytes = vec![0u8, 1, 253];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_client_message(&bytes).is_err());
        // Snapshot with a claimed entity count of 2^32.
        let mut bytes = vec![1u8, 0, 0, 252];
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_server_message(&bytes).is_err());
    }

    fn arb_entity() -> impl Strategy<Value = EntityState> {
        (
            any::<u32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i16>(),
            any::<i16>(),
            any::<u16>(),
        )
            .prop_map(|(id, x, y, vx, vy, heading)| EntityState {
                id: EntityId(id),
                x,
                y,
                vx,
                vy,
                heading,
            })
    }

    fn arb_delta() -> impl Strategy<Value = EntityDelta> {
        (
            any::<u32>(),
            any::<Option<(i32, i32)>>(),
            any::<Option<(i16, i16)>>(),
            any::<Option<u16>>(),
        )
            .prop_map(|(id, position_offset, velocity, heading)| EntityDelta {
                id: EntityId(id),
                position_offset,
                velocity,
                heading,
            })
    }

    fn arb_client_message() -> impl Strategy<Value = ClientMessage> {
        prop_oneof![
            (any::<u16>(), "\\PC{0,32}").prop_map(|(protocol_version, player_name)| {
                ClientMessage::Hello(Hello {
                    protocol_version,
                    player_name,
                })
            }),
            (
                any::<u32>(),
                any::<u32>(),
                any::<i8>(),
                any::<i8>(),
                any::<u8>()
            )
                .prop_map(|(seq, ack_tick, x, y, buttons)| {
                    ClientMessage::Input(Input {
                        seq,
                        ack_tick,
                        move_dir: MoveDir { x, y },
                        buttons,
                    })
                }),
            any::<u32>().prop_map(|tick| ClientMessage::Ack(Ack { tick })),
            any::<u64>().prop_map(|client_time_us| ClientMessage::Ping(Ping { client_time_us })),
            Just(ClientMessage::Leave),
            (any::<u16>(), "[0-9a-f]{0,64}").prop_map(|(protocol_version, resume_token)| {
                ClientMessage::Resume(Resume {
                    protocol_version,
                    resume_token,
                })
            }),
        ]
    }

    fn arb_server_message() -> impl Strategy<Value = ServerMessage> {
        prop_oneof![
            (
                any::<u32>(),
                any::<u16>(),
                any::<u32>(),
                any::<u32>(),
                any::<u32>(),
                "[0-9a-f]{0,32}",
                any::<bool>()
            )
                .prop_map(
                    |(id, tick_rate_hz, tick, width, height, resume_token, resumed)| {
                        ServerMessage::Welcome(Welcome {
                            entity_id: EntityId(id),
                            tick_rate_hz,
                            tick,
                            world_size: WorldSize { width, height },
                            resume_token,
                            resumed,
                        })
                    }
                ),
            (
                any::<(u32, u32, u32, u32)>(),
                proptest::collection::vec(arb_entity(), 0..64),
                proptest::collection::vec(arb_delta(), 0..16),
                proptest::collection::vec(any::<u32>(), 0..16)
            )
                .prop_map(
                    |(
                        (tick, baseline_tick, last_input_seq, checksum),
                        created,
                        changed,
                        removed,
                    )| {
                        snapshot_from_parts(
                            SnapshotHeader {
                                tick,
                                baseline_tick,
                                last_input_seq,
                                checksum,
                            },
                            created,
                            changed,
                            removed.into_iter().map(EntityId).collect(),
                        )
                    }
                ),
            (any::<u64>(), any::<u32>()).prop_map(|(client_time_us, server_tick)| {
                ServerMessage::Pong(Pong {
                    client_time_us,
                    server_tick,
                })
            }),
            (any::<u16>(), ".{0,64}").prop_map(|(code, message)| {
                ServerMessage::Error(ErrorMessage {
                    code: ErrorCode::from(code),
                    message,
                })
            }),
        ]
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(message in arb_client_message()) {
            for format in WireFormat::ALL {
                let bytes = format.encode(&message).unwrap();
                prop_assert_eq!(format.decode_client_message(&bytes).unwrap(), message.clone());
            }
        }

        #[test]
        fn server_messages_round_trip(message in arb_server_message()) {
            for format in WireFormat::ALL {
                let bytes = format.encode(&message).unwrap();
                prop_assert_eq!(format.decode_server_message(&bytes).unwrap(), message.clone());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            for format in WireFormat::ALL {
                let _ = format.decode_client_message(&bytes);
                let _ = format.decode_server_message(&bytes);
            }
        }

        #[test]
        fn arbitrary_json_text_never_panics(text in "[{}\\[\\]\":,0-9a-zA-Z_ -]{0,256}") {
            let _ = WireFormat::Json.decode_client_message(text.as_bytes());
            let _ = WireFormat::Json.decode_server_message(text.as_bytes());
        }

        #[test]
        fn shared_encoding_always_matches(header in any::<(u32, u32, u32, u32)>(),
                                          created in proptest::collection::vec(arb_entity(), 0..32),
                                          changed in proptest::collection::vec(arb_delta(), 0..8)) {
            let (tick, baseline_tick, last_input_seq, checksum) = header;
            let header = SnapshotHeader { tick, baseline_tick, last_input_seq, checksum };
            let body = EncodedBody::new(&created, &changed, &[]).unwrap();
            let mut framed = Vec::new();
            encode_snapshot(header, &body, &mut framed).unwrap();
            let plain = encode(&snapshot_from_parts(header, created, changed, vec![])).unwrap();
            prop_assert_eq!(framed, plain);
        }
    }
}
