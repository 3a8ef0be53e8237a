//! Every message of the protocol: [`ClientMessage`] (client → server) and [`ServerMessage`]
//! (server → client), one WebSocket frame each (binary with bincode, text with JSON; see
//! [`crate::codec::WireFormat`]).
//!
//! A session goes: client `Hello` → server `Welcome` (or `Error` and close) → then, at the
//! room's tick rate, server `Snapshot`s while the client sends `Input`s; `Ping`/`Pong` at any
//! time after `Welcome`; the client ends with `Leave`, the server with `Error` and/or a close
//! code from [`crate::close_code`].

use serde::{Deserialize, Serialize};

pub use crate::ids::{EntityId, InputSeq, PlayerId, Tick};
use crate::replicated::Replicated;
use crate::schema::Schema;

/// Microseconds per unit of [`Snapshot::input_margin_100us`]: 0.1 ms, fine enough to aim an
/// input clock and small enough that a margin of a few milliseconds costs one byte.
pub const INPUT_MARGIN_UNIT_US: i64 = 100;

/// An entity with its id: what a full state in a snapshot and a held view hold. bincode
/// writes the id and then the state's fields; JSON `{"id":7,"state":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Entity<E: Replicated> {
    pub id: EntityId,
    pub state: E,
}

/// An entity's delta against its dead-reckoned baseline, with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Changed<E: Replicated> {
    pub id: EntityId,
    pub delta: E::Delta,
}

/// Messages a client sends. The variant order is the bincode tag: never reorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(bound = "")]
pub enum ClientMessage<S: Schema> {
    /// First message of every session.
    Hello(Hello),
    /// One input command; send one per tick.
    Input(Input<S::Input>),
    /// Round-trip measurement; answered with [`ServerMessage::Pong`].
    Ping(Ping),
    /// Acknowledges the last snapshot applied, for a client that is not sending inputs
    /// (inputs carry the acknowledgement themselves).
    Ack(Ack),
    /// The player leaves; the server removes it and closes with 1000.
    Leave,
    /// First message of a session that takes back a player after a dropped connection,
    /// instead of `Hello`.
    Resume(Resume),
    /// A message of the game's own (chat, "buy", "ready"): reliable and ordered.
    Message(S::ClientMessage),
}

/// Messages the server sends. The variant order is the bincode tag: never reorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(bound = "")]
pub enum ServerMessage<S: Schema> {
    /// Answer to `Hello`: the player is in the room.
    Welcome(Welcome),
    /// The world state after a tick.
    Snapshot(Snapshot<S::Entity>),
    /// Answer to `Ping`.
    Pong(Pong),
    /// Something went wrong, or the session is ending; usually followed by a close frame.
    Error(ErrorMessage),
    /// A message of the game's own (an event, a chat line): reliable and ordered; one sent
    /// during tick T arrives before snapshot T + 1.
    Message(S::ServerMessage),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// Display name, at most [`crate::MAX_PLAYER_NAME_BYTES`] bytes, no control characters.
    pub player_name: String,
}

/// Takes back the player of a session that dropped without `Leave`, within the server's
/// grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// Must equal [`crate::PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// The `resume_token` of the last `Welcome`, at most [`crate::MAX_RESUME_TOKEN_BYTES`].
    pub resume_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// This player, as the game knows it.
    pub player_id: PlayerId,
    /// The entity this player controls, if the game gave it one (the centre of its area
    /// of interest).
    pub entity_id: Option<EntityId>,
    /// Simulation and snapshot rate of the room.
    pub tick_rate_hz: u16,
    /// The room's last completed tick when the player joined; the player's first snapshot
    /// is for a later tick (normally `tick + 1`).
    pub tick: Tick,
    /// Secret that lets this player come back with `Resume` if the connection drops; valid
    /// until the next `Welcome` (which brings a new one) or the end of the grace period
    /// after a drop.
    pub resume_token: String,
    /// True when this session resumed an existing player (same id, same state).
    pub resumed: bool,
}

