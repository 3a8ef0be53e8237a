//! The WebSocket upgrade and admission: path, subprotocol, browser origin and join token are
//! checked before a WebSocket exists, and anything refused gets an HTTP error whose body
//! says why (so a client of another protocol version learns it before any game traffic).
//! Also the per-connection WebSocket limits. (The `Hello`/`Welcome` greeting that follows
//! an accepted upgrade is the session's, in `session`.)

use http::{header, HeaderValue, StatusCode};
use ticksync_protocol::schema::{parse_subprotocol, SchemaIdentity};
use ticksync_protocol::token::{self, JoinClaims, TokenError};
use ticksync_protocol::{validate_room_name, RoomNameError, WireFormat, WEBSOCKET_PATH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

use super::http::{RequestHead, Response as HttpAnswer};
use super::settings::AdmissionPolicy;
use crate::metrics::RefusalReason;

/// Read buffer per connection. tungstenite's default is 128 KiB, which at 10,000 connections
/// is 1.3 GB for buffers that hold 20-byte inputs; 1 KiB still reads a burst of dozens of
/// inputs in one syscall, and grows for the rare larger message (up to the message limit).
/// Measured: 4 KiB → 1 KiB saved 2.5 MiB at 1,000 players (BENCHMARKS.md).
const READ_BUFFER_BYTES: usize = 1024;

/// Outgoing bytes buffered before tungstenite writes to the socket. The session flushes once
/// per batch anyway, so this only needs to hold a typical tick's frames.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;

/// Hard cap on a connection's unwritten bytes inside tungstenite; past it writes fail and the
/// session ends. Together with the outbound queue this bounds memory per slow connection.
const MAX_WRITE_BUFFER_BYTES: usize = 1024 * 1024;

/// WebSocket limits for one connection: messages (and frames) of at most
/// `max_message_bytes`.
pub fn websocket_config(max_message_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes))
}

/// What makes a request that asks for a WebSocket (`Upgrade: websocket`) an invalid opening
/// handshake (RFC 6455 §4.1). Checked before the handshake proper, so the client gets a 400
/// naming the problem instead of a silent close.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedUpgrade {
    #[error("a WebSocket upgrade must be a GET request, not {0}")]
    Method(String),
    #[error("a WebSocket upgrade needs HTTP/1.1, not HTTP/1.{0}")]
    HttpVersion(u8),
    #[error("a WebSocket upgrade needs a Connection header listing \"Upgrade\"")]
    ConnectionHeader,
    #[error("a WebSocket upgrade needs the header Sec-WebSocket-Version: 13")]
    MissingVersion,
    #[error(
        "WebSocket version {0:?} is not supported; this server speaks Sec-WebSocket-Version: 13"
    )]
    UnsupportedVersion(String),
    #[error("a WebSocket upgrade needs a Sec-WebSocket-Key header")]
    MissingKey,
    #[error("{0} bytes were sent after the request head; a client must wait for the 101 answer before sending WebSocket frames")]
    BytesAfterHead(usize),
}

impl MalformedUpgrade {
    /// The checks a WebSocket upgrade request must pass besides admission, in the order of
    /// the request's parts.
    pub fn check(head: &RequestHead) -> Result<(), MalformedUpgrade> {
        if head.method != "GET" {
            return Err(MalformedUpgrade::Method(head.method.clone()));
        }
        if head.minor_version < 1 {
            return Err(MalformedUpgrade::HttpVersion(head.minor_version));
        }
        if !head.upgrade.connection_upgrade {
            return Err(MalformedUpgrade::ConnectionHeader);
        }
        match &head.upgrade.version {
            None => return Err(MalformedUpgrade::MissingVersion),
            Some(version) if version != "13" => {
                return Err(MalformedUpgrade::UnsupportedVersion(version.clone()))
            }
            Some(_) => {}
        }
        if !head.upgrade.key {
            return Err(MalformedUpgrade::MissingKey);
        }
        let after = head.bytes.len().saturating_sub(head.head_len);
        if after > 0 {
            return Err(MalformedUpgrade::BytesAfterHead(after));
        }
        Ok(())
    }

    /// The HTTP answer: 400 with the problem as its body, and the version this server speaks
    /// when the version was the problem (RFC 6455 §4.4).
    pub fn response(&self) -> HttpAnswer {
        let mut response = HttpAnswer::text(400, "Bad Request", self.to_string());
        if matches!(
            self,
            MalformedUpgrade::MissingVersion | MalformedUpgrade::UnsupportedVersion(_)
        ) {
            response.headers.push(("Sec-WebSocket-Version", "13"));
        }
        response
    }
}

