//! ticksync's client side: a client library for Rust game clients and tests, and the bot
//! swarm that load-tests a server with it.
//!
//! - [`Client`]: connect with the protocol's subprotocol, `Hello` → `Welcome`, send
//!   sequenced inputs that acknowledge the last snapshot applied, read [`ClientEvent`]s;
//!   input→ack latency, traffic and desyncs are measured as it goes.
//! - [`ViewStore`]: applies delta snapshots against the views the client acknowledged and
//!   checks them against the server's checksum; [`Client::view`] is the result.
//! - [`ClientHandler`] and [`run_client`]: the same as callbacks.
//! - [`ArenaBot`], [`run_swarm`], [`SwarmReport`]: N bots playing the "arena" scenario on one
//!   runtime, and the figures they measured; [`Mix`] of [`Behaviour`]s (random-walk,
//!   circle, idle, [`chaos`]), a connect [`ramp`], release [`gates`], join tokens
//!   ([`auth`]), TLS ([`tls`]), frame tracing ([`mod@trace`]) and live [`progress`].

pub mod auth;
pub mod behaviour;
pub mod bot;
pub mod chaos;
pub mod client;
pub mod error;
pub mod event;
pub mod fdlimit;
pub mod gates;
pub mod handler;
pub mod latency;
pub mod live;
pub mod progress;
pub mod ramp;
pub mod report;
pub mod stats;
pub mod swarm;
pub mod ticker;
pub mod tls;
pub mod trace;
pub mod view;

pub use behaviour::{Behaviour, Mix, MixError};
pub use bot::{ArenaBot, BotSteering, CircleSteering, Steering};
pub use chaos::{ChaosCounters, ChaosRates};
pub use client::{Client, ClientOptions};
pub use error::{ClientError, ConnectFailure};
pub use event::{ClientEvent, CloseInfo};
pub use gates::{GateViolation, Gates};
pub use handler::{run_client, ClientHandler};
pub use latency::{AckLatencyTracker, SharedLatency};
pub use report::SwarmReport;
pub use stats::ClientCounters;
pub use swarm::{run_swarm, SwarmConfig};
pub use ticker::{TickHub, TickSource};
pub use tls::{tls_config, TlsConfig, TlsTrust};
/// The WebSocket library, re-exported for [`Client::send_raw`].
pub use tokio_tungstenite::tungstenite;
pub use view::{DesyncReason, ViewStore};
