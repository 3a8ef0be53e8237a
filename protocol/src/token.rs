//! Signed join tokens: a game backend vouches for a player, the server checks the signature.
//!
//! A token is a standard JWT signed with HMAC-SHA256 (`HS256`, the only algorithm accepted)
//! over a secret the backend and the server share, so any backend language with a JWT
//! library can mint one. Its claims:
//!
//! | claim | required | meaning |
//! |---|---|---|
//! | `sub` | yes | the player's id in the game backend |
//! | `exp` | yes | expiry, seconds since the Unix epoch |
//! | `name` | no | display name shown to other players; absent: the name in `Hello` stands |
//! | `room` | no | the room the token admits to; absent: any room |
//!
//! Any other claim (a team, a rating…) is kept in [`JoinClaims::custom`] and handed to the
//! game at join.
//!
//! The client presents it at the WebSocket handshake, as the query parameter
//! `/ws?token=…` (what a browser can do) or as `Authorization: Bearer …`. Every refusal
//! says which claim or which part of the token is wrong.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::messages::{validate_player_name, HelloError};

/// Clock skew tolerated between the minting backend and the server, in seconds.
pub const EXPIRY_LEEWAY_SECS: u64 = 5;

/// The one signing algorithm accepted, as the JWT header's `alg` spells it.
pub const ALGORITHM: &str = "HS256";

/// The claims of a join token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// Player id in the game backend.
    pub sub: String,
    /// Display name; `None` keeps the name the client sent in `Hello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Room the token admits to; `None` admits to any room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Every other claim the backend put in the token (a team, a rating…), handed to the
    /// game at join.
    #[serde(flatten, default)]
    pub custom: serde_json::Map<String, serde_json::Value>,
}

impl JoinClaims {
    /// Claims for `player`, named `name`, in `room` that expire `ttl` from now.
    pub fn new(
        player: impl Into<String>,
        name: impl Into<String>,
        room: impl Into<String>,
        ttl: Duration,
    ) -> JoinClaims {
        JoinClaims {
            sub: player.into(),
            name: Some(name.into()),
            room: Some(room.into()),
            exp: unix_now().saturating_add(ttl.as_secs()),
            custom: serde_json::Map::new(),
        }
    }
}

/// The claims as they arrive: every one optional, so that a missing `sub` or `exp` is
/// reported by name rather than as a JSON error.
#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    name: Option<String>,
    room: Option<String>,
    exp: Option<u64>,
    #[serde(flatten)]
    custom: serde_json::Map<String, serde_json::Value>,
}

/// The part of a JWT header read before verification: only `alg`, as a plain string, so
/// that `none` or an algorithm the JWT library does not know is still reported by name.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token has expired")]
    Expired,
    #[error("token signature is invalid (signed with another secret, or altered)")]
    BadSignature,
    #[error("token is signed with {0}; this server accepts HS256 only")]
    Algorithm(String),
    #[error("token has no `{0}` claim; `sub` and `exp` are required")]
    MissingClaim(String),
    #[error("token's `name` claim is refused: {0}")]
    BadName(HelloError),
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

/// Checks the algorithm, the signature, the expiry, the room (when the token names one)
/// and the name (when it has one) of `token`, and returns its claims.
pub fn verify(secret: &[u8], token: &str, room: &str) -> Result<JoinClaims, TokenError> {
    let alg = header_algorithm(token)?;
    if alg != ALGORITHM {
        return Err(TokenError::Algorithm(alg));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = EXPIRY_LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let data =
        jsonwebtoken::decode::<RawClaims>(token, &DecodingKey::from_secret(secret), &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::MissingClaim(claim.clone())
                }
                _ => TokenError::Malformed(error.to_string()),
            })?;
    let RawClaims {
        sub,
        name,
        room: token_room,
        exp,
        custom,
    } = data.claims;
    let sub = sub.ok_or_else(|| TokenError::MissingClaim("sub".to_owned()))?;
    let exp = exp.ok_or_else(|| TokenError::MissingClaim("exp".to_owned()))?;
    if let Some(token_room) = &token_room {
        if token_room != room {
            return Err(TokenError::WrongRoom {
                token_room: token_room.clone(),
                expected: room.to_owned(),
            });
        }
    }
    if let Some(name) = &name {
        validate_player_name(name).map_err(TokenError::BadName)?;
    }
    Ok(JoinClaims {
        sub,
        name,
        room: token_room,
        exp,
        custom,
    })
}

