//! Signed join tokens: a game backend vouches for a player, the server checks the signature.
//!
//! A token is a standard JWT signed with HMAC-SHA256 (`HS256`) over a secret the backend and
//! the server share, so any backend language with a JWT library can mint one. Its claims:
//!
//! | claim | meaning |
//! |---|---|
//! | `sub` | the player's id in the game backend |
//! | `name` | display name shown to other players |
//! | `room` | the room the token admits to |
//! | `exp` | expiry, seconds since the Unix epoch |
//!
//! The client presents it at the WebSocket handshake, as the query parameter
//! `/ws?token=…` (what a browser can do) or as `Authorization: Bearer …`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated between the minting backend and the server, in seconds.
pub const EXPIRY_LEEWAY_SECS: u64 = 5;

/// The claims of a join token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// Player id in the game backend.
    pub sub: String,
    /// Display name.
    pub name: String,
    /// Room the token admits to.
    pub room: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Every other claim the backend put in the token (a team, a rating…), handed to the
    /// game at join.
    #[serde(flatten, default)]
    pub custom: serde_json::Map<String, serde_json::Value>,
}

impl JoinClaims {
    /// Claims for `player` in `room` that expire `ttl` from now.
    pub fn new(
        player: impl Into<String>,
        name: impl Into<String>,
        room: impl Into<String>,
        ttl: Duration,
    ) -> JoinClaims {
        JoinClaims {
            sub: player.into(),
            name: name.into(),
            room: room.into(),
            exp: unix_now().saturating_add(ttl.as_secs()),
            custom: serde_json::Map::new(),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token has expired")]
    Expired,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token is for room {token_room:?}, not {expected:?}")]
    WrongRoom {
        token_room: String,
        expected: String,
    },
    #[error("token is malformed: {0}")]
    Malformed(String),
    #[error("could not sign token: {0}")]
    Sign(String),
}

/// Signs `claims` with `secret`.
pub fn mint(secret: &[u8], claims: &JoinClaims) -> Result<String, TokenError> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .map_err(|error| TokenError::Sign(error.to_string()))
}

/// Checks the signature, the expiry and the room of `token`, and returns its claims.
pub fn verify(secret: &[u8], token: &str, room: &str) -> Result<JoinClaims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = EXPIRY_LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data =
        jsonwebtoken::decode::<JoinClaims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
            _ => TokenError::Malformed(error.to_string()),
        })?;
    if data.claims.room != room {
        return Err(TokenError::WrongRoom {
            token_room: data.claims.room,
            expected: room.to_owned(),
        });
    }
    Ok(data.claims)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"test secret";

    #[test]
    fn a_minted_token_verifies() {
        let claims = JoinClaims::new("p1", "Ada", "arena", Duration::from_secs(60));
        let token = mint(SECRET, &claims).unwrap();
        assert_eq!(verify(SECRET, &token, "arena").unwrap(), claims);
    }

    #[test]
    fn expired_forged_and_wrong_room_tokens_are_refused() {
        let expired = JoinClaims {
            exp: unix_now() - 3600,
            ..JoinClaims::new("p1", "Ada", "arena", Duration::ZERO)
        };
        let token = mint(SECRET, &expired).unwrap();
        assert_eq!(verify(SECRET, &token, "arena"), Err(TokenError::Expired));

        let good = mint(
            SECRET,
            &JoinClaims::new("p1", "Ada", "arena", Duration::from_secs(60)),
        )
        .unwrap();
        assert_eq!(
            verify(b"another secret", &good, "arena"),
            Err(TokenError::BadSignature)
        );
        assert!(matches!(
            verify(SECRET, &good, "lobby"),
            Err(TokenError::WrongRoom { .. })
        ));
        assert!(matches!(
            verify(SECRET, "not.a.token", "arena"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            verify(SECRET, "", "arena"),
            Err(TokenError::Malformed(_))
        ));
    }
}
