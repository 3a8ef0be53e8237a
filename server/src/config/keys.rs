//! The table of config keys: one row per setting of [`ServerConfig`], with the kind of value
//! it takes, its range, and its command-line flag. Everything that treats settings one by one
//! reads this table instead of naming each setting again: the command line
//! ([`super::cli`]), the reading of environment variables and flags ([`super::value`]), the
//! range checks (`validate`) and error messages.
//!
//! [`ServerConfig`] is the typed form of the same keys; a test checks that the two agree.
//!
//! [`ServerConfig`]: super::ServerConfig

/// One config key: `KEY = value` in the config file, `TICKSYNC_<KEY>` in the environment.
#[derive(Debug)]
pub struct Key {
    /// The key, as in the config file.
    pub name: &'static str,
    /// The value it takes.
    pub kind: Kind,
    /// Whether a `[rooms.NAME]` table may set it for one room.
    pub per_room: bool,
    /// Its command-line flag; settings only the file and the environment set have none.
    pub flag: Option<Flag>,
}

/// The command-line flag of a key.
#[derive(Debug)]
pub struct Flag {
    /// `--long`, without the dashes.
    pub long: &'static str,
    /// Placeholder of the value in `--help`.
    pub value_name: &'static str,
    /// One-paragraph help; `--help` adds the range and the default.
    pub help: &'static str,
}

/// What a key's value is, which decides how a flag's or an environment variable's text is
/// read and what an error about it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A whole number in `min..=max` (the type's range, or less where the setting has a real
    /// limit).
    Number { min: u64, max: u64 },
    /// A duration with a unit (`500ms`, `15s`, `2m`); `positive`: zero is refused.
    Duration { positive: bool },
    /// `true` or `false`; a flag alone means `true`.
    Switch,
    /// An IP address and port.
    Address,
    /// A file path.
    Path,
    /// Free text.
    Text,
    /// A list of strings: a repeated flag, or a comma-separated variable.
    List,
    /// A table of tables, `[rooms.NAME]`.
    Rooms,
    /// A table whose keys the server does not know: the game's own settings, `[game]`.
    Table,
}

