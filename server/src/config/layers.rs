//! The layers merged with figment — embedded defaults, then the config file, then
//! `TICKSYNC_` variables, then flags — and, for any key, which layer set it ([`Origin`]).
//!
//! Figment tags every value with the provider that supplied it; [`Layers::origin`] turns that
//! tag back into the file's line, the variable or the flag, and [`Layers::locate`] puts it on
//! an error, so each message says what to change and where.

use std::collections::BTreeMap;
use std::ffi::OsString;

use figment::providers::Serialized;
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::cli::ServerArgs;
use super::env::{EnvLayer, CONFIG_ENV, ENV_LAYER};
use super::file::{FileLayer, FILE_LAYER};
use super::keys::{self, Key, Kind};
use super::value::{find_at, from_text, insert_at};
use super::{ConfigError, Origin, ServerConfig};

/// The name the flags' values carry in figment's metadata.
const FLAG_LAYER: &str = "flags";

/// The configuration's layers, merged.
pub(super) struct Layers {
    figment: Figment,
    file: Option<FileLayer>,
    env: EnvLayer,
    flags: FlagLayer,
}

impl Layers {
    /// Reads every layer: the file named by `--config` (else by `TICKSYNC_CONFIG`), the
    /// `TICKSYNC_` variables of `env`, and the flags in `args`. A value that cannot be read
    /// as its key's kind fails here, naming its source.
    pub(super) fn read(
        args: &ServerArgs,
        env: &BTreeMap<String, OsString>,
    ) -> Result<Layers, ConfigError> {
        let file_path = args.config.clone().or_else(|| {
            env.get(CONFIG_ENV)
                .filter(|path| !path.is_empty())
                .map(Into::into)
        });
        let file = file_path.as_deref().map(FileLayer::read).transpose()?;
        let env = EnvLayer::read(env)?;
        let flags = FlagLayer::read(args)?;
        let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
        if let Some(file) = &file {
            figment = figment.merge(file.clone());
        }
        let figment = figment.merge(env.clone()).merge(flags.clone());
        Ok(Layers {
            figment,
            file,
            env,
            flags,
        })
    }

    /// All settings, merged and untyped.
    pub(super) fn merged(&self) -> Result<Dict, ConfigError> {
        self.figment
            .data()
            .map_err(|error| ConfigError::Invalid {
                message: error.to_string(),
            })
            .map(|mut profiles| profiles.remove(&Profile::Default).unwrap_or_default())
    }

    /// The merged settings as a [`ServerConfig`]. A value of the wrong type or an unknown key
    /// fails naming the key and where it was set.
    pub(super) fn extract(&self) -> Result<ServerConfig, ConfigError> {
        self.figment.extract::<ServerConfig>().map_err(|error| {
            let message = describe(&error);
            // "unknown key `x`" names the key already.
            let names_key = matches!(error.kind, figment::error::Kind::UnknownField(..));
            self.value_error(&error.path, message, !names_key)
        })
    }

    /// Where the value at `path` was set.
    pub(super) fn origin(&self, path: &[String]) -> Origin {
        let merged = self.merged().unwrap_or_default();
        let tag = (1..=path.len())
            .rev()
            .find_map(|len| find_at(&merged, &path[..len]))
            .map(Value::tag);
        let layer = tag.and_then(|tag| self.figment.get_metadata(tag));
        match layer.map(|metadata| metadata.name.as_ref()) {
            Some(FILE_LAYER) => match &self.file {
                Some(file) => Origin::File {
                    path: file.path().to_owned(),
                    line: file.line_of(path),
                },
                None => Origin::Default,
            },
            Some(ENV_LAYER) => Origin::Env {
                variable: self
                    .env
                    .variable_for(path)
                    .unwrap_or("a TICKSYNC_ variable")
                    .to_owned(),
            },
            Some(FLAG_LAYER) => Origin::Flag {
                flag: self
                    .flags
                    .flag_for(path)
                    .map_or_else(|| "?".to_owned(), |long| format!("--{long}")),
            },
            _ => Origin::Default,
        }
    }

