//! The server URL a client connects to: the WebSocket endpoint with the room
//! (`?room=NAME`) and the join token (`?token=…`) as query parameters, the way a browser
//! client presents them. Minting tokens is the game backend's business
//! (`ticksync_protocol::token`); the client only carries one.

use url::Url;

/// Why a server URL could not be made.
#[derive(Debug, thiserror::Error)]
#[error("invalid server URL {url:?}: {source}")]
pub struct UrlError {
    pub url: String,
    #[source]
    pub source: url::ParseError,
}

/// `base` (e.g. `ws://127.0.0.1:7878/ws`) with `room` and `token` set as the `room` and
/// `token` query parameters when given (replacing any the URL had, keeping the others).
pub fn server_url(base: &str, room: Option<&str>, token: Option<&str>) -> Result<String, UrlError> {
    let mut url = Url::parse(base).map_err(|source| UrlError {
        url: base.to_owned(),
        source,
    })?;
    if let Some(room) = room {
        set_query_parameter(&mut url, "room", room);
    }
    if let Some(token) = token {
        set_query_parameter(&mut url, "token", token);
    }
    Ok(url.into())
}

/// Sets query parameter `key` to `value`, replacing any it had and keeping the others.
pub fn set_query_parameter(url: &mut Url, key: &str, value: &str) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| name != key)
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_and_token_replace_old_ones_and_keep_other_parameters() {
        assert_eq!(
            server_url("ws://h/ws?room=old&x=1", Some("r-2"), None).unwrap(),
            "ws://h/ws?x=1&room=r-2"
        );
        assert_eq!(server_url("ws://h/ws", None, None).unwrap(), "ws://h/ws");
        assert_eq!(
            server_url("wss://h/ws?token=old", Some("a"), Some("t.k.n")).unwrap(),
            "wss://h/ws?room=a&token=t.k.n"
        );
        let error = server_url("not a url", None, None).unwrap_err();
        assert!(error.to_string().contains("not a url"), "{error}");
    }
}
