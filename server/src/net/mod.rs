//! The network layer: accepting TCP connections, TLS, the WebSocket upgrade and its
//! admission checks (origin, join token), limits, and sessions; and, apart from the players,
//! the operations listener ([`admin`]) and the log summary of refusals ([`refusal_log`]).
//!
//! It knows nothing of game rules: a session decodes and validates frames, forwards inputs to
//! its room through a bounded queue, and writes whatever frames the room hands it (or, for the
//! bincode codec, gives the room the connection's write [`lane`] to write them itself).

pub(crate) mod admin;
mod connection;
mod http;
mod lane;
pub(crate) mod limits;
mod listener;
pub(crate) mod matchmake;
pub(crate) mod refusal_log;
mod rewind;
pub(crate) mod routes;
mod session;
mod session_end;
mod settings;
pub mod tls;
mod upgrade;

use std::sync::Arc;

use ticksync_protocol::schema::SchemaIdentity;
use ticksync_protocol::{PlayerId, Schema};
use tokio_util::sync::CancellationToken;

use tokio_rustls::TlsAcceptor;

use crate::drain::DrainHandle;
use crate::metrics::{Exposition, ServerMetrics};
use crate::room::RoomDirectory;
use limits::ConnectionLimiter;

pub(crate) use listener::accept_loop;
pub(crate) use settings::{AdmissionPolicy, SessionLimits};
pub use upgrade::websocket_config;

/// What every session needs, shared behind one `Arc`. Generic over the game's schema `P`,
/// which fixes what a session decodes and forwards.
pub(crate) struct SessionContext<P: Schema> {
    /// The bounds of connections and sessions.
    pub limits: SessionLimits,
    /// The admission checks of an upgrade.
    pub admission: AdmissionPolicy,
    pub rooms: Arc<RoomDirectory<P>>,
    /// The game schema's identity: the subprotocols the upgrade accepts.
    pub schema: SchemaIdentity,
    /// `GET /schema`: the game's schema described as JSON.
    pub schema_json: String,
    /// The web client served at `/`: the built-in page, or a directory of the game's own.
    pub web: Arc<routes::WebClient>,
    pub metrics: Arc<ServerMetrics>,
    /// Prometheus registry behind `GET /metrics`.
    pub exposition: Arc<Exposition>,
    /// Set when draining begins (before shutdown, or at it): `GET /readyz` answers 503 and
    /// new WebSocket upgrades are refused with 503, while players already in keep playing.
    pub draining: DrainHandle,
    pub shutdown: CancellationToken,
    /// Test hook; `None` in production.
    pub faults: Option<Arc<dyn FaultInjector>>,
    /// TLS for `wss://`; `None` serves plain `ws://`.
    pub tls: Option<TlsAcceptor>,
    /// Open connections per client address.
    pub per_ip: Arc<ConnectionLimiter>,
    /// This node's part in a cluster (`[cluster]`); `None`: one node, no Redis.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// Test hook that loses outgoing frames as a lossy network would, to prove that delta
/// snapshots survive loss. Installed with [`crate::Server::with_fault_injector`]; never used
/// in production.
pub trait FaultInjector: Send + Sync + 'static {
    /// Whether to drop `frame` (an encoded server message) on its way to `player`.
    fn drop_frame(&self, player: PlayerId, frame: &[u8]) -> bool;
}
