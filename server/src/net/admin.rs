//! The operations listener (`admin_bind`): `/metrics`, `/rooms`, `/healthz` and `/readyz`,
//! apart from the game port.
//!
//! Why apart: on the game port these answers were refused with the players when the
//! connection limit was reached (so a liveness probe failed a server that was merely full),
//! and a scrape flood ran on the threads that serve players. Here they run on one thread of
//! their own (a single-threaded tokio runtime), with limits of their own:
//! - at most [`MAX_CONNECTIONS`] requests in flight; further connections wait in the
//!   kernel's accept queue rather than costing anything;
//! - at most one connection accepted per [`ACCEPT_INTERVAL`] (200 a second), so even a flood
//!   of requests from a local script costs this thread a few percent of one core;
//! - every request has [`REQUEST_TIMEOUT`] to be read and answered.
//!
//! `/metrics` and `/rooms` are rendered at most once a second
//! ([`SCRAPE_CACHE`]); `/healthz` and `/readyz` are answered
//! live. The listener should stay private (loopback, or an address only the orchestrator and
//! Prometheus reach): it has no authentication.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ticksync_protocol::Schema;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::http::{read_request_head, Response};
use super::routes::serve_admin;
use super::SessionContext;
use crate::metrics::SCRAPE_CACHE;

/// Requests served at once at most.
pub const MAX_CONNECTIONS: usize = 32;

/// Least time between two accepted connections.
pub const ACCEPT_INTERVAL: Duration = Duration::from_millis(5);

/// Time to read a request and write its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the operations listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not start the operations thread: {0}")]
    Thread(std::io::Error),
}

/// A bound operations listener, not yet serving.
#[derive(Debug)]
pub struct AdminListener {
    listener: std::net::TcpListener,
    local_addr: SocketAddr,
}

/// The running operations thread.
#[derive(Debug)]
pub struct AdminThread {
    stop: CancellationToken,
    thread: std::thread::JoinHandle<()>,
}

impl AdminListener {
    /// Binds `addr` now, so a busy port fails the server's start.
    pub fn bind(addr: SocketAddr) -> Result<AdminListener, AdminError> {
        let bind_error = |source| AdminError::Bind { addr, source };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(AdminListener {
            listener,
            local_addr,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves on a thread of its own until [`AdminThread::stop`].
    pub fn spawn<P: Schema>(self, ctx: Arc<SessionContext<P>>) -> Result<AdminThread, AdminError> {
        let stop = CancellationToken::new();
        let listener = self.listener;
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ticksync-admin".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build();
                let serving = async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => accept_loop(listener, ctx, stopped).await,
                        Err(error) => tracing::error!(%error, "operations listener failed"),
                    }
                };
                match runtime {
                    Ok(runtime) => runtime.block_on(serving),
                    Err(error) => tracing::error!(%error, "operations runtime failed to start"),
                }
            })
            .map_err(AdminError::Thread)?;
        Ok(AdminThread { stop, thread })
    }
}

impl AdminThread {
    /// Stops serving and waits for the thread to end.
    pub async fn stop(self) {
        self.stop.cancel();
        let thread = self.thread;
        // Joining blocks; the thread ends within a loop iteration of the cancellation.
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// `/rooms` as last rendered (or why it could not be), and when.
#[derive(Default)]
struct RoomsCache(Mutex<Option<(Instant, Result<String, String>)>>);

impl RoomsCache {
    fn get(&self, render: impl FnOnce() -> Result<String, String>) -> Result<String, String> {
        let mut cached = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*cached {
            Some((at, body)) if at.elapsed() < SCRAPE_CACHE => body.clone(),
            _ => {
                let body = render();
                *cached = Some((Instant::now(), body.clone()));
                body
            }
        }
    }
}

async fn accept_loop<P: Schema>(
    listener: TcpListener,
    ctx: Arc<SessionContext<P>>,
    stop: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let rooms_cache = Arc::new(RoomsCache::default());
    let mut pace = tokio::time::interval(ACCEPT_INTERVAL);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let permit = tokio::select! {
            _ = stop.cancelled() => return,
            permit = permits.clone().acquire_owned() => permit,
        };
        let Ok(permit) = permit else { return };
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = async {
                pace.tick().await;
                listener.accept().await
            } => accepted,
        };
        let (mut tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(%error, "operations accept failed");
                continue;
            }
        };
        let (ctx, rooms_cache) = (ctx.clone(), rooms_cache.clone());
        tokio::spawn(async move {
            let exchange = async {
                let head = match read_request_head(&mut tcp).await {
                    Ok(head) => head,
                    Err(error) => {
                        let answer = Response::text(400, "Bad Request", error.to_string());
                        let _ = answer.write(&mut tcp, false).await;
                        return;
                    }
                };
                let rooms = || rooms_cache.get(|| rooms_json(&ctx));
                match serve_admin(&mut tcp, &head, &ctx, rooms).await {
                    Ok(status) => {
                        tracing::trace!(%peer, path = %head.path, status, "operations request")
                    }
                    Err(error) => tracing::debug!(%peer, %error, "operations answer not delivered"),
                }
            };
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, exchange).await;
            drop(permit);
        });
    }
}

/// `GET /rooms`: every open room as JSON.
fn rooms_json<P: Schema>(ctx: &SessionContext<P>) -> Result<String, String> {
    serde_json::to_string(&ctx.rooms.list()).map_err(|error| error.to_string())
}
