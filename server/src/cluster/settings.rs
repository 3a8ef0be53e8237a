//! `[cluster]`: the settings of a node that shares a room directory with other nodes in
//! Redis. Absent, the server is one node with its directory in memory and needs no Redis.
//!
//! ```toml
//! [cluster]
//! redis_url = "redis://10.0.0.5:6379/0"
//! public_url = "wss://eu-1.game.example.com/ws"   # what clients dial to reach this node
//! node_id = "eu-1"
//! lease = "6s"
//! ```
//!
//! The seat secret (HMAC key of seat tokens, the same on every node) never sits in the
//! file: `seat_secret_file`, else the `TICKSYNC_SEAT_SECRET` variable.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{Secret, MIN_TOKEN_SECRET_BYTES};

/// Environment variable holding the seat secret when `seat_secret_file` is not set.
pub const SEAT_SECRET_ENV: &str = "TICKSYNC_SEAT_SECRET";

/// The `[cluster]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// The Redis every node of the cluster shares, `redis://` or `rediss://`.
    pub redis_url: String,
    /// This node's WebSocket URL as clients dial it (`ws://` or `wss://`, path `/ws`).
    pub public_url: String,
    /// This node's name in the directory; unique in the cluster.
    pub node_id: String,
    /// How long the node's registration and its rooms stay listed without renewal: a node
    /// that dies vanishes from the directory within this time. Renewed every third of it.
    #[serde(default = "default_lease", with = "humantime_serde")]
    pub lease: Duration,
    /// How long a seat reservation (a seat token) stays valid.
    #[serde(default = "default_seat_ttl", with = "humantime_serde")]
    pub seat_ttl: Duration,
    /// Most players this node takes; new rooms go to other nodes past it. (Rooms are
    /// capped by `max_rooms`.)
    #[serde(default = "default_max_players")]
    pub max_players: usize,
    /// Prefix of every Redis key (several clusters may share one Redis).
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// A file holding the seat secret; else `TICKSYNC_SEAT_SECRET`.
    #[serde(default)]
    pub seat_secret_file: Option<PathBuf>,
    /// Longest wait for one Redis answer before the directory counts as unreachable.
    #[serde(default = "default_redis_timeout", with = "humantime_serde")]
    pub redis_timeout: Duration,
    /// The seat secret, when set by code (tests, an embedding program); never serialized.
    #[serde(skip)]
    pub seat_secret: Option<Secret>,
}

fn default_lease() -> Duration {
    Duration::from_secs(6)
}

fn default_seat_ttl() -> Duration {
    Duration::from_secs(10)
}

fn default_max_players() -> usize {
    5_000
}

fn default_key_prefix() -> String {
    "ticksync".to_owned()
}

fn default_redis_timeout() -> Duration {
    Duration::from_secs(2)
}

impl ClusterSettings {
    /// Settings for node `node_id` at `public_url` on `redis_url`, the rest at defaults.
    pub fn new(
        redis_url: impl Into<String>,
        public_url: impl Into<String>,
        node_id: impl Into<String>,
    ) -> ClusterSettings {
        ClusterSettings {
            redis_url: redis_url.into(),
            public_url: public_url.into(),
            node_id: node_id.into(),
            lease: default_lease(),
            seat_ttl: default_seat_ttl(),
            max_players: default_max_players(),
            key_prefix: default_key_prefix(),
            seat_secret_file: None,
            redis_timeout: default_redis_timeout(),
            seat_secret: None,
        }
    }

