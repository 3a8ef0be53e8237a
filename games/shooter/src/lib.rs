//! The shooter: a top-down team shooter built only on the public API of ticksync's core
//! crates — the larger example next to the arena. Two teams of fighters move, aim and fire
//! hitscan shots; the server judges each shot against the world its shooter saw (lag
//! compensation within a bounded rewind window); hits, kills, score changes, rounds and chat
//! travel as game messages, in order with the snapshots.
//!
//! - [`schema`]: what travels — the fighter (`#[derive(Replicated)]`), the input, the chat
//!   request, the events.
//! - [`game`]: the rules, behind `ticksync_game::Game`.
//! - [`rewind`]: the rewind history and the hitscan test (lag compensation).
//! - [`motion`]: movement in fixed-point units, shared with prediction.
//! - [`chat`]: chat lines, limited in length and rate.
//! - [`settings`]: the `[game]` table and the rules in ticks.
//! - [`bots`]: the swarm's shooter bots.
//! - [`web`]: the browser page.
//!
//! `src/bin/shooter-server.rs` and `src/bin/shooter-sim.rs` are its two one-line binaries.

pub mod bots;
pub mod chat;
pub mod game;
pub mod motion;
pub mod rewind;
pub mod schema;
pub mod settings;
pub mod web;

/// The vector types of the shooter's public API (positions are `glam::IVec2`).
pub use glam;

pub use bots::{ShooterBot, ShooterBots};
pub use game::{Phase, Shooter};
pub use schema::{Fighter, RoundEnd, ShooterEvent, ShooterInput, ShooterRequest, ShooterSchema};
pub use settings::{AfterRound, ShooterSettings};
