//! ticksync-server: an authoritative, fixed-timestep game state sync server.
//!
//! What a program embedding the server uses: [`Server`] (bind with a game, run until the
//! shutdown token is cancelled, a [`DrainHandle`] to drain first, a read-only
//! [`MetricsReader`]), [`ServerConfig`] with its per-room [`RoomOverrides`], and
//! [`cli::run`], a game binary's whole `main`. The game itself implements
//! `ticksync_game::Game`.
//!
//! Layers inside, each depending only on the ones after it (ARCHITECTURE.md §1), hidden
//! from the documentation; of them only what the tests, benchmarks, examples and fuzz targets
//! use is public, the rest is the crate's own:
//! - `net`: TCP accept, WebSocket handshake, sessions (reader/writer, close codes).
//! - `room`: the room directory (rooms by name, created on first join), a room's members
//!   and its tick loop.
//! - `replication`: encoding each client's snapshots.
//! - the game: any type implementing `ticksync_game::Game`, in its own crate (the arena is
//!   `ticksync-arena`); the server knows no game.
//! - [`protocol`](ticksync_protocol): the wire format, in its own crate.
//!
//! [`cluster`]: many nodes sharing a room directory in Redis, the matchmaker and seat tokens
//! (only with `[cluster]` settings); public are only its settings, the rest is the crate's
//! own.
//!
//! [`config`] holds every setting; [`metrics`] the counters and their Prometheus
//! exposition (served by the operations listener); [`memory`] the allocator settings the
//! binary runs with. [`Server`] ties them together: bind, then run until a shutdown token is
//! cancelled. [`cli::run`] is a game binary's whole `main`.

pub mod cli;
pub mod cluster;
pub mod config;
mod drain;
mod game_rooms;
mod layer_settings;
pub mod memory;
pub mod metrics;
mod server;

// The layers inside the server. Tests, benchmarks, examples and the fuzz targets reach into
// them (net: `FaultInjector`, `websocket_config`, `tls::dev_acceptor`; room: the
// `RoomDirectory` and `RoomHandle` behind `Server::rooms`; replication: the `Replicator` and
// its settings); everything else in them is the crate's own. A program embedding the server
// needs only what is re-exported below.
#[doc(hidden)]
pub mod net;
#[doc(hidden)]
pub mod replication;
#[doc(hidden)]
pub mod room;

pub use config::{RoomOverrides, ServerArgs, ServerConfig};
pub use drain::DrainHandle;
pub use game_rooms::game_settings;
pub use metrics::{MetricsReader, MetricsSnapshot};
pub use room::TickSummary;
pub use server::{Server, ServerError, ServerSummary};
