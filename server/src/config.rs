//! Server configuration: one [`ServerConfig`] with embedded defaults, read in layers.
//!
//! Each layer overrides the ones before it:
//! 1. the embedded defaults ([`ServerConfig::default`]);
//! 2. a TOML file, `--config FILE` or else the file named by `TICKSYNC_CONFIG`, whose keys are
//!    the field names of [`ServerConfig`] (`ticksync.example.toml` at the repository root
//!    lists them all), plus `[rooms.NAME]` tables of per-room overrides;
//! 3. environment variables `TICKSYNC_<KEY>`, the key upper-cased (`TICKSYNC_TICK_RATE_HZ=60`,
//!    `TICKSYNC_IDLE_TIMEOUT=30s`, `TICKSYNC_ALLOWED_ORIGINS=https://a.example,https://b.example`);
//! 4. command-line flags ([`ServerArgs`]).
//!
//! [`load`] merges the layers and validates the result; every error names the setting and
//! where its value came from. Secrets never come from the file: the join-token secret is read
//! from `token_secret_file` or from `TICKSYNC_TOKEN_SECRET`, and is never printed.
//!
//! Every tunable lives here with the reason for its default, so the rest of the server reads
//! settings instead of scattering numbers.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use ticksync_protocol::{validate_room_name, RoomNameError};

/// Effective settings of one server process. Its serde form is the config file: every field
/// is a key, durations are written like `15s` or `500ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the WebSocket listener binds. Loopback by default so a first run is never
    /// exposed to the network by accident.
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
    /// Side of the square arena world, in world units.
    pub world_size: u32,
    /// Players one room admits; the next `Hello` gets `RoomFull`.
    pub max_players: usize,
    /// Area of interest: a player receives only entities within this many units of its own
    /// entity. `None`: everyone sees everyone.
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
    /// Inputs buffered per player between ticks; more are dropped and counted.
    pub input_queue_capacity: usize,
    /// Frames buffered per player between the tick and its socket. A full queue means the
    /// client is not reading: the snapshot is dropped instead of waiting.
    pub outbound_queue_capacity: usize,
    /// Kernel send buffer per connection (`SO_SNDBUF`). Fixed rather than auto-tuned (which
    /// grows to megabytes), so a client that stops reading is noticed within seconds and
    /// kernel memory per connection stays bounded.
    pub socket_send_buffer_bytes: usize,
    /// How long a client may stay behind (every snapshot dropped) before it is disconnected.
    #[serde(with = "humantime_serde")]
    pub slow_client_timeout: Duration,
    /// Time from TCP accept to a completed `Hello`/`Welcome`.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// A client that sends nothing for this long is disconnected.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// How often the room logs its statistics line.
    #[serde(with = "humantime_serde")]
    pub stats_interval: Duration,
    /// Longest a shutdown waits for sessions to send their close frames.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// On SIGTERM or Ctrl-C, drain this long before shutting down: `/readyz` answers 503 and
    /// new players are refused while those in play go on, so a load balancer can stop
    /// sending players first. 0: shut down at once.
    #[serde(with = "humantime_serde")]
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
    #[serde(with = "humantime_serde")]
    pub empty_room_timeout: Duration,
    /// How long a player whose connection dropped (without `Leave`) keeps its entity,
    /// waiting for a `Resume`.
    #[serde(with = "humantime_serde")]
    pub resume_grace: Duration,
    /// Secret that join tokens are signed with. `None`: the server is open to anyone.
    /// Never part of the config file or of `--print-config`: [`load`] reads it from
    /// `token_secret_file` or from [`TOKEN_SECRET_ENV`].
    #[serde(skip)]
    pub token_secret: Option<Secret>,
    /// File holding the join-token secret; when set it is used instead of
    /// [`TOKEN_SECRET_ENV`].
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
    #[serde(with = "humantime_serde")]
    pub flood_timeout: Duration,
    /// TLS: serve `wss://` with this certificate (PEM)...
    pub tls_cert: Option<PathBuf>,
    /// ...and this private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// TLS with a self-signed certificate generated at start (development only).
    pub dev_tls: bool,
    /// Where the dev TLS certificate is written. [`load`] sets it exactly when `dev_tls` is
    /// on (filling in [`default_dev_tls_cert`]), so `Some` means "dev TLS on"; code building
    /// a config by hand may set just this. See [`ServerConfig::dev_tls_cert_path`].
    pub dev_tls_cert: Option<PathBuf>,
    /// Per-room settings by room name (`[rooms.NAME]` in the config file): a room with an
    /// entry runs with those values instead of the server-wide ones.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rooms: BTreeMap<String, RoomOverrides>,
}

/// Settings one room may override (`[rooms.NAME]`); `None` keeps the server-wide value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomOverrides {
    pub tick_rate_hz: Option<u16>,
    pub world_size: Option<u32>,
    pub max_players: Option<usize>,
    pub aoi_radius: Option<u32>,
    pub aoi_max_entities: Option<usize>,
}

/// A secret that never appears in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Environment variable holding the join-token secret. Never a command-line flag: those
/// are visible to every user of the machine in `ps`.
pub const TOKEN_SECRET_ENV: &str = "TICKSYNC_TOKEN_SECRET";

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "TICKSYNC_CONFIG";

/// Prefix of the environment variables that override config keys: `TICKSYNC_<KEY>`.
pub const ENV_PREFIX: &str = "TICKSYNC_";

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

/// Checks `--admin-bind`'s value (an address or `off`) when the flags are parsed, so a bad
/// one is reported with the flag's name.
fn admin_bind_arg(value: &str) -> Result<String, String> {
    let off = value.trim().eq_ignore_ascii_case(admin_bind_serde::OFF);
    if off || value.trim().parse::<SocketAddr>().is_ok() {
        Ok(value.trim().to_owned())
    } else {
        Err("expected an address such as 127.0.0.1:7879, or \"off\"".to_owned())
    }
}

/// Default name of the built-in room.
pub const DEFAULT_ROOM_NAME: &str = "arena";

/// Where dev TLS writes its certificate when `dev_tls_cert` is not set:
/// `ticksync-dev-cert.pem` in the system's temporary directory.
pub fn default_dev_tls_cert() -> PathBuf {
    std::env::temp_dir().join("ticksync-dev-cert.pem")
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            admin_bind: Some(SocketAddr::from(([127, 0, 0, 1], DEFAULT_ADMIN_PORT))),
            tick_rate_hz: 30,
            world_size: 2000,
            max_players: 10_000,
            aoi_radius: None,
            aoi_max_entities: None,
            max_connections: 20_000,
            // Client messages are under 50 bytes; 4 KiB leaves room for a game's larger
            // inputs while keeping a hostile frame cheap to reject.
            max_message_bytes: 4096,
            max_inputs_per_tick: 4,
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
            rooms: BTreeMap::new(),
        }
    }
}

