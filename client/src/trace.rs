//! Trace mode (`--trace`): what one client sends and receives, as it crosses the wire,
//! printed to stderr — like Python websocket-client's `enableTrace(True)`, with what a
//! ticksync client also needs to see:
//!
//! - the HTTP upgrade request and the server's answer both ways, the chosen subprotocol, and
//!   for a refused upgrade the status, headers and body;
//! - every frame with its direction (`-->` sent, `<--` received), time of day, kind and size,
//!   then the JSON text as it travelled (JSON codec) or a hex dump of the bytes followed by
//!   the decoded message in the JSON codec's form (bincode), so that someone writing a codec
//!   has bytes to diff against and field names from PROTOCOL.md to read;
//! - for every snapshot, the checksum verdict: the view matched the server's checksum, or why
//!   not.
//!
//! It bypasses `tracing` on purpose: the swarm's log filter is quiet by default, and a trace
//! is asked for explicitly, so it must show whatever `RUST_LOG` says. A join token in the
//! request is shown without its signature: the trace shows the claims, and is no credential.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use ticksync_protocol::WireFormat;

use crate::tungstenite::Message;

/// Seconds in a day, to print the UTC time of day without a date-time dependency.
const SECS_PER_DAY: u64 = 86_400;
/// Bytes per hex-dump line.
const HEX_LINE_BYTES: usize = 16;
/// Most bytes of an HTTP answer's body shown.
const MAX_BODY_BYTES: usize = 2048;
/// Indent of the lines under a frame's header line.
const INDENT: &str = "    ";

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Sent,
    Received,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Direction::Sent => "-->",
            Direction::Received => "<--",
        }
    }
}

/// Prints one protocol frame: `--> binary 9 B` (or `text`), then the JSON text (JSON codec)
/// or a hex dump and the decoded message as JSON (bincode). `decoded` is the message, or why
/// the payload did not decode.
pub(crate) fn frame<M: Serialize>(
    direction: Direction,
    format: WireFormat,
    payload: &[u8],
    decoded: Result<&M, &dyn std::fmt::Display>,
) {
    line(&render_frame(direction, format, payload, decoded));
}

fn render_frame<M: Serialize>(
    direction: Direction,
    format: WireFormat,
    payload: &[u8],
    decoded: Result<&M, &dyn std::fmt::Display>,
) -> String {
    let arrow = direction.arrow();
    let len = payload.len();
    if format.uses_text_frames() {
        let text = String::from_utf8_lossy(payload);
        let mut out = format!("{arrow} text {len} B {text}");
        if let Err(error) = decoded {
            let _ = write!(out, "\n{INDENT}does not decode: {error}");
        }
        return out;
    }
    let mut out = format!("{arrow} binary {len} B");
    match decoded {
        Ok(message) => match serde_json::to_string(message) {
            Ok(json) => {
                let _ = write!(out, " {json}");
            }
            Err(error) => {
                let _ = write!(out, " (decoded, but not printable as JSON: {error})");
            }
        },
        Err(error) => {
            let _ = write!(out, " does not decode: {error}");
        }
    }
    out.push_str(&hex_dump(payload));
    out
}

/// `payload` as hex-dump lines, each starting with a newline: offset, 16 bytes in hex,
/// and those bytes as ASCII (`.` for the rest).
pub(crate) fn hex_dump(payload: &[u8]) -> String {
    let mut out = String::with_capacity(payload.len() * 4 + 16);
    for (index, chunk) in payload.chunks(HEX_LINE_BYTES).enumerate() {
        let _ = write!(out, "\n{INDENT}{:04x} ", index * HEX_LINE_BYTES);
        for byte in chunk {
            let _ = write!(out, " {byte:02x}");
        }
        for _ in chunk.len()..HEX_LINE_BYTES {
            out.push_str("   ");
        }
        out.push_str("  |");
        out.extend(chunk.iter().map(|&byte| {
            if byte.is_ascii_graphic() || byte == b' ' {
                char::from(byte)
            } else {
                '.'
            }
        }));
        out.push('|');
    }
    out
}

/// Prints the HTTP upgrade request as it will be sent (the `token` query parameter and a
/// bearer token without their signatures).
pub(crate) fn upgrade_request<B>(request: &http::Request<B>) {
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |target| redact_query(target.as_str()));
    let mut out = format!(
        "--> HTTP upgrade request\n{INDENT}{} {target} {:?}",
        request.method(),
        request.version()
    );
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        let value = match value.strip_prefix("Bearer ") {
            Some(token) if name == http::header::AUTHORIZATION => {
                format!("Bearer {}", redact_token(token))
            }
            _ => value.into_owned(),
        };
        let _ = write!(out, "\n{INDENT}{name}: {value}");
    }
    line(&out);
}

