//! [`Server`]: binds the listener, starts the room, runs until shutdown, and closes every
//! session gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ConfigError, ServerConfig};
use crate::game::arena::Arena;
use crate::game::Game;
use crate::metrics::ServerMetrics;
use crate::net::limits::ConnectionLimiter;
use crate::net::tls::{self, DevCertificate, TlsError};
use crate::net::{accept_loop, FaultInjector, SessionContext};
use crate::room::{Room, RoomSettings, TickSummary};
use tokio_rustls::TlsAcceptor;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not set up tick statistics: {0}")]
    Stats(#[from] hdrhistogram::CreationError),
    #[error("could not set up TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Figures of a whole run, returned by [`Server::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSummary {
    pub ticks: TickSummary,
    pub connections_accepted: u64,
    pub connections_refused: u64,
    pub snapshots_sent: u64,
    pub snapshots_dropped: u64,
    /// Sessions still open when the shutdown grace period ran out.
    pub sessions_abandoned: usize,
}

type RoomRun = Pin<Box<dyn Future<Output = TickSummary> + Send>>;

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    ctx: Arc<SessionContext>,
    room_run: RoomRun,
    dev_certificate: Option<DevCertificate>,
}

/// The TLS acceptor the configuration asks for, and the generated certificate with `--dev-tls`.
fn tls_acceptor(
    config: &ServerConfig,
) -> Result<(Option<TlsAcceptor>, Option<DevCertificate>), TlsError> {
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        return Ok((Some(tls::acceptor_from_pem(cert, key)?), None));
    }
    if let Some(path) = &config.dev_tls_cert {
        let (acceptor, certificate) = tls::dev_acceptor(path)?;
        return Ok((Some(acceptor), Some(certificate)));
    }
    Ok((None, None))
}

impl Server {
    /// Binds `config.bind` and prepares the built-in arena room.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let game = Arena::new(config.world_size);
        Server::bind_with_game(config, game).await
    }

    /// Binds `config.bind` with a room running `game` instead of the arena.
    pub async fn bind_with_game<G: Game>(
        config: ServerConfig,
        game: G,
    ) -> Result<Server, ServerError> {
        config.validate()?;
        let listener =
            TcpListener::bind(config.bind)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.bind,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
        let (tls, dev_certificate) = tls_acceptor(&config)?;
        let metrics = Arc::new(ServerMetrics::default());
        let per_ip = ConnectionLimiter::new(config.max_connections_per_ip);
        let shutdown = CancellationToken::new();
        let (room, room_handle) =
            Room::new(RoomSettings::from_config(&config), game, metrics.clone())?;
        let room_run = Box::pin(room.run(shutdown.clone()));
        let ctx = Arc::new(SessionContext {
            config,
            room: room_handle,
            metrics,
            shutdown,
            faults: None,
            tls,
            per_ip,
        });
        Ok(Server {
            listener,
            local_addr,
            ctx,
            room_run,
            dev_certificate,
        })
    }

    /// Installs a test hook that drops outgoing frames (see [`FaultInjector`]).
    pub fn with_fault_injector(mut self, faults: Arc<dyn FaultInjector>) -> Server {
        match Arc::get_mut(&mut self.ctx) {
            Some(ctx) => ctx.faults = Some(faults),
            // The context is shared only once `run` starts; before that this cannot fail.
            None => tracing::error!("fault injector not installed: server already running"),
        }
        self
    }

    /// The certificate generated for `--dev-tls`, for clients to trust.
    pub fn dev_certificate(&self) -> Option<&DevCertificate> {
        self.dev_certificate.as_ref()
    }

    /// `ws://…/ws` or `wss://…/ws`: where clients connect.
    pub fn url(&self) -> String {
        let scheme = if self.ctx.tls.is_some() { "wss" } else { "ws" };
        format!(
            "{scheme}://{}{}",
            self.local_addr,
            ticksync_protocol::WEBSOCKET_PATH
        )
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Cancelling this token shuts the server down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.ctx.shutdown.clone()
    }

    /// The server's counters, live.
    pub fn metrics(&self) -> Arc<ServerMetrics> {
        self.ctx.metrics.clone()
    }

    /// Runs until the shutdown token is cancelled, then stops accepting, lets the room tell
    /// every player (error message and close 1001), and waits up to the configured grace
    /// period for sessions to finish closing.
    pub async fn run(self) -> ServerSummary {
        let Server {
            listener,
            ctx,
            room_run,
            ..
        } = self;
        let room_task = tokio::spawn(room_run);
        let sessions = TaskTracker::new();
        accept_loop(listener, ctx.clone(), sessions.clone()).await;
        tracing::info!("shutting down: no longer accepting connections");
        let ticks = match room_task.await {
            Ok(summary) => summary,
            Err(error) => {
                tracing::error!(%error, "room task failed");
                TickSummary::default()
            }
        };
        sessions.close();
        let grace = ctx.config.shutdown_grace;
        let sessions_abandoned = match tokio::time::timeout(grace, sessions.wait()).await {
            Ok(()) => 0,
            Err(_) => {
                tracing::warn!(
                    open = sessions.len(),
                    "sessions still closing after the grace period"
                );
                sessions.len()
            }
        };
        let metrics = &ctx.metrics;
        tracing::info!(
            connections = ServerMetrics::get(&metrics.connections_accepted),
            refused_at_accept = ServerMetrics::get(&metrics.connections_refused),
            refused_at_handshake = ServerMetrics::get(&metrics.admissions_refused),
            handshake_failures = ServerMetrics::get(&metrics.handshake_failures),
            kicked_protocol = ServerMetrics::get(&metrics.kicks_protocol),
            kicked_flood = ServerMetrics::get(&metrics.kicks_flood),
            kicked_slow = ServerMetrics::get(&metrics.kicks_slow),
            kicked_idle = ServerMetrics::get(&metrics.kicks_idle),
            messages_dropped = ServerMetrics::get(&metrics.messages_dropped),
            inputs_dropped = ServerMetrics::get(&metrics.inputs_dropped),
            "sessions summary"
        );
        ServerSummary {
            ticks,
            connections_accepted: ServerMetrics::get(&metrics.connections_accepted),
            connections_refused: ServerMetrics::get(&metrics.connections_refused),
            snapshots_sent: ServerMetrics::get(&metrics.snapshots_sent),
            snapshots_dropped: ServerMetrics::get(&metrics.snapshots_dropped),
            sessions_abandoned,
        }
    }
}
