//! The matchmaker's requests and answers, whatever carries them (`net::matchmake` is the
//! HTTP side): join a named room, create one, join-or-create by metadata filters, list rooms.
//! The answer to the first three is a [`SeatReservation`]: the URL of the node holding the
//! room and a seat token for it; the client's WebSocket goes straight there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ticksync_protocol::validate_room_name;

use super::placement;
use super::redis_directory::{DirectoryError, ListedRoom, Reserve, ReserveMode, Reserved};
use super::seat::{self, new_seat_id};
use super::Cluster;
use crate::metrics::MatchOutcome;

/// Most metadata pairs of a room (each is an index entry in Redis).
pub const MAX_META_PAIRS: usize = 8;
/// Longest metadata key and value, in bytes.
pub const MAX_META_KEY_BYTES: usize = 32;
pub const MAX_META_VALUE_BYTES: usize = 64;
/// Most rooms one listing returns.
pub const MAX_LISTED_ROOMS: usize = 100;

/// A seat in a room on a node: connect to `connect` (the node's URL with `room` and `seat`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatReservation {
    pub room: String,
    pub node: String,
    /// The node's WebSocket URL.
    pub url: String,
    /// The seat token: `?seat=` at the upgrade, once, before it expires.
    pub seat: String,
    /// `url` with `?room=…&seat=…`: what a client dials.
    pub connect: String,
    /// Seconds the seat stays valid.
    pub expires_in_s: u64,
}

/// What a client asks the matchmaker.
#[derive(Debug, Clone, PartialEq)]
pub enum MatchRequest {
    /// The room called `room`, made if no node runs it.
    Join { room: String },
    /// A new room, called `room` or given a name; `metadata` is what filters find it by.
    Create {
        room: Option<String>,
        metadata: BTreeMap<String, String>,
        private: bool,
    },
    /// Any public room whose metadata has every pair of `filters`, with a free seat; else a
    /// new room with `filters` as its metadata.
    JoinOrCreate { filters: BTreeMap<String, String> },
}

/// Why the matchmaker could not give a seat.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MatchError {
    #[error("{0}")]
    BadRequest(String),
    #[error("room {room:?} already exists (on node {node}); join it with /matchmake/join")]
    Exists { room: String, node: String },
    #[error("room {room:?} is full; try another room or /matchmake/join-or-create")]
    Full { room: String },
    #[error("room {room:?} runs on a node that is draining and takes no new players; try again in a while or join another room")]
    Draining { room: String },
    #[error("no node can take a new room: every node is draining or at its room or player cap; add a node or raise max_rooms / [cluster] max_players")]
    NoNode,
    #[error("{0}; players in play are not affected, retry in a few seconds")]
    Directory(#[from] DirectoryError),
    #[error("{0}")]
    Internal(String),
}

impl MatchError {
    /// HTTP status and reason.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            MatchError::BadRequest(_) => (400, "Bad Request"),
            MatchError::Exists { .. } | MatchError::Full { .. } => (409, "Conflict"),
            MatchError::Draining { .. } | MatchError::NoNode | MatchError::Directory(_) => {
                (503, "Service Unavailable")
            }
            MatchError::Internal(_) => (500, "Internal Server Error"),
        }
    }

    /// The refusal as a matchmaking outcome on `/metrics`.
    pub fn outcome(&self) -> MatchOutcome {
        match self {
            MatchError::BadRequest(_) => MatchOutcome::BadRequest,
            MatchError::Exists { .. } => MatchOutcome::Exists,
            MatchError::Full { .. } => MatchOutcome::Full,
            MatchError::Draining { .. } => MatchOutcome::Draining,
            MatchError::NoNode => MatchOutcome::NoNode,
            MatchError::Directory(_) => MatchOutcome::Unavailable,
            MatchError::Internal(_) => MatchOutcome::Error,
        }
    }
}

/// Checks metadata or filters: at most [`MAX_META_PAIRS`] pairs; keys of
/// `[A-Za-z0-9_.-]`; values of printable characters. JSON numbers and booleans count as
/// their text.
pub fn metadata(value: Option<&serde_json::Value>) -> Result<BTreeMap<String, String>, MatchError> {
    let bad = |message: String| Err(MatchError::BadRequest(message));
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    let Some(object) = value.as_object() else {
        return bad("metadata and filters are a JSON object of key: value pairs".to_owned());
    };
    if object.len() > MAX_META_PAIRS {
        return bad(format!(
            "at most {MAX_META_PAIRS} metadata pairs, not {}",
            object.len()
        ));
    }
    let mut out = BTreeMap::new();
    for (key, value) in object {
        let key_ok = !key.is_empty()
            && key.len() <= MAX_META_KEY_BYTES
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !key_ok {
            return bad(format!("metadata key {key:?} must be 1 to {MAX_META_KEY_BYTES} characters from A-Z a-z 0-9 _ . -"));
        }
        let text = match value {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            _ => {
                return bad(format!(
                    "metadata value of {key:?} must be a string, number or boolean"
                ))
            }
        };
        if text.len() > MAX_META_VALUE_BYTES || text.chars().any(char::is_control) {
            return bad(format!("metadata value of {key:?} must be at most {MAX_META_VALUE_BYTES} bytes, without control characters"));
        }
        out.insert(key.clone(), text);
    }
    Ok(out)
}

