//! [`ClientError`]: every way connecting to, or talking with, a ticksync server can fail.
//!
//! Variants name what went wrong in the session's terms (refused, timed out, closed during
//! the handshake, malformed frame) so a game client can branch on them, and each keeps the
//! underlying cause as its `source` for logs.

use std::time::Duration;

use ticksync_protocol::{CodecError, ErrorCode, Tick};
use tokio_tungstenite::tungstenite;

use crate::view::DesyncReason;

/// Why a [`crate::Client`] operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL could not be turned into a WebSocket request (bad scheme, no host, ...).
    #[error("invalid server URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        #[source]
        source: Box<tungstenite::Error>,
    },
    /// The server answered the upgrade request with an HTTP status instead of switching
    /// protocols: typically 400 for a missing subprotocol or 404 for a wrong path.
    #[error("server refused the WebSocket upgrade with HTTP {status}")]
    UpgradeRejected { status: u16 },
    /// TCP connect or the WebSocket upgrade failed.
    #[error("could not connect: {0}")]
    Connect(#[source] Box<tungstenite::Error>),
    /// No `Welcome` (or refusal) arrived within the handshake timeout.
    #[error("no Welcome from the server within {0:?}")]
    HandshakeTimeout(Duration),
    /// The server answered `Hello` with an `Error` message.
    #[error("server refused the session ({code:?}): {message}")]
    Refused { code: ErrorCode, message: String },
    /// The connection closed before the server sent `Welcome`.
    #[error("connection closed during the handshake (code {code:?}): {reason}")]
    ClosedDuringHandshake { code: Option<u16>, reason: String },
    /// A well-formed message arrived where the protocol does not allow it.
    #[error("expected {expected}, got {got}")]
    UnexpectedMessage {
        expected: &'static str,
        got: &'static str,
    },
    /// A frame of a kind the binary codec never uses (a text frame, for instance).
    #[error("unexpected {0} frame on the binary codec")]
    UnexpectedFrame(&'static str),
    /// A frame did not decode, or a message did not encode.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// Reading from or writing to the socket failed after the connection was up.
    #[error("WebSocket transport error: {0}")]
    Transport(#[source] Box<tungstenite::Error>),
    /// A snapshot could not be applied to the views this client holds. The client keeps its
    /// last good view and keeps acknowledging it, so the server's next deltas are against
    /// a view it holds (or, once that leaves the server's history, a full snapshot): it
    /// recovers by itself and the connection stays open.
    #[error("desync: snapshot of tick {tick} could not be applied: {reason}")]
    Desync { tick: Tick, reason: DesyncReason },
    /// The connection is already closed; nothing more can be sent.
    #[error("the connection is closed")]
    Closed,
}

impl ClientError {
    /// Wraps an error from an established connection.
    pub(crate) fn transport(error: tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
                ClientError::Closed
            }
            other => ClientError::Transport(Box::new(other)),
        }
    }

    /// Wraps an error from the connect phase, pulling the HTTP status out of a refused
    /// upgrade so callers need not dig into tungstenite's types.
    pub(crate) fn connect(error: tungstenite::Error) -> Self {
        match error {
            tungstenite::Error::Http(response) => ClientError::UpgradeRejected {
                status: response.status().as_u16(),
            },
            other => ClientError::Connect(Box::new(other)),
        }
    }
}