/// One input: the transport fields the server reads, and the game's own payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input<P> {
    /// Strictly increasing per session; the server ignores a sequence it has already
    /// applied.
    pub seq: InputSeq,
    /// The tick of the last snapshot this client applied (0: none). The server encodes the
    /// next snapshots as deltas against it.
    pub ack_tick: Tick,
    /// What the game reads: a move direction, buttons, an aim angle…
    pub payload: P,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Snapshot<E: Replicated> {
    pub tick: Tick,
    /// The tick of the view this snapshot is a delta against — one the client acknowledged —
    /// or 0 for a full snapshot (apply it to an empty view).
    pub baseline_tick: Tick,
    /// The last input of *this* client that the server has applied (0: none yet). Client-side
    /// prediction replays the inputs after it.
    pub last_input_seq: InputSeq,
    /// Arrival feedback for `last_input_seq`, in units of 100 µs: how long before the tick
    /// that applied it took its inputs that input arrived. Negative when it missed its tick:
    /// it arrived after the tick before had taken its inputs and shared its tick with a
    /// newer input, so only the newer one counted for that tick. 0 before any input. A
    /// client aims its input clock with it (see [`INPUT_MARGIN_UNIT_US`]); ignoring it is
    /// fine.
    pub input_margin_100us: i16,
    /// [`crate::replicated::view_checksum`] of the view the client must hold after applying
    /// this snapshot. A mismatch is a desync.
    pub checksum: u32,
    /// Entities new to the client's view, full state, in id order.
    pub created: Vec<Entity<E>>,
    /// Entities whose state differs from the dead-reckoned baseline, in id order.
    pub changed: Vec<Changed<E>>,
    /// Entities that left the client's view, in id order.
    pub removed: Vec<EntityId>,
}

impl<E: Replicated> Snapshot<E> {
    /// True when this snapshot does not depend on any earlier one.
    pub fn is_full(&self) -> bool {
        self.baseline_tick == 0
    }

    /// Ticks from the baseline to this snapshot: what dead reckoning advances the baseline
    /// by (0 for a full snapshot).
    pub fn ticks_since_baseline(&self) -> u32 {
        crate::ids::ticks_between(self.baseline_tick, self.tick)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The tick of the last snapshot applied.
    pub tick: Tick,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Opaque to the server, echoed in the `Pong`: typically the client's clock in µs.
    pub client_time_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    pub client_time_us: u64,
    /// The room's current tick, to estimate clock offset.
    pub server_tick: Tick,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub code: ErrorCode,
    /// For humans; clients should branch on `code`.
    pub message: String,
}

/// Machine-readable error kinds. Encoded as a `u16`; a code this build does not know decodes
/// as [`ErrorCode::Other`] so newer servers do not break older clients. The close code each
/// one is sent with is [`ErrorCode::close_code`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    num_enum::FromPrimitive,
    num_enum::IntoPrimitive,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(from = "u16", into = "u16")]
#[repr(u16)]
pub enum ErrorCode {
    /// A frame did not decode as a client message.
    MalformedMessage = 1,
    /// `Hello` named another protocol version.
    UnsupportedProtocolVersion = 2,
    /// A text frame arrived on the binary codec.
    UnexpectedTextFrame = 3,
    /// A frame or message exceeded the size limit.
    MessageTooLarge = 4,
    /// A message arrived before `Hello`, or `Hello` arrived twice.
    UnexpectedMessage = 5,
    /// `Hello` was well-formed but its content was refused (e.g. the name).
    InvalidHello = 6,
    /// No free player slot in the room.
    RoomFull = 7,
    /// The server is shutting down.
    ServerShuttingDown = 8,
    /// The client fell too far behind reading snapshots.
    TooSlow = 9,
    /// Nothing was received for longer than the idle timeout.
    IdleTimeout = 10,
    /// An unexpected server-side failure.
    Internal = 11,
    /// The client sent more messages than the server accepts for too long.
    Flooding = 12,
    /// `Resume` named a token that is unknown, already used, or past its grace period.
    ResumeRefused = 13,
    /// A newer connection resumed this session's entity.
    Replaced = 14,
    /// The room named in the URL does not exist and the server already runs its maximum
    /// number of rooms.
    NoRoomAvailable = 15,
    /// A binary frame arrived on the JSON codec.
    UnexpectedBinaryFrame = 16,
    /// The game refused the player (the message says why).
    JoinRefused = 17,
    /// The game removed the player (the message says why).
    Kicked = 18,
    /// The game ended the room (a match is over); the message says why.
    RoomEnded = 19,
    /// The client sent more game messages than the server accepts.
    TooManyMessages = 20,
    /// A code unknown to this build.
    #[num_enum(catch_all)]
    Other(u16),
}

