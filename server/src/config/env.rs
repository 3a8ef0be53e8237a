//! The environment layer: `TICKSYNC_<KEY>` variables as a figment provider, and the
//! variables that look like a mistyped key.
//!
//! A variable names a key upper-cased (`TICKSYNC_TICK_RATE_HZ`); a key inside a table is
//! reached with `__` between levels (`TICKSYNC_ROOMS__BIG__MAX_PLAYERS` is `max_players` in
//! `[rooms.big]`; names are lower-cased). Each value is read as the kind of value its key
//! takes ([`super::value::from_text`]): `TICKSYNC_DEFAULT_ROOM=1234` is the room "1234", and
//! `TICKSYNC_ALLOWED_ORIGINS` takes a comma-separated list. A table of settings the server
//! does not know the shape of takes TOML values.
//!
//! Variables that do not start with a config key are not this layer's: other programs share
//! the prefix (the bot swarm's `TICKSYNC_URL`, a test harness's own). The server only points
//! out those that look like a config key mistyped ([`unknown_env_variables`]), so nothing
//! here has to list anyone else's variables.

use std::collections::BTreeMap;
use std::ffi::OsString;

use figment::value::{Dict, Map};
use figment::{Metadata, Profile, Provider};

use super::keys::{self, Kind};
use super::value::{from_text_at, insert_at};
use super::{ConfigError, TOKEN_SECRET_ENV};

/// Environment variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "TICKSYNC_CONFIG";

/// Prefix of the environment variables that override config keys: `TICKSYNC_<KEY>`.
pub const ENV_PREFIX: &str = "TICKSYNC_";

/// Separator of table levels in a variable's name: `TICKSYNC_ROOMS__BIG__MAX_PLAYERS`.
pub const ENV_NESTING: &str = "__";

/// The name this layer's values carry in figment's metadata.
pub(super) const ENV_LAYER: &str = "environment";

/// The `TICKSYNC_<KEY>` variables of an environment, as config values.
#[derive(Clone)]
pub(super) struct EnvLayer {
    data: Dict,
    /// Each variable read, with the key path it sets.
    variables: Vec<(Vec<String>, String)>,
}

impl EnvLayer {
    /// Reads the variables of `env` that set a config key. Empty ones count as unset.
    pub(super) fn read(env: &BTreeMap<String, OsString>) -> Result<EnvLayer, ConfigError> {
        let mut layer = EnvLayer {
            data: Dict::new(),
            variables: Vec::new(),
        };
        for (variable, raw) in env {
            let Some(path) = key_path(variable) else {
                continue;
            };
            if keys::find(&path[0]).is_none() {
                continue;
            }
            let env_error = |message: String| ConfigError::Env {
                variable: variable.clone(),
                key: path.join("."),
                message,
            };
            let raw = raw
                .to_str()
                .ok_or_else(|| env_error("not valid UTF-8".to_owned()))?
                .trim();
            if raw.is_empty() {
                continue;
            }
            let value = from_text_at(&path, raw).map_err(env_error)?;
            insert_at(&mut layer.data, &path, value);
            layer.variables.push((path, variable.clone()));
        }
        Ok(layer)
    }

    /// The variable that set the value at `path`, or the table holding it.
    pub(super) fn variable_for(&self, path: &[String]) -> Option<&str> {
        self.variables
            .iter()
            .filter(|(set, _)| path.starts_with(set) || set.starts_with(path))
            .max_by_key(|(set, _)| set.len())
            .map(|(_, variable)| variable.as_str())
    }
}

impl Provider for EnvLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(ENV_LAYER)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

/// The key path a `TICKSYNC_` variable names: `TICKSYNC_ROOMS__BIG__MAX_PLAYERS` ->
/// `rooms`, `big`, `max_players`. `None` for the variables that are not config keys by
/// design (the secret, the config file) and for malformed names.
fn key_path(variable: &str) -> Option<Vec<String>> {
    if variable == TOKEN_SECRET_ENV
        || variable == CONFIG_ENV
        || variable == crate::cluster::SEAT_SECRET_ENV
    {
        return None;
    }
    let name = variable.strip_prefix(ENV_PREFIX)?;
    let path: Vec<String> = name
        .split(ENV_NESTING)
        .map(str::to_ascii_lowercase)
        .collect();
    path.iter().all(|part| !part.is_empty()).then_some(path)
}

/// A `TICKSYNC_` variable that sets no config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    /// The variable.
    pub name: String,
    /// The variable it was probably meant to be, when it looks like a config key mistyped:
    /// worth a warning. `None`: most likely another program's variable.
    pub did_you_mean: Option<String>,
}

