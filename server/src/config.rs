//! Server configuration: one [`ServerConfig`] with embedded defaults, and the command-line
//! flags ([`ServerArgs`]) that override them.
//!
//! Every tunable lives here with the reason for its default, so the rest of the server reads
//! settings instead of scattering numbers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Effective settings of one server process.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Address the WebSocket listener binds. Loopback by default so a first run is never
    /// exposed to the network by accident.
    pub bind: SocketAddr,
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
    pub slow_client_timeout: Duration,
    /// Time from TCP accept to a completed `Hello`/`Welcome`.
    pub handshake_timeout: Duration,
    /// A client that sends nothing for this long is disconnected.
    pub idle_timeout: Duration,
    /// How often the room logs its statistics line.
    pub stats_interval: Duration,
    /// Longest a shutdown waits for sessions to send their close frames.
    pub shutdown_grace: Duration,
    /// Room a client joins when its URL names none (`/ws` without `?room=`). It is created at
    /// start and never closed.
    pub default_room: String,
    /// Rooms open at once at most, the default room included; a join naming a new room past
    /// it is refused (`NoRoomAvailable`, close 4005).
    pub max_rooms: usize,
    /// A room other than the default one closes after being empty this long.
    pub empty_room_timeout: Duration,
    /// Per-room settings by room name (`[rooms.NAME]` in the config file): a room with an
    /// entry runs with those values instead of the server-wide ones.
    pub rooms: BTreeMap<String, RoomOverrides>,
    /// How long a player whose connection dropped (without `Leave`) keeps its entity,
    /// waiting for a `Resume`.
    pub resume_grace: Duration,
    /// Secret that join tokens are signed with. `None`: the server is open to anyone.
    pub token_secret: Option<Secret>,
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
    pub flood_timeout: Duration,
    /// TLS: serve `wss://` with this certificate (PEM)...
    pub tls_cert: Option<PathBuf>,
    /// ...and this private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// TLS with a self-signed certificate generated at start and written to this path.
    pub dev_tls_cert: Option<PathBuf>,
}

/// Settings one room may override (`[rooms.NAME]`); `None` keeps the server-wide value.
#[derive(Debug, Clone, Default, PartialEq)]
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

/// Default name of the built-in room.
pub const DEFAULT_ROOM_NAME: &str = "arena";

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
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
            default_room: DEFAULT_ROOM_NAME.to_owned(),
            // Rooms are cheap when idle (one task waking at the tick rate); the cap bounds
            // what a client naming random rooms can make the server run.
            max_rooms: 1000,
            // Long enough for players of a match to reconnect after a hiccup.
            empty_room_timeout: Duration::from_secs(30),
            rooms: BTreeMap::new(),
            // Long enough for a phone to switch networks or a laptop to rejoin Wi-Fi; short
            // enough that a player who is gone does not linger in everyone's view.
            resume_grace: Duration::from_secs(10),
            token_secret: None,
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
            dev_tls_cert: None,
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
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(ConfigError::MustBePositive { field });
            }
        }
        if self.aoi_radius == Some(0) {
            return Err(ConfigError::MustBePositive {
                field: "aoi_radius",
            });
        }
        if self.aoi_max_entities == Some(0) {
            return Err(ConfigError::MustBePositive {
                field: "aoi_max_entities",
            });
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::TlsNeedsBoth);
        }
        if self.tls_cert.is_some() && self.dev_tls_cert.is_some() {
            return Err(ConfigError::TlsTwice);
        }
        if self.max_messages_per_second == 0 {
            return Err(ConfigError::MustBePositive {
                field: "max_messages_per_second",
            });
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
}

/// Above 240 Hz the per-tick overhead dominates and timers lose precision.
pub const MAX_TICK_RATE_HZ: u16 = 240;
/// 1/64-unit positions of a world this size stay far inside `i32`.
pub const MAX_WORLD_SIZE: u32 = 1_000_000;