impl ServerConfig {
    /// Checks values that would make the server misbehave rather than fail loudly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("tick_rate_hz", usize::from(self.tick_rate_hz)),
            ("world_size", self.world_size as usize),
            ("max_players", self.max_players),
            ("max_connections", self.max_connections),
            ("max_message_bytes", self.max_message_bytes),
            ("max_inputs_per_tick", self.max_inputs_per_tick),
            ("input_queue_capacity", self.input_queue_capacity),
            ("outbound_queue_capacity", self.outbound_queue_capacity),
            ("max_rooms", self.max_rooms),
            (
                "max_messages_per_second",
                self.max_messages_per_second as usize,
            ),
            (
                "aoi_radius",
                self.aoi_radius.map_or(1, |radius| radius as usize),
            ),
            ("aoi_max_entities", self.aoi_max_entities.unwrap_or(1)),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(ConfigError::MustBePositive { field });
            }
        }
        // Zero would time out every handshake, drop every client, or log every tick.
        let positive_durations = [
            ("handshake_timeout", self.handshake_timeout),
            ("idle_timeout", self.idle_timeout),
            ("stats_interval", self.stats_interval),
        ];
        for (field, value) in positive_durations {
            if value.is_zero() {
                return Err(ConfigError::MustBePositive { field });
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::TlsNeedsBoth);
        }
        if self.tls_cert.is_some() && self.dev_tls_cert_path().is_some() {
            return Err(ConfigError::TlsTwice);
        }
        if self.tick_rate_hz > MAX_TICK_RATE_HZ {
            return Err(ConfigError::TickRateTooHigh {
                value: self.tick_rate_hz,
            });
        }
        // Positions travel as i32 in 1/64 units; keep the world well inside that range.
        if self.world_size > MAX_WORLD_SIZE {
            return Err(ConfigError::WorldTooLarge {
                value: self.world_size,
            });
        }
        validate_room_name(&self.default_room).map_err(|error| ConfigError::BadRoomName {
            field: "default_room",
            name: self.default_room.clone(),
            error,
        })?;
        for name in self.rooms.keys() {
            validate_room_name(name).map_err(|error| ConfigError::BadRoomName {
                field: "rooms",
                name: name.clone(),
                error,
            })?;
            self.room_config(name)
                .validate()
                .map_err(|error| ConfigError::Room {
                    room: name.clone(),
                    error: Box::new(error),
                })?;
        }
        Ok(())
    }

    /// The configuration a room named `name` runs with: this one, with the room's
    /// `[rooms.NAME]` section applied.
    pub fn room_config(&self, name: &str) -> ServerConfig {
        let mut config = self.clone();
        if let Some(overrides) = self.rooms.get(name) {
            config.tick_rate_hz = overrides.tick_rate_hz.unwrap_or(config.tick_rate_hz);
            config.world_size = overrides.world_size.unwrap_or(config.world_size);
            config.max_players = overrides.max_players.unwrap_or(config.max_players);
            config.aoi_radius = overrides.aoi_radius.or(config.aoi_radius);
            config.aoi_max_entities = overrides.aoi_max_entities.or(config.aoi_max_entities);
        }
        config.rooms = BTreeMap::new();
        config
    }

    /// Length of one tick.
    pub fn tick_period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / f64::from(self.tick_rate_hz))
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

    /// The configuration as a TOML document that [`load`] reads back to the same settings:
    /// what `--print-config` prints. Secrets are left out.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let invalid = |error: toml::ser::Error| ConfigError::Invalid {
            message: error.to_string(),
        };
        let body = toml::to_string_pretty(self).map_err(invalid)?;
        let set = toml::Value::try_from(self).map_err(invalid)?;
        // Optional settings that are off do not appear in TOML; list them as comments so
        // the printout still names every key.
        let unset: String = config_keys()
            .iter()
            .filter(|key| **key != "rooms" && set.get(**key).is_none())
            .map(|key| format!("# {key}: not set\n"))
            .collect();
        let (settings, tables) = body.split_at(body.find("\n[").map_or(body.len(), |at| at + 1));
        let tables = tables.trim();
        let separator = if tables.is_empty() { "" } else { "\n" };
        Ok(format!(
            "# ticksync-server effective configuration: embedded defaults, then the config \
             file, TICKSYNC_* environment variables and flags. Secrets are not shown.\n\
             {}\n{unset}{separator}{tables}{separator}",
            settings.trim_end()
        ))
    }

    /// Makes `dev_tls` and `dev_tls_cert` agree: the path is set exactly when dev TLS is on.
    fn resolve_dev_tls(&mut self) {
        if self.dev_tls {
            self.dev_tls_cert.get_or_insert_with(default_dev_tls_cert);
        } else {
            self.dev_tls_cert = None;
        }
    }
}

/// Above 240 Hz the per-tick overhead dominates and timers lose precision.
pub const MAX_TICK_RATE_HZ: u16 = 240;
/// 1/64-unit positions of a world this size stay far inside `i32`.
pub const MAX_WORLD_SIZE: u32 = 1_000_000;

/// A setting that cannot work, or a configuration source that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{field} must be greater than 0")]
    MustBePositive { field: &'static str },
    #[error("tick_rate_hz {value} is above the maximum of {MAX_TICK_RATE_HZ} Hz")]
    TickRateTooHigh { value: u16 },
    #[error("world_size {value} is above the maximum of {MAX_WORLD_SIZE} units")]
    WorldTooLarge { value: u32 },
    #[error("TLS needs both a certificate and a key: set tls_cert and tls_key (--tls-cert and --tls-key)")]
    TlsNeedsBoth,
    #[error(
        "choose either tls_cert/tls_key (--tls-cert/--tls-key) or dev_tls (--dev-tls), not both"
    )]
    TlsTwice,
    #[error("{field}: {name:?} is not a valid room name: {error}")]
    BadRoomName {
        field: &'static str,
        name: String,
        error: RoomNameError,
    },
    #[error("[rooms.{room}]: {error}")]
    Room {
        room: String,
        error: Box<ConfigError>,
    },
    /// A setting that fails validation, with the layer that set it.
    #[error("{origin}: {error}")]
    Setting {
        origin: String,
        error: Box<ConfigError>,
    },
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("environment variable {variable} (config key {key}): {message}")]
    Env {
        variable: String,
        key: &'static str,
        message: String,
    },
    #[error("could not read the token secret file {path}: {message}")]
    SecretFile { path: PathBuf, message: String },
    #[error("invalid configuration: {message}")]
    Invalid { message: String },
}