fn room_name(name: &str) -> Result<(), MatchError> {
    validate_room_name(name)
        .map_err(|error| MatchError::BadRequest(format!("bad room name: {error}")))
}

/// A fresh room name.
fn new_room_name() -> String {
    format!("r-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff)
}

/// Reserves a seat for `request`.
pub async fn reserve(
    cluster: &Cluster,
    request: MatchRequest,
) -> Result<SeatReservation, MatchError> {
    let (mode, room, meta, private) = match request {
        MatchRequest::Join { room } => {
            room_name(&room)?;
            (ReserveMode::Join, room, BTreeMap::new(), false)
        }
        MatchRequest::Create {
            room,
            metadata,
            private,
        } => {
            if let Some(room) = &room {
                room_name(room)?;
            }
            (
                ReserveMode::Create,
                room.unwrap_or_else(new_room_name),
                metadata,
                private,
            )
        }
        MatchRequest::JoinOrCreate { filters } => {
            (ReserveMode::Find, new_room_name(), filters, false)
        }
    };
    let nodes = cluster.directory.nodes().await;
    cluster.note(&nodes);
    let nodes = nodes?;
    let candidates: Vec<String> = placement::rank(&nodes)
        .into_iter()
        .map(|node| node.id.clone())
        .collect();
    let seat_id = new_seat_id();
    let reserved = cluster
        .directory
        .reserve(&Reserve {
            mode,
            room: &room,
            meta: &meta,
            private,
            candidates: &candidates,
            capacity: cluster.room_capacity,
            seat_id: &seat_id,
            seat_ttl: cluster.settings.seat_ttl,
            game: &cluster.game,
        })
        .await;
    cluster.note(&reserved);
    let (room, node, url) = match reserved? {
        Reserved::Seat { room, node, url } => (room, node, url),
        Reserved::Full { room } => return Err(MatchError::Full { room }),
        Reserved::Exists { room, node } => return Err(MatchError::Exists { room, node }),
        Reserved::Draining { room } => return Err(MatchError::Draining { room }),
        Reserved::NoNode => return Err(MatchError::NoNode),
    };
    // A joined room keeps the metadata its creator gave it; the seat carries what this
    // request knows, which the node only uses for a room it does not run yet.
    let mut claims = seat::claims(&room, &node, &url, cluster.settings.seat_ttl, meta, private);
    claims.jti = seat_id;
    let token = cluster.mint_seat(&claims).map_err(MatchError::Internal)?;
    let connect = {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("room", &room)
            .append_pair("seat", &token)
            .finish();
        format!("{url}?{query}")
    };
    Ok(SeatReservation {
        room,
        node,
        url,
        seat: token,
        connect,
        expires_in_s: cluster.settings.seat_ttl.as_secs(),
    })
}

/// Public rooms whose metadata has every pair of `filters`.
pub async fn list(
    cluster: &Cluster,
    filters: &BTreeMap<String, String>,
) -> Result<Vec<ListedRoom>, MatchError> {
    let rooms = cluster.directory.list(filters, MAX_LISTED_ROOMS).await;
    cluster.note(&rooms);
    Ok(rooms?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_is_checked_pair_by_pair() {
        let ok = metadata(Some(&json!({"mode": "ctf", "level": 3, "ranked": true}))).unwrap();
        assert_eq!(ok["level"], "3");
        assert_eq!(ok["ranked"], "true");
        for bad in [
            json!(["mode"]),
            json!({"a b": "x"}),
            json!({"mode": {"nested": 1}}),
            json!({"mode": "x".repeat(65)}),
            json!({"mode": "a\nb"}),
            json!((0..9)
                .map(|i| (format!("k{i}"), json!("v")))
                .collect::<serde_json::Map<_, _>>()),
        ] {
            assert!(
                matches!(metadata(Some(&bad)), Err(MatchError::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_room_names_are_valid() {
        for _ in 0..100 {
            assert!(validate_room_name(&new_room_name()).is_ok());
        }
    }
}