/// Prints the server's answer to the upgrade: status, headers and, for a refusal, the body
/// (the server says there why it refused).
pub(crate) fn upgrade_response(response: &http::Response<Option<Vec<u8>>>) {
    let status = response.status();
    let mut out = format!(
        "<-- HTTP {} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or_default()
    );
    for (name, value) in response.headers() {
        let _ = write!(
            out,
            "\n{INDENT}{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    if let Some(body) = response.body().as_deref().filter(|body| !body.is_empty()) {
        let shown = &body[..body.len().min(MAX_BODY_BYTES)];
        let _ = write!(out, "\n{INDENT}");
        let _ = write!(
            out,
            "\n{INDENT}{}",
            String::from_utf8_lossy(shown).trim_end()
        );
        if shown.len() < body.len() {
            let _ = write!(out, " … ({} bytes in all)", body.len());
        }
    }
    line(&out);
}

/// Prints the subprotocol the server chose, and so the codec of the session.
pub(crate) fn subprotocol(chosen: Option<&str>, format: WireFormat) {
    match chosen {
        Some(name) => event(&format!(
            "subprotocol {name}: {} frames",
            if format.uses_text_frames() {
                "text (JSON)"
            } else {
                "binary (bincode)"
            }
        )),
        None => event("the server chose no subprotocol"),
    }
}

/// Prints where the client connects and the subprotocol it offers (a join token in the URL
/// without its signature).
pub(crate) fn connecting(url: &str, offered: &str) {
    event(&format!(
        "connecting to {} offering {offered}",
        redact_query(url)
    ));
}

/// Prints a connection event (connect, close, a checksum verdict).
pub(crate) fn event(text: &str) {
    line(&format!("--- {text}"));
}

/// A raw frame in a few words: its kind and size, not its (possibly garbage) bytes.
pub(crate) fn describe_raw(message: &Message) -> String {
    match message {
        Message::Binary(payload) => format!("binary frame ({} bytes)", payload.len()),
        Message::Text(text) => format!("text frame ({} bytes)", text.len()),
        Message::Close(frame) => format!("close frame {frame:?}"),
        Message::Ping(_) => "ping frame".to_owned(),
        Message::Pong(_) => "pong frame".to_owned(),
        Message::Frame(_) => "raw frame".to_owned(),
    }
}

/// A request target with the `token` parameter's signature cut off.
fn redact_query(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_owned();
    };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.strip_prefix("token=") {
            Some(token) => format!("token={}", redact_token(token)),
            None => parameter.to_owned(),
        })
        .collect();
    format!("{path}?{}", parameters.join("&"))
}

/// A JWT with its signature replaced by a note: header and claims stay readable.
fn redact_token(token: &str) -> String {
    match token.rsplit_once('.') {
        Some((signed_part, signature)) if !signature.is_empty() => {
            format!("{signed_part}.<signature hidden>")
        }
        _ => token.to_owned(),
    }
}

fn line(text: &str) {
    // Tracing is best effort: a closed stderr must not stop the client.
    let _ = writeln!(std::io::stderr().lock(), "[trace {}] {text}", timestamp());
}

/// UTC time of day with microseconds, e.g. `14:03:07.123456Z`.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() % SECS_PER_DAY;
    format!(
        "{:02}:{:02}:{:02}.{:06}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        now.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync_arena::ArenaSchema;
    use ticksync_protocol::{ClientMessage, Hello, PROTOCOL_VERSION};

    fn hello() -> ClientMessage<ArenaSchema> {
        ClientMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            player_name: "ada".to_owned(),
        })
    }

    #[test]
    fn timestamps_are_times_of_day() {
        let stamp = timestamp();
        assert_eq!(stamp.len(), "00:00:00.000000Z".len(), "{stamp}");
        assert_eq!(&stamp[2..3], ":");
    }

    #[test]
    fn raw_frames_are_described_by_size_not_content() {
        let garbage = Message::Binary(vec![0xff; 3000].into());
        assert_eq!(describe_raw(&garbage), "binary frame (3000 bytes)");
    }

    #[test]
    fn bincode_frames_show_bytes_and_the_message_as_json() {
        let message = hello();
        let payload = WireFormat::Bincode.encode(&message).unwrap();
        let text = render_frame(Direction::Sent, WireFormat::Bincode, &payload, Ok(&message));
        // PROTOCOL.md §4: Hello { 2, "ada" } is `00 02 03 61 64 61`.
        let padding = " ".repeat(3 * (HEX_LINE_BYTES - payload.len()));
        assert_eq!(
            text,
            format!(
                "--> binary 6 B {{\"Hello\":{{\"protocol_version\":2,\"player_name\":\"ada\"}}}}\n    \
                 0000  00 02 03 61 64 61{padding}  |...ada|"
            )
        );
    }

    #[test]
    fn json_frames_show_the_text_as_it_travelled() {
        let message = hello();
        let payload = WireFormat::Json.encode(&message).unwrap();
        let text = render_frame(
            Direction::Received,
            WireFormat::Json,
            &payload,
            Ok(&message),
        );
        assert_eq!(
            text,
            "<-- text 52 B {\"Hello\":{\"protocol_version\":2,\"player_name\":\"ada\"}}"
        );
        assert!(!text.contains("EntityId("), "no Rust Debug output");
    }

    #[test]
    fn undecodable_frames_still_show_their_bytes() {
        let why = "unexpected end of input";
        let text = render_frame::<ClientMessage<ArenaSchema>>(
            Direction::Received,
            WireFormat::Bincode,
            &[0xff; 20],
            Err(&why),
        );
        assert!(text.starts_with("<-- binary 20 B does not decode: unexpected end"));
        assert!(text.contains("\n    0010  ff ff ff ff"), "{text}");
    }

    #[test]
    fn tokens_lose_their_signature_and_nothing_else() {
        assert_eq!(
            redact_query("/ws?room=a&token=h.c.sig&x=1"),
            "/ws?room=a&token=h.c.<signature hidden>&x=1"
        );
        assert_eq!(redact_query("/ws"), "/ws");
        assert_eq!(
            redact_query("wss://h:1/ws?token=h.c.sig"),
            "wss://h:1/ws?token=h.c.<signature hidden>"
        );
        assert_eq!(redact_token("not-a-jwt"), "not-a-jwt");
    }
}