impl ErrorCode {
    /// The number on the wire.
    pub fn as_u16(self) -> u16 {
        self.into()
    }

    /// The variant's name (`MalformedMessage`, …), as PROTOCOL.md §9 lists it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The WebSocket close code the server sends with this error (PROTOCOL.md §9): the one
    /// table from error to close code. `None` for [`ErrorCode::Other`], which this build
    /// never sends.
    pub fn close_code(self) -> Option<u16> {
        use crate::close_code::*;
        Some(match self {
            ErrorCode::MalformedMessage
            | ErrorCode::UnexpectedMessage
            | ErrorCode::InvalidHello => PROTOCOL_ERROR,
            ErrorCode::UnsupportedProtocolVersion => UNSUPPORTED_VERSION,
            ErrorCode::UnexpectedTextFrame | ErrorCode::UnexpectedBinaryFrame => UNSUPPORTED_DATA,
            ErrorCode::MessageTooLarge => MESSAGE_TOO_BIG,
            ErrorCode::RoomFull => ROOM_FULL,
            ErrorCode::ServerShuttingDown => GOING_AWAY,
            ErrorCode::TooSlow | ErrorCode::Flooding | ErrorCode::TooManyMessages => {
                POLICY_VIOLATION
            }
            ErrorCode::IdleTimeout => IDLE_TIMEOUT,
            ErrorCode::Internal => INTERNAL_ERROR,
            ErrorCode::ResumeRefused => RESUME_REFUSED,
            ErrorCode::Replaced => REPLACED,
            ErrorCode::NoRoomAvailable => NO_ROOM_AVAILABLE,
            ErrorCode::JoinRefused => JOIN_REFUSED,
            ErrorCode::Kicked => KICKED,
            ErrorCode::RoomEnded => ROOM_ENDED,
            ErrorCode::Other(_) => return None,
        })
    }

    /// Every code this build knows, in number order (for documentation and tests).
    pub fn known() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
            .filter(|code| !matches!(code, ErrorCode::Other(_)))
    }
}

