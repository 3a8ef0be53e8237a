//! Values as people write them: the text of a flag or an environment variable read as the
//! kind of value its key takes, and the serde forms of durations and addresses. Each error
//! says how to write the value instead (`10` -> "write 10s", `localhost:7878` -> "use an IP
//! address: 127.0.0.1:7878").

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use figment::value::{Dict, Value};

use super::keys::{self, Kind};

/// The value of `raw`, the text of a flag or variable for a key of `kind`. Numbers and
/// switches are read here; durations, addresses and paths stay text for the settings' own
/// deserializers, so every source gets the same checks and messages.
pub fn from_text(kind: Kind, raw: &str) -> Result<Value, String> {
    match kind {
        Kind::Number { .. } => raw
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| format!("{raw:?} is not {}", kind.expected())),
        Kind::Switch => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::from(true)),
            "false" | "0" | "no" | "off" => Ok(Value::from(false)),
            _ => Err(format!(
                "{raw:?} is not a switch value: write true or false"
            )),
        },
        Kind::Duration { .. } | Kind::Address | Kind::Path | Kind::Text => {
            Ok(Value::from(raw.to_owned()))
        }
        Kind::List => Ok(Value::from(
            raw.split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        )),
        Kind::Rooms | Kind::Table => match free_form(raw) {
            table @ Value::Dict(..) => Ok(table),
            _ => Err(format!("{raw:?} is not {}", kind.expected())),
        },
    }
}

/// The value of `raw` for a key at `path` below a table (`rooms.NAME.KEY`): the kind of the
/// per-room key where there is one, else whatever `raw` reads as.
pub fn from_text_at(path: &[String], raw: &str) -> Result<Value, String> {
    match path {
        [rooms, _name, key] if rooms == "rooms" => match keys::find_per_room(key) {
            Some(key) => from_text(key.kind, raw),
            None => Ok(free_form(raw)),
        },
        [key] => match keys::find(key) {
            Some(key) => from_text(key.kind, raw),
            None => Ok(free_form(raw)),
        },
        _ => Ok(free_form(raw)),
    }
}

/// Text of a value whose type the server does not know (a table of a plug-in's own
/// settings, say): a TOML value where it reads as one (`60`, `true`, `[1, 2]`,
/// `{ a = 1 }`), else the text itself.
pub fn free_form(raw: &str) -> Value {
    match raw.parse::<toml::Value>() {
        Ok(value) => Value::serialize(value).unwrap_or_else(|_| Value::from(raw.to_owned())),
        Err(_) => Value::from(raw.to_owned()),
    }
}

/// Sets `value` at `path` in `dict`, creating the tables on the way and merging with what
/// is there.
pub fn insert_at(dict: &mut Dict, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return;
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::from(Dict::new()));
    if !matches!(entry, Value::Dict(..)) {
        *entry = Value::from(Dict::new());
    }
    if let Value::Dict(_, table) = entry {
        insert_at(table, rest, value);
    }
}

/// The value at `path` in `dict`. Path parts are not split on dots: room names may hold one.
pub fn find_at<'a>(dict: &'a Dict, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let value = dict.get(first)?;
    if rest.is_empty() {
        return Some(value);
    }
    match value {
        Value::Dict(_, table) => find_at(table, rest),
        _ => None,
    }
}

/// Serde form of durations: text with a unit (`15s`, `500ms`, `1m 30s`). A bare number is
/// refused with the fix ("write 10s"), since a unit-less `10` could mean seconds or
/// milliseconds and guessing wrong is a silent misconfiguration.
pub mod duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration with a unit, like 500ms, 15s or 2m")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            super::parse_duration(text).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<Duration, E> {
            Err(E::custom(super::needs_unit(&number.to_string())))
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<Duration, E> {
            Err(E::custom(super::needs_unit(&number.to_string())))
        }

        fn visit_f64<E: de::Error>(self, number: f64) -> Result<Duration, E> {
            Err(E::custom(super::needs_unit(&number.to_string())))
        }
    }
}

