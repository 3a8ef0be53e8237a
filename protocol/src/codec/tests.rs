//! Codec tests over the test schema ([`crate::testing`]), against both wire formats: the
//! codecs must agree on every message, every limit and every refusal, and the derived
//! deltas must encode only what changed.

use super::*;
use crate::messages::*;
use crate::testing::{
    Token, TokenClientMessage, TokenDelta, TokenInput, TokenSchema, TokenServerMessage,
};
use proptest::prelude::*;

type Client = ClientMessage<TokenSchema>;
type Server = ServerMessage<TokenSchema>;

fn token(id: u32, x: i32, hp: u8) -> Entity<Token> {
    Entity {
        id: EntityId(id),
        state: Token {
            x,
            y: -5,
            dx: 1200,
            dy: -1200,
            hp,
            down: false,
        },
    }
}

fn sample_changes() -> Vec<Changed<Token>> {
    vec![
        Changed {
            id: EntityId(5),
            delta: TokenDelta {
                x: Some(-3),
                y: Some(12),
                dy: Some(640),
                ..TokenDelta::default()
            },
        },
        Changed {
            id: EntityId(6),
            delta: TokenDelta {
                down: Some(true),
                ..TokenDelta::default()
            },
        },
    ]
}

fn every_client_message() -> Vec<Client> {
    vec![
        ClientMessage::Hello(Hello {
            protocol_version: crate::PROTOCOL_VERSION,
            player_name: "bot-1".into(),
        }),
        ClientMessage::Input(Input {
            seq: 1,
            ack_tick: 77,
            payload: TokenInput {
                thrust: -127,
                fire: true,
            },
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
        ClientMessage::Message(TokenClientMessage::Say("gg".into())),
        ClientMessage::Message(TokenClientMessage::Ready),
    ]
}

fn every_server_message() -> Vec<Server> {
    vec![
        ServerMessage::Welcome(Welcome {
            player_id: PlayerId(3),
            entity_id: Some(EntityId(7)),
            tick_rate_hz: 30,
            tick: 12345,
            resume_token: "0123456789abcdef0123456789abcdef".into(),
            resumed: false,
        }),
        ServerMessage::Snapshot(Snapshot {
            tick: 99,
            baseline_tick: 97,
            last_input_seq: 42,
            input_margin_100us: -12,
            checksum: 0xdead_beef,
            created: vec![token(1, 64_000, 3), token(300, 0, 255)],
            changed: sample_changes(),
            removed: vec![EntityId(2), EntityId(1000)],
        }),
        ServerMessage::Pong(Pong {
            client_time_us: 17,
            server_tick: 4,
        }),
        ServerMessage::Error(ErrorMessage {
            code: ErrorCode::Kicked,
            message: "afk".into(),
        }),
        ServerMessage::Message(TokenServerMessage::Said {
            from: PlayerId(2),
            text: "hi".into(),
        }),
        ServerMessage::Message(TokenServerMessage::Scored(9)),
    ]
}

#[test]
fn every_message_round_trips_in_both_formats() {
    for format in WireFormat::ALL {
        for message in every_client_message() {
            let bytes = format.encode(&message).unwrap();
            assert!(bytes.len() <= format.max_client_message_bytes());
            assert_eq!(
                format.decode_client_message::<TokenSchema>(&bytes).unwrap(),
                message,
                "{format}"
            );
        }
        for message in every_server_message() {
            let bytes = format.encode(&message).unwrap();
            assert_eq!(
                format.decode_server_message::<TokenSchema>(&bytes).unwrap(),
                message,
                "{format}"
            );
        }
    }
}

#[test]
fn a_delta_carries_a_field_mask_and_only_the_changed_fields() {
    // bincode: mask 0b100000 (field 5, `down`), then the one value.
    let down = TokenDelta {
        down: Some(true),
        ..TokenDelta::default()
    };
    assert_eq!(encode(&down).unwrap(), vec![0b10_0000, 1]);
    // x (bit 0) and hp (bit 4): zigzag varints for i32, a plain byte for u8.
    let moved = TokenDelta {
        x: Some(-3),
        hp: Some(200),
        ..TokenDelta::default()
    };
    assert_eq!(encode(&moved).unwrap(), vec![0b1_0001, 5, 200]);
    // JSON: an object of the present fields.
    assert_eq!(
        serde_json::to_string(&moved).unwrap(),
        r#"{"x":-3,"hp":200}"#
    );
    let back: TokenDelta = serde_json::from_str(r#"{"hp":200,"x":-3}"#).unwrap();
    assert_eq!(back, moved);
}

#[test]
fn malformed_deltas_are_refused() {
    // A mask bit beyond the six fields.
    assert!(decode_bounded::<TokenDelta, 64, 256>(&[0b100_0000]).is_err());
    // A mask that promises a value the frame does not have.
    assert!(decode_bounded::<TokenDelta, 64, 256>(&[0b1]).is_err());
    for json in [
        r#"{"hp":1,"hp":2}"#,
        r#"{"speed":1}"#,
        r#"{"hp":300}"#,
        r#"[1,2]"#,
    ] {
        assert!(serde_json::from_str::<TokenDelta>(json).is_err(), "{json}");
    }
}

#[test]
fn json_frames_are_text_in_serdes_default_shape() {
    let input: Client = ClientMessage::Input(Input {
        seq: 3,
        ack_tick: 10,
        payload: TokenInput {
            thrust: 5,
            fire: false,
        },
    });
    let text = String::from_utf8(WireFormat::Json.encode(&input).unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"Input":{"seq":3,"ack_tick":10,"payload":{"thrust":5,"fire":false}}}"#
    );
    let leave = String::from_utf8(WireFormat::Json.encode(&Client::Leave).unwrap()).unwrap();
    assert_eq!(leave, r#""Leave""#);
}

#[test]
fn a_game_without_client_messages_refuses_them() {
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    struct Silent;
    impl crate::Schema for Silent {
        const NAME: &'static str = "silent";
        const LAYOUT: &'static str = "";
        type Entity = Token;
        type Input = TokenInput;
        type ClientMessage = crate::NoMessage;
        type ServerMessage = crate::NoMessage;
    }
    let chat = encode(&ClientMessage::<TokenSchema>::Message(
        TokenClientMessage::Ready,
    ))
    .unwrap();
    assert!(decode_client_message::<Silent>(&chat).is_err());
    assert!(WireFormat::Json
        .decode_client_message::<Silent>(br#"{"Message":"Ready"}"#)
        .is_err());
}

fn snapshot_from_parts(
    header: SnapshotHeader,
    created: Vec<Entity<Token>>,
    changed: Vec<Changed<Token>>,
    removed: Vec<EntityId>,
) -> Server {
    ServerMessage::Snapshot(Snapshot {
        tick: header.tick,
        baseline_tick: header.baseline_tick,
        last_input_seq: header.last_input_seq,
        input_margin_100us: header.input_margin_100us,
        checksum: header.checksum,
        created,
        changed,
        removed,
    })
}

#[test]
fn truncated_and_trailing_frames_are_errors() {
    for message in every_server_message() {
        let bytes = encode(&message).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                decode_server_message::<TokenSchema>(&bytes[..cut]).is_err(),
                "{message:?} cut at {cut}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(
            decode_server_message::<TokenSchema>(&long),
            Err(CodecError::TrailingBytes { .. })
        ));
    }
}

#[test]
fn oversized_frames_are_refused_before_decoding() {
    let frame = vec![0u8; MAX_CLIENT_MESSAGE_BYTES + 1];
    assert!(matches!(
        decode_client_message::<TokenSchema>(&frame),
        Err(CodecError::TooLarge { .. })
    ));
    let text = vec![b' '; MAX_CLIENT_JSON_MESSAGE_BYTES + 1];
    assert!(matches!(
        WireFormat::Json.decode_client_message::<TokenSchema>(&text),
        Err(CodecError::TooLarge { .. })
    ));
}

fn arb_token() -> impl Strategy<Value = Entity<Token>> {
    (
        any::<u32>(),
        any::<i32>(),
        any::<i32>(),
        any::<i16>(),
        any::<i16>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(id, x, y, dx, dy, hp, down)| Entity {
            id: EntityId(id),
            state: Token {
                x,
                y,
                dx,
                dy,
                hp,
                down,
            },
        })
}

fn arb_change() -> impl Strategy<Value = Changed<Token>> {
    (
        any::<u32>(),
        (
            any::<Option<i32>>(),
            any::<Option<i32>>(),
            any::<Option<i16>>(),
        ),
        (
            any::<Option<i16>>(),
            any::<Option<u8>>(),
            any::<Option<bool>>(),
        ),
    )
        .prop_map(|(id, (x, y, dx), (dy, hp, down))| Changed {
            id: EntityId(id),
            delta: TokenDelta {
                x,
                y,
                dx,
                dy,
                hp,
                down,
            },
        })
}

fn arb_client_message() -> impl Strategy<Value = Client> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), any::<i8>(), any::<bool>()).prop_map(
            |(seq, ack_tick, thrust, fire)| {
                ClientMessage::Input(Input {
                    seq,
                    ack_tick,
                    payload: TokenInput { thrust, fire },
                })
            }
        ),
        ".{0,64}".prop_map(|text| ClientMessage::Message(TokenClientMessage::Say(text))),
        any::<u32>().prop_map(|tick| ClientMessage::Ack(Ack { tick })),
    ]
}

