//! [`ClientEvent`]: what a connected [`crate::Client`] hands its user, one server frame at a
//! time.

use std::sync::Arc;
use std::time::Duration;

use ticksync_protocol::{ErrorMessage, Pong, Schema, Snapshot, Welcome};

use crate::error::ClientError;

/// One thing that happened on a connection of game `S`, from
/// [`crate::Client::next_event`].
#[derive(Debug)]
pub enum ClientEvent<S: Schema> {
    /// The first event of every connection: the server's `Welcome` (also kept in
    /// [`crate::Client::welcome`]), before any game message or snapshot.
    Welcome(Welcome),
    /// A snapshot was applied: [`crate::Client::view`] now holds the world after
    /// `snapshot.tick`. This is the raw (usually delta) message; read entities from the
    /// view. Shared (`Arc`) so the client can keep the latest one without copying it.
    /// Snapshots that fail to apply arrive as [`ClientEvent::Error`] with
    /// [`ClientError::Desync`] instead, and simulated losses not at all.
    Snapshot(Arc<Snapshot<S::Entity>>),
    /// A message of the game's own. One the server sent during tick T arrives before the
    /// snapshot of tick T + 1, so events and state never contradict.
    Message(S::ServerMessage),
    /// The answer to a [`crate::Client::ping`], with the measured round trip.
    Pong { pong: Pong, round_trip: Duration },
    /// The server reported an error; a close usually follows.
    ServerError(ErrorMessage),
    /// A frame from the server could not be understood (malformed, a frame of the other
    /// codec, a message out of place) or a snapshot could not be applied
    /// ([`ClientError::Desync`]). The connection stays open; it is the caller's choice to
    /// give up.
    Error(ClientError),
    /// The connection is over. `code` is the WebSocket close code (see
    /// `ticksync_protocol::close_code`), `None` when it ended without a close frame.
    /// This is the last event; `next_event` returns `None` afterwards.
    Closed { code: Option<u16>, reason: String },
}

/// How a connection ended: the payload of [`ClientEvent::Closed`], returned by
/// [`crate::Client::run`] and [`crate::run_client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    pub code: Option<u16>,
    pub reason: String,
}

impl std::fmt::Display for CloseInfo {
    /// `1000: bye`, or `without a code: ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "{code}: {}", self.reason),
            None => write!(f, "without a code: {}", self.reason),
        }
    }
}
