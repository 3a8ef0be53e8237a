//! The settings themselves: [`ServerConfig`], one process's effective configuration, with the
//! embedded default of each setting and the reason for it, and [`RoomOverrides`], what one
//! room may set differently. Their serde form is the config file.
//!
//! Every tunable lives here, so the rest of the server reads settings instead of scattering
//! numbers. A new setting is a field here, a row in [`super::keys::KEYS`] and a line in
//! `ticksync.example.toml`; tests fail until all three agree. A nested table (as
//! `[rooms.NAME]` is) is a field whose type is a struct or a map: the file, `TICKSYNC_A__B`
//! variables and `--print-config` handle any depth.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::secret::Secret;
use super::value;

/// Effective settings of one server process. Its serde form is the config file: every field
/// is a key, durations are written like `15s` or `500ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the WebSocket listener binds. Loopback by default so a first run is never
    /// exposed to the network by accident.
    #[serde(with = "value::address")]
    pub bind: SocketAddr,
    /// Address of the operations listener: `/metrics`, `/rooms`, `/healthz` and `/readyz`,
    /// served apart from the game port on a thread of its own, with limits of its own (a full
    /// game port does not fail the liveness probe, and a scrape flood does not take the
    /// players' threads). Loopback by default; `None` (`"off"` in the file, the environment
    /// and the flag): no operations endpoints at all.
    #[serde(with = "admin_bind_serde")]
    pub admin_bind: Option<SocketAddr>,
    /// Simulation and snapshot rate of the room, in ticks per second.
    pub tick_rate_hz: u16,
    /// Players one room admits; the next `Hello` gets `RoomFull`.
    pub max_players: usize,
    /// Area of interest: a player receives only entities within this many world units of its
    /// own entity (for a game whose entities have a position). `None`: everyone sees
    /// everyone.
    pub aoi_radius: Option<u32>,
    /// With area of interest on, the most entities one player receives (the nearest).
    pub aoi_max_entities: Option<usize>,
    /// Open TCP connections the server keeps at once; past it new ones are closed at accept,
    /// before any TLS or WebSocket work is spent on them.
    pub max_connections: usize,
    /// Largest WebSocket message (and frame) a client may send, in bytes.
    pub max_message_bytes: usize,
    /// Queued inputs applied per player per tick. Clients send one per tick; a few extra
    /// absorb network jitter that bunches inputs together.
    pub max_inputs_per_tick: usize,
    /// Game messages from one player handed to the game per tick; more wait for the next.
    pub max_game_messages_per_tick: usize,
    /// Game messages one player may send per second on average (a second's worth may come
    /// at once); a client over it is closed (`TooManyMessages`, 1008).
    pub max_game_messages_per_second: u32,
    /// Inputs buffered per player between ticks; more are dropped and counted.
    pub input_queue_capacity: usize,
    /// Frames that may wait per player for its socket (in the connection's lane backlog, or
    /// a JSON session's queue). Full means the client is not reading: the snapshot is
    /// dropped instead of waiting.
    pub outbound_queue_capacity: usize,
    /// Kernel send buffer per connection (`SO_SNDBUF`). Fixed rather than auto-tuned (which
    /// grows to megabytes), so a client that stops reading is noticed within seconds and
    /// kernel memory per connection stays bounded.
    pub socket_send_buffer_bytes: usize,
    /// How long a client may stay behind (every snapshot dropped) before it is disconnected.
    #[serde(with = "value::duration")]
    pub slow_client_timeout: Duration,
    /// Time from TCP accept to a completed `Hello`/`Welcome`.
    #[serde(with = "value::duration")]
    pub handshake_timeout: Duration,
    /// A client that sends nothing for this long is disconnected.
    #[serde(with = "value::duration")]
    pub idle_timeout: Duration,
    /// How often the room logs its statistics line.
    #[serde(with = "value::duration")]
    pub stats_interval: Duration,
    /// Longest a shutdown waits for sessions to send their close frames.
    #[serde(with = "value::duration")]
    pub shutdown_grace: Duration,
    /// On SIGTERM or Ctrl-C, drain this long before shutting down: `/readyz` answers 503 and
    /// new players are refused while those in play go on, so a load balancer can stop
    /// sending players first. 0: shut down at once.
    #[serde(with = "value::duration")]
    pub drain_period: Duration,
    /// Threads that run the rooms' tick loops, apart from the threads serving sockets.
    /// Not set: one per core, up to 4. 0: no threads of their own — tick loops share the
    /// socket threads (a little cheaper for a single large room on a small machine, but a
    /// room's tick then waits behind other rooms' socket work).
    pub tick_threads: Option<usize>,
    /// Room a client joins when its URL names none (`/ws` without `?room=`). It is created at
    /// start and never closed.
    pub default_room: String,
    /// Rooms open at once at most, the default room included; a join naming a new room past
    /// it is refused (`NoRoomAvailable`, close 4005).
    pub max_rooms: usize,
    /// A room other than the default one closes after being empty this long.
    #[serde(with = "value::duration")]
    pub empty_room_timeout: Duration,
    /// How long a player whose connection dropped (without `Leave`) keeps its entity,
    /// waiting for a `Resume`.
    #[serde(with = "value::duration")]
    pub resume_grace: Duration,
    /// Secret that join tokens are signed with. `None`: the server is open to anyone.
    /// Never part of the config file or of `--print-config`: [`load`](super::load) reads it from
    /// `token_secret_file` or from [`TOKEN_SECRET_ENV`](super::TOKEN_SECRET_ENV), and checks its length.
    #[serde(skip)]
    pub token_secret: Option<Secret>,
    /// File holding the join-token secret; when set it is used instead of
    /// [`TOKEN_SECRET_ENV`](super::TOKEN_SECRET_ENV).
    pub token_secret_file: Option<PathBuf>,
    /// Browser origins allowed to connect. Empty: any origin.
    pub allowed_origins: Vec<String>,
    /// Refuse clients that send no `Origin` header (by default native clients, which send
    /// none, are allowed).
    pub require_origin: bool,
    /// Open connections per client IP address; 0 for no limit.
    pub max_connections_per_ip: usize,
    /// Messages per second one client may send on average (bursts of one second's worth
    /// pass); more are dropped.
    pub max_messages_per_second: u32,
    /// A client that stays over its message rate this long is flooding: close 1008.
    #[serde(with = "value::duration")]
    pub flood_timeout: Duration,
    /// TLS: serve `wss://` with this certificate (PEM)...
    pub tls_cert: Option<PathBuf>,
    /// ...and this private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// TLS with a self-signed certificate generated at start (development only).
    pub dev_tls: bool,
    /// Where the dev TLS certificate is written. [`load`](super::load) sets it exactly when `dev_tls` is
    /// on (filling in [`default_dev_tls_cert`]), so `Some` means "dev TLS on"; code building
    /// a config by hand may set just this. See [`ServerConfig::dev_tls_cert_path`].
    pub dev_tls_cert: Option<PathBuf>,
    /// Serve the game's web client from this directory (read once at start) instead of the
    /// one compiled into the binary.
    pub web_dir: Option<PathBuf>,
    /// The game's own settings (`[game]`), handed to the game, which says what it accepts
    /// (the arena: `world_size`).
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub game: toml::Table,
    /// Per-room settings by room name (`[rooms.NAME]` in the config file): a room with an
    /// entry runs with those values instead of the server-wide ones.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rooms: BTreeMap<String, RoomOverrides>,
    /// `[cluster]`: share a room directory with other nodes in Redis; `None`: one node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<crate::cluster::ClusterSettings>,
}

