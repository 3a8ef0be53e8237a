//! WebSocket close codes sent by the server, and what each means for a client.
//!
//! Codes below 4000 are the standard ones of RFC 6455 §7.4.1; codes from 4000 are
//! ticksync's own. Every close also carries a short human-readable reason, and where the
//! client may still be listening the server sends an [`crate::ErrorMessage`] first.

/// The client said [`crate::ClientMessage::Leave`], or the session ended normally.
pub const NORMAL: u16 = 1000;
/// The server is shutting down.
pub const GOING_AWAY: u16 = 1001;
/// A binary frame did not decode as a message, or a message came out of order
/// (for example anything before `Hello`, or a second `Hello`).
pub const PROTOCOL_ERROR: u16 = 1002;
/// A text frame arrived on the binary codec, or a binary frame on the JSON codec.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// The client broke a server policy: it fell too far behind reading snapshots, or flooded.
pub const POLICY_VIOLATION: u16 = 1008;
/// A frame or message was larger than the server accepts.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The server hit an unexpected internal error while serving this client.
pub const INTERNAL_ERROR: u16 = 1011;
/// `Hello` named a protocol version this server does not speak.
pub const UNSUPPORTED_VERSION: u16 = 4000;
/// The room has no free player slot.
pub const ROOM_FULL: u16 = 4001;
/// The client sent nothing for longer than the idle timeout (no Hello in time, or silence).
pub const IDLE_TIMEOUT: u16 = 4002;
/// `Resume` was refused: the token is unknown, already used, or its grace period is over.
/// Start a new session with `Hello`.
pub const RESUME_REFUSED: u16 = 4003;
/// Another connection resumed this session's entity; this one is closed.
pub const REPLACED: u16 = 4004;
/// The room named in the URL does not exist and the server runs its maximum number of rooms.
pub const NO_ROOM_AVAILABLE: u16 = 4005;
/// The game refused the player (the error message says why); joining again will not help
/// unless what the message names changes.
pub const JOIN_REFUSED: u16 = 4006;
/// The game removed the player (the error message says why).
pub const KICKED: u16 = 4007;
/// The game ended the room (a match is over); the error message carries the game's reason.
/// Joining the room's name again starts a new one.
pub const ROOM_ENDED: u16 = 4008;
