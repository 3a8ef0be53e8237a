//! [`ConfigError`]: what is wrong with a configuration, and [`Origin`]: where the value at
//! fault was set — the config file and its line, an environment variable, a flag — so that
//! every message says what to change and where.

use std::path::PathBuf;

use ticksync_protocol::RoomNameError;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The embedded default.
    Default,
    /// The config file, and the line of the key where known.
    File { path: PathBuf, line: Option<usize> },
    /// A `TICKSYNC_` environment variable.
    Env { variable: String },
    /// A command-line flag, `--name`.
    Flag { flag: String },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("the embedded default"),
            Origin::File { path, line: None } => write!(f, "config file {}", path.display()),
            Origin::File {
                path,
                line: Some(line),
            } => write!(f, "config file {}, line {line}", path.display()),
            Origin::Env { variable } => write!(f, "environment variable {variable}"),
            Origin::Flag { flag } => write!(f, "flag {flag}"),
        }
    }
}

/// A setting that cannot work, or a configuration source that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("{field} must be greater than 0")]
    MustBePositive { field: &'static str },
    #[error("{field} {value} is out of range: it is {expected}")]
    OutOfRange {
        field: &'static str,
        value: String,
        expected: String,
    },
    /// The game refused its settings (`[game]` or a room's `[rooms.NAME.game]`).
    #[error("{section}: {message}")]
    Game { section: String, message: String },
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
    #[error("allowed_origins: {origin:?} can never match a browser's Origin header: {problem}")]
    BadOrigin { origin: String, problem: String },
    #[error("[rooms.{room}]: {error}")]
    Room {
        room: String,
        error: Box<ConfigError>,
    },
    /// A setting that fails validation, with where it was set.
    #[error("{origin}: {error}")]
    Setting {
        origin: Origin,
        error: Box<ConfigError>,
    },
    /// The config file cannot be read or parsed, or a value in it is of the wrong form.
    #[error("config file {}{}: {message}", path.display(), line.map(|line| format!(", line {line}")).unwrap_or_default())]
    File {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    #[error("environment variable {variable} (config key {key}): {message}")]
    Env {
        variable: String,
        key: String,
        message: String,
    },
    #[error("flag {flag} (config key {key}): {message}")]
    Flag {
        flag: String,
        key: String,
        message: String,
    },
    #[error("could not read the token secret file {path}: {message}")]
    SecretFile { path: PathBuf, message: String },
    #[error(
        "{place} holds a join-token secret of {bytes} bytes; it must be at least {min} \
         (SECURITY.md): a short secret can be guessed from any one token, and then anyone can \
         mint tokens. Make one with `openssl rand -hex 32`",
        min = super::MIN_TOKEN_SECRET_BYTES
    )]
    WeakSecret { place: String, bytes: usize },
    #[error("invalid configuration: {message}")]
    Invalid { message: String },
}

impl ConfigError {
    /// The key paths a validation error is about, most specific first: where to look for
    /// the value at fault.
    pub(super) fn paths(&self) -> Vec<Vec<String>> {
        let one = |key: &str| vec![vec![key.to_owned()]];
        match self {
            ConfigError::MustBePositive { field } | ConfigError::OutOfRange { field, .. } => {
                one(field)
            }
            ConfigError::BadRoomName {
                field: "rooms",
                name,
                ..
            } => vec![vec!["rooms".to_owned(), name.clone()]],
            ConfigError::BadRoomName { field, .. } => one(field),
            ConfigError::BadOrigin { .. } => one("allowed_origins"),
            ConfigError::TlsNeedsBoth => vec![vec!["tls_cert".into()], vec!["tls_key".into()]],
            ConfigError::TlsTwice => vec![
                vec!["dev_tls".into()],
                vec!["dev_tls_cert".into()],
                vec!["tls_cert".into()],
            ],
            ConfigError::Room { room, error } => {
                let room_path = vec!["rooms".to_owned(), room.clone()];
                let mut paths: Vec<Vec<String>> = error
                    .paths()
                    .into_iter()
                    .map(|inner| room_path.iter().cloned().chain(inner).collect())
                    .collect();
                paths.push(room_path);
                paths
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_place() {
        let file = ConfigError::File {
            path: PathBuf::from("ticksync.toml"),
            line: Some(3),
            message: "unknown key `tick_rate`".into(),
        };
        assert_eq!(
            file.to_string(),
            "config file ticksync.toml, line 3: unknown key `tick_rate`"
        );
        let setting = ConfigError::Setting {
            origin: Origin::Flag {
                flag: "--tick-rate".into(),
            },
            error: Box::new(ConfigError::MustBePositive {
                field: "tick_rate_hz",
            }),
        };
        assert_eq!(
            setting.to_string(),
            "flag --tick-rate: tick_rate_hz must be greater than 0"
        );
        let room = ConfigError::Room {
            room: "big".into(),
            error: Box::new(ConfigError::MustBePositive {
                field: "max_players",
            }),
        };
        assert_eq!(room.paths()[0], ["rooms", "big", "max_players"]);
    }
}