impl Kind {
    /// What a value of this kind looks like, for error messages ("a whole number from 1 to
    /// 240").
    pub fn expected(&self) -> String {
        match *self {
            Kind::Number { min, max } if max >= U32 => {
                format!("a whole number, at least {min}")
            }
            Kind::Number { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Duration { .. } => "a duration with a unit, like 500ms, 15s or 2m".to_owned(),
            Kind::Switch => "true or false".to_owned(),
            Kind::Address => "an IP address and port, like 0.0.0.0:7878".to_owned(),
            Kind::Path => "a file path".to_owned(),
            Kind::Text => "text".to_owned(),
            Kind::List => "a list of strings".to_owned(),
            Kind::Rooms => {
                "a table of room tables, like { big = { max_players = 2000 } }".to_owned()
            }
            Kind::Table => "a table, like { world_size = 3000 }".to_owned(),
        }
    }

    /// The limit worth showing in `--help`, where a number has one below its type's range.
    pub fn range_note(&self) -> Option<String> {
        match *self {
            Kind::Number { min, max } if max < U32 => Some(format!("{min} to {max}")),
            _ => None,
        }
    }
}

const fn number(min: u64, max: u64) -> Kind {
    Kind::Number { min, max }
}

/// `usize` as the widest value a key of that type takes.
const USIZE: u64 = usize::MAX as u64;
const U32: u64 = u32::MAX as u64;

const fn flag(long: &'static str, value_name: &'static str, help: &'static str) -> Option<Flag> {
    Some(Flag {
        long,
        value_name,
        help,
    })
}

const fn key(name: &'static str, kind: Kind, flag: Option<Flag>) -> Key {
    Key {
        name,
        kind,
        per_room: false,
        flag,
    }
}

const fn room_key(name: &'static str, kind: Kind, flag: Option<Flag>) -> Key {
    Key {
        name,
        kind,
        per_room: true,
        flag,
    }
}

/// Every config key, in the order `--help` lists their flags.
pub static KEYS: &[Key] = &[
    key(
        "bind",
        Kind::Address,
        flag(
            "bind",
            "ADDR",
            "Address to listen on (WebSocket endpoint at /ws).",
        ),
    ),
    key(
        "admin_bind",
        Kind::Text,
        flag(
            "admin-bind",
            "ADDR|off",
            "Address of the operations endpoints (/metrics, /rooms, /healthz, /readyz), or \
             \"off\".",
        ),
    ),
    room_key(
        "tick_rate_hz",
        number(1, MAX_TICK_RATE_HZ as u64),
        flag(
            "tick-rate",
            "HZ",
            "Simulation and snapshot rate, in ticks per second.",
        ),
    ),
    room_key(
        "max_players",
        number(1, USIZE),
        flag(
            "max-players",
            "N",
            "Players admitted to a room; further joins are refused with RoomFull.",
        ),
    ),
    room_key(
        "aoi_radius",
        number(1, U32),
        flag(
            "aoi-radius",
            "UNITS",
            "Area of interest: send each player only the entities within this many units of \
             it [default: none, everyone sees everyone].",
        ),
    ),
    room_key(
        "aoi_max_entities",
        number(1, USIZE),
        flag(
            "aoi-max-entities",
            "N",
            "With an AOI radius, the most entities one player receives (the nearest win) \
             [default: no limit].",
        ),
    ),
    key(
        "default_room",
        Kind::Text,
        flag(
            "default-room",
            "NAME",
            "Room a client joins when its URL names none; created at start, never closed.",
        ),
    ),
    key(
        "max_rooms",
        number(1, USIZE),
        flag(
            "max-rooms",
            "N",
            "Rooms open at once, the default room included; joins creating more are refused.",
        ),
    ),
    key(
        "empty_room_timeout",
        Kind::Duration { positive: false },
        flag(
            "empty-room-timeout",
            "DURATION",
            "A room other than the default one closes after being empty this long.",
        ),
    ),
    key(
        "max_connections",
        number(1, USIZE),
        flag(
            "max-connections",
            "N",
            "Open connections kept at once; more are closed at accept.",
        ),
    ),
    key(
        "max_message_bytes",
        number(1, USIZE),
        flag(
            "max-message-bytes",
            "BYTES",
            "Largest message a client may send, in bytes (larger: close 1009).",
        ),
    ),
    key(
        "max_inputs_per_tick",
        number(1, USIZE),
        flag(
            "max-inputs-per-tick",
            "N",
            "Inputs applied per player per tick; the rest wait for the next tick.",
        ),
    ),
    key(
        "max_game_messages_per_tick",
        number(1, USIZE),
        flag(
            "max-game-messages-per-tick",
            "N",
            "Game messages from one player handed to the game per tick; more wait for the next.",
        ),
    ),
    key(
        "max_game_messages_per_second",
        number(1, U32),
        flag(
            "max-game-messages-per-second",
            "N",
            "Game messages one player may send per second on average (a second's worth at \
             once); a client over it is closed (TooManyMessages, 1008).",
        ),
    ),
    key("input_queue_capacity", number(1, USIZE), None),
    key("outbound_queue_capacity", number(1, USIZE), None),
    key("socket_send_buffer_bytes", number(0, USIZE), None),
    key(
        "slow_client_timeout",
        Kind::Duration { positive: false },
        flag(
            "slow-client-timeout",
            "DURATION",
            "How long a client may fall behind reading snapshots before it is closed (1008).",
        ),
    ),
    key(
        "handshake_timeout",
        Kind::Duration { positive: true },
        flag(
            "handshake-timeout",
            "DURATION",
            "Time allowed from TCP accept to a completed Hello/Welcome.",
        ),
    ),
    key(
        "idle_timeout",
        Kind::Duration { positive: true },
        flag(
            "idle-timeout",
            "DURATION",
            "Close a client that sends nothing for this long (4002).",
        ),
    ),
    key(
        "stats_interval",
        Kind::Duration { positive: true },
        flag(
            "stats-interval",
            "DURATION",
            "Interval of the statistics log line.",
        ),
    ),
    key(
        "resume_grace",
        Kind::Duration { positive: false },
        flag(
            "resume-grace",
            "DURATION",
            "How long a player whose connection dropped keeps its entity, waiting to resume.",
        ),
    ),
    key(
        "shutdown_grace",
        Kind::Duration { positive: false },
        flag(
            "shutdown-grace",
            "DURATION",
            "Longest a shutdown waits for sessions to close after telling them (close 1001).",
        ),
    ),
    key(
        "tick_threads",
        number(0, USIZE),
        flag(
            "tick-threads",
            "N",
            "Threads running the rooms' tick loops, apart from the socket threads [default: \
             one per core, up to 4]; 0: share the socket threads.",
        ),
    ),
    key(
        "drain_period",
        Kind::Duration { positive: false },
        flag(
            "drain-period",
            "DURATION",
            "On SIGTERM/Ctrl-C, first drain this long: /readyz answers 503 and new players are \
             refused while those in play go on (0s: shut down at once).",
        ),
    ),
    key(
        "max_connections_per_ip",
        number(0, USIZE),
        flag(
            "max-connections-per-ip",
            "N",
            "Open connections per client IP address (0: no limit; load tests from one machine \
             need 0 or a high value).",
        ),
    ),
    key(
        "max_messages_per_second",
        number(1, U32),
        flag(
            "max-messages-per-second",
            "N",
            "Messages per second one client may send; more are dropped, and a client that \
             stays over the rate for --flood-timeout is closed (1008).",
        ),
    ),
    key(
        "flood_timeout",
        Kind::Duration { positive: false },
        flag(
            "flood-timeout",
            "DURATION",
            "How long a client may stay over its message rate before it is closed.",
        ),
    ),
    key(
        "tls_cert",
        Kind::Path,
        flag(
            "tls-cert",
            "PEM",
            "Serve wss:// with this certificate chain (PEM); needs --tls-key.",
        ),
    ),
    key(
        "tls_key",
        Kind::Path,
        flag("tls-key", "PEM", "Private key (PEM) for --tls-cert."),
    ),
    key(
        "dev_tls",
        Kind::Switch,
        flag(
            "dev-tls",
            "BOOL",
            "Serve wss:// with a self-signed certificate generated at start; its PEM is \
             written to --dev-tls-cert and its path and SHA-256 fingerprint are logged. For \
             development only. --dev-tls=false turns it off when the config file turns it on.",
        ),
    ),
    key(
        "dev_tls_cert",
        Kind::Path,
        flag(
            "dev-tls-cert",
            "PATH",
            "Where --dev-tls writes its certificate [default: ticksync-dev-cert.pem in the \
             system's temporary directory].",
        ),
    ),
    key(
        "allowed_origins",
        Kind::List,
        flag(
            "allow-origin",
            "ORIGIN",
            "Allow browser connections from this origin (scheme://host[:port], e.g. \
             https://game.example.com); repeatable, and replaces the config file's list. \
             Without any, every origin is allowed.",
        ),
    ),
    key(
        "require_origin",
        Kind::Switch,
        flag(
            "require-origin",
            "BOOL",
            "Refuse clients that send no Origin header (native clients send none).",
        ),
    ),
    key(
        "token_secret_file",
        Kind::Path,
        flag(
            "token-secret-file",
            "PATH",
            "Read the join-token secret (at least 32 bytes) from this file instead of the \
             TICKSYNC_TOKEN_SECRET environment variable. With a secret set, every player needs \
             a signed token.",
        ),
    ),
    key(
        "web_dir",
        Kind::Path,
        flag(
            "web-dir",
            "DIR",
            "Serve the game's web client from this directory (read once at start) instead of \
             the one compiled into the binary.",
        ),
    ),
    room_key("game", Kind::Table, None),
    key("rooms", Kind::Rooms, None),
    key("cluster", Kind::Table, None),
];

/// Above 240 Hz the per-tick overhead dominates and timers lose precision.
pub const MAX_TICK_RATE_HZ: u16 = 240;

/// The key named `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.name == name)
}

/// The key a `[rooms.NAME]` table may set that is named `name`.
pub fn find_per_room(name: &str) -> Option<&'static Key> {
    find(name).filter(|key| key.per_room)
}

/// The keys of the config file and of `TICKSYNC_<KEY>`, in table order.
pub fn names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|key| key.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_flags_are_unique() {
        let mut names: Vec<_> = names().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYS.len());
        let mut flags: Vec<_> = KEYS
            .iter()
            .filter_map(|key| key.flag.as_ref().map(|flag| flag.long))
            .collect();
        let count = flags.len();
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(flags.len(), count);
    }

    #[test]
    fn numbers_say_their_range() {
        let tick_rate = find("tick_rate_hz").expect("a key");
        assert_eq!(tick_rate.kind.expected(), "a whole number from 1 to 240");
        assert_eq!(tick_rate.kind.range_note().as_deref(), Some("1 to 240"));
        let players = find("max_players").expect("a key");
        assert_eq!(players.kind.expected(), "a whole number, at least 1");
        assert_eq!(players.kind.range_note(), None);
        assert!(find_per_room("bind").is_none());
        assert!(find_per_room("game").is_some());
    }
}