/// The `alg` of `token`'s header, read without trusting anything else in the token.
fn header_algorithm(token: &str) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_claims), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "a JWT is three base64url parts separated by dots".to_owned(),
        ));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|error| TokenError::Malformed(format!("header is not base64url: {error}")))?;
    let header: RawHeader = serde_json::from_slice(&bytes)
        .map_err(|error| TokenError::Malformed(format!("header is not a JSON object: {error}")))?;
    header
        .alg
        .ok_or_else(|| TokenError::Malformed("header has no `alg`".to_owned()))
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

    /// A token signed over arbitrary claims (a backend's, not necessarily ours).
    fn sign_json(alg: Algorithm, claims: &serde_json::Value) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(SECRET)).unwrap()
    }

    fn unsigned(header: &str, claims: &str) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!("{}.{}.", b64.encode(header), b64.encode(claims))
    }

    #[test]
    fn name_and_room_are_optional() {
        let exp = unix_now() + 60;
        let token = sign_json(
            Algorithm::HS256,
            &serde_json::json!({ "sub": "p1", "exp": exp }),
        );
        let claims = verify(SECRET, &token, "any-room").unwrap();
        assert_eq!(claims.name, None);
        assert_eq!(claims.room, None, "a token without `room` admits anywhere");
        assert_eq!(claims.sub, "p1");
    }

    #[test]
    fn other_claims_are_kept_for_the_game() {
        let exp = unix_now() + 60;
        let token = sign_json(
            Algorithm::HS256,
            &serde_json::json!({ "sub": "p1", "exp": exp, "team": "red", "rating": 1500 }),
        );
        let claims = verify(SECRET, &token, "arena").unwrap();
        assert_eq!(claims.custom.get("team"), Some(&serde_json::json!("red")));
        assert_eq!(claims.custom.get("rating"), Some(&serde_json::json!(1500)));
        assert!(!claims.custom.contains_key("sub") && !claims.custom.contains_key("exp"));
    }

    #[test]
    fn missing_required_claims_are_named() {
        let exp = unix_now() + 60;
        let no_sub = sign_json(Algorithm::HS256, &serde_json::json!({ "exp": exp }));
        let error = verify(SECRET, &no_sub, "arena").unwrap_err();
        assert_eq!(error, TokenError::MissingClaim("sub".to_owned()));
        assert_eq!(
            error.to_string(),
            "token has no `sub` claim; `sub` and `exp` are required"
        );
        let no_exp = sign_json(Algorithm::HS256, &serde_json::json!({ "sub": "p1" }));
        assert_eq!(
            verify(SECRET, &no_exp, "arena"),
            Err(TokenError::MissingClaim("exp".to_owned()))
        );
    }

    #[test]
    fn other_algorithms_are_refused_by_name() {
        let claims = serde_json::json!({ "sub": "p1", "exp": unix_now() + 60 });
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = sign_json(alg, &claims);
            let error = verify(SECRET, &token, "arena").unwrap_err();
            assert_eq!(error, TokenError::Algorithm(format!("{alg:?}")));
            assert!(error.to_string().contains("accepts HS256 only"), "{error}");
        }
        let none = unsigned(r#"{"alg":"none","typ":"JWT"}"#, &claims.to_string());
        let error = verify(SECRET, &none, "arena").unwrap_err();
        assert_eq!(
            error.to_string(),
            "token is signed with none; this server accepts HS256 only"
        );
    }

    #[test]
    fn a_bad_name_claim_is_refused_as_the_tokens() {
        let long = "n".repeat(crate::MAX_PLAYER_NAME_BYTES + 1);
        let token = mint(
            SECRET,
            &JoinClaims::new("p1", long, "arena", Duration::from_secs(60)),
        )
        .unwrap();
        let error = verify(SECRET, &token, "arena").unwrap_err();
        assert!(
            matches!(
                error,
                TokenError::BadName(HelloError::NameTooLong { bytes: 33 })
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("token's `name` claim is refused: player name is 33 bytes"),
            "{error}"
        );
    }

    #[test]
    fn garbage_headers_are_malformed_not_panics() {
        for token in [
            "a.b",
            "a.b.c.d",
            "!!!.e30.",
            &unsigned("[]", "{}"),
            &unsigned("{}", "{}"),
        ] {
            assert!(
                matches!(
                    verify(SECRET, token, "arena"),
                    Err(TokenError::Malformed(_))
                ),
                "{token}"
            );
        }
    }
}
