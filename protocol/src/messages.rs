//! Every message of the protocol: [`ClientMessage`] (client → server) and [`ServerMessage`]
//! (server → client), one WebSocket frame each (binary with bincode, text with JSON; see
//! [`crate::codec::WireFormat`]).
//!
//! A session goes: client `Hello` → server `Welcome` (or `Error` and close) → then, at the
//! room's tick rate, server `Snapshot`s while the client sends `Input`s; `Ping`/`Pong` at any
//! time after `Welcome`; the client ends with `Leave`, the server with `Error` and/or a close
//! code from [`crate::close_code`].

use serde::{Deserialize, Serialize};

use crate::replicated::Replicated;
use crate::schema::Schema;

/// A simulation step number. The room's first tick is 1, so 0 can mean "none" (no
/// acknowledgement yet, no baseline); at 30 Hz a `u32` lasts 4.5 years, so wrap-around is not
/// handled.
pub type Tick = u32;

/// An input sequence number chosen by the client: 1 for the first input, then +1 each.
/// 0 means "no input applied yet" in [`Snapshot::last_input_seq`].
pub type InputSeq = u32;

/// Microseconds per unit of [`Snapshot::input_margin_100us`]: 0.1 ms, fine enough to aim an
/// input clock and small enough that a margin of a few milliseconds costs one byte.
pub const INPUT_MARGIN_UNIT_US: i64 = 100;

/// The id of a replicated entity: small, never reused within a room's lifetime, so it costs
/// one to three bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityId(pub u32);

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A player in a room: assigned at join, never reused within the room's lifetime. A player
/// may control an entity, several, or none (a spectator, a card game's seat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PlayerId(pub u32);

impl std::fmt::Display for PlayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{}", self.0)
    }
}

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        crate::sync::ticks_between(self.baseline_tick, self.tick)
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
/// as [`ErrorCode::Other`] so newer servers do not break older clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "u16", into = "u16")]
pub enum ErrorCode {
    /// A frame did not decode as a client message.
    MalformedMessage,
    /// `Hello` named another protocol version.
    UnsupportedProtocolVersion,
    /// A text frame arrived on the binary codec.
    UnexpectedTextFrame,
    /// A frame or message exceeded the size limit.
    MessageTooLarge,
    /// A message arrived before `Hello`, or `Hello` arrived twice.
    UnexpectedMessage,
    /// `Hello` was well-formed but its content was refused (e.g. the name).
    InvalidHello,
    /// No free player slot in the room.
    RoomFull,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The client fell too far behind reading snapshots.
    TooSlow,
    /// Nothing was received for longer than the idle timeout.
    IdleTimeout,
    /// An unexpected server-side failure.
    Internal,
    /// The client sent more messages than the server accepts for too long.
    Flooding,
    /// `Resume` named a token that is unknown, already used, or past its grace period.
    ResumeRefused,
    /// A newer connection resumed this session's entity.
    Replaced,
    /// The room named in the URL does not exist and the server already runs its maximum
    /// number of rooms.
    NoRoomAvailable,
    /// A binary frame arrived on the JSON codec.
    UnexpectedBinaryFrame,
    /// The game refused the player (the message says why).
    JoinRefused,
    /// The game removed the player (the message says why).
    Kicked,
    /// The game ended the room (a match is over); the message says why.
    RoomEnded,
    /// The client sent more game messages than the server accepts.
    TooManyMessages,
    /// A code unknown to this build.
    Other(u16),
}

impl ErrorCode {
    /// The number on the wire.
    pub fn as_u16(self) -> u16 {
        match self {
            ErrorCode::MalformedMessage => 1,
            ErrorCode::UnsupportedProtocolVersion => 2,
            ErrorCode::UnexpectedTextFrame => 3,
            ErrorCode::MessageTooLarge => 4,
            ErrorCode::UnexpectedMessage => 5,
            ErrorCode::InvalidHello => 6,
            ErrorCode::RoomFull => 7,
            ErrorCode::ServerShuttingDown => 8,
            ErrorCode::TooSlow => 9,
            ErrorCode::IdleTimeout => 10,
            ErrorCode::Internal => 11,
            ErrorCode::Flooding => 12,
            ErrorCode::ResumeRefused => 13,
            ErrorCode::Replaced => 14,
            ErrorCode::NoRoomAvailable => 15,
            ErrorCode::UnexpectedBinaryFrame => 16,
            ErrorCode::JoinRefused => 17,
            ErrorCode::Kicked => 18,
            ErrorCode::RoomEnded => 19,
            ErrorCode::TooManyMessages => 20,
            ErrorCode::Other(code) => code,
        }
    }
}

impl From<u16> for ErrorCode {
    fn from(code: u16) -> Self {
        match code {
            1 => ErrorCode::MalformedMessage,
            2 => ErrorCode::UnsupportedProtocolVersion,
            3 => ErrorCode::UnexpectedTextFrame,
            4 => ErrorCode::MessageTooLarge,
            5 => ErrorCode::UnexpectedMessage,
            6 => ErrorCode::InvalidHello,
            7 => ErrorCode::RoomFull,
            8 => ErrorCode::ServerShuttingDown,
            9 => ErrorCode::TooSlow,
            10 => ErrorCode::IdleTimeout,
            11 => ErrorCode::Internal,
            12 => ErrorCode::Flooding,
            13 => ErrorCode::ResumeRefused,
            14 => ErrorCode::Replaced,
            15 => ErrorCode::NoRoomAvailable,
            16 => ErrorCode::UnexpectedBinaryFrame,
            17 => ErrorCode::JoinRefused,
            18 => ErrorCode::Kicked,
            19 => ErrorCode::RoomEnded,
            20 => ErrorCode::TooManyMessages,
            other => ErrorCode::Other(other),
        }
    }
}

impl From<ErrorCode> for u16 {
    fn from(code: ErrorCode) -> u16 {
        code.as_u16()
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
