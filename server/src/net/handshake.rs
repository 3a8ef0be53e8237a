//! The WebSocket upgrade: path and subprotocol checks, and the per-connection WebSocket
//! limits.
//!
//! A client must ask for `/ws` and offer [`SUBPROTOCOL_BINCODE`]; anything else is refused
//! with an HTTP error whose body says what was expected, so a client of another protocol
//! version learns it before any game traffic.

use http::{header, HeaderValue, StatusCode};
use ticksync_protocol::{SUBPROTOCOL_BINCODE, WEBSOCKET_PATH};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

use crate::config::ServerConfig;

/// Read buffer per connection. tungstenite's default is 128 KiB, which at 10,000 connections
/// is 1.3 GB for buffers that hold 20-byte inputs; 4 KiB still reads a burst of inputs in one
/// syscall.
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Outgoing bytes buffered before tungstenite writes to the socket. The session flushes once
/// per batch anyway, so this only needs to hold a typical tick's frames.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Hard cap on a connection's unwritten bytes inside tungstenite; past it writes fail and the
/// session ends. Together with the outbound queue this bounds memory per slow connection.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// WebSocket limits for one connection.
pub fn websocket_config(config: &ServerConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(Some(config.max_message_bytes))
        .max_frame_size(Some(config.max_message_bytes))
}

/// Why an upgrade request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubprotocolError {
    #[error(
        "no WebSocket subprotocol offered; offer Sec-WebSocket-Protocol: {SUBPROTOCOL_BINCODE}"
    )]
    Missing,
    #[error("unsupported subprotocol(s) {offered:?}; this server speaks {SUBPROTOCOL_BINCODE}")]
    Unsupported { offered: String },
}

/// Picks the subprotocol from the values of `Sec-WebSocket-Protocol` headers.
pub fn negotiate_subprotocol<'a>(
    offered: impl IntoIterator<Item = &'a str>,
) -> Result<&'static str, SubprotocolError> {
    let mut seen = Vec::new();
    for value in offered {
        for protocol in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if protocol == SUBPROTOCOL_BINCODE {
                return Ok(SUBPROTOCOL_BINCODE);
            }
            seen.push(protocol.to_owned());
        }
    }
    if seen.is_empty() {
        Err(SubprotocolError::Missing)
    } else {
        Err(SubprotocolError::Unsupported {
            offered: seen.join(", "),
        })
    }
}

fn refuse(status: StatusCode, body: String) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(format!("{body}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Checks the path and subprotocol of an upgrade request.
// The signature is tungstenite's handshake callback; its error type is not ours to shrink.
#[allow(clippy::result_large_err)]
fn check_request(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() != WEBSOCKET_PATH {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            format!(
                "no WebSocket endpoint at {}; use {WEBSOCKET_PATH}",
                request.uri().path()
            ),
        ));
    }
    let offered = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok());
    match negotiate_subprotocol(offered) {
        Ok(protocol) => {
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_static(protocol),
            );
            Ok(response)
        }
        Err(error) => Err(refuse(StatusCode::BAD_REQUEST, error.to_string())),
    }
}

/// Performs the WebSocket upgrade on an accepted connection.
pub async fn upgrade(
    tcp: TcpStream,
    config: &ServerConfig,
) -> Result<WebSocketStream<TcpStream>, tokio_tungstenite::tungstenite::Error> {
    tokio_tungstenite::accept_hdr_async_with_config(
        tcp,
        check_request,
        Some(websocket_config(config)),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_bincode_subprotocol_among_others() {
        assert_eq!(
            negotiate_subprotocol(["chat, ticksync.v1.bincode"]),
            Ok(SUBPROTOCOL_BINCODE)
        );
        assert_eq!(
            negotiate_subprotocol(["x", "ticksync.v1.bincode"]),
            Ok(SUBPROTOCOL_BINCODE)
        );
    }

    #[test]
    fn refuses_missing_or_other_versions_with_a_clear_message() {
        assert_eq!(negotiate_subprotocol([]), Err(SubprotocolError::Missing));
        let error = negotiate_subprotocol(["ticksync.v2.bincode"]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("ticksync.v2.bincode") && text.contains(SUBPROTOCOL_BINCODE),
            "{text}"
        );
    }
}