fn arb_server_message() -> impl Strategy<Value = Server> {
    prop_oneof![
        (
            any::<(u32, u32, u32, i16, u32)>(),
            proptest::collection::vec(arb_token(), 0..32),
            proptest::collection::vec(arb_change(), 0..16),
            proptest::collection::vec(any::<u32>(), 0..16)
        )
            .prop_map(
                |(
                    (tick, baseline_tick, last_input_seq, input_margin_100us, checksum),
                    created,
                    changed,
                    removed,
                )| {
                    snapshot_from_parts(
                        SnapshotHeader {
                            tick,
                            baseline_tick,
                            last_input_seq,
                            input_margin_100us,
                            checksum,
                        },
                        created,
                        changed,
                        removed.into_iter().map(EntityId).collect(),
                    )
                }
            ),
        (any::<u32>(), ".{0,64}").prop_map(|(from, text)| ServerMessage::Message(
            TokenServerMessage::Said {
                from: PlayerId(from),
                text
            }
        )),
        (any::<u16>(), ".{0,64}").prop_map(|(code, message)| ServerMessage::Error(ErrorMessage {
            code: ErrorCode::from(code),
            message
        })),
    ]
}

proptest! {
    #[test]
    fn client_messages_round_trip(message in arb_client_message()) {
        for format in WireFormat::ALL {
            let bytes = format.encode(&message).unwrap();
            prop_assert_eq!(format.decode_client_message::<TokenSchema>(&bytes).unwrap(), message.clone());
        }
    }

    #[test]
    fn server_messages_round_trip(message in arb_server_message()) {
        for format in WireFormat::ALL {
            let bytes = format.encode(&message).unwrap();
            prop_assert_eq!(format.decode_server_message::<TokenSchema>(&bytes).unwrap(), message.clone());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for format in WireFormat::ALL {
            let _ = format.decode_client_message::<TokenSchema>(&bytes);
            let _ = format.decode_server_message::<TokenSchema>(&bytes);
        }
    }

    #[test]
    fn arbitrary_json_text_never_panics(text in "[{}\\[\\]\":,0-9a-zA-Z_ -]{0,256}") {
        let _ = WireFormat::Json.decode_client_message::<TokenSchema>(text.as_bytes());
        let _ = WireFormat::Json.decode_server_message::<TokenSchema>(text.as_bytes());
    }

    #[test]
    fn shared_encoding_always_matches(header in any::<(u32, u32, u32, i16, u32)>(),
                                      created in proptest::collection::vec(arb_token(), 0..32),
                                      changed in proptest::collection::vec(arb_change(), 0..8)) {
        let (tick, baseline_tick, last_input_seq, input_margin_100us, checksum) = header;
        let header = SnapshotHeader { tick, baseline_tick, last_input_seq, input_margin_100us, checksum };
        let body = EncodedBody::new(&created, &changed, &[]).unwrap();
        let mut framed = Vec::new();
        encode_snapshot(header, &body, &mut framed).unwrap();
        let plain = encode(&snapshot_from_parts(header, created, changed, vec![])).unwrap();
        prop_assert_eq!(framed, plain);
    }
}