/// Why an upgrade request was refused; each maps to an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionRefusal {
    #[error("no WebSocket endpoint at {0}; use {WEBSOCKET_PATH}")]
    NotFound(String),
    #[error(
        "no WebSocket subprotocol offered; offer Sec-WebSocket-Protocol: {bincode} (binary) or {json} (text); GET /schema describes the game"
    )]
    MissingSubprotocol { bincode: String, json: String },
    #[error("unsupported subprotocol(s) {offered:?}; this server speaks {bincode} (binary) and {json} (text)")]
    UnsupportedSubprotocol {
        offered: String,
        bincode: String,
        json: String,
    },
    #[error("this client was built for game schema {offered}, but this server runs {served} (subprotocols {bincode} and {json}); rebuild the client against the server's schema (GET /schema describes it)")]
    SchemaMismatch {
        offered: String,
        served: String,
        bincode: String,
        json: String,
    },
    #[error("bad room name in ?room=: {0}")]
    BadRoomName(#[from] RoomNameError),
    #[error("origin {0:?} is not allowed")]
    OriginNotAllowed(String),
    #[error("an Origin header is required")]
    OriginMissing,
    #[error("a join token is required: pass ?token=... or Authorization: Bearer ...")]
    TokenMissing,
    #[error("join token refused: {0}")]
    Token(#[from] TokenError),
}

impl AdmissionRefusal {
    fn status(&self) -> StatusCode {
        match self {
            AdmissionRefusal::NotFound(_) => StatusCode::NOT_FOUND,
            AdmissionRefusal::MissingSubprotocol { .. }
            | AdmissionRefusal::UnsupportedSubprotocol { .. }
            | AdmissionRefusal::SchemaMismatch { .. }
            | AdmissionRefusal::BadRoomName(_) => StatusCode::BAD_REQUEST,
            AdmissionRefusal::OriginNotAllowed(_) | AdmissionRefusal::OriginMissing => {
                StatusCode::FORBIDDEN
            }
            AdmissionRefusal::TokenMissing | AdmissionRefusal::Token(_) => StatusCode::UNAUTHORIZED,
        }
    }

    /// Short label for logs and metrics.
    pub fn label(&self) -> RefusalReason {
        match self {
            AdmissionRefusal::NotFound(_) => RefusalReason::WrongPath,
            AdmissionRefusal::MissingSubprotocol { .. }
            | AdmissionRefusal::UnsupportedSubprotocol { .. } => RefusalReason::Subprotocol,
            AdmissionRefusal::SchemaMismatch { .. } => RefusalReason::SchemaMismatch,
            AdmissionRefusal::BadRoomName(_) => RefusalReason::RoomName,
            AdmissionRefusal::OriginNotAllowed(_) | AdmissionRefusal::OriginMissing => {
                RefusalReason::Origin
            }
            AdmissionRefusal::TokenMissing => RefusalReason::TokenMissing,
            AdmissionRefusal::Token(TokenError::Expired) => RefusalReason::TokenExpired,
            AdmissionRefusal::Token(TokenError::BadSignature) => RefusalReason::TokenForged,
            AdmissionRefusal::Token(TokenError::WrongRoom { .. }) => RefusalReason::TokenWrongRoom,
            AdmissionRefusal::Token(_) => RefusalReason::TokenMalformed,
        }
    }

    fn into_response(self) -> ErrorResponse {
        let body = format!("{self}\n");
        let length = body.len();
        let mut response = ErrorResponse::new(Some(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        response
    }
}

/// Picks the wire format from the values of `Sec-WebSocket-Protocol` headers: the first
/// offered subprotocol of this server's schema (the client lists its preference first). A
/// ticksync subprotocol of another game or layout is refused naming both schemas.
pub fn negotiate_subprotocol<'a>(
    offered: impl IntoIterator<Item = &'a str>,
    schema: &SchemaIdentity,
) -> Result<WireFormat, AdmissionRefusal> {
    let mut seen = Vec::new();
    let mut other_schema = None;
    for value in offered {
        for protocol in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(format) = schema.format_of(protocol) {
                return Ok(format);
            }
            if let Some(parsed) = parse_subprotocol(protocol) {
                other_schema.get_or_insert_with(|| {
                    format!(
                        "{} {} (envelope {})",
                        parsed.game, parsed.hash, parsed.envelope_version
                    )
                });
            }
            seen.push(protocol.to_owned());
        }
    }
    let (bincode, json) = (
        schema.subprotocol(WireFormat::Bincode).to_owned(),
        schema.subprotocol(WireFormat::Json).to_owned(),
    );
    if let Some(offered) = other_schema {
        return Err(AdmissionRefusal::SchemaMismatch {
            offered,
            served: schema.to_string(),
            bincode,
            json,
        });
    }
    if seen.is_empty() {
        Err(AdmissionRefusal::MissingSubprotocol { bincode, json })
    } else {
        Err(AdmissionRefusal::UnsupportedSubprotocol {
            offered: seen.join(", "),
            bincode,
            json,
        })
    }
}

/// The value of query parameter `key`, percent-decoded.
fn query_parameter(request: &Request, key: &str) -> Option<String> {
    request.uri().query().and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.into_owned())
    })
}

