//! The matchmaker over HTTP on the game port (any node of a cluster answers it):
//!
//! | Request | Answer |
//! |---|---|
//! | `POST /matchmake/join` `{"room": "NAME"}` | a seat in room NAME, made if no node runs it |
//! | `POST /matchmake/create` `{"room"?: "NAME", "metadata"?: {…}, "private"?: bool}` | a seat in a new room |
//! | `POST /matchmake/join-or-create` `{"filters"?: {…}}` | a seat in a public room whose metadata has every filter pair, else in a new room with the filters as its metadata |
//! | `GET /matchmake/rooms?KEY=VALUE…` | the public rooms matching every pair (at most 100) |
//!
//! A seat answer is JSON: `room`, `node`, `url`, `seat`, `connect` (the URL to dial) and
//! `expires_in_s`. Errors are JSON `{"error": "…"}` with 400, 404, 405, 409, 411, 413 or 503
//! (the directory is unreachable, or no node can take the room). Bodies are read with a size
//! bound under the connection's handshake deadline.

use std::sync::Arc;

use ticksync_protocol::Schema;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::http::{RequestHead, Response};
use super::SessionContext;
use crate::cluster::matchmaking::{self, MatchError, MatchRequest};
use crate::cluster::Cluster;
use crate::metrics::{MatchAction, MatchOutcome};

/// Where the matchmaker's paths start.
pub const PREFIX: &str = "/matchmake/";

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 4096;

/// Largest too-large body still read (and dropped) before the 413 answer.
const DRAINED_BODY_BYTES: usize = 64 * 1024;

fn json(status: u16, reason: &'static str, body: String) -> Response {
    Response {
        status,
        reason,
        content_type: "application/json",
        headers: vec![("Cache-Control", "no-store")],
        body: body.into_bytes(),
    }
}

fn error(status: u16, reason: &'static str, message: impl std::fmt::Display) -> Response {
    json(
        status,
        reason,
        serde_json::json!({ "error": message.to_string() }).to_string(),
    )
}

fn refused(error_: &MatchError) -> Response {
    let (status, reason) = error_.status();
    error(status, reason, error_)
}

/// A malformed request's answer, counted as a bad request.
fn bad(response: Response) -> (Response, MatchOutcome) {
    (response, MatchOutcome::BadRequest)
}

/// A refusal's answer and outcome.
fn refusal(error_: &MatchError) -> (Response, MatchOutcome) {
    (refused(error_), error_.outcome())
}

/// What a path under [`PREFIX`] asks for.
fn action_of(path: &str) -> MatchAction {
    match path.strip_prefix(PREFIX).unwrap_or_default() {
        "join" => MatchAction::Join,
        "create" => MatchAction::Create,
        "join-or-create" => MatchAction::JoinOrCreate,
        "rooms" => MatchAction::Rooms,
        _ => MatchAction::Unknown,
    }
}

/// The request target and `Content-Length` of a head already read.
fn target_and_length(head: &RequestHead) -> (String, Option<usize>) {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let _ = request.parse(&head.bytes[..head.head_len]);
    let target = request.path.unwrap_or_default().to_owned();
    let length = request
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .and_then(|header| std::str::from_utf8(header.value).ok())
        .and_then(|value| value.trim().parse().ok());
    (target, length)
}

/// Answers one matchmaker request and returns its status code.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin, P: Schema>(
    stream: &mut S,
    head: &RequestHead,
    ctx: &SessionContext<P>,
    deadline: Instant,
) -> std::io::Result<u16> {
    let Some(cluster) = ctx.cluster.as_ref() else {
        let response = error(404, "Not Found", "matchmaking needs [cluster] settings; a single server is joined directly at /ws?room=NAME");
        response.write(stream, head.method == "HEAD").await?;
        return Ok(response.status);
    };
    let action = action_of(&head.path);
    let (response, outcome) = answer(stream, head, cluster, action, deadline).await;
    cluster.metrics.matchmaking(action, outcome);
    response.write(stream, head.method == "HEAD").await?;
    // A TLS client sees the answer end with close_notify, not a cut connection.
    let _ = tokio::time::timeout_at(deadline, stream.shutdown()).await;
    Ok(response.status)
}