impl ConfigError {
    /// The config keys a validation error is about, most specific first.
    fn keys(&self) -> &[&'static str] {
        match self {
            ConfigError::MustBePositive { field } | ConfigError::BadRoomName { field, .. } => {
                std::slice::from_ref(field)
            }
            ConfigError::TickRateTooHigh { .. } => &["tick_rate_hz"],
            ConfigError::WorldTooLarge { .. } => &["world_size"],
            ConfigError::TlsNeedsBoth => &["tls_cert", "tls_key"],
            ConfigError::TlsTwice => &["dev_tls", "dev_tls_cert", "tls_cert"],
            ConfigError::Room { .. } => &["rooms"],
            _ => &[],
        }
    }
}

/// Reads the configuration: the embedded defaults, then the config file (`args.config`, else
/// the file named by `TICKSYNC_CONFIG` in `env`), then `TICKSYNC_<KEY>` variables from `env`,
/// then the flags in `args`; validates it, and reads the join-token secret (from
/// `token_secret_file`, else `TICKSYNC_TOKEN_SECRET` in `env`).
///
/// `env` is the process environment (`std::env::vars_os()`) in production; tests pass their
/// own. Variables starting with `TICKSYNC_` that name no config key are ignored, and so are
/// empty ones.
pub fn load<I, K, V>(args: &ServerArgs, env: I) -> Result<ServerConfig, ConfigError>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<OsString>,
    V: Into<OsString>,
{
    let env: BTreeMap<String, OsString> = env
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.into().into_string().ok()?;
            name.starts_with(ENV_PREFIX).then(|| (name, value.into()))
        })
        .collect();
    let mut layers = Layers::default();
    let file = args.config.clone().or_else(|| {
        env.get(CONFIG_ENV)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = file {
        for (key, value) in file_layer(&path)? {
            layers.set(key, value, Origin::File(path.clone()));
        }
    }
    for (key, value, variable) in env_layer(&env)? {
        layers.set(key, value, Origin::Env(variable));
    }
    for (key, value, flag) in args.flag_layer()? {
        layers.set(key.to_owned(), value, Origin::Flag(flag));
    }
    let mut config = toml::Value::Table(layers.table)
        .try_into::<ServerConfig>()
        .map_err(|error| ConfigError::Invalid {
            message: error.to_string(),
        })?;
    config.resolve_dev_tls();
    config.validate().map_err(|error| {
        let origin = error.keys().iter().find_map(|key| layers.origins.get(*key));
        match origin {
            Some(origin) => ConfigError::Setting {
                origin: origin.to_string(),
                error: Box::new(error),
            },
            None => error,
        }
    })?;
    let env_secret = env
        .get(TOKEN_SECRET_ENV)
        .map(|secret| secret.to_string_lossy().into_owned());
    config.token_secret = read_token_secret(config.token_secret_file.as_deref(), env_secret)?;
    Ok(config)
}

/// The keys of the config file and of `TICKSYNC_<KEY>`: [`ServerConfig`]'s fields as serde
/// sees them (without the secret).
pub fn config_keys() -> &'static [&'static str] {
    field_probe::fields_of::<ServerConfig>()
}

/// `TICKSYNC_` variables this process uses that are not config keys (the secret, the config
/// file) or that belong to the project's other tools and tests.
const OTHER_TICKSYNC_VARIABLES: &[&str] = &[
    "TICKSYNC_TOKEN_SECRET",
    "TICKSYNC_CONFIG",
    "TICKSYNC_URL",
    "TICKSYNC_PYTHON",
    "TICKSYNC_REQUIRE_BROWSER",
    "TICKSYNC_REQUIRE_PYTHON",
];

/// `TICKSYNC_` variables in `env` that match no config key (a typo such as
/// `TICKSYNC_TICK_RATE` for `TICKSYNC_TICK_RATE_HZ`): they are ignored, and the caller should
/// say so.
pub fn unknown_env_variables(env: impl IntoIterator<Item = (OsString, OsString)>) -> Vec<String> {
    env.into_iter()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(ENV_PREFIX))
        .filter(|name| !OTHER_TICKSYNC_VARIABLES.contains(&name.as_str()))
        .filter(|name| {
            let key = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            !config_keys().contains(&key.as_str())
        })
        .collect()
}

