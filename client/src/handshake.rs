//! The connection's first steps and its frame plumbing: the WebSocket upgrade offering the
//! game schema's subprotocol (`ticksync.v2.<game>.<hash>.<codec>`), `Hello` or `Resume`,
//! and waiting for `Welcome` or a refusal; plus the helpers every later frame goes through
//! (encode and send one message, match a frame's type to the codec, read a close frame).

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use serde::Serialize;
use ticksync_protocol::codec::{MAX_SERVER_JSON_MESSAGE_BYTES, MAX_SERVER_MESSAGE_BYTES};
use ticksync_protocol::schema::subprotocol;
use ticksync_protocol::{
    ClientMessage, Hello, Resume, Schema, ServerMessage, Welcome, WireFormat, PROTOCOL_VERSION,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::debug;

use crate::error::ClientError;
use crate::event::CloseInfo;
use crate::options::ClientOptions;
use crate::stats::ClientCounters;
use crate::trace;

/// The WebSocket stream type a [`crate::Client`] owns.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url` offering `S`'s subprotocol in the options' codec, sends `Hello` (or
/// `Resume`) and waits for `Welcome`. No timeout here: the caller bounds it.
pub(crate) async fn connect_and_greet<S: Schema>(
    url: &str,
    options: &ClientOptions,
    counters: &mut ClientCounters,
) -> Result<(Socket, Welcome), ClientError> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("ws" | "wss")) {
        return Err(ClientError::NotWebSocketUrl {
            url: url.to_owned(),
        });
    }
    let mut request = url
        .into_client_request()
        .map_err(|source| ClientError::InvalidUrl {
            url: url.to_owned(),
            source: Box::new(source),
        })?;
    let offered = subprotocol::<S>(options.format);
    let header = HeaderValue::from_str(&offered).map_err(|_| ClientError::InvalidSubprotocol {
        subprotocol: offered.clone(),
    })?;
    request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, header);
    let max_message_bytes = match options.format {
        WireFormat::Bincode => MAX_SERVER_MESSAGE_BYTES,
        WireFormat::Json => MAX_SERVER_JSON_MESSAGE_BYTES,
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(options.read_buffer_bytes)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes));
    // Nagle off: inputs are tiny and latency-critical; batching them would add up to a
    // delayed-ACK interval to every input→ack measurement.
    let disable_nagle = true;
    let connector = options
        .tls
        .as_ref()
        .map(|tls| tokio_tungstenite::Connector::Rustls(Arc::clone(tls)));
    let trace = options.trace;
    if trace {
        trace::connecting(url, &offered);
        trace::upgrade_request(&request);
    }
    let (mut socket, response) = tokio_tungstenite::connect_async_tls_with_config(
        request,
        Some(config),
        disable_nagle,
        connector,
    )
    .await
    .map_err(|error| {
        if trace {
            match &error {
                tokio_tungstenite::tungstenite::Error::Http(response) => {
                    trace::upgrade_response(response);
                }
                other => trace::event(&format!("connect failed: {other}")),
            }
        }
        ClientError::connect(error)
    })?;
    if trace {
        trace::upgrade_response(&response);
        let chosen = response
            .headers()
            .get(SEC_WEBSOCKET_PROTOCOL)
            .and_then(|value| value.to_str().ok());
        trace::subprotocol(chosen, options.format);
    }
    debug!(url, subprotocol = %offered, "WebSocket connected; sending Hello");

    let hello: ClientMessage<S> = match &options.resume_token {
        Some(token) => ClientMessage::Resume(Resume {
            protocol_version: PROTOCOL_VERSION,
            resume_token: token.clone(),
        }),
        None => ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            player_name: options.player_name.clone(),
        }),
    };
    let format = options.format;
    send_frame(&mut socket, &hello, format, counters, trace).await?;
    let welcome = await_welcome::<S>(&mut socket, format, counters, trace).await?;
    debug!(player = %welcome.player_id, entity = ?welcome.entity_id, tick_rate_hz = welcome.tick_rate_hz, "welcomed");
    Ok((socket, welcome))
}

/// Whether a data frame has the type of `format` (binary for bincode, text for JSON).
pub(crate) fn frame_matches(frame: &Message, format: WireFormat) -> bool {
    if format.uses_text_frames() {
        frame.is_text()
    } else {
        frame.is_binary()
    }
}

