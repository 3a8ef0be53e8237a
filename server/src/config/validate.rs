//! Checks of settings that would make the server misbehave rather than fail loudly: numbers
//! and durations against the ranges in [`KEYS`], TLS settings that only work together, room
//! names, and browser origins that could never match.
//!
//! The range checks read values untyped (a figment [`Dict`]), so they run on the merged
//! layers before the typed [`ServerConfig`] exists: `--tick-rate 70000` is reported as out of
//! 1..=240, not as too large for a `u16`.

use figment::value::{Dict, Value};
use ticksync_protocol::validate_room_name;

use super::keys::{Key, Kind, KEYS};
use super::value::parse_duration;
use super::{ConfigError, ServerConfig};

impl ServerConfig {
    /// Checks values that would make the server misbehave rather than fail loudly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let settings = Value::serialize(self)
            .ok()
            .and_then(Value::into_dict)
            .ok_or_else(|| ConfigError::Invalid {
                message: "the settings cannot be represented as a table".to_owned(),
            })?;
        check_ranges(&settings)?;
        self.check_consistency()
    }

    /// The checks [`check_ranges`] does not do: settings that must agree, names, origins.
    pub(super) fn check_consistency(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::TlsNeedsBoth);
        }
        if self.tls_cert.is_some() && self.dev_tls_cert_path().is_some() {
            return Err(ConfigError::TlsTwice);
        }
        validate_room_name(&self.default_room).map_err(|error| ConfigError::BadRoomName {
            field: "default_room",
            name: self.default_room.clone(),
            error,
        })?;
        for origin in &self.allowed_origins {
            check_origin(origin).map_err(|problem| ConfigError::BadOrigin {
                origin: origin.clone(),
                problem,
            })?;
        }
        for name in self.rooms.keys() {
            validate_room_name(name).map_err(|error| ConfigError::BadRoomName {
                field: "rooms",
                name: name.clone(),
                error,
            })?;
        }
        Ok(())
    }
}

/// Checks every number and duration in `settings` (the whole configuration, untyped) against
/// its key's range, the `[rooms.NAME]` tables included. Values of the wrong type are left to
/// deserialization, which names the type expected.
pub(super) fn check_ranges(settings: &Dict) -> Result<(), ConfigError> {
    check_table(settings, KEYS.iter())?;
    if let Some(Value::Dict(_, rooms)) = settings.get("rooms") {
        for (room, table) in rooms {
            if let Value::Dict(_, table) = table {
                check_table(table, KEYS.iter().filter(|key| key.per_room)).map_err(|error| {
                    ConfigError::Room {
                        room: room.clone(),
                        error: Box::new(error),
                    }
                })?;
            }
        }
    }
    Ok(())
}

fn check_table<'k>(table: &Dict, keys: impl Iterator<Item = &'k Key>) -> Result<(), ConfigError> {
    for key in keys {
        match (key.kind, table.get(key.name)) {
            (Kind::Number { min, max }, Some(value)) => check_number(key, min, max, value)?,
            (Kind::Duration { positive: true }, Some(Value::String(_, text)))
                if parse_duration(text).is_ok_and(|duration| duration.is_zero()) =>
            {
                return Err(ConfigError::MustBePositive { field: key.name });
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_number(key: &Key, min: u64, max: u64, value: &Value) -> Result<(), ConfigError> {
    let Value::Num(_, number) = value else {
        return Ok(());
    };
    let whole = number.to_i128().or_else(|| {
        number
            .to_u128()
            .map(|number| i128::try_from(number).unwrap_or(i128::MAX))
    });
    let out_of_range = || ConfigError::OutOfRange {
        field: key.name,
        value: whole
            .map(|number| number.to_string())
            .or_else(|| number.to_f64().map(|number| number.to_string()))
            .unwrap_or_default(),
        expected: key.kind.expected(),
    };
    match whole {
        Some(0) if min == 1 => Err(ConfigError::MustBePositive { field: key.name }),
        Some(number) if number < i128::from(min) || number > i128::from(max) => Err(out_of_range()),
        Some(_) => Ok(()),
        // A fraction: no whole number, so not in range.
        None => Err(out_of_range()),
    }
}

/// Why `origin` (an `allowed_origins` entry) can never equal a browser's `Origin` header —
/// `scheme://host[:port]`, lower case, without the scheme's default port — if it cannot.
/// A trailing `/` is tolerated: the handshake ignores it.
pub fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "null" {
        // What browsers send from sandboxed frames and file:// pages: matchable, if unwise.
        return Ok(());
    }
    if origin == "*" {
        return Err("leave allowed_origins empty to allow every origin".to_owned());
    }
    if !origin.contains("://") {
        return Err(format!(
            "it has no scheme: write https://{}",
            origin.trim_end_matches('/')
        ));
    }
    let url = url::Url::parse(origin).map_err(|error| format!("it is not a URL ({error})"))?;
    let scheme_and_host = url.origin().ascii_serialization();
    let written = origin.trim_end_matches('/');
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "an origin has no user name or password: write {scheme_and_host}"
        ));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        let fix = if url.origin().is_tuple() {
            format!(": write {scheme_and_host}")
        } else {
            String::new()
        };
        return Err(format!(
            "it has a path, query or fragment, which an origin never has (only \
             scheme://host[:port]){fix}"
        ));
    }
    if url.origin().is_tuple() && !written.eq_ignore_ascii_case(&scheme_and_host) {
        return Err(format!(
            "browsers send it as {scheme_and_host} (no default port, host in lower case or \
             punycode): write that"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_that_can_match_pass() {
        for origin in [
            "https://game.example.com",
            "https://game.example.com/",
            "http://127.0.0.1:8080",
            "HTTPS://Game.Example.com",
            "chrome-extension://abcdef",
            "null",
        ] {
            assert_eq!(check_origin(origin), Ok(()), "{origin}");
        }
    }

    #[test]
    fn origins_that_can_never_match_say_what_to_write() {
        let cases = [
            ("game.example.com", "write https://game.example.com"),
            (
                "https://game.example.com/play",
                "write https://game.example.com",
            ),
            (
                "https://game.example.com/?a=1",
                "write https://game.example.com",
            ),
            ("https://game.example.com:443", "write that"),
            ("https://user@game.example.com", "no user name"),
            ("*", "leave allowed_origins empty"),
        ];
        for (origin, fix) in cases {
            let problem = check_origin(origin).expect_err(origin);
            assert!(problem.contains(fix), "{origin}: {problem}");
        }
    }

    #[test]
    fn numbers_outside_their_range_are_refused() {
        let config = ServerConfig {
            tick_rate_hz: 1000,
            ..ServerConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "tick_rate_hz 1000 is out of range: it is a whole number from 1 to 240"
        );
        let config = ServerConfig {
            idle_timeout: std::time::Duration::ZERO,
            ..ServerConfig::default()
        };
        assert_eq!(
            config.validate(),
            Err(ConfigError::MustBePositive {
                field: "idle_timeout"
            })
        );
        let config = ServerConfig {
            allowed_origins: vec!["https://a.example/x".into()],
            ..ServerConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(ConfigError::BadOrigin { .. })
        ));
    }
}
