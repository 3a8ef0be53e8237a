//! The join-token secret: [`Secret`], a value that never shows in logs and compares in
//! constant time, and where it comes from — `token_secret_file`, else the
//! `TICKSYNC_TOKEN_SECRET` variable; never the config file or a flag.
//!
//! A secret shorter than [`MIN_TOKEN_SECRET_BYTES`] is refused rather than warned about:
//! every player holds a token signed with it, and HS256 with a short secret can be guessed
//! offline from any one token, after which anyone can mint tokens for any player and room. A
//! warning in a start-up log is easy to miss; a server that does not start is not.

use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use super::ConfigError;

/// Environment variable holding the join-token secret. Never a command-line flag: those
/// are visible to every user of the machine in `ps`.
pub const TOKEN_SECRET_ENV: &str = "TICKSYNC_TOKEN_SECRET";

/// Shortest join-token secret accepted, in bytes: the HMAC-SHA256 key length that SECURITY.md
/// asks for.
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// A secret that never appears in logs or `Debug` output, and whose comparison takes the
/// same time wherever two secrets differ.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.expose().ct_eq(other.expose()).into()
    }
}

impl Eq for Secret {}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The join-token secret: read from `file` when given, else `env_value` (the value of
/// [`TOKEN_SECRET_ENV`]). Surrounding whitespace (a trailing newline in a file) is not part of
/// the secret. An empty file is an error rather than an open server; an empty variable counts
/// as unset. A secret shorter than [`MIN_TOKEN_SECRET_BYTES`] is an error.
pub fn read_token_secret(
    file: Option<&Path>,
    env_value: Option<String>,
) -> Result<Option<Secret>, ConfigError> {
    let (secret, source) = match file {
        Some(path) => {
            let raw = std::fs::read_to_string(path).map_err(|error| ConfigError::SecretFile {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
            let secret = raw.trim();
            if secret.is_empty() {
                return Err(ConfigError::SecretFile {
                    path: path.to_owned(),
                    message: "the file is empty".to_owned(),
                });
            }
            (secret.to_owned(), SecretSource::File(path.to_owned()))
        }
        None => match env_value.map(|secret| secret.trim().to_owned()) {
            Some(secret) if !secret.is_empty() => (secret, SecretSource::Env),
            _ => return Ok(None),
        },
    };
    if secret.len() < MIN_TOKEN_SECRET_BYTES {
        return Err(ConfigError::WeakSecret {
            place: source.to_string(),
            bytes: secret.len(),
        });
    }
    Ok(Some(Secret(secret)))
}

/// Where the secret was read, for the error about a short one.
enum SecretSource {
    File(PathBuf),
    Env,
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::File(path) => write!(f, "the token secret file {}", path.display()),
            SecretSource::Env => write!(f, "environment variable {TOKEN_SECRET_ENV}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn secrets_compare_by_value_and_never_print() {
        assert_eq!(Secret::new(LONG), Secret::new(LONG));
        assert_ne!(Secret::new(LONG), Secret::new(&LONG[1..]));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert_eq!(format!("{:?}", Secret::new(LONG)), "Secret(<redacted>)");
    }

    #[test]
    fn short_secrets_are_refused_with_the_way_out() {
        let error = read_token_secret(None, Some("hunter2".to_owned())).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("TICKSYNC_TOKEN_SECRET"), "{message}");
        assert!(message.contains("7 bytes"), "{message}");
        assert!(message.contains("openssl rand"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert_eq!(
            read_token_secret(None, Some(format!(" {LONG}\n"))),
            Ok(Some(Secret::new(LONG)))
        );
        assert_eq!(read_token_secret(None, Some(" ".to_owned())), Ok(None));
    }
}
