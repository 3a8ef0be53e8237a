//! Plain-HTTP endpoints on the game port, for people and for operations:
//!
//! | Path | Answer |
//! |---|---|
//! | `GET /` | the browser client (`server/web/index.html`), with `/app.js` and `/ticksync.js` |
//! | `GET /healthz` | 200 `ok` while the process serves requests |
//! | `GET /readyz` | 200 `ready` while accepting players, 503 `draining` once shutdown began |
//! | `GET /metrics` | Prometheus / OpenMetrics text |
//! | `GET /rooms` | JSON list of open rooms: name, players, capacity, tick rate, tick p99 |
//! | `/ws` without an upgrade | 426, naming the subprotocols |
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

/// Answers a plain-HTTP request and returns its status code (for logs).
pub async fn serve_http<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &RequestHead,
    ctx: &SessionContext,
) -> std::io::Result<u16> {
    let mut response = route(head, ctx);
    response.headers.push(("Cache-Control", "no-store"));
    response.write(stream, head.method == "HEAD").await?;
    Ok(response.status)
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

fn route(head: &RequestHead, ctx: &SessionContext) -> Response {
    if head.method != "GET" && head.method != "HEAD" {
        let mut response = Response::text(405, "Method Not Allowed", "only GET is served here");
        response.headers.push(("Allow", "GET, HEAD"));
        return response;
    }
    if let Some(file) = STATIC_FILES
        .iter()
        .find(|file| file.paths.contains(&head.path.as_str()))
    {
        return ok(file.content_type, file.body.to_owned());
    }
    match head.path.as_str() {
        "/healthz" => Response::text(200, "OK", "ok"),
        "/readyz" if ctx.draining.load(Ordering::Relaxed) => {
            Response::text(503, "Service Unavailable", "draining")
        }
        "/readyz" => Response::text(200, "OK", "ready"),
        "/metrics" => ok(telemetry::CONTENT_TYPE, ctx.telemetry.render()),
        "/rooms" => match serde_json::to_string(&ctx.rooms.list()) {
            Ok(json) => ok("application/json", json),
            Err(error) => Response::text(500, "Internal Server Error", error.to_string()),
        },
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
                "not found; the game's WebSocket endpoint is {WEBSOCKET_PATH}, the browser client is at /, operations endpoints are /healthz, /readyz, /metrics and /rooms"
            ),
        ),
    }
}