/// The answer to a matchmaker request, and how it ended for the metrics.
async fn answer<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &RequestHead,
    cluster: &Arc<Cluster>,
    action: MatchAction,
    deadline: Instant,
) -> (Response, MatchOutcome) {
    let (target, length) = target_and_length(head);
    if action == MatchAction::Rooms {
        if head.method != "GET" && head.method != "HEAD" {
            return bad(error(
                405,
                "Method Not Allowed",
                "GET /matchmake/rooms?KEY=VALUE lists rooms",
            ));
        }
        let query = target
            .split_once('?')
            .map(|(_, query)| query)
            .unwrap_or_default();
        let pairs: serde_json::Map<String, serde_json::Value> =
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
        let filters = match matchmaking::metadata(Some(&serde_json::Value::Object(pairs))) {
            Ok(filters) => filters,
            Err(error_) => return refusal(&error_),
        };
        let asked = std::time::Instant::now();
        let listed = matchmaking::list(cluster, &filters).await;
        cluster.metrics.matchmaking_took(action, asked.elapsed());
        return match listed {
            Ok(rooms) => (
                json(
                    200,
                    "OK",
                    serde_json::to_string(&rooms).unwrap_or_else(|_| "[]".to_owned()),
                ),
                MatchOutcome::Listed,
            ),
            Err(error_) => refusal(&error_),
        };
    }
    if action == MatchAction::Unknown {
        return bad(error(404, "Not Found", "the matchmaker answers POST /matchmake/join, /matchmake/create, /matchmake/join-or-create and GET /matchmake/rooms"));
    }
    let path = head.path.strip_prefix(PREFIX).unwrap_or_default();
    if head.method != "POST" {
        return bad(error(
            405,
            "Method Not Allowed",
            format!("/matchmake/{path} takes POST with a JSON body"),
        ));
    }
    let Some(length) = length else {
        return bad(error(
            411,
            "Length Required",
            "send the JSON body with a Content-Length",
        ));
    };
    if length > MAX_BODY_BYTES {
        // Read a modest excess before answering, so closing with unread bytes does not
        // reset the connection under the answer; a huge one is not worth reading.
        let mut left = length.saturating_sub(head.bytes.len() - head.head_len);
        let mut chunk = [0u8; 1024];
        while left > 0 && length <= DRAINED_BODY_BYTES {
            match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => left = left.saturating_sub(n),
                _ => break,
            }
        }
        return bad(error(
            413,
            "Payload Too Large",
            format!("the body is {length} bytes; at most {MAX_BODY_BYTES}"),
        ));
    }
    let mut body = head.bytes[head.head_len..].to_vec();
    body.truncate(length);
    while body.len() < length {
        let mut chunk = [0u8; 1024];
        let want = (length - body.len()).min(chunk.len());
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk[..want])).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return bad(error(
                    400,
                    "Bad Request",
                    "the connection closed before the body ended",
                ))
            }
            Ok(Ok(n)) => body.extend_from_slice(&chunk[..n]),
            Err(_) => {
                return bad(error(
                    408,
                    "Request Timeout",
                    "the body did not arrive in time",
                ))
            }
        }
    }
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(problem) => {
                return bad(error(
                    400,
                    "Bad Request",
                    format!("the body is not JSON: {problem}"),
                ))
            }
        }
    };
    let request = match parse(path, &value) {
        Ok(request) => request,
        Err(error_) => return refusal(&error_),
    };
    let asked = std::time::Instant::now();
    let reserved = matchmaking::reserve(cluster, request).await;
    cluster.metrics.matchmaking_took(action, asked.elapsed());
    match reserved {
        Ok(seat) => (
            json(200, "OK", serde_json::to_string(&seat).unwrap_or_default()),
            MatchOutcome::Seated,
        ),
        Err(error_) => {
            tracing::debug!(action = path, error = %error_, "matchmaking refused");
            refusal(&error_)
        }
    }
}

fn parse(action: &str, value: &serde_json::Value) -> Result<MatchRequest, MatchError> {
    let Some(object) = value.as_object() else {
        return Err(MatchError::BadRequest(
            "the body must be a JSON object".to_owned(),
        ));
    };
    let known: &[&str] = match action {
        "join" => &["room"],
        "create" => &["room", "metadata", "private"],
        _ => &["filters"],
    };
    if let Some(unknown) = object.keys().find(|key| !known.contains(&key.as_str())) {
        return Err(MatchError::BadRequest(format!(
            "unknown field {unknown:?}; /matchmake/{action} takes {known:?}"
        )));
    }
    let room = match object.get("room") {
        None => None,
        Some(serde_json::Value::String(room)) => Some(room.clone()),
        Some(_) => return Err(MatchError::BadRequest("room must be a string".to_owned())),
    };
    Ok(match action {
        "join" => MatchRequest::Join {
            room: room.ok_or_else(|| {
                MatchError::BadRequest("join needs {\"room\": \"NAME\"}".to_owned())
            })?,
        },
        "create" => MatchRequest::Create {
            room,
            metadata: matchmaking::metadata(object.get("metadata"))?,
            private: match object.get("private") {
                None => false,
                Some(serde_json::Value::Bool(flag)) => *flag,
                Some(_) => {
                    return Err(MatchError::BadRequest(
                        "private must be true or false".to_owned(),
                    ))
                }
            },
        },
        _ => MatchRequest::JoinOrCreate {
            filters: matchmaking::metadata(object.get("filters"))?,
        },
    })
}

/// `room` and `seat` of an upgrade's request target (`/ws?room=…&seat=…`).
pub fn room_and_seat(head: &RequestHead) -> (Option<String>, Option<String>) {
    let (target, _) = target_and_length(head);
    let query = target
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default();
    let mut room = None;
    let mut seat = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "room" => room = Some(value.into_owned()),
            "seat" => seat = Some(value.into_owned()),
            _ => {}
        }
    }
    (room, seat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn bodies_are_parsed_strictly() {
        assert_eq!(
            parse("join", &json!({"room": "a"})).unwrap(),
            MatchRequest::Join { room: "a".into() }
        );
        assert!(parse("join", &json!({})).is_err());
        assert!(parse("join", &json!({"room": 3})).is_err());
        assert!(parse("create", &json!({"private": "yes"})).is_err());
        assert!(parse("join-or-create", &json!({"filter": {}})).is_err());
        assert!(parse("join-or-create", &json!([1])).is_err());
        let filters: BTreeMap<String, String> = [("mode".to_owned(), "ctf".to_owned())].into();
        assert_eq!(
            parse("join-or-create", &json!({"filters": {"mode": "ctf"}})).unwrap(),
            MatchRequest::JoinOrCreate { filters }
        );
    }
}
