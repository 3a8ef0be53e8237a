//! Plain-HTTP endpoints. On the game port, what browsers need:
//!
//! | Path | Answer |
//! |---|---|
//! | `GET /` and other files | the game's web client: files compiled into the game's binary, or the `web_dir` directory |
//! | `GET /ticksync.js` | the generic browser library (applies deltas and checks checksums from the schema) |
//! | `GET /schema` | the game's schema as JSON: entity fields, wire types, prediction, checksum order |
//! | `/ws` without an upgrade | 426, naming the subprotocols |
//!
//! On the operations port ([`super::admin`], `admin_bind`):
//!
//! | Path | Answer |
//! |---|---|
//! | `GET /healthz` | 200 `ok` while the process serves requests |
//! | `GET /readyz` | 200 `ready` while accepting players, 503 `draining` once shutdown began |
//! | `GET /metrics` | Prometheus / OpenMetrics text |
//! | `GET /rooms` | JSON list of open rooms: name, players, capacity, tick rate, tick p99 |
//!
//! The web client's files are held in memory (compiled in, or read from `web_dir` once at
//! start), so serving them touches no disk and no path from a request reaches the file
//! system.
//! Every answer is one write followed by close (`Connection: close`): these endpoints are
//! scraped every few seconds at most, and keeping them stateless keeps them cheap to guard.

use std::path::Path;

use ticksync_protocol::{Schema, WireFormat, WEBSOCKET_PATH};
use tokio::io::AsyncWrite;

use super::http::{RequestHead, Response};
use super::SessionContext;
use crate::metrics;

pub use ticksync_game::WebFile as StaticFile;

/// The generic browser library, served at `/ticksync.js` whatever the game.
const LIBRARY: StaticFile = StaticFile {
    path: "/ticksync.js",
    content_type: "text/javascript; charset=utf-8",
    body: include_str!("../../web/ticksync.js"),
};

/// Most files and bytes a `web_dir` may hold: it is read into memory at start.
const MAX_WEB_FILES: usize = 256;
const MAX_WEB_BYTES: usize = 32 * 1024 * 1024;

/// The web client a server serves: its files by path, held in memory.
#[derive(Debug, Default)]
pub struct WebClient {
    files: Vec<(String, &'static str, Vec<u8>)>,
}

/// Why a `web_dir` could not be served.
#[derive(Debug, thiserror::Error)]
pub enum WebDirError {
    #[error("could not read web_dir {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("web_dir {path} holds more than {MAX_WEB_FILES} files or {MAX_WEB_BYTES} bytes; serve a large site from a web server")]
    TooLarge { path: String },
    #[error("web_dir {path} has no index.html")]
    NoIndex { path: String },
}

impl WebClient {
    /// A client compiled into the binary.
    pub fn embedded(files: &[StaticFile]) -> WebClient {
        WebClient {
            files: files
                .iter()
                .map(|file| {
                    (
                        file.path.to_owned(),
                        file.content_type,
                        file.body.as_bytes().to_vec(),
                    )
                })
                .collect(),
        }
    }

