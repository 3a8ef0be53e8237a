//! One accepted TCP connection up to its WebSocket: TLS (for `wss://`), the HTTP request head
//! (read with a size bound), plain-HTTP answers ([`super::routes`]), and the upgrade with its
//! admission checks.
//! All of it runs under the handshake timeout, so a client that opens TCP and sends nothing,
//! or sends its headers a byte at a time (slowloris), is dropped when the timeout ends.
//!
//! Memory: a task reserves room for the largest state any of its awaits holds, for its whole
//! life. The handshake phases (TLS accept, the request-head read with its buffer,
//! tungstenite's handshake machine, `Hello`) and the matchmaker's answer are boxed, so their
//! state is freed once they end instead of sizing every connection's task for the rest of the
//! session.

use std::net::SocketAddr;
use std::sync::Arc;

use ticksync_protocol::Schema;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use super::http::{read_request_head, respond};
use super::lane::{Lane, LanedTcp};
use super::rewind::Rewind;
use super::routes::serve_http;
use super::upgrade::{upgrade, MalformedUpgrade, Upgrade};
use super::{session, SessionContext};
use crate::metrics::{ConnectionStage, FailureReason};

/// A connection's stream (its [`LanedTcp`], maybe behind [`Rewind`]) that can reach its
/// write lane, which the room writes the session's frames to, and its TCP socket: a session
/// that gives up on a peer that does not read resets the connection, so the kernel drops the
/// unsent bytes at once instead of holding them for a peer that is not coming back.
pub trait TcpBacked {
    fn lane(&self) -> &Arc<Lane>;

    fn tcp(&self) -> &TcpStream {
        self.lane().tcp()
    }
}

impl TcpBacked for LanedTcp {
    fn lane(&self) -> &Arc<Lane> {
        LanedTcp::lane(self)
    }
}

impl<S: TcpBacked> TcpBacked for Rewind<S> {
    fn lane(&self) -> &Arc<Lane> {
        self.inner().lane()
    }
}

/// Serves one accepted TCP connection until it closes.
pub async fn serve<P: Schema>(tcp: TcpStream, peer: SocketAddr, ctx: &SessionContext<P>) {
    let deadline = Instant::now() + ctx.limits.handshake_timeout;
    let stream = match &ctx.tls {
        None => LanedTcp::plain(tcp),
        Some(acceptor) => match accept_tls(acceptor, tcp, peer, deadline, ctx).await {
            Some(stream) => stream,
            None => return,
        },
    };
    serve_stream(stream, peer, deadline, ctx).await
}

