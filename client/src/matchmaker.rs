//! Joining through a cluster's matchmaker: ask any node (`http://node:port`) for a seat —
//! a named room, a new room, or join-or-create by metadata filters — and get a
//! [`SeatReservation`]: the URL of the node that holds the room and a single-use seat token.
//! [`SeatReservation::connect`] is the URL to hand [`crate::Client::connect`];
//! [`SeatReservation::resume_url`] is where to resume after a drop (the same node, no seat:
//! a node admits a resume into a room it runs).
//!
//! One request per call over plain HTTP/1.1 with `Connection: close`, bounded by a timeout.
//! Matchmakers are reached over `http://` (behind a TLS-terminating proxy for `https://`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest matchmaker answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A seat in a room on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatReservation {
    pub room: String,
    pub node: String,
    /// The node's WebSocket URL.
    pub url: String,
    /// The seat token, valid once, for `expires_in_s` seconds.
    pub seat: String,
    /// `url` with the room and the seat: what to connect to.
    pub connect: String,
    pub expires_in_s: u64,
}

impl SeatReservation {
    /// The node's URL with the room and no seat: where a dropped player resumes.
    pub fn resume_url(&self) -> String {
        let query = ::url::form_urlencoded::Serializer::new(String::new())
            .append_pair("room", &self.room)
            .finish();
        format!("{}?{query}", self.url)
    }
}

/// What to ask the matchmaker for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchRequest {
    /// The room called this, made if no node runs it.
    Join(String),
    /// A new room (named, or given a name), found later by `metadata`.
    Create {
        room: Option<String>,
        metadata: BTreeMap<String, String>,
        private: bool,
    },
    /// A public room whose metadata has every filter pair and a free seat, else a new one.
    JoinOrCreate(BTreeMap<String, String>),
}

impl MatchRequest {
    fn path_and_body(&self) -> (&'static str, serde_json::Value) {
        match self {
            MatchRequest::Join(room) => ("join", serde_json::json!({ "room": room })),
            MatchRequest::Create {
                room,
                metadata,
                private,
            } => {
                let mut body = serde_json::json!({ "metadata": metadata, "private": private });
                if let Some(room) = room {
                    body["room"] = serde_json::Value::String(room.clone());
                }
                ("create", body)
            }
            MatchRequest::JoinOrCreate(filters) => {
                ("join-or-create", serde_json::json!({ "filters": filters }))
            }
        }
    }
}

/// Why no seat was had.
#[derive(Debug, thiserror::Error)]
pub enum MatchmakeError {
    #[error("matchmaker URL {0:?} must be http://HOST:PORT (the game port of any node)")]
    Url(String),
    #[error("could not reach the matchmaker at {url}: {source}")]
    Io {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the matchmaker at {url} did not answer within {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    /// The matchmaker said no: 409 (room full or exists), 503 (directory unreachable, no
    /// node can take the room, the room's node is draining)…
    #[error("the matchmaker refused ({status}): {error}")]
    Refused { status: u16, error: String },
    #[error("the matchmaker's answer is malformed: {0}")]
    Malformed(String),
}

impl MatchmakeError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            MatchmakeError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Asks the matchmaker at `matchmaker` (`http://host:port`) for a seat, within `timeout`.
pub async fn matchmake(
    matchmaker: &str,
    request: &MatchRequest,
    timeout: Duration,
) -> Result<SeatReservation, MatchmakeError> {
    let parsed =
        ::url::Url::parse(matchmaker).map_err(|_| MatchmakeError::Url(matchmaker.to_owned()))?;
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return Err(MatchmakeError::Url(matchmaker.to_owned()));
    };
    if parsed.scheme() != "http" {
        return Err(MatchmakeError::Url(matchmaker.to_owned()));
    }
    let (action, body) = request.path_and_body();
    let body = body.to_string();
    let base = parsed.path().trim_end_matches('/');
    let head = format!(
        "POST {base}/matchmake/{action} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let io = |source| MatchmakeError::Io {
        url: matchmaker.to_owned(),
        source,
    };
    let exchange = async {
        let mut tcp = TcpStream::connect((host, port)).await.map_err(io)?;
        tcp.write_all(format!("{head}{body}").as_bytes())
            .await
            .map_err(io)?;
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tcp.read(&mut chunk).await.map_err(io)?;
            if n == 0 || raw.len() + n > MAX_ANSWER_BYTES {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
        }
        Ok::<_, MatchmakeError>(raw)
    };
    let raw = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| MatchmakeError::Timeout {
            url: matchmaker.to_owned(),
            timeout,
        })??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| MatchmakeError::Malformed("no end of the HTTP head".to_owned()))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| MatchmakeError::Malformed("no HTTP status".to_owned()))?;
    if status != 200 {
        let error = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|json| json["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.trim().to_owned());
        return Err(MatchmakeError::Refused { status, error });
    }
    serde_json::from_str(body).map_err(|error| MatchmakeError::Malformed(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_url_is_the_node_and_the_room_without_the_seat() {
        let seat = SeatReservation {
            room: "r 1".into(),
            node: "n1".into(),
            url: "ws://10.0.0.1:7878/ws".into(),
            seat: "t".into(),
            connect: "ws://10.0.0.1:7878/ws?room=r+1&seat=t".into(),
            expires_in_s: 10,
        };
        assert_eq!(seat.resume_url(), "ws://10.0.0.1:7878/ws?room=r+1");
    }

    #[tokio::test]
    async fn only_http_matchmakers_are_dialled() {
        let join = MatchRequest::Join("a".into());
        for url in ["ws://x:1/ws", "https://x", "nonsense"] {
            assert!(matches!(
                matchmake(url, &join, Duration::from_secs(1)).await,
                Err(MatchmakeError::Url(_))
            ));
        }
    }
}