/// Settings one room may override (`[rooms.NAME]`); `None` keeps the server-wide value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomOverrides {
    pub tick_rate_hz: Option<u16>,
    pub max_players: Option<usize>,
    pub aoi_radius: Option<u32>,
    pub aoi_max_entities: Option<usize>,
    /// The game's settings for this room, on top of `[game]` key by key.
    #[serde(skip_serializing_if = "toml::Table::is_empty")]
    pub game: toml::Table,
}

/// Default name of the built-in room.
pub const DEFAULT_ROOM_NAME: &str = "arena";

/// Where dev TLS writes its certificate when `dev_tls_cert` is not set:
/// `ticksync-dev-cert.pem` in the system's temporary directory.
pub fn default_dev_tls_cert() -> PathBuf {
    std::env::temp_dir().join("ticksync-dev-cert.pem")
}

/// Default port of the operations listener (`admin_bind`), next to the game port's 7878.
pub const DEFAULT_ADMIN_PORT: u16 = 7879;

/// `admin_bind` as written in the file, the environment and the flag: an address, or `off`.
mod admin_bind_serde {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    /// The word that turns the operations listener off.
    pub(super) const OFF: &str = "off";

    pub(super) fn serialize<S: Serializer>(
        value: &Option<SocketAddr>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(addr) => serializer.collect_str(addr),
            None => serializer.serialize_str(OFF),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().eq_ignore_ascii_case(OFF) {
            return Ok(None);
        }
        text.trim().parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "invalid admin_bind {text:?}: expected an address such as 127.0.0.1:7879, or \"{OFF}\""
            ))
        })
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            admin_bind: Some(SocketAddr::from(([127, 0, 0, 1], DEFAULT_ADMIN_PORT))),
            tick_rate_hz: 30,
            max_players: 10_000,
            aoi_radius: None,
            aoi_max_entities: None,
            max_connections: 20_000,
            // Client messages are under 50 bytes; 4 KiB leaves room for a game's larger
            // inputs while keeping a hostile frame cheap to reject.
            max_message_bytes: 4096,
            max_inputs_per_tick: 4,
            max_game_messages_per_tick: 8,
            max_game_messages_per_second: 20,
            input_queue_capacity: 16,
            // Eight ticks (266 ms at 30 Hz) of snapshots: enough to ride out a scheduling
            // hiccup, small enough that memory per connection stays bounded.
            outbound_queue_capacity: 8,
            // A few seconds of even a large snapshot stream, and still a bandwidth-delay
            // product of 200 KB/s at 300 ms round trips.
            socket_send_buffer_bytes: 64 * 1024,
            slow_client_timeout: Duration::from_secs(3),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(15),
            stats_interval: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            drain_period: Duration::ZERO,
            tick_threads: None,
            default_room: DEFAULT_ROOM_NAME.to_owned(),
            // Rooms are cheap when idle (one task waking at the tick rate); the cap bounds
            // what a client naming random rooms can make the server run.
            max_rooms: 1000,
            // Long enough for players of a match to reconnect after a hiccup.
            empty_room_timeout: Duration::from_secs(30),
            // Long enough for a phone to switch networks or a laptop to rejoin Wi-Fi; short
            // enough that a player who is gone does not linger in everyone's view.
            resume_grace: Duration::from_secs(10),
            token_secret: None,
            token_secret_file: None,
            allowed_origins: Vec::new(),
            require_origin: false,
            // A household or an office behind one NAT rarely has more players than this;
            // a single address opening thousands of sockets is an attack or a load test
            // (which sets 0).
            max_connections_per_ip: 256,
            // Four messages per tick at 30 Hz: an input per tick plus pings and acks, with
            // room for jitter.
            max_messages_per_second: 120,
            flood_timeout: Duration::from_secs(2),
            tls_cert: None,
            tls_key: None,
            dev_tls: false,
            dev_tls_cert: None,
            web_dir: None,
            game: toml::Table::new(),
            rooms: BTreeMap::new(),
            cluster: None,
        }
    }
}