/// The join token of a request: the `token` query parameter, else an `Authorization: Bearer`
/// header.
fn token_of(request: &Request) -> Option<String> {
    let from_query = query_parameter(request, "token");
    from_query.or_else(|| {
        request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_token)
            .map(str::to_owned)
    })
}

/// The token of an `Authorization: Bearer <token>` value; the scheme's name is
/// case-insensitive (RFC 7235 §2.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn check_origin(request: &Request, config: &AdmissionPolicy) -> Result<(), AdmissionRefusal> {
    match request.headers().get(header::ORIGIN) {
        None if config.require_origin => Err(AdmissionRefusal::OriginMissing),
        None => Ok(()),
        Some(_) if config.allowed_origins.is_empty() => Ok(()),
        Some(origin) => {
            let origin = origin.to_str().unwrap_or_default();
            if config
                .allowed_origins
                .iter()
                .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
            {
                Ok(())
            } else {
                Err(AdmissionRefusal::OriginNotAllowed(origin.to_owned()))
            }
        }
    }
}

/// What an admitted upgrade request asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Admission {
    /// The codec of the session, from the negotiated subprotocol.
    pub format: WireFormat,
    /// The room to join: `?room=`, else the configured default room.
    pub room: String,
    /// The verified token, when the server requires one.
    pub claims: Option<JoinClaims>,
}

/// Admission checks of an upgrade request, in the order a client can act on them.
pub fn admit(
    request: &Request,
    config: &AdmissionPolicy,
    schema: &SchemaIdentity,
) -> Result<Admission, AdmissionRefusal> {
    if request.uri().path() != WEBSOCKET_PATH {
        return Err(AdmissionRefusal::NotFound(request.uri().path().to_owned()));
    }
    let offered = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok());
    let format = negotiate_subprotocol(offered, schema)?;
    let room = match query_parameter(request, "room") {
        Some(room) => {
            validate_room_name(&room)?;
            room
        }
        None => config.default_room.clone(),
    };
    check_origin(request, config)?;
    let claims = match &config.token_secret {
        None => None,
        Some(secret) => {
            let token = token_of(request).ok_or(AdmissionRefusal::TokenMissing)?;
            Some(token::verify(secret.expose(), &token, &room)?)
        }
    };
    Ok(Admission {
        format,
        room,
        claims,
    })
}

/// The outcome of a WebSocket upgrade.
// Matched once, right after the handshake: boxing the stream would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Upgrade<S> {
    Accepted {
        ws: WebSocketStream<S>,
        admission: Admission,
    },
    /// Admission refused; the HTTP error has been sent.
    Refused(AdmissionRefusal),
    /// Not a valid WebSocket handshake (or the connection failed during it).
    Failed(tokio_tungstenite::tungstenite::Error),
}

