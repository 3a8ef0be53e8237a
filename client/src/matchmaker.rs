//! Joining through a cluster's matchmaker: ask any node (`http://node:port`, or
//! `https://node:port` where the nodes serve TLS) for a seat —
//! a named room, a new room, or join-or-create by metadata filters — and get a
//! [`SeatReservation`]: the URL of the node that holds the room and a single-use seat token.
//! [`SeatReservation::connect`] is the URL to hand [`crate::Client::connect`];
//! [`SeatReservation::resume_url`] is where to resume after a drop (the same node, no seat:
//! a node admits a resume into a room it runs).
//!
//! One request per call over HTTP/1.1 with `Connection: close`, bounded by the options'
//! handshake timeout. An `https://` matchmaker is reached with the same TLS configuration
//! as a `wss://` node ([`ClientOptions::tls`]: a private CA, or `Insecure` for a
//! development node's self-signed certificate), so one trust setting covers both steps.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

use crate::options::ClientOptions;

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
    #[error("matchmaker URL {0:?} must be http://HOST:PORT or https://HOST:PORT (the game port of any node)")]
    Url(String),
    #[error("the matchmaker {0} is https:// but no TLS trust is set: set ClientOptions::tls (the swarm's --ca-cert, or --insecure for a development node's self-signed certificate)")]
    NoTlsTrust(String),
    #[error("TLS with the matchmaker at {url} failed: {source}; trust its certificate's CA (ClientOptions::tls, the swarm's --ca-cert), or use --insecure for a development node")]
    Tls {
        url: String,
        #[source]
        source: std::io::Error,
    },
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

/// Asks the matchmaker at `matchmaker` (`http://host:port` or `https://host:port`) for a
/// seat, within `options.handshake_timeout`, trusting for `https://` what `options.tls`
/// trusts for `wss://`.
pub async fn matchmake(
    matchmaker: &str,
    request: &MatchRequest,
    options: &ClientOptions,
) -> Result<SeatReservation, MatchmakeError> {
    let timeout = options.handshake_timeout;
    let bad_url = || MatchmakeError::Url(matchmaker.to_owned());
    let parsed = ::url::Url::parse(matchmaker).map_err(|_| bad_url())?;
    let (Some(host), Some(port)) = (parsed.host(), parsed.port_or_known_default()) else {
        return Err(bad_url());
    };
    let tls = match parsed.scheme() {
        "http" => None,
        "https" => {
            let Some(config) = options.tls.clone() else {
                return Err(MatchmakeError::NoTlsTrust(matchmaker.to_owned()));
            };
            let name = match &host {
                ::url::Host::Domain(domain) => {
                    ServerName::try_from(domain.to_string()).map_err(|_| bad_url())?
                }
                ::url::Host::Ipv4(ip) => ServerName::IpAddress(std::net::IpAddr::V4(*ip).into()),
                ::url::Host::Ipv6(ip) => ServerName::IpAddress(std::net::IpAddr::V6(*ip).into()),
            };
            Some((TlsConnector::from(config), name))
        }
        _ => return Err(bad_url()),
    };
    let dial = match &host {
        ::url::Host::Domain(domain) => domain.to_string(),
        ::url::Host::Ipv4(ip) => ip.to_string(),
        ::url::Host::Ipv6(ip) => ip.to_string(),
    };
    let (action, body) = request.path_and_body();
    let body = body.to_string();
    let base = parsed.path().trim_end_matches('/');
    let host_header = parsed.host_str().unwrap_or_default();
    let sent = format!(
        "POST {base}/matchmake/{action} HTTP/1.1\r\nHost: {host_header}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let io = |source| MatchmakeError::Io {
        url: matchmaker.to_owned(),
        source,
    };
    let exchange =
        async {
            let tcp = TcpStream::connect((dial.as_str(), port))
                .await
                .map_err(io)?;
            match tls {
                None => exchange_over(tcp, sent.as_bytes()).await.map_err(io),
                Some((connector, name)) => {
                    let stream = connector.connect(name, tcp).await.map_err(|source| {
                        MatchmakeError::Tls {
                            url: matchmaker.to_owned(),
                            source,
                        }
                    })?;
                    exchange_over(stream, sent.as_bytes()).await.map_err(io)
                }
            }
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

/// Sends `request` and reads the answer: up to the end its `Content-Length` gives, else to
/// the end of the stream, at most [`MAX_ANSWER_BYTES`]. A complete answer is not spoiled by
/// how the connection ends after it (a TLS peer that closes without `close_notify`).
async fn exchange_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> std::io::Result<Vec<u8>> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = answer_end(&raw) {
            raw.truncate(end);
            return Ok(raw);
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || raw.len() + n > MAX_ANSWER_BYTES {
            return Ok(raw);
        }
        raw.extend_from_slice(&chunk[..n]);
    }
}

/// Where an HTTP answer with a `Content-Length` ends, once all of it is in `raw`.
fn answer_end(raw: &[u8]) -> Option<usize> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let length: usize = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    let end = head_end.checked_add(length)?;
    (raw.len() >= end).then_some(end)
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
    async fn only_http_and_https_matchmakers_are_dialled() {
        let join = MatchRequest::Join("a".into());
        let options = ClientOptions {
            handshake_timeout: Duration::from_secs(1),
            ..ClientOptions::default()
        };
        for url in ["ws://x:1/ws", "wss://x:1/ws", "ftp://x", "nonsense"] {
            assert!(matches!(
                matchmake(url, &join, &options).await,
                Err(MatchmakeError::Url(_))
            ));
        }
        // https:// without a trust setting is refused before dialling, saying what to set.
        let error = matchmake("https://127.0.0.1:9", &join, &options)
            .await
            .unwrap_err();
        assert!(matches!(error, MatchmakeError::NoTlsTrust(_)), "{error}");
        assert!(error.to_string().contains("--ca-cert"), "{error}");
    }

    #[test]
    fn an_answer_ends_where_its_content_length_says() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(answer_end(answer), Some(answer.len()));
        assert_eq!(answer_end(&answer[..answer.len() - 1]), None);
        let mut longer = answer.to_vec();
        longer.extend_from_slice(b"junk");
        assert_eq!(answer_end(&longer), Some(answer.len()));
        assert_eq!(answer_end(b"HTTP/1.1 200 OK\r\n\r\n{}"), None);
        assert_eq!(answer_end(b"HTTP/1.1 200 OK\r\nContent-Length: x"), None);
    }
}
