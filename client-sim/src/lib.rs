//! The ticksync bot swarm: load-tests a server running any game with N bots, through the
//! Rust client library (`ticksync-client`), and reports what they measured.
//!
//! - [`Bot`] and [`BotFactory`]: the seam a game implements — what a bot sends each tick,
//!   what it makes of the game's messages, which figures of its own it reports — and the
//!   behaviours `--mix` can name. [`arena`] holds the arena's bots (random-walk, circle,
//!   idle), the stock binary's game.
//! - [`run_swarm_with`] (any game) and [`run_swarm`] (the arena), [`SwarmConfig`],
//!   [`SwarmReport`]: N bots on one runtime, driven by [`BotDriver`], and the figures they
//!   measured; a [`Mix`] of behaviours, [`chaos`] bots for every game, a connect [`ramp`],
//!   release [`gates`], join tokens ([`auth`]), live [`progress`].
//! - [`cli::run`]: a swarm binary's whole `main`, for any game's bots.

pub mod arena;
pub mod auth;
pub mod behaviour;
pub mod bot;
pub mod chaos;
pub mod cli;
pub mod driver;
pub mod fdlimit;
pub mod gates;
pub mod live;
pub mod progress;
pub mod ramp;
pub mod report;
pub mod swarm;

pub use arena::{ArenaBot, ArenaBots};
pub use behaviour::{Mix, MixError};
pub use bot::{Bot, BotFactory, Turn, CHAOS};
pub use chaos::{ChaosCounters, ChaosRates};
pub use driver::{BotDeparture, BotDriver};
pub use gates::{GateViolation, Gates};
pub use report::SwarmReport;
pub use swarm::{run_swarm_with, Matchmaking, SwarmConfig, SwarmError};
/// The client library the swarm is built on, re-exported for callers that drive a client
/// next to a swarm.
pub use ticksync_client as client;
pub use ticksync_client::{tls_config, TlsConfig, TlsTrust};

/// Runs a swarm of arena bots: [`run_swarm_with`] with [`ArenaBots`].
pub async fn run_swarm(config: SwarmConfig) -> Result<SwarmReport, SwarmError> {
    run_swarm_with(config, ArenaBots).await
}
