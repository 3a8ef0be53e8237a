//! What a game implements to run on ticksync, and nothing else: the [`Game`] trait the
//! room's tick loop drives, the [`JoinRequest`] a game sees when a player arrives, and the
//! [`Outbox`] through which it sends its messages, kicks players and ends its room.
//!
//! A game lives in its own crate and depends on this one and on `ticksync-protocol` (for its
//! [`Schema`] and `#[derive(Replicated)]`); its binary adds `ticksync-server` for the full
//! server around it. No I/O, no async runtime, no clock: the same joins, inputs and steps
//! always give the same world, so a game is testable without a socket.

mod outbox;

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
use ticksync_protocol::{Entity, EntityId, InputSeq, PlayerId, Schema, Tick};

pub use outbox::{Command, Outbox, Recipients};
pub use ticksync_protocol;

/// The entity state type of game `G`.
pub type EntityOf<G> = <<G as Game>::Schema as Schema>::Entity;
/// The input payload type of game `G`.
pub type InputOf<G> = <<G as Game>::Schema as Schema>::Input;
/// The client message type of game `G`.
pub type ClientMessageOf<G> = <<G as Game>::Schema as Schema>::ClientMessage;
/// The server message type of game `G`.
pub type ServerMessageOf<G> = <<G as Game>::Schema as Schema>::ServerMessage;

/// The rules of a game, as the room's tick loop sees them.
///
/// Each tick the room calls, in this order: [`Game::join`] and [`Game::leave`] for players
/// who arrived or left, [`Game::message`] and [`Game::input`] for each player's messages and
/// inputs in the order the player sent them (bounded per tick), [`Game::step`] once, then
/// [`Game::write_entities`] to replicate the result. What the game puts in the [`Outbox`]
/// during a tick reaches each recipient before the snapshot of the next tick.
pub trait Game: Send + 'static {
    /// The game's protocol: its entity state, input and messages.
    type Schema: Schema;
    /// The game's own settings: the `[game]` table of the configuration (with a room's
    /// `[rooms.NAME.game]` on top), deserialized; `Default` when there is none.
    type Settings: Serialize + DeserializeOwned + Default + Clone + Debug + Send + Sync + 'static;

    /// A player asks to join. Return the entity it controls (`None`: it controls none, e.g. a
    /// spectator), or a [`Refusal`] the client receives as an error. Entity ids must never be
    /// reused within a game's lifetime: clients key their views by id.
    fn join(
        &mut self,
        request: &JoinRequest<'_>,
        out: &mut Outbox<Self::Schema>,
    ) -> Result<Option<EntityId>, Refusal>;

    /// The player left, was kicked, or did not come back within the resume grace period.
    fn leave(&mut self, player: PlayerId, out: &mut Outbox<Self::Schema>);

    /// One input of `context.player`, in sequence order. Its content is untrusted: clamp
    /// it. The [`InputContext`] says when it was sent, as the sender's view of the world
    /// stood (what lag compensation needs).
    fn input(&mut self, context: InputContext, input: &InputOf<Self>);

    /// A game message from `player`, in the order sent. Untrusted like an input.
    fn message(
        &mut self,
        player: PlayerId,
        message: ClientMessageOf<Self>,
        out: &mut Outbox<Self::Schema>,
    ) {
        let _ = (player, message, out);
    }

    /// Advances the world by one fixed step of `dt` seconds.
    fn step(&mut self, dt: f32, out: &mut Outbox<Self::Schema>);

    /// Writes every replicated entity into `out`, sorted by id. `out` is cleared first.
    fn write_entities(&self, out: &mut Vec<Entity<EntityOf<Self>>>);

    /// The room is closing (shutdown, empty, or the game ended it). The last chance to
    /// record results; messages sent now are not delivered.
    fn closed(&mut self) {}
}

/// Where an input stands in time: which player sent it, its sequence number, the snapshot
/// tick the sender had applied when it sent it, and the tick it is applied in. Small and
/// `Copy`: the room builds one per input on the stack.
///
/// With it a game can judge an action against the world its sender saw (lag compensation):
/// the sender's view was the snapshot of `ack_tick`, which is `tick - 1 - ack_tick` ticks
/// older than the newest state the room holds while it applies the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputContext {
    pub player: PlayerId,
    /// The input's sequence number (strictly increasing per player).
    pub seq: InputSeq,
    /// The tick of the last snapshot the sender had applied when it sent the input (0: none
    /// yet). The sender's claim, bounded by the room: never later than `tick - 1`, the
    /// newest snapshot the room has produced. A game must still bound how far back it
    /// trusts it.
    pub ack_tick: Tick,
    /// The tick this input is applied in: the snapshot of `tick` shows the step that
    /// follows it.
    pub tick: Tick,
}

impl InputContext {
    /// How many ticks old the sender's view was when the input reached the room: `tick - 1
    /// - ack_tick`, or `None` when the sender had applied no snapshot yet.
    pub fn view_age_ticks(&self) -> Option<Tick> {
        (self.ack_tick != 0).then(|| self.tick.wrapping_sub(1).saturating_sub(self.ack_tick))
    }
}

/// What a game learns about a player who asks to join.
#[derive(Debug, Clone, Copy)]
pub struct JoinRequest<'a> {
    /// The id the player will have if the game admits it.
    pub player: PlayerId,
    /// The player's display name: from its join token when tokens are on, else from `Hello`.
    pub name: &'a str,
    /// The verified join token's claims, when join tokens are on.
    pub claims: Option<&'a Claims>,
    /// The room's name.
    pub room: &'a str,
}

/// A verified join token's claims, as a game sees them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claims {
    /// The player's id in the game's backend (`sub`).
    pub subject: String,
    /// Every claim the token carries besides the registered ones (e.g. `team`, `rating`).
    pub custom: serde_json::Map<String, serde_json::Value>,
}

/// A join the game turned down; the client gets it as an error with close code 4006.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// For the player: why, and what to do about it.
    pub reason: String,
}

impl Refusal {
    pub fn new(reason: impl Into<String>) -> Refusal {
        Refusal {
            reason: reason.into(),
        }
    }
}

/// A file of a game's web client, compiled into the game's binary and served by the server
/// (`/index.html` also at `/`).
#[derive(Debug, Clone, Copy)]
pub struct WebFile {
    /// Where it is served, e.g. `/index.html`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

/// What a game is told about its room when the room creates it.
#[derive(Debug, Clone)]
pub struct RoomContext<S> {
    /// The room's name.
    pub name: String,
    pub tick_rate_hz: u16,
    pub max_players: usize,
    /// The game's settings for this room.
    pub settings: S,
}