impl<S: Schema> ClientMessage<S> {
    /// The variant's name (`Hello`, `Input`, …), for logs and error messages.
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

impl<S: Schema> ServerMessage<S> {
    /// The variant's name (`Welcome`, `Snapshot`, …), for logs and error messages.
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

impl Resume {
    /// Checks the version and the token's size.
    pub fn validate(&self) -> Result<(), HelloError> {
        if self.protocol_version != crate::PROTOCOL_VERSION {
            return Err(HelloError::UnsupportedVersion {
                offered: self.protocol_version,
            });
        }
        if self.resume_token.len() > crate::MAX_RESUME_TOKEN_BYTES {
            return Err(HelloError::ResumeTokenTooLong {
                bytes: self.resume_token.len(),
            });
        }
        Ok(())
    }
}

impl Hello {
    /// Checks the fields a server must not trust: the version and the name.
    pub fn validate(&self) -> Result<(), HelloError> {
        if self.protocol_version != crate::PROTOCOL_VERSION {
            return Err(HelloError::UnsupportedVersion {
                offered: self.protocol_version,
            });
        }
        validate_player_name(&self.player_name)
    }
}

/// Checks a player name, wherever it comes from (`Hello`, or a join token): at most
/// [`crate::MAX_PLAYER_NAME_BYTES`] bytes, no control characters.
pub fn validate_player_name(name: &str) -> Result<(), HelloError> {
    if name.len() > crate::MAX_PLAYER_NAME_BYTES {
        return Err(HelloError::NameTooLong { bytes: name.len() });
    }
    if name.chars().any(char::is_control) {
        return Err(HelloError::NameHasControlCharacters);
    }
    Ok(())
}

/// Why a [`Hello`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    #[error(
        "protocol version {offered} is not supported; this server speaks version {}",
        crate::PROTOCOL_VERSION
    )]
    UnsupportedVersion { offered: u16 },
    #[error(
        "player name is {bytes} bytes; the limit is {}",
        crate::MAX_PLAYER_NAME_BYTES
    )]
    NameTooLong { bytes: usize },
    #[error("player name contains control characters")]
    NameHasControlCharacters,
    #[error(
        "resume token is {bytes} bytes; the limit is {}",
        crate::MAX_RESUME_TOKEN_BYTES
    )]
    ResumeTokenTooLong { bytes: usize },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PROTOCOL_VERSION;

    #[test]
    fn error_codes_round_trip_through_u16() {
        for raw in 0..=24u16 {
            assert_eq!(ErrorCode::from(raw).as_u16(), raw);
        }
        assert_eq!(ErrorCode::from(999), ErrorCode::Other(999));
        assert_eq!(ErrorCode::from(0), ErrorCode::Other(0));
        assert_eq!(ErrorCode::from(9), ErrorCode::TooSlow);
        assert_eq!(u16::from(ErrorCode::TooManyMessages), 20);
    }

    #[test]
    fn every_known_error_code_has_a_close_code_and_a_name() {
        let known: Vec<u16> = ErrorCode::known().map(ErrorCode::as_u16).collect();
        assert_eq!(known, (1..=20).collect::<Vec<u16>>());
        for code in ErrorCode::known() {
            assert!(code.close_code().is_some(), "{code:?}");
            assert_eq!(code.name(), format!("{code:?}"));
        }
        assert_eq!(ErrorCode::Other(77).close_code(), None);
        assert_eq!(
            ErrorCode::TooSlow.close_code(),
            Some(crate::close_code::POLICY_VIOLATION)
        );
    }

    #[test]
    fn message_names_are_the_variant_names() {
        use crate::testing::TokenSchema;
        assert_eq!(ClientMessage::<TokenSchema>::Leave.name(), "Leave");
        let ping = ClientMessage::<TokenSchema>::Ping(Ping { client_time_us: 1 });
        assert_eq!(ping.name(), "Ping");
        let pong = ServerMessage::<TokenSchema>::Pong(Pong {
            client_time_us: 1,
            server_tick: 2,
        });
        assert_eq!(pong.name(), "Pong");
    }

    #[test]
    fn hello_validation() {
        let good = Hello {
            protocol_version: PROTOCOL_VERSION,
            player_name: "ada".into(),
        };
        assert_eq!(good.validate(), Ok(()));
        let old = Hello {
            protocol_version: PROTOCOL_VERSION + 1,
            ..good.clone()
        };
        assert!(matches!(
            old.validate(),
            Err(HelloError::UnsupportedVersion { .. })
        ));
        let long = Hello {
            player_name: "x".repeat(crate::MAX_PLAYER_NAME_BYTES + 1),
            ..good.clone()
        };
        assert!(matches!(
            long.validate(),
            Err(HelloError::NameTooLong { .. })
        ));
        let control = Hello {
            player_name: "a\nb".into(),
            ..good
        };
        assert_eq!(
            control.validate(),
            Err(HelloError::NameHasControlCharacters)
        );
    }
}