    /// The files of `dir` and its subdirectories, read now. Names that are not plain
    /// (`[A-Za-z0-9._-]`, not starting with a dot) are skipped.
    pub fn from_dir(dir: &Path) -> Result<WebClient, WebDirError> {
        let shown = dir.display().to_string();
        let mut client = WebClient::default();
        let mut total = 0usize;
        let mut pending = vec![(dir.to_path_buf(), String::new())];
        while let Some((folder, prefix)) = pending.pop() {
            let entries = std::fs::read_dir(&folder).map_err(|source| WebDirError::Read {
                path: folder.display().to_string(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| WebDirError::Read {
                    path: shown.clone(),
                    source,
                })?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let plain = !name.starts_with('.')
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
                if !plain {
                    continue;
                }
                let path = entry.path();
                if path.is_dir() {
                    pending.push((path, format!("{prefix}/{name}")));
                    continue;
                }
                let body = std::fs::read(&path).map_err(|source| WebDirError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                total += body.len();
                if client.files.len() >= MAX_WEB_FILES || total > MAX_WEB_BYTES {
                    return Err(WebDirError::TooLarge { path: shown });
                }
                client
                    .files
                    .push((format!("{prefix}/{name}"), content_type_of(&name), body));
            }
        }
        if client.file("/index.html").is_none() {
            return Err(WebDirError::NoIndex { path: shown });
        }
        Ok(client)
    }

    fn file(&self, path: &str) -> Option<(&'static str, &[u8])> {
        let path = if path == "/" { "/index.html" } else { path };
        self.files
            .iter()
            .find(|(served, _, _)| served == path)
            .map(|(_, content_type, body)| (*content_type, body.as_slice()))
    }
}

fn content_type_of(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("wasm") => "application/wasm",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// Answers a plain-HTTP request on the game port and returns its status code (for logs).
pub async fn serve_http<S: AsyncWrite + Unpin, P: Schema>(
    stream: &mut S,
    head: &RequestHead,
    ctx: &SessionContext<P>,
) -> std::io::Result<u16> {
    answer(stream, head, route(head, ctx)).await
}

/// Answers a request on the operations port and returns its status code (for logs). `rooms`
/// renders `/rooms` (cached by the caller).
pub async fn serve_admin<S: AsyncWrite + Unpin, P: Schema>(
    stream: &mut S,
    head: &RequestHead,
    ctx: &SessionContext<P>,
    rooms: impl FnOnce() -> Result<String, String>,
) -> std::io::Result<u16> {
    answer(stream, head, route_admin(head, ctx, rooms)).await
}

async fn answer<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &RequestHead,
    mut response: Response,
) -> std::io::Result<u16> {
    response.headers.push(("Cache-Control", "no-store"));
    response.write(stream, head.method == "HEAD").await?;
    Ok(response.status)
}

/// 405 for anything but `GET` and `HEAD`.
fn only_get(head: &RequestHead) -> Option<Response> {
    if head.method == "GET" || head.method == "HEAD" {
        return None;
    }
    let mut response = Response::text(405, "Method Not Allowed", "only GET is served here");
    response.headers.push(("Allow", "GET, HEAD"));
    Some(response)
}

fn route_admin<P: Schema>(
    head: &RequestHead,
    ctx: &SessionContext<P>,
    rooms: impl FnOnce() -> Result<String, String>,
) -> Response {
    if let Some(refused) = only_get(head) {
        return refused;
    }
    match head.path.as_str() {
        "/healthz" => Response::text(200, "OK", "ok"),
        "/readyz" if ctx.draining.is_draining() => {
            Response::text(503, "Service Unavailable", "draining")
        }
        "/readyz" => Response::text(200, "OK", "ready"),
        "/metrics" => ok(metrics::CONTENT_TYPE, ctx.exposition.scrape().into_bytes()),
        "/rooms" => match rooms() {
            Ok(json) => ok("application/json", json.into_bytes()),
            Err(error) => Response::text(500, "Internal Server Error", error),
        },
        _ => Response::text(
            404,
            "Not Found",
            "not found; the operations endpoints are /healthz, /readyz, /metrics and /rooms",
        ),
    }
}

/// An answer of status 200.
fn ok(content_type: &'static str, body: Vec<u8>) -> Response {
    Response {
        status: 200,
        reason: "OK",
        content_type,
        headers: Vec::new(),
        body,
    }
}

fn route<P: Schema>(head: &RequestHead, ctx: &SessionContext<P>) -> Response {
    if let Some(refused) = only_get(head) {
        return refused;
    }
    if head.path == LIBRARY.path {
        return ok(LIBRARY.content_type, LIBRARY.body.as_bytes().to_vec());
    }
    if let Some((content_type, body)) = ctx.web.file(&head.path) {
        return ok(content_type, body.to_vec());
    }
    match head.path.as_str() {
        "/schema" => ok("application/json", ctx.schema_json.clone().into_bytes()),
        WEBSOCKET_PATH => {
            let mut response = Response::text(
                426,
                "Upgrade Required",
                format!(
                    "{WEBSOCKET_PATH} is a WebSocket endpoint: connect with a WebSocket client offering the subprotocol {} (binary) or {} (text)",
                    ctx.schema.subprotocol(WireFormat::Bincode),
                    ctx.schema.subprotocol(WireFormat::Json),
                ),
            );
            response.headers.push(("Upgrade", "websocket"));
            response
        }
        _ => Response::text(
            404,
            "Not Found",
            format!(
                "not found; the game's WebSocket endpoint is {WEBSOCKET_PATH}, its schema is at /schema, the browser client (if the game has one) at /; the operations endpoints (/healthz, /readyz, /metrics, /rooms) are on the server's operations address (admin_bind), not on this port"
            ),
        ),
    }
}