/// The join-token secret: read from `file` when given, else `env_value` (the value of
/// [`TOKEN_SECRET_ENV`]). Surrounding whitespace (a trailing newline in a file) is not part of
/// the secret. An empty file is an error rather than an open server; an empty variable counts
/// as unset.
pub fn read_token_secret(
    file: Option<&Path>,
    env_value: Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    match file {
        Some(path) => {
            let raw = std::fs::read_to_string(path).map_err(|error| ConfigError::SecretFile {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
            let secret = raw.trim();
            if secret.is_empty() {
                return Err(ConfigError::SecretFile {
                    path: path.to_owned(),
                    message: "the file is empty".to_owned(),
                });
            }
            Ok(Some(Secret(secret.to_owned())))
        }
        None => Ok(env_value
            .map(|secret| secret.trim().to_owned())
            .filter(|secret| !secret.is_empty())
            .map(Secret)),
    }
}

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    File(PathBuf),
    Env(String),
    Flag(&'static str),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(f, "config file {}", path.display()),
            Origin::Env(variable) => write!(f, "environment variable {variable}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// The layers merged so far, and which one set each top-level key.
#[derive(Default)]
struct Layers {
    table: toml::Table,
    origins: BTreeMap<String, Origin>,
}

impl Layers {
    /// Sets `key` over what earlier layers set; tables (`rooms`, and each room) merge key by
    /// key.
    fn set(&mut self, key: String, value: toml::Value, origin: Origin) {
        merge_value(&mut self.table, key.clone(), value);
        self.origins.insert(key, origin);
    }
}

fn merge_value(table: &mut toml::Table, key: String, value: toml::Value) {
    match (table.get_mut(&key), value) {
        (Some(toml::Value::Table(existing)), toml::Value::Table(update)) => {
            for (key, value) in update {
                merge_value(existing, key, value);
            }
        }
        (_, value) => {
            table.insert(key, value);
        }
    }
}

/// The config file's keys and values, checked: unknown keys and bad values fail here, with
/// the file's name and the line.
fn file_layer(path: &Path) -> Result<toml::Table, ConfigError> {
    let file_error = |message: String| ConfigError::File {
        path: path.to_owned(),
        message: message.trim_end().to_owned(),
    };
    let text = std::fs::read_to_string(path).map_err(|error| file_error(error.to_string()))?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|error| file_error(error.to_string()))?;
    if table.contains_key("token_secret") {
        return Err(file_error(format!(
            "token_secret cannot be set in a config file: set {TOKEN_SECRET_ENV} or \
             token_secret_file"
        )));
    }
    // Deserializing the text itself (not the table) keeps the position in errors.
    toml::from_str::<ServerConfig>(&text).map_err(|error| file_error(error.to_string()))?;
    Ok(table)
}

/// `TICKSYNC_<KEY>` variables as config values, with the variable's name.
fn env_layer(
    env: &BTreeMap<String, OsString>,
) -> Result<Vec<(String, toml::Value, String)>, ConfigError> {
    let mut entries = Vec::new();
    for &key in config_keys() {
        let variable = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
        let Some(raw) = env.get(&variable) else {
            continue;
        };
        let env_error = |message: String| ConfigError::Env {
            variable: variable.clone(),
            key,
            message,
        };
        let raw = raw
            .to_str()
            .ok_or_else(|| env_error("not valid UTF-8".to_owned()))?
            .trim();
        if raw.is_empty() {
            continue;
        }
        let value = env_value(key, raw).map_err(env_error)?;
        entries.push((key.to_owned(), value, variable));
    }
    Ok(entries)
}

/// The value of an environment variable for `key`: the first reading `key` accepts of `raw`
/// as a TOML value (`60`, `true`, `["a", "b"]`), as a string (`0.0.0.0:7878`, `15s`), or as a
/// comma-separated list (`https://a.example,https://b.example`).
fn env_value(key: &str, raw: &str) -> Result<toml::Value, String> {
    let as_toml = raw.parse::<toml::Value>().ok();
    let as_string = toml::Value::String(raw.to_owned());
    let as_list = toml::Value::Array(
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| toml::Value::String(item.to_owned()))
            .collect(),
    );
    let mut first_error = None;
    for candidate in as_toml.into_iter().chain([as_string, as_list]) {
        let mut table = toml::Table::new();
        table.insert(key.to_owned(), candidate.clone());
        match toml::Value::Table(table).try_into::<ServerConfig>() {
            Ok(_) => return Ok(candidate),
            Err(error) => {
                // The message may end in a line naming the key, which the caller does.
                first_error.get_or_insert_with(|| error.to_string().trim_end().replace('\n', " "));
            }
        }
    }
    Err(first_error.unwrap_or_else(|| format!("{raw:?} is not a valid value")))
}

/// Finds the field names serde derives for a struct: its `Deserialize` impl hands them to
/// `deserialize_struct`, which this deserializer answers with an error carrying them.
mod field_probe {
    use serde::de::{self, Deserialize, Deserializer, Visitor};

    #[derive(Debug)]
    pub(super) struct Fields(&'static [&'static str]);

    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("field probe")
        }
    }

    impl std::error::Error for Fields {}

    impl de::Error for Fields {
        fn custom<T: std::fmt::Display>(_message: T) -> Self {
            Fields(&[])
        }
    }

    struct Probe;

    impl<'de> Deserializer<'de> for Probe {
        type Error = Fields;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    /// The field names of `T`, a struct deriving `Deserialize`.
    pub(super) fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
        match T::deserialize(Probe) {
            Err(Fields(fields)) => fields,
            Ok(_) => &[],
        }
    }
}