/// The kind of a data frame, for [`ClientError::UnexpectedFrame`].
pub(crate) fn frame_kind(frame: &Message) -> &'static str {
    if frame.is_text() {
        "text"
    } else {
        "binary"
    }
}

/// Encodes `message` and sends it as one frame of the format's type, counting it.
pub(crate) async fn send_frame<M: Serialize + std::fmt::Debug>(
    socket: &mut Socket,
    message: &M,
    format: WireFormat,
    counters: &mut ClientCounters,
    trace: bool,
) -> Result<(), ClientError> {
    let payload = format.encode(message)?;
    let len = payload.len();
    if trace {
        trace::frame(trace::Direction::Sent, format, &payload, Ok(message));
    }
    let frame = if format.uses_text_frames() {
        // The JSON encoder writes UTF-8 only.
        Message::Text(String::from_utf8_lossy(&payload).into_owned().into())
    } else {
        Message::Binary(payload.into())
    };
    socket.send(frame).await.map_err(ClientError::transport)?;
    counters.count_sent(len);
    Ok(())
}

/// Reads until the server's answer to `Hello`: `Welcome`, or a refusal.
async fn await_welcome<S: Schema>(
    socket: &mut Socket,
    format: WireFormat,
    counters: &mut ClientCounters,
    trace: bool,
) -> Result<Welcome, ClientError> {
    loop {
        let frame = match socket.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => return Err(ClientError::transport(error)),
            None => {
                return Err(ClientError::ClosedDuringHandshake {
                    code: None,
                    reason: "connection ended without a close frame".to_owned(),
                })
            }
        };
        match frame {
            Message::Binary(_) | Message::Text(_) if !frame_matches(&frame, format) => {
                return Err(ClientError::UnexpectedFrame(frame_kind(&frame)));
            }
            Message::Binary(_) | Message::Text(_) => {
                let payload = frame.into_data();
                counters.count_received(payload.len());
                let message = match format.decode_server_message::<S>(&payload) {
                    Ok(message) => message,
                    Err(error) => {
                        if trace {
                            trace_received::<S>(format, &payload, Err(&error));
                        }
                        return Err(error.into());
                    }
                };
                if trace {
                    trace_received(format, &payload, Ok(&message));
                }
                return match message {
                    ServerMessage::Welcome(welcome) => Ok(welcome),
                    ServerMessage::Error(error) => Err(ClientError::Refused {
                        code: error.code,
                        message: error.message,
                    }),
                    other => Err(ClientError::UnexpectedMessage {
                        expected: "Welcome",
                        got: other.name(),
                    }),
                };
            }
            Message::Close(frame) => {
                let info = close_info(frame);
                if trace {
                    trace::event(&format!("received close {info}"));
                }
                return Err(ClientError::ClosedDuringHandshake {
                    code: info.code,
                    reason: info.reason,
                });
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Traces a frame received: the message, or why it did not decode.
pub(crate) fn trace_received<S: Schema>(
    format: WireFormat,
    payload: &[u8],
    decoded: Result<&ServerMessage<S>, &ticksync_protocol::CodecError>,
) {
    let decoded = decoded.map_err(|error| error as &dyn std::fmt::Display);
    trace::frame(trace::Direction::Received, format, payload, decoded);
}

/// How a close frame says the connection ended.
pub(crate) fn close_info(frame: Option<CloseFrame>) -> CloseInfo {
    match frame {
        Some(frame) => CloseInfo {
            code: Some(u16::from(frame.code)),
            reason: frame.reason.as_str().to_owned(),
        },
        None => CloseInfo {
            code: None,
            reason: "close frame without a code".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync_arena::ArenaSchema;

    #[tokio::test]
    async fn an_http_url_is_refused_before_any_connection() {
        for url in [
            "http://127.0.0.1:7878/ws",
            "127.0.0.1:7878",
            "https://example.com/",
        ] {
            let error = connect_and_greet::<ArenaSchema>(
                url,
                &ClientOptions::default(),
                &mut ClientCounters::default(),
            )
            .await
            .expect_err("not a WebSocket URL");
            assert!(
                matches!(error, ClientError::NotWebSocketUrl { .. }),
                "{error}"
            );
            assert!(error.to_string().contains("ws:// or wss://"), "{error}");
        }
    }
}
