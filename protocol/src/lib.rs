//! The ticksync wire protocol, shared by the server, the bot swarm and any Rust game client.
//!
//! - [`messages`]: every message a client or the server sends, as serde types.
//! - [`game_state`]: the game-specific parts of those messages (the arena's entity state and
//!   input). A fork that adds its own state edits this file first.
//! - [`codec`]: the one place that defines the byte format (bincode 2, standard config) and
//!   bounds every decode.
//! - [`quantize`]: fixed-point units used on the wire, and conversions to and from floats.
//! - [`replicated`] and [`delta`]: the [`Replicated`] trait a game's entity state implements,
//!   and the delta encoding, dead reckoning and checksums built on it.
//! - [`close_code`]: the WebSocket close codes the server uses, with their meaning.
//! - `token` (feature `tokens`): signed join tokens (JWT, HS256) — minting and verification.
//!
//! The crate has no I/O and no async runtime: it can be used from a game engine, a test or a
//! fuzzer alike.

pub mod close_code;
pub mod codec;
pub mod delta;
pub mod game_state;
pub mod messages;
pub mod quantize;
pub mod replicated;
#[cfg(feature = "tokens")]
pub mod token;

pub use codec::{CodecError, WireFormat};
pub use game_state::{EntityDelta, EntityState, MoveDir};
pub use messages::{
    Ack, ClientMessage, EntityId, ErrorCode, ErrorMessage, Hello, Input, InputSeq, Ping, Pong,
    Resume, ServerMessage, Snapshot, Tick, Welcome, WorldSize,
};
pub use replicated::Replicated;

/// Version of the message layout. Bumped on any incompatible change; the server refuses a
/// client whose `Hello` names another version.
pub const PROTOCOL_VERSION: u16 = 1;

/// WebSocket subprotocol for the binary (bincode) codec of [`PROTOCOL_VERSION`].
///
/// A client must offer it in `Sec-WebSocket-Protocol`; the server refuses the upgrade
/// otherwise, so a client of another version learns it before any game traffic.
pub const SUBPROTOCOL_BINCODE: &str = "ticksync.v1.bincode";

/// WebSocket subprotocol for the JSON text codec of [`PROTOCOL_VERSION`]: the same messages
/// as [`SUBPROTOCOL_BINCODE`], as JSON in text frames.
pub const SUBPROTOCOL_JSON: &str = "ticksync.v1.json";

/// URL path of the WebSocket endpoint.
pub const WEBSOCKET_PATH: &str = "/ws";

/// Longest player name accepted in [`Hello`], in bytes of UTF-8.
pub const MAX_PLAYER_NAME_BYTES: usize = 32;

/// Longest resume token accepted in [`messages::Resume`]; the server issues 32 hex digits.
pub const MAX_RESUME_TOKEN_BYTES: usize = 64;

/// Longest room name, in bytes.
pub const MAX_ROOM_NAME_BYTES: usize = 32;

/// Why a room name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomNameError {
    #[error("room name is empty")]
    Empty,
    #[error("room name is {bytes} bytes; the limit is {MAX_ROOM_NAME_BYTES}")]
    TooLong { bytes: usize },
    #[error("room name may only contain ASCII letters, digits, '-', '_' and '.'")]
    BadCharacter,
    #[error("room name cannot be only dots")]
    OnlyDots,
}

/// Checks a room name (`/ws?room=NAME`): 1 to [`MAX_ROOM_NAME_BYTES`] bytes of ASCII
/// letters, digits, `-`, `_` and `.`, not only dots (`.` and `..` read as paths), so it is safe
/// in URLs, logs and metric labels.
pub fn validate_room_name(name: &str) -> Result<(), RoomNameError> {
    if name.is_empty() {
        return Err(RoomNameError::Empty);
    }
    if name.len() > MAX_ROOM_NAME_BYTES {
        return Err(RoomNameError::TooLong { bytes: name.len() });
    }
    if !name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
    {
        return Err(RoomNameError::BadCharacter);
    }
    if name.bytes().all(|byte| byte == b'.') {
        return Err(RoomNameError::OnlyDots);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert_eq!(validate_room_name("arena"), Ok(()));
        assert_eq!(validate_room_name("match-7_eu.1"), Ok(()));
        assert_eq!(validate_room_name(""), Err(RoomNameError::Empty));
        assert_eq!(
            validate_room_name(&"r".repeat(MAX_ROOM_NAME_BYTES + 1)),
            Err(RoomNameError::TooLong { bytes: 33 })
        );
        for bad in ["a b", "a/b", "ä", "a\nb", "<x>"] {
            assert_eq!(validate_room_name(bad), Err(RoomNameError::BadCharacter));
        }
        for dots in [".", "..", "...."] {
            assert_eq!(validate_room_name(dots), Err(RoomNameError::OnlyDots));
        }
        assert_eq!(validate_room_name(".a."), Ok(()));
    }
}