/// Performs the WebSocket upgrade with the admission checks, reading messages of at most
/// `max_message_bytes`.
pub async fn upgrade<S>(
    stream: S,
    config: &AdmissionPolicy,
    max_message_bytes: usize,
    schema: &SchemaIdentity,
) -> Upgrade<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut admitted = None;
    let mut refused = None;
    // The closure's signature is tungstenite's handshake callback; its error type is theirs.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| match admit(request, config, schema)
    {
        Ok(admission) => {
            match HeaderValue::from_str(schema.subprotocol(admission.format)) {
                Ok(value) => {
                    response
                        .headers_mut()
                        .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
                }
                // Subprotocols are built from a checked game name and hex digits.
                Err(_) => return Err(ErrorResponse::new(Some("bad subprotocol".into()))),
            }
            admitted = Some(admission);
            Ok(response)
        }
        Err(refusal) => {
            refused = Some(refusal.clone());
            Err(refusal.into_response())
        }
    };
    let result = tokio_tungstenite::accept_hdr_async_with_config(
        stream,
        callback,
        Some(websocket_config(max_message_bytes)),
    )
    .await;
    match (result, admitted, refused) {
        (Ok(ws), Some(admission), _) => Upgrade::Accepted { ws, admission },
        (_, _, Some(refusal)) => Upgrade::Refused(refusal),
        (Err(error), _, None) => Upgrade::Failed(error),
        // The handshake succeeded without the callback running: tungstenite always calls it,
        // so this is unreachable in practice; treat it as a failed handshake.
        (Ok(_), None, None) => {
            Upgrade::Failed(tokio_tungstenite::tungstenite::Error::ConnectionClosed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, ServerConfig};

    fn policy(config: ServerConfig) -> AdmissionPolicy {
        crate::layer_settings::admission_policy(&config)
    }
    use std::time::Duration;
    use ticksync_protocol::testing::TokenSchema;
    use ticksync_protocol::token::mint;

    fn schema() -> SchemaIdentity {
        SchemaIdentity::of::<TokenSchema>()
    }

    fn bincode() -> String {
        schema().subprotocol(WireFormat::Bincode).to_owned()
    }

    fn json() -> String {
        schema().subprotocol(WireFormat::Json).to_owned()
    }

    fn protocol() -> (&'static str, &'static str) {
        (
            "Sec-WebSocket-Protocol",
            Box::leak(bincode().into_boxed_str()),
        )
    }

    fn request(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = http::Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn picks_the_first_supported_subprotocol_among_others() {
        let schema = schema();
        let (bincode, json) = (bincode(), json());
        let chat = format!("chat, {bincode}");
        assert_eq!(
            negotiate_subprotocol([chat.as_str()], &schema),
            Ok(WireFormat::Bincode)
        );
        assert_eq!(
            negotiate_subprotocol(["x", json.as_str()], &schema),
            Ok(WireFormat::Json)
        );
        let both = format!("{json}, {bincode}");
        assert_eq!(
            negotiate_subprotocol([both.as_str()], &schema),
            Ok(WireFormat::Json)
        );
    }

    #[test]
    fn the_room_comes_from_the_query_and_is_validated() {
        let config = policy(ServerConfig::default());
        let plain = request("/ws", &[protocol()]);
        assert_eq!(
            admit(&plain, &config, &schema()).unwrap().room,
            config.default_room
        );
        let named = request("/ws?room=match-7", &[protocol()]);
        assert_eq!(admit(&named, &config, &schema()).unwrap().room, "match-7");
        let bad = request("/ws?room=a%20b", &[protocol()]);
        let refusal = admit(&bad, &config, &schema()).unwrap_err();
        assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
        assert!(refusal.to_string().contains("room"), "{refusal}");
    }

    #[test]
    fn refuses_missing_or_other_schemas_with_a_clear_message() {
        let schema = schema();
        assert!(matches!(
            negotiate_subprotocol([], &schema),
            Err(AdmissionRefusal::MissingSubprotocol { .. })
        ));
        let text = negotiate_subprotocol(["ticksync.v1.bincode"], &schema)
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("ticksync.v1.bincode") && text.contains(&bincode()),
            "{text}"
        );
        // Another layout of the same game: both schemas are named.
        let stale = "ticksync.v2.tokens.0badc0de.bincode";
        let refusal = negotiate_subprotocol([stale], &schema).unwrap_err();
        assert_eq!(refusal.status(), StatusCode::BAD_REQUEST);
        let text = refusal.to_string();
        assert!(
            text.contains("tokens 0badc0de") && text.contains(&schema.hash),
            "{text}"
        );
    }

    fn head(raw: &str) -> RequestHead {
        let mut stream = raw.as_bytes();
        futures_util::FutureExt::now_or_never(super::super::http::read_request_head(&mut stream))
            .expect("a slice reads at once")
            .expect("a well-formed head")
    }

    const UPGRADE: &str = "Host: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n";

    #[test]
    fn malformed_upgrades_are_named() {
        let good = format!(
            "GET /ws HTTP/1.1\r\n{UPGRADE}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        assert_eq!(MalformedUpgrade::check(&head(&good)), Ok(()));
        let cases = [
            (
                good.replacen("GET", "POST", 1),
                MalformedUpgrade::Method("POST".into()),
            ),
            (
                good.replacen("HTTP/1.1", "HTTP/1.0", 1),
                MalformedUpgrade::HttpVersion(0),
            ),
            (
                good.replacen("Connection: Upgrade", "Connection: close", 1),
                MalformedUpgrade::ConnectionHeader,
            ),
            (
                good.replacen("Sec-WebSocket-Version: 13\r\n", "", 1),
                MalformedUpgrade::MissingVersion,
            ),
            (
                good.replacen("Version: 13", "Version: 8", 1),
                MalformedUpgrade::UnsupportedVersion("8".into()),
            ),
            (
                good.replacen("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", 1),
                MalformedUpgrade::MissingKey,
            ),
            (
                format!("{good}\u{82}\u{80}"),
                MalformedUpgrade::BytesAfterHead(4),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                MalformedUpgrade::check(&head(&raw)),
                Err(expected.clone()),
                "{raw}"
            );
            let response = expected.response();
            assert_eq!(response.status, 400);
            assert_eq!(response.body, format!("{expected}\n").into_bytes());
        }
        let version = MalformedUpgrade::UnsupportedVersion("8".into()).response();
        assert!(version.headers.contains(&("Sec-WebSocket-Version", "13")));
    }

    #[test]
    fn origins_are_checked_against_the_allow_list() {
        let config = policy(ServerConfig {
            allowed_origins: vec!["https://game.example.com".into()],
            ..ServerConfig::default()
        });
        let allowed = request("/ws", &[protocol(), ("Origin", "https://game.example.com")]);
        assert!(admit(&allowed, &config, &schema()).is_ok());
        let denied = request("/ws", &[protocol(), ("Origin", "https://evil.example")]);
        assert_eq!(
            admit(&denied, &config, &schema()).unwrap_err().status(),
            StatusCode::FORBIDDEN
        );
        let native = request("/ws", &[protocol()]);
        assert!(
            admit(&native, &config, &schema()).is_ok(),
            "no Origin: a native client"
        );
        let strict = AdmissionPolicy {
            require_origin: true,
            ..config
        };
        assert_eq!(
            admit(&native, &strict, &schema()),
            Err(AdmissionRefusal::OriginMissing)
        );
    }

    #[test]
    fn tokens_come_from_the_query_or_the_authorization_header() {
        let secret = "s3cret";
        let config = policy(ServerConfig {
            token_secret: Some(Secret::new(secret)),
            ..ServerConfig::default()
        });
        let claims = JoinClaims::new("p7", "Ada", "arena", Duration::from_secs(60));
        let token = mint(secret.as_bytes(), &claims).unwrap();
        let by_query = request(&format!("/ws?x=1&token={token}"), &[protocol()]);
        assert_eq!(
            admit(&by_query, &config, &schema()).unwrap().claims,
            Some(claims.clone())
        );
        let bearer = format!("Bearer {token}");
        let by_header = request("/ws", &[protocol(), ("Authorization", bearer.as_str())]);
        assert_eq!(
            admit(&by_header, &config, &schema()).unwrap().claims,
            Some(claims)
        );
        let other_room = request(&format!("/ws?room=other&token={token}"), &[protocol()]);
        assert!(matches!(
            admit(&other_room, &config, &schema()),
            Err(AdmissionRefusal::Token(TokenError::WrongRoom { .. }))
        ));
        let missing = request("/ws", &[protocol()]);
        assert_eq!(
            admit(&missing, &config, &schema()),
            Err(AdmissionRefusal::TokenMissing)
        );
        // The scheme's name is case-insensitive; other schemes are not tokens.
        for scheme in ["bearer", "BEARER", "bEaReR"] {
            let value = format!("{scheme}  {token} ");
            let by_header = request("/ws", &[protocol(), ("Authorization", value.as_str())]);
            assert!(admit(&by_header, &config, &schema()).is_ok(), "{scheme}");
        }
        let basic = format!("Basic {token}");
        let other_scheme = request("/ws", &[protocol(), ("Authorization", basic.as_str())]);
        assert_eq!(
            admit(&other_scheme, &config, &schema()),
            Err(AdmissionRefusal::TokenMissing)
        );
        assert_eq!(
            AdmissionRefusal::TokenMissing.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}