/// A setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{field} must be greater than 0")]
    MustBePositive { field: &'static str },
    #[error("tick rate {value} Hz is above the maximum of {MAX_TICK_RATE_HZ} Hz")]
    TickRateTooHigh { value: u16 },
    #[error("world size {value} is above the maximum of {MAX_WORLD_SIZE} units")]
    WorldTooLarge { value: u32 },
    #[error("TLS needs both a certificate (--tls-cert) and a key (--tls-key)")]
    TlsNeedsBoth,
    #[error("choose either --tls-cert/--tls-key or --dev-tls, not both")]
    TlsTwice,
    #[error("could not read the token secret file {path}: {message}")]
    SecretFile { path: PathBuf, message: String },
}

/// Command-line flags. Each one overrides the embedded default of the same setting.
#[derive(Debug, Parser)]
#[command(
    name = "ticksync-server",
    version,
    about = "Authoritative game state sync server: a fixed-timestep tick loop that takes \
             players' inputs over WebSocket and sends every player a snapshot each tick.",
    after_help = "Logs: quiet by default; set RUST_LOG=debug (or e.g. RUST_LOG=ticksync_server=trace) for detail."
)]
pub struct ServerArgs {
    /// Address to listen on (WebSocket endpoint at /ws).
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub bind: SocketAddr,
    /// Simulation and snapshot rate in ticks per second.
    #[arg(long, default_value_t = ServerConfig::default().tick_rate_hz)]
    pub tick_rate: u16,
    /// Side of the square world in units (2000 in the arena benchmark).
    #[arg(long, default_value_t = ServerConfig::default().world_size)]
    pub world_size: u32,
    /// Players admitted to the room; further joins are refused with RoomFull.
    #[arg(long, default_value_t = ServerConfig::default().max_players)]
    pub max_players: usize,
    /// Area of interest: send each player only the entities within this many units of it
    /// (default: everyone sees everyone).
    #[arg(long, value_name = "UNITS")]
    pub aoi_radius: Option<u32>,
    /// With --aoi-radius, the most entities one player receives (the nearest win).
    #[arg(long, value_name = "N", requires = "aoi_radius")]
    pub aoi_max_entities: Option<usize>,
    /// Open connections kept at once; more are closed at accept.
    #[arg(long, default_value_t = ServerConfig::default().max_connections)]
    pub max_connections: usize,
    /// Largest message a client may send, in bytes (larger: close 1009).
    #[arg(long, default_value_t = ServerConfig::default().max_message_bytes)]
    pub max_message_bytes: usize,
    /// Inputs applied per player per tick; the rest wait for the next tick.
    #[arg(long, default_value_t = ServerConfig::default().max_inputs_per_tick)]
    pub max_inputs_per_tick: usize,
    /// How long a client may fall behind reading snapshots before it is closed (1008).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    pub slow_client_timeout: Duration,
    /// Time allowed from TCP accept to a completed Hello/Welcome.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    pub handshake_timeout: Duration,
    /// Close a client that sends nothing for this long (4002).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "15s")]
    pub idle_timeout: Duration,
    /// Interval of the statistics log line.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub stats_interval: Duration,
    /// How long a player whose connection dropped keeps its entity, waiting to resume.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    pub resume_grace: Duration,
    /// Longest a shutdown waits for sessions to close after telling them (close 1001).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5s")]
    pub shutdown_grace: Duration,
    /// Open connections per client IP address (0: no limit; load tests from one machine
    /// need 0 or a high value).
    #[arg(long, default_value_t = ServerConfig::default().max_connections_per_ip)]
    pub max_connections_per_ip: usize,
    /// Messages per second one client may send; more are dropped, and a client that stays
    /// over the rate for --flood-timeout is closed (1008).
    #[arg(long, default_value_t = ServerConfig::default().max_messages_per_second)]
    pub max_messages_per_second: u32,
    /// How long a client may stay over its message rate before it is closed.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    pub flood_timeout: Duration,
    /// Serve wss:// with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve wss:// with a self-signed certificate generated at start; its PEM is written to
    /// --dev-tls-cert and its path and SHA-256 fingerprint are logged. For development only.
    #[arg(long, conflicts_with = "tls_cert")]
    pub dev_tls: bool,
    /// Where --dev-tls writes its certificate [default: ticksync-dev-cert.pem in the
    /// system's temporary directory].
    #[arg(long, value_name = "PATH")]
    pub dev_tls_cert: Option<PathBuf>,
    /// Allow browser connections from this origin (e.g. https://game.example.com);
    /// repeatable. Without any, every origin is allowed.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Refuse clients that send no Origin header (native clients send none).
    #[arg(long)]
    pub require_origin: bool,
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
    /// Mint a join token with the secret from TICKSYNC_TOKEN_SECRET (or
    /// --token-secret-file) and print it, for tests and tools.
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
    /// Room the token admits to.
    #[arg(long, default_value = DEFAULT_ROOM_NAME)]
    pub room: String,
    /// How long the token stays valid (e.g. 30m, 1h, 7d).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h")]
    pub ttl: Duration,
}

