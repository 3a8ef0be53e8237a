//! [`Server`]: binds the listener, starts the default room (others start on first join),
//! runs until shutdown, and closes every session gracefully. Generic over the game: each
//! room runs a game made by the game's factory from the room's settings.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use ticksync_game::{Game, RoomContext};
use ticksync_protocol::schema::{describe, SchemaIdentity};
use ticksync_protocol::Schema;

use crate::cluster::Cluster;
use crate::config::{ConfigError, ServerConfig};
use crate::drain::DrainHandle;
use crate::game_rooms::{check_game_settings, GameRooms};
use crate::layer_settings::{admission_policy, node_settings, room_defaults, session_limits};
use crate::metrics::{server_stats, Exposition, MetricsReader, ServerMetrics};
use crate::net::admin::{AdminError, AdminListener};
use crate::net::limits::ConnectionLimiter;
use crate::net::refusal_log;
use crate::net::routes::{StaticFile, WebClient, WebDirError};
use crate::net::tls::{self, DevCertificate, TlsError};
use crate::net::{accept_loop, FaultInjector, SessionContext};
use crate::room::{NoRoom, RoomDirectory, TickRuntime, TickSummary};
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
    #[error("operations listener (admin_bind): {0}")]
    Admin(#[from] AdminError),
    #[error("could not set up tick statistics: {0}")]
    Stats(#[from] hdrhistogram::CreationError),
    #[error("could not set up TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("could not start the tick runtime: {0}")]
    TickRuntime(std::io::Error),
    #[error("could not start the default room: {0}")]
    Room(#[from] NoRoom),
    #[error(transparent)]
    WebDir(#[from] WebDirError),
    #[error("cluster: {0}")]
    Cluster(String),
}

/// Figures of a whole run, returned by [`Server::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSummary {
    /// Tick figures of the default room.
    pub ticks: TickSummary,
    /// Tick figures of every room that ran, by name, in the order they stopped.
    pub rooms: Vec<(String, TickSummary)>,
    pub connections_accepted: u64,
    pub connections_refused: u64,
    pub snapshots_sent: u64,
    pub snapshots_dropped: u64,
    /// Sessions still open when the shutdown grace period ran out.
    pub sessions_abandoned: usize,
}

/// A bound, not yet running server of a game whose schema is `P`.
pub struct Server<P: Schema> {
    listener: TcpListener,
    local_addr: SocketAddr,
    ctx: Arc<SessionContext<P>>,
    /// The whole configuration; the layers got their parts of it.
    config: Arc<ServerConfig>,
    /// Room tasks; the default room's is already spawned.
    room_tasks: TaskTracker,
    /// The runtime the room tasks run on; `None`: the caller's.
    tick_runtime: Option<TickRuntime>,
    /// The operations listener; `None` with `admin_bind` off.
    admin: Option<AdminListener>,
    dev_certificate: Option<DevCertificate>,
}

/// The listener on `addr`, and the address it bound (a port of 0 picks one).
async fn bind_listener(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ServerError> {
    let bind_error = |source| ServerError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local_addr = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local_addr))
}

/// The TLS acceptor the configuration asks for, and the generated certificate with `--dev-tls`.
fn tls_acceptor(
    config: &ServerConfig,
) -> Result<(Option<TlsAcceptor>, Option<DevCertificate>), TlsError> {
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        return Ok((Some(tls::acceptor_from_pem(cert, key)?), None));
    }
    if let Some(path) = config.dev_tls_cert_path() {
        let (acceptor, certificate) = tls::dev_acceptor(&path)?;
        return Ok((Some(acceptor), Some(certificate)));
    }
    Ok((None, None))
}

impl<P: Schema> Server<P> {
    /// Binds `config.bind` for game `G`: each room runs a game made by `make_game` from the
    /// room's context (its name, tick rate, capacity and the game's settings for it). The
    /// web client served at `/` is `web` (files compiled into the binary), or the
    /// configuration's `web_dir` when set.
    pub async fn bind_with_game<G, F>(
        config: ServerConfig,
        make_game: F,
        web: &[StaticFile],
    ) -> Result<Server<P>, ServerError>
    where
        G: Game<Schema = P>,
        F: Fn(&RoomContext<G::Settings>) -> G + Send + Sync + 'static,
    {
        config.validate()?;
        check_game_settings::<G>(&config)?;
        let web = match &config.web_dir {
            Some(dir) => WebClient::from_dir(dir)?,
            None => WebClient::embedded(web),
        };
        let (listener, local_addr) = bind_listener(config.bind).await?;
        let admin = config.admin_bind.map(AdminListener::bind).transpose()?;
        let (tls, dev_certificate) = tls_acceptor(&config)?;
        let metrics = Arc::new(ServerMetrics::default());
        // The rooms the operator named get metric series of their own.
        let named_rooms = std::iter::once(&config.default_room).chain(config.rooms.keys());
        let exposition = Arc::new(Exposition::with_named_rooms(&metrics, named_rooms.cloned()));
        let shutdown = CancellationToken::new();
        let room_tasks = TaskTracker::new();
        let tick_runtime =
            TickRuntime::for_setting(config.tick_threads).map_err(ServerError::TickRuntime)?;
        let config = Arc::new(config);
        let game_rooms = GameRooms {
            config: config.clone(),
            make_game,
            metrics: metrics.clone(),
            exposition: exposition.clone(),
            shutdown: shutdown.clone(),
            room_tasks: room_tasks.clone(),
            tick_runtime: tick_runtime
                .as_ref()
                .map(|runtime| runtime.handle().clone()),
            game: PhantomData,
        };
        let forget_room = {
            let exposition = exposition.clone();
            move |name: &str| exposition.forget_room(name)
        };
        let cluster = node_settings(&config)
            .map(|node| Cluster::join(node, SchemaIdentity::of::<P>().game))
            .transpose()
            .map_err(ServerError::Cluster)?;
        if let Some(cluster) = &cluster {
            exposition.register_cluster(&cluster.metrics);
        }
        let rooms = RoomDirectory::new(
            room_defaults(&config),
            Box::new(move |launch| game_rooms.start(launch)),
            Box::new(forget_room),
        )?;
        exposition.attach(rooms.clone());
        if let Some(cluster) = &cluster {
            // Before serving anyone: a node id another live node holds is refused here.
            crate::cluster::heartbeat::register(cluster, rooms.as_ref())
                .await
                .map_err(|duplicate| ServerError::Cluster(duplicate.to_string()))?;
        }
        let schema_json = serde_json::to_string_pretty(&describe::<P>())
            .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"));
        let ctx = Arc::new(SessionContext {
            per_ip: ConnectionLimiter::new(config.max_connections_per_ip),
            limits: session_limits(&config),
            admission: admission_policy(&config),
            rooms,
            schema: SchemaIdentity::of::<P>(),
            schema_json,
            web: Arc::new(web),
            metrics,
            exposition,
            shutdown,
            faults: None,
            tls,
            draining: DrainHandle::default(),
            cluster,
        });
        Ok(Server {
            listener,
            local_addr,
            ctx,
            config,
            room_tasks,
            tick_runtime,
            admin,
            dev_certificate,
        })
    }

