//! Server configuration: one [`ServerConfig`] with embedded defaults, read in layers.
//!
//! Each layer overrides the ones before it:
//! 1. the embedded defaults ([`ServerConfig::default`]);
//! 2. a TOML file, `--config FILE` or else the file named by `TICKSYNC_CONFIG`, whose keys are
//!    the field names of [`ServerConfig`] (`ticksync.example.toml` at the repository root
//!    lists them all), plus `[rooms.NAME]` tables of per-room overrides;
//! 3. environment variables `TICKSYNC_<KEY>`, the key upper-cased (`TICKSYNC_TICK_RATE_HZ=60`,
//!    `TICKSYNC_IDLE_TIMEOUT=30s`, `TICKSYNC_ALLOWED_ORIGINS=https://a.example,https://b.example`),
//!    with `__` between table levels (`TICKSYNC_ROOMS__BIG__MAX_PLAYERS=2000`);
//! 4. command-line flags ([`ServerArgs`]).
//!
//! [`load`] merges the layers (figment providers) and validates the result; every error names
//! the setting and where its value came from — the file and line, the variable, the flag —
//! and, for a value written wrong, how to write it. Secrets never come from the file: the
//! join-token secret is read from `token_secret_file` or from `TICKSYNC_TOKEN_SECRET`, must
//! be at least 32 bytes, and is never printed.
//!
//! One concept per file, in the order a value travels:
//! - `keys`: the table of config keys — kind, range and flag of each;
//! - `cli`: the command line built from that table ([`ServerArgs`]), and the `token`
//!   subcommand;
//! - `file`, `env`, `layers`: the file, environment and flag layers as figment providers, and
//!   which layer set a value ([`Origin`]);
//! - `value`: text read as a key's kind, and the serde forms of durations and addresses;
//! - `settings`: the settings themselves ([`ServerConfig`]), with their defaults; `validate`
//!   checks them;
//! - `secret`: the join-token secret ([`Secret`]); `print`: `--print-config`; `error`:
//!   [`ConfigError`].

mod cli;
mod env;
mod error;
mod file;
mod keys;
mod layers;
mod print;
mod secret;
mod settings;
mod validate;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::ffi::OsString;

pub use cli::{Command, ServerArgs, TokenArgs};
pub use env::{unknown_env_variables, UnknownVariable, CONFIG_ENV, ENV_NESTING, ENV_PREFIX};
pub use error::{ConfigError, Origin};
pub use keys::MAX_TICK_RATE_HZ;
pub use secret::{read_token_secret, Secret, MIN_TOKEN_SECRET_BYTES, TOKEN_SECRET_ENV};
pub use settings::{
    default_dev_tls_cert, RoomOverrides, ServerConfig, DEFAULT_ADMIN_PORT, DEFAULT_ROOM_NAME,
};

use layers::Layers;

/// Reads the configuration: the embedded defaults, then the config file (`args.config`, else
/// the file named by `TICKSYNC_CONFIG` in `env`), then `TICKSYNC_<KEY>` variables from `env`,
/// then the flags in `args`; validates it, and reads the join-token secret (from
/// `token_secret_file`, else `TICKSYNC_TOKEN_SECRET` in `env`).
///
/// `env` is the process environment (`std::env::vars_os()`) in production; tests pass their
/// own. Variables starting with `TICKSYNC_` that name no config key are ignored (see
/// [`unknown_env_variables`]), and so are empty ones.
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
    let layers = Layers::read(args, &env)?;
    // Ranges first, on the untyped values: a number too large for its field's type is
    // reported against the setting's real range.
    validate::check_ranges(&layers.merged()?).map_err(|error| layers.locate(error))?;
    let mut config = layers.extract()?;
    config.resolve_dev_tls();
    config
        .check_consistency()
        .map_err(|error| layers.locate(error))?;
    let env_secret = env
        .get(TOKEN_SECRET_ENV)
        .map(|secret| secret.to_string_lossy().into_owned());
    config.token_secret = read_token_secret(config.token_secret_file.as_deref(), env_secret)?;
    Ok(config)
}

/// The keys of the config file and of `TICKSYNC_<KEY>`, in the order `--help` lists them.
pub fn config_keys() -> Vec<&'static str> {
    keys::names().collect()
}
