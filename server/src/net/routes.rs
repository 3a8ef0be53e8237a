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
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::http::RequestHead;
use super::SessionContext;
use crate::telemetry;

/// A file of the browser client, compiled in.
struct StaticFile {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const STATIC_FILES: &[StaticFile] = &[
    StaticFile {
        path: "/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../web/index.html"),
    },
    StaticFile {
        path: "/index.html",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../../web/index.html"),
    },
    StaticFile {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/app.js"),
    },
    StaticFile {
        path: "/ticksync.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../web/ticksync.js"),
    },
];

/// One HTTP answer.
struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    body: String,
    extra_headers: &'static str,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: impl Into<String>) -> Response {
        let mut body = body.into();
        body.push('\n');
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body,
            extra_headers: "",
        }
    }
}

/// Answers a plain-HTTP request and returns its status code (for logs).
pub async fn serve_http<S: AsyncWrite + Unpin>(
    stream: &mut S,
    head: &RequestHead,
    ctx: &SessionContext,
) -> std::io::Result<u16> {
    let response = route(head, ctx);
    let status = response.status;
    let head_only = head.method == "HEAD";
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n{}\r\n",
        response.status,
        response.reason,
        response.content_type,
        response.body.len(),
        response.extra_headers,
    )
    .into_bytes();
    if !head_only {
        bytes.extend_from_slice(response.body.as_bytes());
    }
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    Ok(status)
}

fn route(head: &RequestHead, ctx: &SessionContext) -> Response {
    if head.method != "GET" && head.method != "HEAD" {
        let mut response = Response::text(405, "Method Not Allowed", "only GET is served here");
        response.extra_headers = "Allow: GET, HEAD\r\n";
        return response;
    }
    if let Some(file) = STATIC_FILES.iter().find(|file| file.path == head.path) {
        return Response {
            status: 200,
            reason: "OK",
            content_type: file.content_type,
            body: file.body.to_owned(),
            extra_headers: "",
        };
    }
    match head.path.as_str() {
        "/healthz" => Response::text(200, "OK", "ok"),
        "/readyz" if ctx.draining.load(Ordering::Relaxed) => {
            Response::text(503, "Service Unavailable", "draining")
        }
        "/readyz" => Response::text(200, "OK", "ready"),
        "/metrics" => Response {
            status: 200,
            reason: "OK",
            content_type: telemetry::CONTENT_TYPE,
            body: ctx.telemetry.render(),
            extra_headers: "",
        },
        "/rooms" => match serde_json::to_string(&ctx.rooms.list()) {
            Ok(json) => Response {
                status: 200,
                reason: "OK",
                content_type: "application/json",
                body: json,
                extra_headers: "",
            },
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
            response.extra_headers = "Upgrade: websocket\r\n";
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