    /// `error` (from validating the merged settings) with where its value was set, when that
    /// is not the defaults.
    pub(super) fn locate(&self, error: ConfigError) -> ConfigError {
        let origin = error
            .paths()
            .iter()
            .map(|path| self.origin(path))
            .find(|origin| *origin != Origin::Default);
        match origin {
            Some(origin) => ConfigError::Setting {
                origin,
                error: Box::new(error),
            },
            None => error,
        }
    }

    /// A value at `path` that cannot be used, as the error of the layer it came from.
    fn value_error(&self, path: &[String], message: String, name_key: bool) -> ConfigError {
        let key = path.join(".");
        let keyed = |message: String| match name_key {
            true => format!("{key}: {message}"),
            false => message,
        };
        match self.origin(path) {
            Origin::File { path, line } => ConfigError::File {
                path,
                line,
                message: keyed(message),
            },
            Origin::Env { variable } => ConfigError::Env {
                variable,
                key,
                message,
            },
            Origin::Flag { flag } => ConfigError::Flag { flag, key, message },
            Origin::Default => ConfigError::Invalid {
                message: keyed(message),
            },
        }
    }
}

/// What is wrong in a figment error, in the words of the key's kind where it has one.
fn describe(error: &figment::Error) -> String {
    use figment::error::Kind as Error;
    let kind = match error.path.as_slice() {
        [key] => keys::find(key).map(|key| key.kind),
        [rooms, _, key] if rooms == "rooms" => keys::find_per_room(key).map(|key| key.kind),
        _ => None,
    };
    match (&error.kind, kind) {
        (Error::UnknownField(name, expected), _) => unknown_key(name, expected),
        (Error::InvalidType(found, _) | Error::InvalidValue(found, _), Some(kind)) => {
            format!("found {found}, expected {}", kind.expected())
        }
        (Error::Message(message), _) => message.clone(),
        (other, _) => other.to_string(),
    }
}

/// "unknown key `x`", with the key most likely meant.
fn unknown_key(name: &str, expected: &[&str]) -> String {
    let closest = expected
        .iter()
        .map(|key| (strsim::jaro_winkler(name, key), key))
        .filter(|(similarity, _)| *similarity > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match closest {
        Some((_, key)) => format!("unknown key `{name}`; did you mean `{key}`?"),
        // A short list (a room's keys) helps; the 30-odd top-level keys would bury the error.
        None if expected.len() <= 8 => format!(
            "unknown key `{name}`; the keys here are {}",
            expected.join(", ")
        ),
        None => format!(
            "unknown key `{name}` (ticksync.example.toml and --print-config list every key)"
        ),
    }
}

/// The flags given on the command line, as config values.
#[derive(Clone)]
struct FlagLayer {
    data: Dict,
    /// Each flag given, with its key.
    flags: Vec<(&'static Key, &'static str)>,
}

impl FlagLayer {
    fn read(args: &ServerArgs) -> Result<FlagLayer, ConfigError> {
        let mut layer = FlagLayer {
            data: Dict::new(),
            flags: Vec::new(),
        };
        for (key, long, values) in args.settings() {
            let value = match key.kind {
                Kind::List => Value::from(values.to_vec()),
                kind => {
                    let raw = values.last().map(String::as_str).unwrap_or_default();
                    from_text(kind, raw).map_err(|message| ConfigError::Flag {
                        flag: format!("--{long}"),
                        key: key.name.to_owned(),
                        message,
                    })?
                }
            };
            insert_at(&mut layer.data, &[key.name.to_owned()], value);
            layer.flags.push((key, long));
        }
        Ok(layer)
    }

    fn flag_for(&self, path: &[String]) -> Option<&'static str> {
        let key = path.first()?;
        self.flags
            .iter()
            .find(|(flag_key, _)| flag_key.name == key)
            .map(|(_, long)| *long)
    }
}

impl Provider for FlagLayer {
    fn metadata(&self) -> Metadata {
        Metadata::named(FLAG_LAYER)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}