/// Command-line flags. Each one given overrides the same setting from the config file and
/// the environment; see [`load`].
#[derive(Debug, Parser)]
#[command(
    name = "ticksync-server",
    version,
    about = "Authoritative game state sync server: a fixed-timestep tick loop that takes \
             players' inputs over WebSocket and sends every player a snapshot each tick.",
    after_help = "Configuration: embedded defaults, overridden by the config file (--config \
                  FILE or TICKSYNC_CONFIG; keys as in ticksync.example.toml), then by \
                  TICKSYNC_<KEY> environment variables (e.g. TICKSYNC_TICK_RATE_HZ=60, \
                  TICKSYNC_ALLOWED_ORIGINS=https://a.example,https://b.example), then by these \
                  flags. --print-config shows the result.\n\
                  Logs: quiet by default; set RUST_LOG=debug (or e.g. \
                  RUST_LOG=ticksync_server=trace) for detail."
)]
pub struct ServerArgs {
    /// Read settings from this TOML file (see ticksync.example.toml) [env: TICKSYNC_CONFIG].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the effective configuration (defaults, file, environment and flags merged) as
    /// TOML and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address to listen on (WebSocket endpoint at /ws).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Address of the operations endpoints (/metrics, /rooms, /healthz, /readyz), or "off".
    #[arg(long, value_name = "ADDR|off", value_parser = admin_bind_arg)]
    pub admin_bind: Option<String>,
    /// Simulation and snapshot rate in ticks per second (tick_rate_hz).
    #[arg(long = "tick-rate", value_name = "HZ")]
    pub tick_rate_hz: Option<u16>,
    /// Side of the square world in units (2000 in the arena benchmark).
    #[arg(long, value_name = "UNITS")]
    pub world_size: Option<u32>,
    /// Players admitted to a room; further joins are refused with RoomFull.
    #[arg(long, value_name = "N")]
    pub max_players: Option<usize>,
    /// Area of interest: send each player only the entities within this many units of it
    /// [default: none, everyone sees everyone].
    #[arg(long, value_name = "UNITS")]
    pub aoi_radius: Option<u32>,
    /// With an AOI radius, the most entities one player receives (the nearest win)
    /// [default: no limit].
    #[arg(long, value_name = "N")]
    pub aoi_max_entities: Option<usize>,
    /// Room a client joins when its URL names none; created at start, never closed.
    #[arg(long, value_name = "NAME")]
    pub default_room: Option<String>,
    /// Rooms open at once, the default room included; joins creating more are refused.
    #[arg(long, value_name = "N")]
    pub max_rooms: Option<usize>,
    /// A room other than the default one closes after being empty this long.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub empty_room_timeout: Option<Duration>,
    /// Open connections kept at once; more are closed at accept.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Largest message a client may send, in bytes (larger: close 1009).
    #[arg(long, value_name = "BYTES")]
    pub max_message_bytes: Option<usize>,
    /// Inputs applied per player per tick; the rest wait for the next tick.
    #[arg(long, value_name = "N")]
    pub max_inputs_per_tick: Option<usize>,
    /// How long a client may fall behind reading snapshots before it is closed (1008).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub slow_client_timeout: Option<Duration>,
    /// Time allowed from TCP accept to a completed Hello/Welcome.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub handshake_timeout: Option<Duration>,
    /// Close a client that sends nothing for this long (4002).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Interval of the statistics log line.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub stats_interval: Option<Duration>,
    /// How long a player whose connection dropped keeps its entity, waiting to resume.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub resume_grace: Option<Duration>,
    /// Longest a shutdown waits for sessions to close after telling them (close 1001).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Option<Duration>,
    /// Threads running the rooms' tick loops, apart from the socket threads [default: one
    /// per core, up to 4]; 0: share the socket threads.
    #[arg(long, value_name = "N")]
    pub tick_threads: Option<usize>,
    /// On SIGTERM/Ctrl-C, first drain this long: /readyz answers 503 and new players are
    /// refused while those in play go on (0: shut down at once).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub drain_period: Option<Duration>,
    /// Open connections per client IP address (0: no limit; load tests from one machine
    /// need 0 or a high value).
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: Option<usize>,
    /// Messages per second one client may send; more are dropped, and a client that stays
    /// over the rate for --flood-timeout is closed (1008).
    #[arg(long, value_name = "N")]
    pub max_messages_per_second: Option<u32>,
    /// How long a client may stay over its message rate before it is closed.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub flood_timeout: Option<Duration>,
    /// Serve wss:// with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// Serve wss:// with a self-signed certificate generated at start; its PEM is written to
    /// --dev-tls-cert and its path and SHA-256 fingerprint are logged. For development only.
    /// --dev-tls=false turns it off when the config file turns it on.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub dev_tls: Option<bool>,
    /// Where --dev-tls writes its certificate [default: ticksync-dev-cert.pem in the
    /// system's temporary directory].
    #[arg(long, value_name = "PATH")]
    pub dev_tls_cert: Option<PathBuf>,
    /// Allow browser connections from this origin (e.g. `https://game.example.com`);
    /// repeatable, and replaces the config file's list. Without any, every origin is allowed.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Refuse clients that send no Origin header (native clients send none).
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub require_origin: Option<bool>,
    /// Read the join-token secret from this file instead of the TICKSYNC_TOKEN_SECRET
    /// environment variable. With a secret set, every player needs a signed token.
    #[arg(long, value_name = "PATH")]
    pub token_secret_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands; without one, the server runs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mint a join token with the secret from TICKSYNC_TOKEN_SECRET (or the configured
    /// token_secret_file) and print it, for tests and tools.
    Token(TokenArgs),
}

/// Arguments of `ticksync-server token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Player id the token vouches for.
    #[arg(long)]
    pub player: String,
    /// Display name [default: the player id].
    #[arg(long)]
    pub name: Option<String>,
    /// Room the token admits to [default: the configured default_room, "arena" unless set].
    #[arg(long)]
    pub room: Option<String>,
    /// How long the token stays valid (e.g. 30m, 1h, 7d).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub ttl: Duration,
}

impl ServerArgs {
    /// Parses the process's arguments like [`Parser::parse`] (printing help or an error and
    /// exiting when asked or wrong), with the help of each flag showing its default.
    pub fn parse_with_defaults() -> ServerArgs {
        ServerArgs::try_parse_with_defaults(std::env::args_os())
            .unwrap_or_else(|error| error.exit())
    }

    /// [`ServerArgs::parse_with_defaults`] for the given arguments, returning errors.
    pub fn try_parse_with_defaults<I, T>(args: I) -> Result<ServerArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut command = ServerArgs::command_with_defaults();
        let matches = command.try_get_matches_from_mut(args)?;
        ServerArgs::from_arg_matches(&matches).map_err(|error| error.format(&mut command))
    }

    /// The clap command, with "[default: VALUE]" appended to the help of every flag whose
    /// setting has a default value (taken from [`ServerConfig::default`], so help and code
    /// cannot disagree). A flag's id is its config key.
    pub fn command_with_defaults() -> clap::Command {
        let defaults = toml::Value::try_from(ServerConfig::default())
            .ok()
            .and_then(|value| value.as_table().cloned())
            .unwrap_or_default();
        ServerArgs::command().mut_args(|arg| {
            let shown = match defaults.get(arg.get_id().as_str()) {
                Some(toml::Value::String(value)) => value.clone(),
                Some(toml::Value::Integer(value)) => value.to_string(),
                Some(toml::Value::Boolean(value)) => value.to_string(),
                _ => return arg,
            };
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(format!("{help} [default: {shown}]"))
        })
    }

    /// The settings given as flags, as config values with the flag's name.
    fn flag_layer(&self) -> Result<Vec<(&'static str, toml::Value, &'static str)>, ConfigError> {
        let mut layer = FlagLayer::default();
        layer.add("bind", "--bind", self.bind.map(|bind| bind.to_string()));
        layer.add("admin_bind", "--admin-bind", self.admin_bind.clone());
        layer.add("tick_rate_hz", "--tick-rate", self.tick_rate_hz);
        layer.add("world_size", "--world-size", self.world_size);
        layer.add("max_players", "--max-players", self.max_players);
        layer.add("aoi_radius", "--aoi-radius", self.aoi_radius);
        layer.add(
            "aoi_max_entities",
            "--aoi-max-entities",
            self.aoi_max_entities,
        );
        layer.add("default_room", "--default-room", self.default_room.clone());
        layer.add("max_rooms", "--max-rooms", self.max_rooms);
        layer.duration(
            "empty_room_timeout",
            "--empty-room-timeout",
            self.empty_room_timeout,
        );
        layer.add("max_connections", "--max-connections", self.max_connections);
        layer.add(
            "max_message_bytes",
            "--max-message-bytes",
            self.max_message_bytes,
        );
        layer.add(
            "max_inputs_per_tick",
            "--max-inputs-per-tick",
            self.max_inputs_per_tick,
        );
        layer.duration(
            "slow_client_timeout",
            "--slow-client-timeout",
            self.slow_client_timeout,
        );
        layer.duration(
            "handshake_timeout",
            "--handshake-timeout",
            self.handshake_timeout,
        );
        layer.duration("idle_timeout", "--idle-timeout", self.idle_timeout);
        layer.duration("stats_interval", "--stats-interval", self.stats_interval);
        layer.duration("resume_grace", "--resume-grace", self.resume_grace);
        layer.duration("shutdown_grace", "--shutdown-grace", self.shutdown_grace);
        layer.duration("drain_period", "--drain-period", self.drain_period);
        layer.add("tick_threads", "--tick-threads", self.tick_threads);
        layer.add(
            "max_connections_per_ip",
            "--max-connections-per-ip",
            self.max_connections_per_ip,
        );
        layer.add(
            "max_messages_per_second",
            "--max-messages-per-second",
            self.max_messages_per_second,
        );
        layer.duration("flood_timeout", "--flood-timeout", self.flood_timeout);
        layer.add("tls_cert", "--tls-cert", self.tls_cert.clone());
        layer.add("tls_key", "--tls-key", self.tls_key.clone());
        layer.add("dev_tls", "--dev-tls", self.dev_tls);
        layer.add("dev_tls_cert", "--dev-tls-cert", self.dev_tls_cert.clone());
        layer.add(
            "allowed_origins",
            "--allow-origin",
            (!self.allowed_origins.is_empty()).then(|| self.allowed_origins.clone()),
        );
        layer.add("require_origin", "--require-origin", self.require_origin);
        layer.add(
            "token_secret_file",
            "--token-secret-file",
            self.token_secret_file.clone(),
        );
        layer.finish()
    }
}

