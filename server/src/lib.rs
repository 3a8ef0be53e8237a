//! ticksync-server: an authoritative, fixed-timestep game state sync server.
//!
//! Layers, each depending only on the ones after it (ARCHITECTURE.md §1):
//! - [`net`]: TCP accept, WebSocket handshake, sessions (reader/writer, close codes).
//! - [`room`]: the room directory (rooms by name, created on first join), a room's members
//!   and its tick loop.
//! - [`replication`]: building each client's snapshot frames.
//! - the game: any type implementing `ticksync_game::Game`, in its own crate (the arena is
//!   `ticksync-arena`); the server knows no game.
//! - [`protocol`](ticksync_protocol): the wire format, in its own crate.
//!
//! [`cluster`]: many nodes sharing a room directory in Redis, the matchmaker and seat tokens
//! (only with `[cluster]` settings).
//!
//! [`config`] holds every setting; [`metrics`] the counters and their Prometheus
//! exposition (served by [`net::admin`]); [`memory`] the allocator settings the
//! binary runs with. [`Server`] ties them together: bind, then run until a shutdown token is
//! cancelled. [`cli::run`] is a game binary's whole `main`.

pub mod cli;
pub mod cluster;
pub mod config;
pub mod memory;
pub mod metrics;
pub mod net;
pub mod replication;
pub mod room;
mod server;

pub use config::{ServerArgs, ServerConfig};
pub use server::{game_settings, Server, ServerError, ServerSummary};
