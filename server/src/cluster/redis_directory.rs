//! The shared room directory in Redis: node registrations and room entries as leases, the
//! indexes room queries read, and the atomic steps (Lua scripts, `scripts/`) that reserve
//! seats. Every call is bounded by `redis_timeout`; an unreachable Redis is an error the
//! caller reports, never a wait. The connection manager reconnects by itself.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::placement::NodeLoad;
use super::ClusterSettings;

const COMMON: &str = include_str!("scripts/common.lua");

/// Why the directory could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    #[error("the cluster directory (Redis at {url}) is unreachable: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the cluster directory answered something unexpected: {0}")]
    Protocol(String),
}

/// A room as the node that hosts it publishes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedRoom {
    pub name: String,
    pub players: usize,
    pub capacity: usize,
    pub game: String,
    /// The metadata, JSON-encoded.
    pub meta: String,
    pub private: bool,
    /// The index keys of its metadata.
    pub idx: Vec<String>,
}

/// One room of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListedRoom {
    pub name: String,
    pub node: String,
    pub url: String,
    pub players: usize,
    /// Seats reserved and not yet taken.
    pub reserved: usize,
    pub capacity: usize,
    #[serde(default, deserialize_with = "meta_map")]
    pub meta: BTreeMap<String, String>,
}

/// cjson encodes an empty object as `{}` and an empty table as `{}` too; both are "no
/// metadata".
fn meta_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    })
}

/// How a seat reservation asks for its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReserveMode {
    /// The named room, made if it does not exist.
    Join,
    /// A new room; an existing one of that name is an error.
    Create,
    /// Any public room matching the filters with a free seat, else a new one.
    Find,
}

/// A reservation request for [`RedisDirectory::reserve`].
#[derive(Debug, Clone)]
pub struct Reserve<'a> {
    pub mode: ReserveMode,
    pub room: &'a str,
    pub meta: &'a BTreeMap<String, String>,
    pub private: bool,
    pub candidates: &'a [String],
    pub capacity: usize,
    pub seat_id: &'a str,
    pub seat_ttl: Duration,
    pub game: &'a str,
}

/// What a renewal of this node's lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// Renewed (or registered again); `conflicts` are rooms another live node holds.
    Renewed { conflicts: Vec<String> },
    /// Another process holds this node id with a live lease, registered at `url`; it last
    /// renewed at `renewed_ms` (Redis time). Nothing was written.
    Held { url: String, renewed_ms: String },
}

/// What a reservation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// A seat in `room` on `node` at `url`.
    Seat {
        room: String,
        node: String,
        url: String,
    },
    Full {
        room: String,
    },
    Exists {
        room: String,
        node: String,
    },
    /// The room runs on a node that is draining.
    Draining {
        room: String,
    },
    /// No node is open and under its caps.
    NoNode,
}

/// The directory of one cluster in one Redis.
pub struct RedisDirectory {
    url: String,
    /// This process's mark on its registration, random: a second process started with the
    /// same node id is told apart from this one (and from this one restarted).
    instance: String,
    prefix: String,
    lease: Duration,
    timeout: Duration,
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    reserve: Script,
    heartbeat: Script,
    leave: Script,
    list: Script,
    nodes: Script,
}

fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

impl RedisDirectory {
    /// A directory for the game `game` (keys under `key_prefix:game`); connects lazily.
    pub fn new(settings: &ClusterSettings, game: &str) -> Result<RedisDirectory, DirectoryError> {
        let client = redis::Client::open(settings.redis_url.as_str()).map_err(|error| {
            DirectoryError::Unreachable {
                url: settings.redis_url.clone(),
                reason: error.to_string(),
            }
        })?;
        Ok(RedisDirectory {
            url: settings.redis_url.clone(),
            instance: format!("{:016x}", rand::random::<u64>()),
            prefix: format!("{}:{game}", settings.key_prefix),
            lease: settings.lease,
            timeout: settings.redis_timeout,
            client,
            connection: OnceCell::new(),
            reserve: script(include_str!("scripts/reserve.lua")),
            heartbeat: script(include_str!("scripts/heartbeat.lua")),
            leave: script(include_str!("scripts/leave.lua")),
            list: script(include_str!("scripts/list.lua")),
            nodes: script(include_str!("scripts/nodes.lua")),
        })
    }

