//! The accept loop: takes TCP connections, enforces the connection limit before spending
//! anything on them, and spawns one session task per connection.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::{session, SessionContext};
use crate::metrics::ServerMetrics;

/// Pause after a failed `accept` (typically out of file descriptors) so the loop does not
/// spin while the condition lasts.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections until shutdown. Session tasks are spawned on `sessions` so the
/// caller can wait for them to close.
pub async fn accept_loop(listener: TcpListener, ctx: Arc<SessionContext>, sessions: TaskTracker) {
    // One permit per open connection: the limit is enforced by construction, and a permit
    // returns when its session task ends, however it ends.
    let permits = Arc::new(Semaphore::new(ctx.config.max_connections));
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
            ServerMetrics::add(&ctx.metrics.connections_refused, 1);
            tracing::debug!(%peer, "connection limit reached; closing");
            drop(tcp);
            continue;
        };
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
        }
        ServerMetrics::add(&ctx.metrics.connections_accepted, 1);
        let ctx = ctx.clone();
        sessions.spawn(async move {
            let _open = OpenConnection::new(&ctx.metrics);
            session::serve(tcp, peer, ctx.clone()).await;
            drop(permit);
        });
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenConnection<'a>(&'a ServerMetrics);

impl<'a> OpenConnection<'a> {
    fn new(metrics: &'a ServerMetrics) -> Self {
        ServerMetrics::add(&metrics.connections_open, 1);
        OpenConnection(metrics)
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0
            .connections_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}