    /// Installs a test hook that drops outgoing frames (see [`FaultInjector`]).
    pub fn with_fault_injector(mut self, faults: Arc<dyn FaultInjector>) -> Server<P> {
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

    /// The address of the operations endpoints (`/metrics`, `/rooms`, `/healthz`,
    /// `/readyz`); `None` when `admin_bind` is off.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminListener::local_addr)
    }

    /// Cancelling this token shuts the server down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.ctx.shutdown.clone()
    }

    /// A read-only view of the server's counters, live: [`MetricsReader::snapshot`].
    pub fn metrics(&self) -> MetricsReader {
        MetricsReader::new(self.ctx.metrics.clone())
    }

    /// The drain switch: [`DrainHandle::start`] turns `GET /readyz` to 503 and refuses new
    /// players (503) while those already in play on. A load balancer watching `/readyz`
    /// stops sending players; the shutdown token then ends the rest.
    pub fn drain_handle(&self) -> DrainHandle {
        self.ctx.draining.clone()
    }

    /// The server's rooms, live.
    pub fn rooms(&self) -> Arc<RoomDirectory<P>> {
        self.ctx.rooms.clone()
    }

    /// Runs until the shutdown token is cancelled, then stops accepting, lets every room tell
    /// its players (error message and close 1001), and waits up to the configured grace
    /// period for sessions to finish closing. The operations endpoints answer until then.
    pub async fn run(self) -> ServerSummary {
        let Server {
            listener,
            ctx,
            config,
            room_tasks,
            tick_runtime,
            admin,
            ..
        } = self;
        let admin = admin.and_then(|admin| match admin.spawn(ctx.clone()) {
            Ok(running) => Some(running),
            Err(error) => {
                tracing::error!(%error, "operations endpoints not served");
                None
            }
        });
        let summaries = CancellationToken::new();
        tokio::spawn(refusal_log::summarize(
            ctx.metrics.clone(),
            config.stats_interval,
            summaries.clone(),
        ));
        tokio::spawn(server_stats::log_every(
            ctx.metrics.clone(),
            config.stats_interval,
            summaries.clone(),
        ));
        let heartbeat = ctx.cluster.clone().map(|cluster| {
            let rooms: Arc<dyn crate::room::RoomStatuses> = ctx.rooms.clone();
            tokio::spawn(crate::cluster::heartbeat::run(
                cluster,
                rooms,
                ctx.draining.clone(),
                ctx.shutdown.clone(),
            ))
        });
        let sessions = TaskTracker::new();
        accept_loop(listener, ctx.clone(), sessions.clone()).await;
        ctx.draining.start();
        tracing::info!("shutting down: no longer accepting connections");
        ctx.rooms.close();
        if let Some(heartbeat) = heartbeat {
            // It leaves the directory, bounded by the Redis timeout.
            let _ = heartbeat.await;
        }
        room_tasks.close();
        room_tasks.wait().await;
        drop(tick_runtime);
        let rooms = ctx.rooms.finished_rooms();
        let ticks = rooms
            .iter()
            .find(|(name, _)| *name == config.default_room)
            .map(|(_, summary)| summary.clone())
            .unwrap_or_default();
        sessions.close();
        let grace = config.shutdown_grace;
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
        summaries.cancel();
        if let Some(admin) = admin {
            admin.stop().await;
        }
        let metrics = ctx.metrics.snapshot();
        tracing::info!(
            connections = metrics.connections_accepted,
            refused_at_accept = metrics.connections_refused,
            refused_at_handshake = metrics.admissions_refused,
            handshake_failures = metrics.handshake_failures,
            kicked_protocol = metrics.kicks_protocol,
            kicked_flood = metrics.kicks_flood,
            kicked_slow = metrics.kicks_slow,
            kicked_idle = metrics.kicks_idle,
            messages_dropped = metrics.messages_dropped,
            inputs_dropped = metrics.inputs_dropped,
            inputs_missed_tick = metrics.inputs_missed_tick,
            "sessions summary"
        );
        ServerSummary {
            ticks,
            rooms,
            connections_accepted: metrics.connections_accepted,
            connections_refused: metrics.connections_refused,
            snapshots_sent: metrics.snapshots_sent,
            snapshots_dropped: metrics.snapshots_dropped,
            sessions_abandoned,
        }
    }
}
