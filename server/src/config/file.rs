//! The config-file layer: a TOML file as a figment provider that remembers the line of every
//! key, so an error about a value from the file points at its line — including errors found
//! after the layers are merged (a range, a bad origin), which figment's own TOML provider
//! cannot place. It reads the file with the `toml` crate the rest of the server uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use super::{ConfigError, TOKEN_SECRET_ENV};

/// The name this layer's values carry in figment's metadata.
pub(super) const FILE_LAYER: &str = "config file";

/// A config file, read and parsed.
#[derive(Clone)]
pub(super) struct FileLayer {
    path: PathBuf,
    data: Dict,
    /// The line (1-based) of each key, by key path.
    lines: BTreeMap<Vec<String>, usize>,
}

impl FileLayer {
    /// Reads and parses `path`. A file that cannot be read, is not TOML, or holds the
    /// token secret is an error naming the file (and the line, for syntax errors).
    pub(super) fn read(path: &Path) -> Result<FileLayer, ConfigError> {
        let file_error = |line: Option<usize>, message: String| ConfigError::File {
            path: path.to_owned(),
            line,
            message: message.trim_end().to_owned(),
        };
        let text =
            std::fs::read_to_string(path).map_err(|error| file_error(None, error.to_string()))?;
        // The error of a syntax mistake shows the line and a caret under the spot.
        let table: toml::Table =
            toml::from_str(&text).map_err(|error| file_error(None, error.to_string()))?;
        let mut lines = BTreeMap::new();
        if let Ok(document) = toml::de::DeTable::parse(&text) {
            record_lines(&text, document.get_ref(), &mut Vec::new(), &mut lines);
        }
        if table.contains_key("token_secret") {
            let line = lines.get(&vec!["token_secret".to_owned()]).copied();
            return Err(file_error(
                line,
                format!(
                    "token_secret cannot be set in a config file: set {TOKEN_SECRET_ENV} or \
                     token_secret_file"
                ),
            ));
        }
        let data = Value::serialize(table)
            .ok()
            .and_then(Value::into_dict)
            .ok_or_else(|| file_error(None, "not a table of settings".to_owned()))?;
        Ok(FileLayer {
            path: path.to_owned(),
            data,
            lines,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The line of the key at `path`, or of the nearest table above it that the file names.
    pub(super) fn line_of(&self, path: &[String]) -> Option<usize> {
        (1..=path.len())
            .rev()
            .find_map(|len| self.lines.get(&path[..len]).copied())
    }
}

impl Provider for FileLayer {
    fn metadata(&self) -> Metadata {
        Metadata::from(FILE_LAYER, self.path.as_path())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.data.clone()))
    }
}

/// Records the line of every key in `table` (at `prefix`) and in the tables below it.
fn record_lines(
    text: &str,
    table: &toml::de::DeTable<'_>,
    prefix: &mut Vec<String>,
    lines: &mut BTreeMap<Vec<String>, usize>,
) {
    for (key, value) in table.iter() {
        prefix.push(key.get_ref().to_string());
        let offset = key.span().start.min(text.len());
        lines
            .entry(prefix.clone())
            .or_insert_with(|| text[..offset].matches('\n').count() + 1);
        if let toml::de::DeValue::Table(inner) = value.get_ref() {
            record_lines(text, inner, prefix, lines);
        }
        prefix.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_its_line() {
        let path =
            std::env::temp_dir().join(format!("ticksync-file-layer-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "# settings\ntick_rate_hz = 20\n\n[rooms.big]\nmax_players = 5\n",
        )
        .expect("temp file is writable");
        let file = FileLayer::read(&path).expect("valid");
        let at =
            |parts: &[&str]| file.line_of(&parts.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        assert_eq!(at(&["tick_rate_hz"]), Some(2));
        assert_eq!(at(&["rooms", "big"]), Some(4));
        assert_eq!(at(&["rooms", "big", "max_players"]), Some(5));
        assert_eq!(at(&["rooms", "big", "aoi_radius"]), Some(4));
        let _ = std::fs::remove_file(path);
    }
}