    /// Checks each setting; the message says how to fix it.
    pub fn check(&self) -> Result<(), String> {
        if !(self.redis_url.starts_with("redis://") || self.redis_url.starts_with("rediss://")) {
            return Err(format!(
                "[cluster] redis_url {:?} must start with redis:// or rediss://",
                self.redis_url
            ));
        }
        let url = url::Url::parse(&self.public_url).map_err(|error| {
            format!(
                "[cluster] public_url {:?} is not a URL ({error}); give the address clients dial, like wss://node1.example.com/ws",
                self.public_url
            )
        })?;
        if !matches!(url.scheme(), "ws" | "wss") || url.path() != ticksync_protocol::WEBSOCKET_PATH
        {
            return Err(format!(
                "[cluster] public_url {:?} must be a ws:// or wss:// URL with the path {}",
                self.public_url,
                ticksync_protocol::WEBSOCKET_PATH
            ));
        }
        let id_ok = !self.node_id.is_empty()
            && self.node_id.len() <= 64
            && self
                .node_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !id_ok {
            return Err(format!(
                "[cluster] node_id {:?} must be 1 to 64 characters from A-Z a-z 0-9 - _ .",
                self.node_id
            ));
        }
        if self.lease < Duration::from_millis(500) {
            return Err("[cluster] lease must be at least 500ms".to_owned());
        }
        if self.seat_ttl < Duration::from_secs(1) {
            return Err("[cluster] seat_ttl must be at least 1s".to_owned());
        }
        if self.max_players == 0 {
            return Err("[cluster] max_players must be at least 1".to_owned());
        }
        if self.key_prefix.is_empty() || self.key_prefix.contains(char::is_whitespace) {
            return Err("[cluster] key_prefix must be non-empty, without spaces".to_owned());
        }
        if self.redis_timeout.is_zero() {
            return Err("[cluster] redis_timeout must be more than 0s".to_owned());
        }
        Ok(())
    }

    /// The seat secret: set by code, else read from `seat_secret_file`, else from
    /// `TICKSYNC_SEAT_SECRET`. Every node of a cluster needs the same one.
    pub fn resolve_seat_secret(&self) -> Result<Secret, String> {
        let secret = if let Some(secret) = &self.seat_secret {
            secret.clone()
        } else if let Some(path) = &self.seat_secret_file {
            let text = std::fs::read_to_string(path).map_err(|error| {
                format!(
                    "could not read [cluster] seat_secret_file {}: {error}",
                    path.display()
                )
            })?;
            Secret::new(text.trim())
        } else {
            match std::env::var(SEAT_SECRET_ENV) {
                Ok(value) if !value.trim().is_empty() => Secret::new(value.trim()),
                _ => {
                    return Err(format!(
                        "a cluster node needs a seat secret (the same on every node): set {SEAT_SECRET_ENV} or [cluster] seat_secret_file"
                    ))
                }
            }
        };
        if secret.expose().len() < MIN_TOKEN_SECRET_BYTES {
            return Err(format!(
                "the seat secret is {} bytes; use at least {MIN_TOKEN_SECRET_BYTES} random bytes (e.g. openssl rand -hex 32)",
                secret.expose().len()
            ));
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_reads_with_defaults_and_each_bad_setting_is_named() {
        let table: ClusterSettings = toml::from_str(
            "redis_url = \"redis://127.0.0.1:6379\"\npublic_url = \"ws://127.0.0.1:7878/ws\"\nnode_id = \"n1\"\n",
        )
        .unwrap();
        assert_eq!(table.lease, Duration::from_secs(6));
        assert!(table.check().is_ok());
        let bad = |change: fn(&mut ClusterSettings)| {
            let mut settings = table.clone();
            change(&mut settings);
            settings.check().unwrap_err()
        };
        assert!(bad(|s| s.redis_url = "http://x".into()).contains("redis_url"));
        assert!(bad(|s| s.public_url = "ws://x/other".into()).contains("public_url"));
        assert!(bad(|s| s.node_id = "a b".into()).contains("node_id"));
        assert!(bad(|s| s.lease = Duration::from_millis(10)).contains("lease"));
        assert!(toml::from_str::<ClusterSettings>("redis_url = \"redis://x\"\npublic_url = \"ws://x/ws\"\nnode_id = \"n\"\nleese = \"1s\"\n").is_err());
    }

    #[test]
    fn a_short_seat_secret_is_refused() {
        let mut settings = ClusterSettings::new("redis://x", "ws://x/ws", "n");
        settings.seat_secret = Some(Secret::new("short"));
        assert!(settings
            .resolve_seat_secret()
            .unwrap_err()
            .contains("at least 32"));
        settings.seat_secret = Some(Secret::new("k".repeat(32)));
        assert!(settings.resolve_seat_secret().is_ok());
    }
}
