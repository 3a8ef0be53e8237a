//! Join tokens for a swarm (`--token-secret`): each bot gets its own signed token
//! (`ticksync_protocol::token`) for the run's room, presented as `?token=…` on the URL —
//! the way a browser client presents it.

use std::time::Duration;

use ticksync_client::url::set_query_parameter;
use ticksync_protocol::token::{mint, JoinClaims, TokenError};
use url::Url;

/// How long a bot's token is valid: longer than any run, short enough that a leaked one
/// from a load test soon stops working.
pub const BOT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// The player id (and name) of bot `index`.
pub fn bot_player_id(index: usize) -> String {
    format!("bot-{index}")
}

/// Why a bot's URL could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid server URL {url:?}: {source}")]
    Url {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// The URL bot `index` connects to: `base` with `?room=` set to `room` when given, and a
/// freshly minted token for that room (or `token_room` when no room is named in the URL)
/// when a secret is given.
pub fn bot_url(
    base: &str,
    room: Option<&str>,
    secret: Option<&[u8]>,
    token_room: &str,
    index: usize,
) -> Result<String, AuthError> {
    let mut url = parse_url(base)?;
    if let Some(room) = room {
        set_query_parameter(&mut url, "room", room);
    }
    if let Some(secret) = secret {
        add_token(&mut url, secret, room.unwrap_or(token_room), index)?;
    }
    Ok(url.into())
}

/// `base` with a freshly minted token for bot `index` in `room` as the `token` query
/// parameter (any existing `token` parameter is replaced; other parameters are kept).
pub fn url_with_token(
    base: &str,
    secret: &[u8],
    room: &str,
    index: usize,
) -> Result<String, AuthError> {
    let mut url = parse_url(base)?;
    add_token(&mut url, secret, room, index)?;
    Ok(url.into())
}

fn parse_url(base: &str) -> Result<Url, AuthError> {
    Url::parse(base).map_err(|source| AuthError::Url {
        url: base.to_owned(),
        source,
    })
}

/// Sets the `token` parameter to a freshly minted token for bot `index` in `room`.
fn add_token(url: &mut Url, secret: &[u8], room: &str, index: usize) -> Result<(), AuthError> {
    let player = bot_player_id(index);
    let claims = JoinClaims::new(player.clone(), player, room, BOT_TOKEN_TTL);
    let token = mint(secret, &claims)?;
    set_query_parameter(url, "token", &token);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn bot_urls_name_the_room_and_carry_a_token_for_it() {
        let url = super::bot_url("ws://h/ws?room=old&x=1", Some("r-2"), None, "arena", 0).unwrap();
        assert_eq!(url, "ws://h/ws?x=1&room=r-2");
        let url = super::bot_url("ws://h/ws", None, None, "arena", 0).unwrap();
        assert_eq!(url, "ws://h/ws");
        let url = super::bot_url("ws://h/ws", Some("r-1"), Some(b"k"), "arena", 3).unwrap();
        let token = url.split("token=").nth(1).unwrap();
        let claims = ticksync_protocol::token::verify(b"k", token, "r-1").unwrap();
        assert_eq!(claims.room.as_deref(), Some("r-1"));
    }

    use super::*;
    use ticksync_protocol::token::verify;

    #[test]
    fn each_bot_gets_a_verifiable_token_for_the_room() {
        let url = url_with_token("ws://127.0.0.1:7878/ws", b"s3cret", "arena", 7).unwrap();
        let parsed = Url::parse(&url).unwrap();
        assert_eq!(parsed.path(), "/ws");
        let token = parsed
            .query_pairs()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let claims = verify(b"s3cret", &token, "arena").unwrap();
        assert_eq!(claims.sub, "bot-7");
        assert_eq!(claims.name.as_deref(), Some("bot-7"));
        assert!(verify(b"other", &token, "arena").is_err());
        assert!(verify(b"s3cret", &token, "lobby").is_err());
    }

    #[test]
    fn other_query_parameters_are_kept_and_an_old_token_replaced() {
        let url = url_with_token("wss://example.com/ws?room=x&token=old", b"k", "x", 0).unwrap();
        assert!(
            url.starts_with("wss://example.com/ws?room=x&token="),
            "{url}"
        );
        assert!(!url.contains("token=old"));
        assert!(url_with_token("not a url", b"k", "x", 0).is_err());
    }
}
