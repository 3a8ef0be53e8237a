//! [`ClientError`]: every way connecting to, or talking with, a ticksync server can fail.
//!
//! Variants name what went wrong in the session's terms (refused, timed out, closed during
//! the handshake, malformed frame) so a game client can branch on them, and each keeps the
//! underlying cause as its `source` for logs.

use std::time::Duration;

use ticksync_protocol::sync::DesyncReason;
use ticksync_protocol::{CodecError, ErrorCode, Tick};
use tokio_tungstenite::tungstenite;

/// Why a [`crate::Client`] operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The URL is not a WebSocket URL (an `http://` address is the server's web page).
    #[error("server URL {url:?} is not a WebSocket URL: it must start with ws:// or wss://, e.g. ws://127.0.0.1:7878/ws")]
    NotWebSocketUrl { url: String },
    /// The URL could not be turned into a WebSocket request (bad scheme, no host, ...).
    #[error("invalid server URL {url:?}: {source}")]
    InvalidUrl {
        url: String,
        #[source]
        source: Box<tungstenite::Error>,
    },
    /// The server answered the upgrade request with an HTTP status instead of switching
    /// protocols: 400 for a subprotocol it does not serve (another game, another schema
    /// hash, another envelope version: the body names what it serves), 401 for a missing
    /// or refused join token, 404 for a wrong path, 503 when full or draining. `body` is
    /// the server's explanation (at most [`MAX_REJECTION_BODY_BYTES`], lossy UTF-8).
    #[error(
        "server refused the WebSocket upgrade with HTTP {status}{}",
        rejection_detail(body)
    )]
    UpgradeRejected { status: u16, body: String },
    /// The schema's subprotocol is not a valid header value (a `Schema::NAME` outside
    /// `[a-z0-9_-]`).
    #[error("subprotocol {subprotocol:?} is not a valid header value; check the schema's NAME")]
    InvalidSubprotocol { subprotocol: String },
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
    /// A frame of a kind the connection's codec never uses (a text frame on bincode, a
    /// binary frame on JSON).
    #[error("unexpected {0} frame for the connection's codec")]
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

/// Longest part of a refused upgrade's body kept in [`ClientError::UpgradeRejected`]: enough
/// for any explanation a server gives, bounded whatever a peer sends.
pub const MAX_REJECTION_BODY_BYTES: usize = 1024;

/// A refused upgrade's body as text: lossy UTF-8, trimmed, at most
/// [`MAX_REJECTION_BODY_BYTES`] bytes of it (a character cut in two shows as U+FFFD).
fn rejection_body(bytes: &[u8]) -> String {
    let bytes = &bytes[..bytes.len().min(MAX_REJECTION_BODY_BYTES)];
    String::from_utf8_lossy(bytes).trim().to_owned()
}

fn rejection_detail(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// Why a bot never got `Welcome`, in a form a report can count: the reasons of a swarm's
/// failed connects are listed with a count each and, where the fix is known, a hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConnectFailure {
    /// The server answered the upgrade with this HTTP status.
    Http(u16),
    /// The server answered `Hello` with this error code.
    Refused(u16),
    /// No `Welcome` within the connect timeout.
    Timeout,
    /// The connection closed before `Welcome`.
    Closed,
    /// TCP or TLS failed: nothing listening, reset, certificate refused.
    Network,
    /// Anything else (a malformed answer, a bad URL).
    Other,
}

impl ConnectFailure {
    pub fn of(error: &ClientError) -> ConnectFailure {
        match error {
            ClientError::UpgradeRejected { status, .. } => ConnectFailure::Http(*status),
            ClientError::Refused { code, .. } => ConnectFailure::Refused(code.as_u16()),
            ClientError::HandshakeTimeout(_) => ConnectFailure::Timeout,
            ClientError::ClosedDuringHandshake { .. } | ClientError::Closed => {
                ConnectFailure::Closed
            }
            ClientError::Connect(_) | ClientError::Transport(_) => ConnectFailure::Network,
            _ => ConnectFailure::Other,
        }
    }
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ConnectFailure::Http(503) => f.write_str(
                "HTTP 503: the server's connection limit (a local swarm of more than 256 bots needs the server's --max-connections-per-ip 0), or it is draining",
            ),
            ConnectFailure::Http(401) => {
                f.write_str("HTTP 401: join token missing or refused (--token-secret)")
            }
            ConnectFailure::Http(403) => f.write_str("HTTP 403: origin not allowed"),
            ConnectFailure::Http(400) => {
                f.write_str("HTTP 400: subprotocol (game, schema hash or codec) or room name refused")
            }
            ConnectFailure::Http(status) => write!(f, "HTTP {status}"),
            ConnectFailure::Refused(code) => {
                write!(f, "refused after Hello: {:?}", ErrorCode::from(code))
            }
            ConnectFailure::Timeout => f.write_str("no Welcome within the connect timeout"),
            ConnectFailure::Closed => f.write_str("connection closed before Welcome"),
            ConnectFailure::Network => {
                f.write_str("could not connect (TCP or TLS failed; is the server up?)")
            }
            ConnectFailure::Other => f.write_str("other error (run with RUST_LOG=debug)"),
        }
    }
}

impl ClientError {
    /// What the server said when it refused to connect this client: the body of a refused
    /// upgrade, or the message of an `Error` answering `Hello`. `None` for other failures or
    /// an empty body.
    pub fn server_said(&self) -> Option<&str> {
        match self {
            ClientError::UpgradeRejected { body, .. } if !body.is_empty() => Some(body),
            ClientError::Refused { message, .. } if !message.is_empty() => Some(message),
            _ => None,
        }
    }

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
                body: rejection_body(response.body().as_deref().unwrap_or_default()),
            },
            other => ClientError::Connect(Box::new(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_upgrade_shows_the_status_and_a_bounded_body() {
        let response = http::Response::builder()
            .status(400)
            .body(Some(
                b"server runs game shooter (1a2b3c4d); you offered arena\n".to_vec(),
            ))
            .expect("a valid response");
        let error = ClientError::connect(tungstenite::Error::Http(Box::new(response)));
        assert_eq!(
            error.to_string(),
            "server refused the WebSocket upgrade with HTTP 400: server runs game shooter \
             (1a2b3c4d); you offered arena"
        );
        assert_eq!(ConnectFailure::of(&error), ConnectFailure::Http(400));
        let huge = rejection_body(&vec![b'x'; 10 * MAX_REJECTION_BODY_BYTES]);
        assert_eq!(huge.len(), MAX_REJECTION_BODY_BYTES);
        let bare = ClientError::UpgradeRejected {
            status: 404,
            body: String::new(),
        };
        assert_eq!(
            bare.to_string(),
            "server refused the WebSocket upgrade with HTTP 404"
        );
    }
}
