//! One accepted TCP connection up to its WebSocket: TLS (for `wss://`), the HTTP request head
//! (read with a size bound), plain-HTTP answers, and the upgrade with its admission checks.
//! All of it runs under the handshake timeout, so a client that opens TCP and sends nothing,
//! or sends its headers a byte at a time (slowloris), is dropped when the timeout ends.

use std::net::SocketAddr;

use ticksync_protocol::{SUBPROTOCOL_BINCODE, WEBSOCKET_PATH};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::handshake::{upgrade, Upgrade};
use super::http::{read_request_head, respond};
use super::rewind::Rewind;
use super::{session, SessionContext};
use crate::metrics::ServerMetrics;

/// Serves one accepted TCP connection until it closes.
pub async fn serve(tcp: TcpStream, peer: SocketAddr, ctx: &SessionContext) {
    let deadline = Instant::now() + ctx.config.handshake_timeout;
    match &ctx.tls {
        None => serve_stream(tcp, peer, deadline, ctx).await,
        Some(acceptor) => {
            let accepted = tokio::select! {
                accepted = tokio::time::timeout_at(deadline, acceptor.accept(tcp)) => accepted,
                _ = ctx.shutdown.cancelled() => return,
            };
            match accepted {
                Ok(Ok(tls)) => serve_stream(tls, peer, deadline, ctx).await,
                Ok(Err(error)) => {
                    ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                }
                Err(_elapsed) => {
                    ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
                    tracing::debug!(%peer, "TLS handshake timed out");
                }
            }
        }
    }
}

async fn serve_stream<S>(mut stream: S, peer: SocketAddr, deadline: Instant, ctx: &SessionContext)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let head = tokio::select! {
        head = tokio::time::timeout_at(deadline, read_request_head(&mut stream)) => head,
        _ = ctx.shutdown.cancelled() => return,
    };
    let head = match head {
        Ok(Ok(head)) => head,
        Ok(Err(error)) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, %error, "bad HTTP request");
            let _ = respond(&mut stream, 400, "Bad Request", &error.to_string()).await;
            return;
        }
        Err(_elapsed) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, "request head not received before the handshake timeout");
            return;
        }
    };
    if !head.wants_websocket {
        // Plain HTTP: say what this port is for instead of hanging up silently.
        let _ = if head.path == WEBSOCKET_PATH {
            let body = format!(
                "{WEBSOCKET_PATH} is a WebSocket endpoint: connect with a WebSocket client offering the subprotocol {SUBPROTOCOL_BINCODE}"
            );
            respond(&mut stream, 426, "Upgrade Required", &body).await
        } else {
            let body = format!("not found; the game's WebSocket endpoint is {WEBSOCKET_PATH}");
            respond(&mut stream, 404, "Not Found", &body).await
        };
        return;
    }
    let stream = Rewind::new(head.bytes, stream);
    let upgraded = tokio::select! {
        upgraded = tokio::time::timeout_at(deadline, upgrade(stream, &ctx.config)) => upgraded,
        _ = ctx.shutdown.cancelled() => return,
    };
    match upgraded {
        Ok(Upgrade::Accepted { ws, admission }) => {
            session::run(ws, admission, peer, deadline, ctx).await
        }
        Ok(Upgrade::Refused(refusal)) => {
            ServerMetrics::add(&ctx.metrics.admissions_refused, 1);
            tracing::info!(%peer, reason = refusal.label(), detail = %refusal, "connection refused at the handshake");
        }
        Ok(Upgrade::Failed(error)) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, %error, "WebSocket upgrade failed");
        }
        Err(_elapsed) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, "WebSocket upgrade timed out");
        }
    }
}
