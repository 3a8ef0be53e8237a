//! Plain-HTTP endpoints. On the game port, what browsers need:
//!
//! | Path | Answer |
//! |---|---|
//! | `GET /` | the browser client (`server/web/index.html`), with `/app.js` and `/ticksync.js` |
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
//! The static files are compiled into the binary, so the page needs nothing installed.
//! Every answer is one write followed by close (`Connection: close`): these endpoints are
//! scraped every few seconds at most, and keeping them stateless keeps them cheap to guard.

use std::sync::atomic::Ordering;

use ticksync_protocol::{SUBPROTOCOL_BINCODE, SUBPROTOCOL_JSON, WEBSOCKET_PATH};
use tokio::io::AsyncWrite;

use super::http::{RequestHead, Response};
use super::SessionContext;
use crate::telemetry;

/// A file of the browser client, compiled in, and the paths it is served at.
struct StaticFile {
    paths: &'static [&'static str],
    content_type: &'static str,
    body: &'static str,
}

const STATIC_FILES: &[StaticFile] = &[
    StaticFile {
        paths: &["/", "/index.html"],
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../web/index.html"),
    },
    StaticFile {
        paths: &["/app.js"],
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/app.js"),
    },
    StaticFile {
        paths: &["/ticksync.js"],
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/ticksync.js"),
    },
];

/// Answers a plain-HTTP request on the game port and returns its status code (for logs).
pub async fn serve_http<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &RequestHead,
) -> std::io::Result<u16> {
    answer(stream, head, route(head)).await
}

/// Answers a request on the operations port and returns its status code (for logs). `rooms`
/// renders `/rooms` (cached by the caller).
pub async fn serve_admin<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &RequestHead,
    ctx: &SessionContext,
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

fn route_admin(
    head: &RequestHead,
    ctx: &SessionContext,
    rooms: impl FnOnce() -> Result<String, String>,
) -> Response {
    if let Some(refused) = only_get(head) {
        return refused;
    }
    match head.path.as_str() {
        "/healthz" => Response::text(200, "OK", "ok"),
        "/readyz" if ctx.draining.load(Ordering::Relaxed) => {
            Response::text(503, "Service Unavailable", "draining")
        }
        "/readyz" => Response::text(200, "OK", "ready"),
        "/metrics" => ok(telemetry::CONTENT_TYPE, ctx.telemetry.scrape()),
        "/rooms" => match rooms() {
            Ok(json) => ok("application/json", json),
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
fn ok(content_type: &'static str, body: String) -> Response {
    Response {
        status: 200,
        reason: "OK",
        content_type,
        headers: Vec::new(),
        body,
    }
}

fn route(head: &RequestHead) -> Response {
    if let Some(refused) = only_get(head) {
        return refused;
    }
    if let Some(file) = STATIC_FILES
        .iter()
        .find(|file| file.paths.contains(&head.path.as_str()))
    {
        return ok(file.content_type, file.body.to_owned());
    }
    match head.path.as_str() {
        WEBSOCKET_PATH => {
            let mut response = Response::text(
                426,
                "Upgrade Required",
                format!(
                    "{WEBSOCKET_PATH} is a WebSocket endpoint: connect with a WebSocket client offering the subprotocol {SUBPROTOCOL_BINCODE} (binary) or {SUBPROTOCOL_JSON} (text)"
                ),
            );
            response.headers.push(("Upgrade", "websocket"));
            response
        }
        _ => Response::text(
            404,
            "Not Found",
            format!(
                "not found; the game's WebSocket endpoint is {WEBSOCKET_PATH}, the browser client is at /; the operations endpoints (/healthz, /readyz, /metrics, /rooms) are on the server's operations address (admin_bind), not on this port"
            ),
        ),
    }
}
