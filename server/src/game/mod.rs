//! The game layer: simulation as plain data and functions of (state, inputs, dt).
//!
//! No I/O, no clocks, no randomness that is not seeded: the same joins, inputs and steps
//! always give the same state, so the simulation is testable without a socket. The room
//! drives any type that implements [`Game`]; the built-in one is the [`arena::Arena`] of
//! ARCHITECTURE.md §4. A studio's own game replaces it without touching `net` or `room`.

pub mod arena;

use ticksync_protocol::{EntityId, EntityState, Input, WorldSize};

/// The rules of a game, as seen by the room's tick loop.
///
/// The room calls, every tick and in this order: [`Game::join`] / [`Game::leave`] for players
/// who arrived or left, [`Game::apply_input`] for each player's inputs in sequence order,
/// [`Game::step`] once, then [`Game::write_entities`] to replicate the result.
pub trait Game: Send + 'static {
    /// Adds a player and returns the entity it controls. Ids must never be reused within a
    /// game's lifetime: clients key their view by id.
    fn join(&mut self, player_name: &str) -> EntityId;

    /// Removes the player's entity. Unknown ids are ignored.
    fn leave(&mut self, entity: EntityId);

    /// Applies one input of the player who controls `entity`. Inputs are already in sequence
    /// order; the game must still treat their content as untrusted.
    fn apply_input(&mut self, entity: EntityId, input: &Input);

    /// Advances the world by one fixed step of `dt` seconds.
    fn step(&mut self, dt: f32);

    /// Size of the world, told to clients in `Welcome`.
    fn world_size(&self) -> WorldSize;

    /// Writes the replicated state of every entity into `out`, sorted by id. `out` is
    /// cleared first.
    fn write_entities(&self, out: &mut Vec<EntityState>);
}
