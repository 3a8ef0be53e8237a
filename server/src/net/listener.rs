//! The accept loop: takes TCP connections, enforces the connection limit before spending
//! anything on them, and spawns one session task per connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::{connection, SessionContext};
use crate::metrics::ServerMetrics;
use ticksync_protocol::Schema;

/// Pause after a failed `accept` (typically out of file descriptors) so the loop does not
/// spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections until shutdown. Session tasks are spawned on `sessions` so the
/// caller can wait for them to close.
pub async fn accept_loop<P: Schema>(
    listener: TcpListener,
    ctx: Arc<SessionContext<P>>,
    sessions: TaskTracker,
) {
    // One permit per open connection: the limit is enforced by construction, and a permit
    // returns when its session task ends, however it ends.
    let permits = Arc::new(Semaphore::new(ctx.limits.max_connections));
    loop {
        let accepted = tokio::select! {
            _ = ctx.shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(tcp, &ctx, "server connection limit reached");
            continue;
        };
        let Some(ip_slot) = ctx.per_ip.try_admit(peer.ip()) else {
            refuse(tcp, &ctx, "too many connections from this address");
            continue;
        };
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
        }
        let buffer = ctx.limits.socket_send_buffer_bytes;
        if let Err(error) = socket2::SockRef::from(&tcp).set_send_buffer_size(buffer) {
            tracing::debug!(%peer, %error, "could not set SO_SNDBUF");
        }
        ctx.metrics.connections_accepted.inc();
        let ctx = ctx.clone();
        sessions.spawn(async move {
            let _open = OpenConnection::new(&ctx.metrics);
            connection::serve(tcp, peer, &ctx).await;
            drop(ip_slot);
            drop(permit);
        });
    }
}

/// Turns a connection away at accept, as cheaply as possible: one non-blocking write of a
/// canned HTTP 503 (which a plain-HTTP client can read; a TLS client just sees the close),
/// then close. Nothing is spawned and nothing waits.
fn refuse<P: Schema>(tcp: tokio::net::TcpStream, ctx: &SessionContext<P>, reason: &str) {
    ctx.metrics.connections_refused.inc();
    tracing::debug!(peer = ?tcp.peer_addr().ok(), reason, "connection refused at accept");
    if ctx.tls.is_none() {
        let response = format!(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reason}\n",
            reason.len() + 1
        );
        let _ = tcp.try_write(response.as_bytes());
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenConnection<'a>(&'a ServerMetrics);

impl<'a> OpenConnection<'a> {
    fn new(metrics: &'a ServerMetrics) -> Self {
        metrics.connections_open.inc();
        OpenConnection(metrics)
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.connections_open.dec();
    }
}