/// `TICKSYNC_` variables in `env` that set no config key. They are ignored; the caller
/// should warn about those with a [`UnknownVariable::did_you_mean`].
pub fn unknown_env_variables(
    env: impl IntoIterator<Item = (OsString, OsString)>,
) -> Vec<UnknownVariable> {
    env.into_iter()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with(ENV_PREFIX))
        .filter(|name| name != TOKEN_SECRET_ENV && name != CONFIG_ENV)
        .filter(|name| key_path(name).is_none_or(|path| keys::find(&path[0]).is_none()))
        .map(|name| UnknownVariable {
            did_you_mean: did_you_mean(&name[ENV_PREFIX.len()..]),
            name,
        })
        .collect()
}

/// The variable that `name` (after the prefix) most likely meant, if it is close to one.
fn did_you_mean(name: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let squeezed = |text: &str| text.replace('_', "");
    let typed = squeezed(&name);
    let mut best: Option<(usize, &keys::Key)> = None;
    for key in keys::KEYS {
        let wanted = squeezed(key.name);
        let distance = strsim::damerau_levenshtein(&typed, &wanted);
        let shorter = typed.len().min(wanted.len());
        let related = distance <= 2
            || (shorter >= 5 && (typed.starts_with(&wanted) || wanted.starts_with(&typed)));
        if related && best.is_none_or(|(best, _)| distance < best) {
            best = Some((distance, key));
        }
    }
    let key = best?.1;
    Some(match key.kind {
        // Most likely a single `_` where the levels need two.
        Kind::Rooms => format!(
            "{ENV_PREFIX}{}{ENV_NESTING}<ROOM>{ENV_NESTING}<KEY>",
            key.name.to_ascii_uppercase()
        ),
        Kind::Table => format!(
            "{ENV_PREFIX}{}{ENV_NESTING}<KEY>",
            key.name.to_ascii_uppercase()
        ),
        _ => format!("{ENV_PREFIX}{}", key.name.to_ascii_uppercase()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, OsString> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), OsString::from(value)))
            .collect()
    }

    #[test]
    fn variables_set_keys_and_keys_in_tables() {
        let layer = EnvLayer::read(&env(&[
            ("TICKSYNC_TICK_RATE_HZ", "60"),
            ("TICKSYNC_ROOMS__BIG__MAX_PLAYERS", "3000"),
            ("TICKSYNC_URL", "ws://elsewhere"),
            ("TICKSYNC_MAX_PLAYERS", " "),
        ]))
        .expect("valid");
        assert_eq!(layer.data["tick_rate_hz"], 60u64.into());
        let big = ["rooms", "big", "max_players"].map(String::from);
        assert_eq!(
            super::super::value::find_at(&layer.data, &big),
            Some(&3000u64.into())
        );
        assert_eq!(
            layer.variable_for(&big),
            Some("TICKSYNC_ROOMS__BIG__MAX_PLAYERS")
        );
        assert!(!layer.data.contains_key("url"));
        assert!(!layer.data.contains_key("max_players"));
    }

    #[test]
    fn mistyped_keys_get_a_suggestion_and_other_variables_none() {
        let unknown = unknown_env_variables(
            [
                ("TICKSYNC_TICK_RATE", "60"),
                ("TICKSYNC_MAXPLAYERS", "6"),
                ("TICKSYNC_ROOMS_BIG_MAX_PLAYERS", "6"),
                ("TICKSYNC_URL", "ws://x"),
                ("TICKSYNC_REQUIRE_BROWSER", "1"),
                ("TICKSYNC_PYTHON", "python3"),
                ("TICKSYNC_TICK_RATE_HZ", "60"),
                ("TICKSYNC_TOKEN_SECRET", "s"),
                ("TICKSYNC_CONFIG", "x.toml"),
            ]
            .map(|(name, value)| (OsString::from(name), OsString::from(value))),
        );
        let found: Vec<(&str, Option<&str>)> = unknown
            .iter()
            .map(|variable| (variable.name.as_str(), variable.did_you_mean.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                ("TICKSYNC_TICK_RATE", Some("TICKSYNC_TICK_RATE_HZ")),
                ("TICKSYNC_MAXPLAYERS", Some("TICKSYNC_MAX_PLAYERS")),
                (
                    "TICKSYNC_ROOMS_BIG_MAX_PLAYERS",
                    Some("TICKSYNC_ROOMS__<ROOM>__<KEY>")
                ),
                ("TICKSYNC_URL", None),
                ("TICKSYNC_REQUIRE_BROWSER", None),
                ("TICKSYNC_PYTHON", None),
            ]
        );
    }
}
