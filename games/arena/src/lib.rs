//! The arena (ARCHITECTURE.md §4), ticksync's canonical game, built only on the public API
//! of the core crates: every player owns one entity that moves at a fixed speed in the
//! direction of its latest input, clamped to a square world.
//!
//! - [`schema`]: what travels — the entity state (`#[derive(Replicated)]`), the input, the
//!   one message (the world's size, sent at join).
//! - [`game`]: the rules, behind `ticksync_game::Game`.
//! - [`prediction`]: a client's prediction of its own entity, one step per tick by the
//!   server's own step function.
//! - [`quantize`]: the fixed-point units of positions, velocities, headings, directions.
//! - [`web`]: the browser page, served by the stock server binary.

pub mod game;
pub mod prediction;
pub mod quantize;
pub mod schema;
pub mod web;

pub use game::{Arena, ArenaSettings};
pub use prediction::ARENA_SPEED;
pub use schema::{ArenaEntity, ArenaEntityDelta, ArenaInput, ArenaMessage, ArenaSchema, MoveDir};