impl ServerConfig {
    /// The configuration a room named `name` runs with: this one, with the room's
    /// `[rooms.NAME]` section applied.
    pub fn room_config(&self, name: &str) -> ServerConfig {
        let mut config = self.clone();
        if let Some(overrides) = self.rooms.get(name) {
            config.tick_rate_hz = overrides.tick_rate_hz.unwrap_or(config.tick_rate_hz);
            for (key, value) in &overrides.game {
                config.game.insert(key.clone(), value.clone());
            }
            config.max_players = overrides.max_players.unwrap_or(config.max_players);
            config.aoi_radius = overrides.aoi_radius.or(config.aoi_radius);
            config.aoi_max_entities = overrides.aoi_max_entities.or(config.aoi_max_entities);
        }
        config.rooms = BTreeMap::new();
        config
    }

    /// Where to write the generated dev TLS certificate, when dev TLS is on (`dev_tls`, or
    /// a `dev_tls_cert` path set by hand); `None` when it is off.
    pub fn dev_tls_cert_path(&self) -> Option<PathBuf> {
        match (&self.dev_tls_cert, self.dev_tls) {
            (Some(path), _) => Some(path.clone()),
            (None, true) => Some(default_dev_tls_cert()),
            (None, false) => None,
        }
    }

    /// Makes `dev_tls` and `dev_tls_cert` agree: the path is set exactly when dev TLS is on.
    pub(super) fn resolve_dev_tls(&mut self) {
        if self.dev_tls {
            self.dev_tls_cert.get_or_insert_with(default_dev_tls_cert);
        } else {
            self.dev_tls_cert = None;
        }
    }
}