/// A duration from text, with the fix in the error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.parse::<f64>().is_ok() {
        return Err(needs_unit(text));
    }
    humantime::parse_duration(text).map_err(|error| {
        format!("{text:?} is not a duration ({error}): write it like 500ms, 15s, 2m or 1h 30m")
    })
}

fn needs_unit(number: &str) -> String {
    let example = match number.parse::<f64>() {
        Ok(value) if value.fract() != 0.0 => format!("{}ms", (value * 1000.0).round()),
        _ => format!("{number}s"),
    };
    format!("a duration needs a unit: write {example} (units: ms, s, m, h)")
}

/// Serde form of the listen address: `IP:PORT` as text. A host name is refused with the IP
/// to use, since binding to a name would mean choosing one of its addresses silently.
pub mod address {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &SocketAddr, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse_address(&text).map_err(serde::de::Error::custom)
    }
}

/// A listen address from text, with the fix in the error.
pub fn parse_address(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Err(format!(
            "{text:?} has no port: write {}",
            SocketAddr::new(ip, 7878)
        ));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!(
            "{text:?} is not an IP address and port: write it like 127.0.0.1:7878 (this \
             machine only) or 0.0.0.0:7878 (every interface)"
        ));
    };
    if host.contains(':') {
        return Err(format!(
            "{text:?}: an IPv6 address goes in brackets: write [{host}]:{port}"
        ));
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("{text:?}: {port:?} is not a port number (0 to 65535)"))?;
    let suggestion = match host.to_ascii_lowercase().as_str() {
        "localhost" => format!("127.0.0.1:{port}"),
        _ => format!("0.0.0.0:{port} for every interface, or the IP of one"),
    };
    Err(format!(
        "{text:?} names a host, and bind takes an IP address (a name can stand for several): \
         use an IP: {suggestion}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_as_the_kind_of_its_key() {
        let number = Kind::Number { min: 1, max: 240 };
        assert_eq!(from_text(number, "60"), Ok(Value::from(60u64)));
        assert_eq!(
            from_text(number, "fast"),
            Err("\"fast\" is not a whole number from 1 to 240".to_owned())
        );
        assert_eq!(from_text(Kind::Switch, "false"), Ok(Value::from(false)));
        assert_eq!(from_text(Kind::Text, "1234"), Ok(Value::from("1234")));
        assert_eq!(
            from_text(Kind::List, "https://a.example, https://b.example,"),
            Ok(Value::from(vec!["https://a.example", "https://b.example"]))
        );
        assert!(from_text(Kind::Rooms, "{ big = { max_players = 5 } }").is_ok());
        assert!(from_text(Kind::Rooms, "big").is_err());
        assert_eq!(free_form("3000"), Value::from(3000i64));
        assert_eq!(free_form("a b"), Value::from("a b"));
    }

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        let message = parse_duration("10").unwrap_err();
        assert!(message.contains("write 10s"), "{message}");
        let message = parse_duration("1.5").unwrap_err();
        assert!(message.contains("write 1500ms"), "{message}");
        let message = parse_duration("soon").unwrap_err();
        assert!(message.contains("15s"), "{message}");
    }

    #[test]
    fn addresses_are_ips_with_a_port() {
        assert_eq!(
            parse_address("0.0.0.0:9000"),
            Ok(SocketAddr::from(([0, 0, 0, 0], 9000)))
        );
        assert!(parse_address("[::1]:9000").is_ok());
        let message = parse_address("localhost:9000").unwrap_err();
        assert!(message.contains("use an IP: 127.0.0.1:9000"), "{message}");
        let message = parse_address("game.example.com:7878").unwrap_err();
        assert!(message.contains("use an IP"), "{message}");
        let message = parse_address("0.0.0.0").unwrap_err();
        assert!(message.contains("write 0.0.0.0:7878"), "{message}");
        let message = parse_address("::1").unwrap_err();
        assert!(message.contains("write [::1]:7878"), "{message}");
    }
}