/// The TLS handshake, bounded by `deadline`; the connection whose lane then seals and opens
/// the records itself (so the room writes to a TLS connection as to a plain one), or `None`
/// when the handshake failed, timed out or the server is shutting down. A function of its
/// own so the handshake's state (kilobytes) is gone before the connection is served.
async fn accept_tls<P: Schema>(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    deadline: Instant,
    ctx: &SessionContext<P>,
) -> Option<LanedTcp> {
    let accepted = tokio::select! {
        accepted = tokio::time::timeout_at(deadline, Box::pin(acceptor.accept(tcp))) => accepted,
        _ = ctx.shutdown.cancelled() => return None,
    };
    match accepted {
        Ok(Ok(tls)) => {
            let (tcp, session) = tls.into_inner();
            Some(LanedTcp::tls(tcp, session))
        }
        Ok(Err(error)) => {
            ctx.metrics
                .handshake_failed(FailureReason::Stage(ConnectionStage::Tls));
            tracing::debug!(%peer, %error, "TLS handshake failed");
            None
        }
        Err(_elapsed) => {
            ctx.metrics
                .handshake_failed(FailureReason::Stage(ConnectionStage::TlsTimeout));
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

async fn serve_stream<S, P: Schema>(
    mut stream: S,
    peer: SocketAddr,
    deadline: Instant,
    ctx: &SessionContext<P>,
) where
    S: AsyncRead + AsyncWrite + TcpBacked + Unpin + Send,
{
    let head = tokio::select! {
        head = tokio::time::timeout_at(deadline, Box::pin(read_request_head(&mut stream))) => head,
        _ = ctx.shutdown.cancelled() => return,
    };
    let head = match head {
        Ok(Ok(head)) => head,
        Ok(Err(error)) => {
            ctx.metrics
                .handshake_failed(FailureReason::Stage(ConnectionStage::BadHttpRequest));
            tracing::debug!(%peer, %error, "bad HTTP request");
            let _ = respond(&mut stream, 400, "Bad Request", &error.to_string()).await;
            return;
        }
        Err(_elapsed) => {
            ctx.metrics
                .handshake_failed(FailureReason::Stage(ConnectionStage::HttpTimeout));
            tracing::debug!(%peer, "request head not received before the handshake timeout");
            return;
        }
    };
    if !head.wants_websocket && head.path.starts_with(super::matchmake::PREFIX) {
        // Boxed, as the other phases: the matchmaker's state (kilobytes) would otherwise size
        // every connection's task, players' included.
        match Box::pin(super::matchmake::serve(&mut stream, &head, ctx, deadline)).await {
            Ok(status) => tracing::debug!(%peer, path = %head.path, status, "matchmaker request"),
            Err(error) => tracing::debug!(%peer, %error, "matchmaker answer not delivered"),
        }
        return;
    }
    if !head.wants_websocket {
        // Plain HTTP: the game's web client, its schema and the browser library.
        match serve_http(&mut stream, &head, ctx).await {
            Ok(status) => tracing::debug!(%peer, path = %head.path, status, "HTTP request"),
            Err(error) => tracing::debug!(%peer, %error, "HTTP answer not delivered"),
        }
        return;
    }
    if ctx.draining.is_draining() {
        ctx.metrics
            .handshake_failed(FailureReason::Stage(ConnectionStage::Draining));
        let _ = respond(
            &mut stream,
            503,
            "Service Unavailable",
            "the server is draining and admits no new players; try another server",
        )
        .await;
        return;
    }
    if let Err(problem) = MalformedUpgrade::check(&head) {
        ctx.metrics
            .handshake_failed(FailureReason::Stage(ConnectionStage::MalformedUpgrade));
        tracing::debug!(%peer, %problem, "malformed WebSocket upgrade");
        let _ = problem.response().write(&mut stream, false).await;
        return;
    }
    if let Some(cluster) = &ctx.cluster {
        // In a cluster a room is placed by the matchmaker: a join needs its seat, unless
        // the room already runs here (a player resuming).
        let (room, seat) = super::matchmake::room_and_seat(&head);
        let room = room.unwrap_or_else(|| ctx.admission.default_room.clone());
        if let Err(refusal) = cluster.admit(&room, seat.as_deref(), |name| ctx.rooms.hosts(name)) {
            ctx.metrics.admission_refused(refusal.label());
            tracing::debug!(%peer, reason = refusal.label().as_str(), detail = %refusal, "seat refused");
            let (status, reason) = refusal.status();
            let _ = respond(&mut stream, status, reason, &refusal.to_string()).await;
            return;
        }
    }
    if head.bytes.len() == head.head_len {
        // Nothing came after the request: from here the session reads whole frames at most,
        // so the room can take the reading over at a frame boundary (`lane::inbox`).
        stream.lane().read_whole_frames();
    }
    let stream = Rewind::new(head.bytes, stream);
    let upgraded = tokio::select! {
        upgraded = tokio::time::timeout_at(deadline, Box::pin(upgrade(stream, &ctx.admission, ctx.limits.max_message_bytes, &ctx.schema))) => upgraded,
        _ = ctx.shutdown.cancelled() => return,
    };
    match upgraded {
        Ok(Upgrade::Accepted { ws, admission }) => {
            session::run(ws, admission, peer, deadline, ctx).await
        }
        Ok(Upgrade::Refused(refusal)) => {
            ctx.metrics.admission_refused(refusal.label());
            // Anyone can cause these: one line each at debug, a summary per interval at info
            // (`refusal_log`).
            tracing::debug!(%peer, reason = <&str>::from(refusal.label()), detail = %refusal, "connection refused at the handshake");
        }
        Ok(Upgrade::Failed(error)) => {
            ctx.metrics
                .handshake_failed(FailureReason::Stage(ConnectionStage::WebsocketUpgrade));
            tracing::debug!(%peer, %error, "WebSocket upgrade failed");
        }
        Err(_elapsed) => {
            ctx.metrics.handshake_failed(FailureReason::Stage(
                ConnectionStage::WebsocketUpgradeTimeout,
            ));
            tracing::debug!(%peer, "WebSocket upgrade timed out");
        }
    }
}
