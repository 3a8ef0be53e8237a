//! `--print-config`: the effective configuration as a TOML document that [`super::load`]
//! reads back to the same settings. Secrets are left out; settings that are off are listed as
//! comments, so the printout still names every key.

use super::keys;
use super::{ConfigError, ServerConfig};

impl ServerConfig {
    /// The configuration as a TOML document that [`load`](super::load) reads back to the same
    /// settings: what `--print-config` prints. Secrets are left out.
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        let invalid = |error: toml::ser::Error| ConfigError::Invalid {
            message: error.to_string(),
        };
        let body = toml::to_string_pretty(self).map_err(invalid)?;
        let set = toml::Value::try_from(self).map_err(invalid)?;
        // Optional settings that are off do not appear in TOML; list them as comments.
        let unset: String = keys::names()
            .filter(|key| *key != "rooms" && set.get(*key).is_none())
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
}