/// Builds the flags' layer; the first value that cannot be converted is kept as the error.
#[derive(Default)]
struct FlagLayer {
    entries: Vec<(&'static str, toml::Value, &'static str)>,
    error: Option<ConfigError>,
}

impl FlagLayer {
    fn add<T: Serialize>(&mut self, key: &'static str, flag: &'static str, value: Option<T>) {
        let Some(value) = value else {
            return;
        };
        match toml::Value::try_from(value) {
            Ok(value) => self.entries.push((key, value, flag)),
            Err(error) => {
                self.error.get_or_insert(ConfigError::Invalid {
                    message: format!("{flag}: {error}"),
                });
            }
        }
    }

    fn duration(&mut self, key: &'static str, flag: &'static str, value: Option<Duration>) {
        self.add(
            key,
            flag,
            value.map(|value| humantime::format_duration(value).to_string()),
        );
    }

    fn finish(self) -> Result<Vec<(&'static str, toml::Value, &'static str)>, ConfigError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.entries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_ENV: [(&str, &str); 0] = [];

    fn args(flags: &[&str]) -> ServerArgs {
        ServerArgs::try_parse_with_defaults(
            std::iter::once("ticksync-server").chain(flags.iter().copied()),
        )
        .expect("valid flags")
    }

    /// A config file in the temporary directory, unique to this test process and `name`.
    fn config_file(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "ticksync-config-test-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("temp file is writable");
        path
    }

    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../ticksync.example.toml")
    }

    #[test]
    fn defaults_are_valid_and_are_what_no_flags_load() {
        let config = ServerConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(load(&args(&[]), NO_ENV), Ok(config));
    }

    #[test]
    fn flags_override_defaults() {
        let config = load(
            &args(&[
                "--bind",
                "0.0.0.0:9000",
                "--tick-rate",
                "60",
                "--idle-timeout",
                "2s",
                "--allow-origin",
                "https://a.example",
                "--allow-origin",
                "https://b.example",
                "--require-origin",
                "--max-rooms",
                "7",
            ]),
            NO_ENV,
        )
        .expect("valid");
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.tick_rate_hz, 60);
        assert_eq!(config.idle_timeout, Duration::from_secs(2));
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(config.require_origin);
        assert_eq!(config.max_rooms, 7);
    }

    #[test]
    fn precedence_is_file_then_env_then_flags() {
        let file = config_file("precedence", "tick_rate_hz = 20\nworld_size = 500\n");
        let file_arg = file.to_str().expect("utf-8 temp path");
        let env = [("TICKSYNC_TICK_RATE_HZ", "40")];

        let all = load(&args(&["--config", file_arg, "--tick-rate", "60"]), env).expect("valid");
        assert_eq!(all.tick_rate_hz, 60);
        let no_flag = load(&args(&["--config", file_arg]), env).expect("valid");
        assert_eq!(no_flag.tick_rate_hz, 40);
        let file_only = load(&args(&["--config", file_arg]), NO_ENV).expect("valid");
        assert_eq!(file_only.tick_rate_hz, 20);
        // Keys a higher layer does not set keep the lower layer's value.
        assert_eq!(all.world_size, 500);
        assert_eq!(all.idle_timeout, ServerConfig::default().idle_timeout);

        // TICKSYNC_CONFIG names the file when --config does not.
        let via_env = load(&args(&[]), [("TICKSYNC_CONFIG", file_arg)]).expect("valid");
        assert_eq!(via_env.tick_rate_hz, 20);
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn environment_values_are_read_as_the_key_type() {
        let config = load(
            &args(&[]),
            [
                ("TICKSYNC_BIND", "0.0.0.0:7000"),
                ("TICKSYNC_IDLE_TIMEOUT", "1m 30s"),
                (
                    "TICKSYNC_ALLOWED_ORIGINS",
                    "https://a.example, https://b.example",
                ),
                ("TICKSYNC_REQUIRE_ORIGIN", "true"),
                ("TICKSYNC_AOI_RADIUS", "150"),
                ("TICKSYNC_DEFAULT_ROOM", "1234"),
                ("TICKSYNC_ROOMS", "{ big = { max_players = 5 } }"),
                // Empty counts as unset; other TICKSYNC_ variables are not config keys.
                ("TICKSYNC_MAX_PLAYERS", ""),
                ("TICKSYNC_URL", "ws://elsewhere"),
                ("TICKSYNC_REQUIRE_PYTHON", "1"),
                ("TICKSYNC_TOKEN_SECRET", "s3cret"),
                ("UNRELATED", "x"),
            ],
        )
        .expect("valid");
        assert_eq!(config.bind, SocketAddr::from(([0, 0, 0, 0], 7000)));
        assert_eq!(config.idle_timeout, Duration::from_secs(90));
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(config.require_origin);
        assert_eq!(config.aoi_radius, Some(150));
        assert_eq!(config.default_room, "1234");
        assert_eq!(config.rooms["big"].max_players, Some(5));
        assert_eq!(config.max_players, ServerConfig::default().max_players);
        assert_eq!(config.token_secret, Some(Secret::new("s3cret")));
    }

    #[test]
    fn rooms_merge_room_by_room_and_key_by_key() {
        let file = config_file(
            "rooms",
            "[rooms.big]\ntick_rate_hz = 20\nmax_players = 2000\n[rooms.small]\nmax_players = 4\n",
        );
        let config = load(
            &args(&["--config", file.to_str().expect("utf-8")]),
            [("TICKSYNC_ROOMS", "{ big = { max_players = 3000 } }")],
        )
        .expect("valid");
        let big = config.room_config("big");
        assert_eq!((big.tick_rate_hz, big.max_players), (20, 3000));
        assert_eq!(config.room_config("small").max_players, 4);
        assert_eq!(config.room_config("other").max_players, config.max_players);
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn unknown_file_key_names_the_key_the_file_and_the_line() {
        let file = config_file("unknown", "bind = \"127.0.0.1:7000\"\ntick_rate = 60\n");
        let error = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
            .expect_err("unknown key");
        let message = error.to_string();
        assert!(matches!(error, ConfigError::File { .. }), "{message}");
        assert!(message.contains("tick_rate"), "{message}");
        assert!(message.contains(file.to_str().expect("utf-8")), "{message}");
        assert!(message.contains("line 2"), "{message}");
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn bad_file_values_name_the_key() {
        let file = config_file("bad-type", "tick_rate_hz = \"fast\"\n");
        let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
            .expect_err("bad type")
            .to_string();
        assert!(message.contains("tick_rate_hz"), "{message}");
        assert!(message.contains("line 1"), "{message}");

        let _ = std::fs::remove_file(file);

        let file = config_file("bad-room-key", "[rooms.big]\nmax_player = 10\n");
        let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
            .expect_err("unknown room key")
            .to_string();
        assert!(message.contains("max_player"), "{message}");
        assert!(message.contains("line 2"), "{message}");
        let _ = std::fs::remove_file(file);

        let file = config_file("zero", "tick_rate_hz = 0\n");
        let error = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
            .expect_err("zero rate");
        assert_eq!(
            error,
            ConfigError::Setting {
                origin: format!("config file {}", file.display()),
                error: Box::new(ConfigError::MustBePositive {
                    field: "tick_rate_hz"
                }),
            }
        );
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn secrets_cannot_be_written_in_the_file() {
        let file = config_file("secret", "token_secret = \"hunter2\"\n");
        let message = load(&args(&["--config", file.to_str().expect("utf-8")]), NO_ENV)
            .expect_err("secret in file")
            .to_string();
        assert!(message.contains("TICKSYNC_TOKEN_SECRET"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn bad_environment_values_name_the_variable() {
        let error = load(&args(&[]), [("TICKSYNC_TICK_RATE_HZ", "fast")]).expect_err("bad");
        assert!(
            matches!(&error, ConfigError::Env { variable, key: "tick_rate_hz", .. } if variable == "TICKSYNC_TICK_RATE_HZ"),
            "{error}"
        );
        let message = load(&args(&[]), [("TICKSYNC_TICK_RATE_HZ", "70000")])
            .expect_err("out of range")
            .to_string();
        assert!(message.contains("TICKSYNC_TICK_RATE_HZ"), "{message}");

        let error = load(&args(&[]), [("TICKSYNC_MAX_PLAYERS", "0")]).expect_err("zero");
        assert_eq!(
            error.to_string(),
            "environment variable TICKSYNC_MAX_PLAYERS: max_players must be greater than 0"
        );
    }

    #[test]
    fn validation_errors_name_the_field_and_where_it_was_set() {
        let config = ServerConfig {
            tick_rate_hz: 0,
            ..ServerConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::MustBePositive {
                field: "tick_rate_hz"
            })
        );
        let config = ServerConfig {
            tick_rate_hz: 1000,
            ..ServerConfig::default()
        };
        assert!(config.validate().unwrap_err().to_string().contains("1000"));

        let message = load(&args(&["--tick-rate", "1000"]), NO_ENV)
            .expect_err("too fast")
            .to_string();
        assert!(
            message.starts_with("flag --tick-rate: tick_rate_hz"),
            "{message}"
        );
        let message = load(&args(&["--tls-cert", "cert.pem"]), NO_ENV)
            .expect_err("no key")
            .to_string();
        assert!(message.contains("--tls-key"), "{message}");
        let message = load(&args(&["--default-room", "no spaces"]), NO_ENV)
            .expect_err("bad room name")
            .to_string();
        assert!(message.contains("default_room"), "{message}");

        let mut config = ServerConfig::default();
        config.rooms.insert(
            "big".to_owned(),
            RoomOverrides {
                tick_rate_hz: Some(0),
                ..RoomOverrides::default()
            },
        );
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "[rooms.big]: tick_rate_hz must be greater than 0"
        );
    }

    #[test]
    fn dev_tls_fills_in_the_certificate_path() {
        let on = load(&args(&["--dev-tls"]), NO_ENV).expect("valid");
        assert!(on.dev_tls);
        assert_eq!(on.dev_tls_cert, Some(default_dev_tls_cert()));
        assert_eq!(on.dev_tls_cert_path(), Some(default_dev_tls_cert()));

        let file = config_file(
            "dev-tls",
            "dev_tls = true\ndev_tls_cert = \"/x/cert.pem\"\n",
        );
        let file_arg = file.to_str().expect("utf-8");
        let from_file = load(&args(&["--config", file_arg]), NO_ENV).expect("valid");
        assert_eq!(from_file.dev_tls_cert, Some(PathBuf::from("/x/cert.pem")));
        let off = load(&args(&["--config", file_arg, "--dev-tls=false"]), NO_ENV).expect("valid");
        assert_eq!((off.dev_tls, off.dev_tls_cert_path()), (false, None));
        let _ = std::fs::remove_file(file);

        assert_eq!(ServerConfig::default().dev_tls_cert_path(), None);
        let by_hand = ServerConfig {
            dev_tls_cert: Some(PathBuf::from("/y.pem")),
            ..ServerConfig::default()
        };
        assert_eq!(by_hand.dev_tls_cert_path(), Some(PathBuf::from("/y.pem")));
        let twice = ServerConfig {
            tls_cert: Some(PathBuf::from("c.pem")),
            tls_key: Some(PathBuf::from("k.pem")),
            dev_tls: true,
            ..ServerConfig::default()
        };
        assert_eq!(twice.validate(), Err(ConfigError::TlsTwice));
    }

    #[test]
    fn token_secret_comes_from_the_file_or_the_environment() {
        let secret_file = config_file("secret-file", "from-file\n");
        let secret_arg = secret_file.to_str().expect("utf-8");
        let env = [("TICKSYNC_TOKEN_SECRET", "from-env")];
        let config = load(&args(&[]), env).expect("valid");
        assert_eq!(config.token_secret, Some(Secret::new("from-env")));
        let config = load(&args(&["--token-secret-file", secret_arg]), env).expect("valid");
        assert_eq!(config.token_secret, Some(Secret::new("from-file")));
        let config = load(&args(&[]), [("TICKSYNC_TOKEN_SECRET_FILE", secret_arg)]).expect("valid");
        assert_eq!(config.token_secret, Some(Secret::new("from-file")));
        assert_eq!(load(&args(&[]), NO_ENV).expect("valid").token_secret, None);

        std::fs::write(&secret_file, "\n").expect("writable");
        let error = load(&args(&["--token-secret-file", secret_arg]), NO_ENV).expect_err("empty");
        assert!(matches!(error, ConfigError::SecretFile { .. }), "{error}");
        let _ = std::fs::remove_file(secret_file);
    }

    #[test]
    fn printed_config_loads_back_to_the_same_settings_without_secrets() {
        let file = config_file(
            "print-source",
            "aoi_radius = 300\nidle_timeout = \"1500ms\"\nallowed_origins = [\"https://a.example\"]\n\
             dev_tls = true\n[rooms.big]\ntick_rate_hz = 20\n",
        );
        let config = load(
            &args(&[
                "--config",
                file.to_str().expect("utf-8"),
                "--max-rooms",
                "9",
            ]),
            [("TICKSYNC_TOKEN_SECRET", "hunter2")],
        )
        .expect("valid");
        let printed = config.to_toml().expect("serializable");
        assert!(printed.starts_with('#'), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        let reprinted = config_file("print-output", &printed);
        let reloaded = load(
            &args(&["--config", reprinted.to_str().expect("utf-8")]),
            NO_ENV,
        )
        .expect("printed config loads");
        assert_eq!(
            reloaded,
            ServerConfig {
                token_secret: None,
                ..config
            }
        );
        let _ = std::fs::remove_file(file);
        let _ = std::fs::remove_file(reprinted);
    }

    #[test]
    fn example_file_loads_to_the_defaults_plus_its_room() {
        let config = load(
            &args(&["--config", example_path().to_str().expect("utf-8")]),
            NO_ENV,
        )
        .expect("the example file loads");
        let mut expected = ServerConfig::default();
        expected.rooms.insert(
            "big".to_owned(),
            RoomOverrides {
                tick_rate_hz: Some(20),
                max_players: Some(2000),
                aoi_radius: Some(200),
                ..RoomOverrides::default()
            },
        );
        assert_eq!(config, expected);
    }

    #[test]
    fn example_file_lists_every_key() {
        let example = std::fs::read_to_string(example_path()).expect("example file");
        let keys: Vec<&str> = example
            .lines()
            .map(|line| line.trim_start_matches('#').trim_start())
            .filter_map(|line| line.split_once(" = ").map(|(key, _)| key))
            .collect();
        for &key in config_keys() {
            if key == "rooms" {
                assert!(
                    example.contains("[rooms."),
                    "example lacks a [rooms.NAME] table"
                );
            } else {
                assert!(keys.contains(&key), "ticksync.example.toml lacks {key}");
            }
        }
        assert!(!config_keys().contains(&"token_secret"));
    }

    #[test]
    fn every_setting_flag_is_named_after_its_config_key() {
        let keys = config_keys();
        let not_settings = ["config", "print_config", "help", "version"];
        for arg in ServerArgs::command().get_arguments() {
            let id = arg.get_id().as_str();
            if !not_settings.contains(&id) {
                assert!(keys.contains(&id), "flag id {id} is not a config key");
            }
        }
    }

    #[test]
    fn the_admin_listener_moves_or_turns_off_from_every_layer() {
        let file = config_file("admin", "admin_bind = \"off\"\n");
        let from_file = load(&args(&["--config", file.to_str().unwrap()]), NO_ENV).unwrap();
        assert_eq!(from_file.admin_bind, None);
        let from_env = load(&args(&[]), [("TICKSYNC_ADMIN_BIND", "0.0.0.0:9100")]).unwrap();
        assert_eq!(
            from_env.admin_bind,
            Some(SocketAddr::from(([0, 0, 0, 0], 9100)))
        );
        let from_flag = load(&args(&["--admin-bind", "OFF"]), NO_ENV).unwrap();
        assert_eq!(from_flag.admin_bind, None);
        // Printed and read back.
        let printed = from_file.to_toml().unwrap();
        assert!(printed.contains("admin_bind = \"off\""), "{printed}");
        let error = ServerArgs::try_parse_with_defaults(["ticksync-server", "--admin-bind", "x"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("--admin-bind"), "{error}");
        let error = load(&args(&[]), [("TICKSYNC_ADMIN_BIND", "nowhere")]).unwrap_err();
        assert!(error.to_string().contains("TICKSYNC_ADMIN_BIND"), "{error}");
    }

    #[test]
    fn help_shows_the_defaults() {
        let help = ServerArgs::command_with_defaults()
            .render_help()
            .to_string();
        assert!(help.contains("[default: 30]"), "{help}");
        assert!(help.contains("[default: 127.0.0.1:7878]"), "{help}");
        assert!(help.contains("[default: 127.0.0.1:7879]"), "{help}");
        assert!(help.contains("[default: 15s]"), "{help}");
    }

    #[test]
    fn unknown_ticksync_variables_are_reported() {
        let env = [
            ("TICKSYNC_TICK_RATE", "60"),
            ("TICKSYNC_TICK_RATE_HZ", "60"),
            ("TICKSYNC_TOKEN_SECRET", "s"),
            ("PATH", "/bin"),
        ]
        .map(|(name, value)| (OsString::from(name), OsString::from(value)));
        assert_eq!(unknown_env_variables(env), ["TICKSYNC_TICK_RATE"]);
    }
}