    fn unreachable(&self, reason: impl ToString) -> DirectoryError {
        DirectoryError::Unreachable {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }

    async fn connection(&self) -> Result<ConnectionManager, DirectoryError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout)
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let connect = self.connection.get_or_try_init(|| async {
            self.client
                .get_connection_manager_with_config(config)
                .await
                .map_err(|error| self.unreachable(error))
        });
        match tokio::time::timeout(self.timeout, connect).await {
            Ok(result) => result.cloned(),
            Err(_) => Err(self.unreachable(format!("no connection within {:?}", self.timeout))),
        }
    }

    /// Runs `script` with `args` after the prefix, bounded by the timeout.
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        args: &[String],
    ) -> Result<T, DirectoryError> {
        let mut connection = self.connection().await?;
        let mut invocation = script.prepare_invoke();
        invocation.arg(&self.prefix);
        for arg in args {
            invocation.arg(arg);
        }
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error))
                if error.is_io_error()
                    || error.is_timeout()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal() =>
            {
                Err(self.unreachable(error))
            }
            Ok(Err(error)) => Err(DirectoryError::Protocol(error.to_string())),
            Err(_) => Err(self.unreachable(format!("no answer within {:?}", self.timeout))),
        }
    }

    /// The index key of metadata pair `key` = `value`.
    pub fn index_key(&self, key: &str, value: &str) -> String {
        format!("{}:idx:{key}={value}", self.prefix)
    }

    /// The index keys of `meta`.
    pub fn index_keys(&self, meta: &BTreeMap<String, String>) -> Vec<String> {
        meta.iter().map(|(k, v)| self.index_key(k, v)).collect()
    }

    /// Renews this node's lease and its rooms' (registering them when they are missing),
    /// unless another process holds this node id.
    pub async fn heartbeat(
        &self,
        node: &NodeLoad,
        rooms: &[PublishedRoom],
        gone: &[String],
        settled: &[(String, String)],
    ) -> Result<Renewal, DirectoryError> {
        let fields = serde_json::json!({
            "url": node.url,
            "players": node.players,
            "rooms": node.rooms,
            "tick_p99_us": node.tick_p99_us,
            "tick_budget_us": node.tick_budget_us,
            "max_players": node.max_players,
            "max_rooms": node.max_rooms,
        });
        let json = |value: &dyn erased::Json| value.json();
        let answer: Vec<String> = self
            .run(
                &self.heartbeat,
                &[
                    node.id.clone(),
                    fields.to_string(),
                    self.lease.as_millis().to_string(),
                    if node.draining { "1" } else { "0" }.to_owned(),
                    json(&rooms),
                    json(&gone),
                    json(&settled),
                    self.instance.clone(),
                ],
            )
            .await?;
        let mut answer = answer.into_iter();
        match answer.next().as_deref() {
            Some("ok") => Ok(Renewal::Renewed {
                conflicts: answer.collect(),
            }),
            Some("held") => Ok(Renewal::Held {
                url: answer.next().unwrap_or_default(),
                renewed_ms: answer.next().unwrap_or_default(),
            }),
            other => Err(DirectoryError::Protocol(format!(
                "heartbeat answered {other:?}"
            ))),
        }
    }

    /// Removes this node and `rooms` from the directory now (unless another process holds
    /// this node id).
    pub async fn leave(&self, node: &str, rooms: &[String]) -> Result<(), DirectoryError> {
        let _: i64 = self
            .run(
                &self.leave,
                &[
                    node.to_owned(),
                    erased::Json::json(&rooms),
                    self.instance.clone(),
                ],
            )
            .await?;
        Ok(())
    }

    /// The live nodes.
    pub async fn nodes(&self) -> Result<Vec<NodeLoad>, DirectoryError> {
        let text: String = self.run(&self.nodes, &[]).await?;
        serde_json::from_str(&text).map_err(|error| DirectoryError::Protocol(error.to_string()))
    }

    /// Public rooms matching every pair of `filters`, at most `limit`.
    pub async fn list(
        &self,
        filters: &BTreeMap<String, String>,
        limit: usize,
    ) -> Result<Vec<ListedRoom>, DirectoryError> {
        let text: String = self
            .run(
                &self.list,
                &[
                    erased::Json::json(&self.index_keys(filters)),
                    limit.to_string(),
                ],
            )
            .await?;
        serde_json::from_str(&text).map_err(|error| DirectoryError::Protocol(error.to_string()))
    }

    /// Reserves a seat (atomically finding or creating the room).
    pub async fn reserve(&self, request: &Reserve<'_>) -> Result<Reserved, DirectoryError> {
        let mode = match request.mode {
            ReserveMode::Join => "join",
            ReserveMode::Create => "create",
            ReserveMode::Find => "find",
        };
        let answer: Vec<String> = self
            .run(
                &self.reserve,
                &[
                    mode.to_owned(),
                    request.room.to_owned(),
                    erased::Json::json(&self.index_keys(request.meta)),
                    erased::Json::json(&request.candidates),
                    request.capacity.to_string(),
                    serde_json::to_string(request.meta).unwrap_or_else(|_| "{}".to_owned()),
                    if request.private { "1" } else { "0" }.to_owned(),
                    request.seat_id.to_owned(),
                    request.seat_ttl.as_millis().to_string(),
                    self.lease.as_millis().to_string(),
                    request.game.to_owned(),
                ],
            )
            .await?;
        let [status, room, node, url]: [String; 4] = answer
            .try_into()
            .map_err(|answer| DirectoryError::Protocol(format!("reserve answered {answer:?}")))?;
        Ok(match status.as_str() {
            "ok" => Reserved::Seat { room, node, url },
            "full" => Reserved::Full { room },
            "exists" => Reserved::Exists { room, node },
            "draining" => Reserved::Draining { room },
            "no_node" => Reserved::NoNode,
            other => {
                return Err(DirectoryError::Protocol(format!(
                    "reserve answered {other:?}"
                )))
            }
        })
    }
}

/// JSON text of a serializable value, for script arguments.
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }

    impl<T: serde::Serialize + ?Sized> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_else(|_| "[]".to_owned())
        }
    }
}