/// Reads the token secret: from `file` when given, else from [`TOKEN_SECRET_ENV`].
/// Surrounding whitespace (a trailing newline in a file) is not part of the secret.
pub fn load_token_secret(file: Option<&std::path::Path>) -> Result<Option<Secret>, ConfigError> {
    let raw = match file {
        Some(path) => {
            Some(
                std::fs::read_to_string(path).map_err(|error| ConfigError::SecretFile {
                    path: path.to_owned(),
                    message: error.to_string(),
                })?,
            )
        }
        None => std::env::var(TOKEN_SECRET_ENV).ok(),
    };
    Ok(raw
        .map(|secret| secret.trim().to_owned())
        .filter(|secret| !secret.is_empty())
        .map(Secret))
}

impl ServerArgs {
    /// The embedded defaults with every flag applied on top.
    pub fn into_config(self) -> ServerConfig {
        ServerConfig {
            bind: self.bind,
            tick_rate_hz: self.tick_rate,
            world_size: self.world_size,
            max_players: self.max_players,
            aoi_radius: self.aoi_radius,
            aoi_max_entities: self.aoi_max_entities,
            max_connections: self.max_connections,
            max_message_bytes: self.max_message_bytes,
            max_inputs_per_tick: self.max_inputs_per_tick,
            slow_client_timeout: self.slow_client_timeout,
            handshake_timeout: self.handshake_timeout,
            idle_timeout: self.idle_timeout,
            stats_interval: self.stats_interval,
            resume_grace: self.resume_grace,
            shutdown_grace: self.shutdown_grace,
            max_connections_per_ip: self.max_connections_per_ip,
            max_messages_per_second: self.max_messages_per_second,
            flood_timeout: self.flood_timeout,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            dev_tls_cert: self.dev_tls.then(|| {
                self.dev_tls_cert
                    .unwrap_or_else(|| std::env::temp_dir().join("ticksync-dev-cert.pem"))
            }),
            allowed_origins: self.allowed_origins,
            require_origin: self.require_origin,
            ..ServerConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_flags() {
        let config = ServerConfig::default();
        assert_eq!(config.validate(), Ok(()));
        let from_flags = ServerArgs::parse_from(["ticksync-server"]).into_config();
        assert_eq!(from_flags, config);
    }

    #[test]
    fn flags_override_defaults() {
        let config = ServerArgs::parse_from([
            "ticksync-server",
            "--bind",
            "0.0.0.0:9000",
            "--tick-rate",
            "60",
            "--idle-timeout",
            "2s",
        ])
        .into_config();
        assert_eq!(config.bind.port(), 9000);
        assert_eq!(config.tick_rate_hz, 60);
        assert_eq!(config.idle_timeout, Duration::from_secs(2));
    }

    #[test]
    fn invalid_values_are_named() {
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
    }
}
