//! Trace mode (`--trace`): every frame one client sends and receives, decoded, with a
//! timestamp, printed to stderr — like Python websocket-client's `enableTrace(True)`.
//!
//! It bypasses `tracing` on purpose: the swarm's log filter is quiet by default, and a trace
//! is asked for explicitly, so it must show whatever `RUST_LOG` says.

use std::fmt::Debug;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::tungstenite::Message;

/// Seconds in a day, to print the UTC time of day without a date-time dependency.
const SECS_PER_DAY: u64 = 86_400;

/// Prints `--> (N bytes) Message` for a frame sent.
pub(crate) fn sent(message: &impl Debug, payload_len: usize) {
    line(&format!("--> ({payload_len} bytes) {message:?}"));
}

/// Prints `<-- (N bytes) Message` for a frame received and decoded.
pub(crate) fn received(message: &impl Debug, payload_len: usize) {
    line(&format!("<-- ({payload_len} bytes) {message:?}"));
}

/// Prints a connection event (connect, close).
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

fn line(text: &str) {
    // Tracing is best effort: a closed stderr must not stop the client.
    let _ = writeln!(std::io::stderr().lock(), "[trace {}] {text}", timestamp());
}

/// UTC time of day with microseconds, e.g. `14:03:07.123456`.
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
}
