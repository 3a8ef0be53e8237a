//! The seam between the swarm and a game: a [`Bot`] is one player's game-side brain (what to
//! send each tick, what to make of the game's messages and snapshots, which figures of its
//! own to report), and a [`BotFactory`] makes a game's bots by behaviour name for `--mix`.
//!
//! The swarm engine — connects, ramp, reconnects, chaos, latency, report, gates — is
//! written once, generic over the factory and monomorphized for each game, so a bot costs no
//! boxing per message. The arena's bots ([`crate::arena`]) are one implementation; a shooter
//! would implement the same two traits (aim and fire in its input, chat in `next_message`,
//! shots, hits and kills counted in `counters`) without touching the swarm.

use std::time::Instant;

use ticksync_client::Client;
use ticksync_protocol::{Entity, EntityId, PlayerId, Schema, Snapshot, Tick, Welcome};

/// The behaviour name of chaos bots, which the swarm itself drives (see [`crate::chaos`]):
/// a game's bot only supplies their ordinary inputs.
pub const CHAOS: &str = "chaos";

/// What a bot sees when it decides its next move.
#[derive(Debug)]
pub struct Turn<'a, S: Schema> {
    /// The instant of the tick.
    pub now: Instant,
    /// The tick of the view (0 before the first snapshot).
    pub view_tick: Tick,
    /// Every entity the server replicates to this player, sorted by id.
    pub view: &'a [Entity<S::Entity>],
    /// This player.
    pub player_id: PlayerId,
    /// The entity this player controls, if the game gave it one.
    pub entity_id: Option<EntityId>,
}

impl<'a, S: Schema> Turn<'a, S> {
    /// The turn of `client` at `now`.
    pub fn of(client: &'a Client<S>, now: Instant) -> Self {
        Turn {
            now,
            view_tick: client.view_tick(),
            view: client.view(),
            player_id: client.player_id(),
            entity_id: client.entity_id(),
        }
    }

    /// The state of this player's own entity, if it has one and it is in view.
    pub fn own_entity(&self) -> Option<&'a S::Entity> {
        let id = self.entity_id?;
        let view = self.view;
        view.binary_search_by_key(&id, |entity| entity.id)
            .ok()
            .and_then(|index| view.get(index))
            .map(|entity| &entity.state)
    }
}

/// One bot's game logic. The swarm calls it from the bot's task: `on_welcome` after every
/// (re)connect, `on_message` and `on_snapshot` as the server's frames arrive, `next_input`
/// and `next_message` once per server tick. The bot lives across reconnects, so its
/// counters cover the whole run.
pub trait Bot: Send + 'static {
    /// The game it plays.
    type Schema: Schema;

    /// The server welcomed this bot (first connect, reconnect or resume).
    fn on_welcome(&mut self, welcome: &Welcome) {
        let _ = welcome;
    }

    /// A message of the game's own from the server, in order with the snapshots.
    fn on_message(&mut self, message: &<Self::Schema as Schema>::ServerMessage) {
        let _ = message;
    }

    /// A snapshot was applied; `view` is the world after it, sorted by id.
    fn on_snapshot(
        &mut self,
        snapshot: &Snapshot<<Self::Schema as Schema>::Entity>,
        view: &[Entity<<Self::Schema as Schema>::Entity>],
    ) {
        let _ = (snapshot, view);
    }

    /// The input to send this tick, or `None` to send none (then the bot's client
    /// acknowledges snapshots with `Ack` if [`Bot::sends_inputs`] says so).
    fn next_input(
        &mut self,
        turn: &Turn<'_, Self::Schema>,
    ) -> Option<<Self::Schema as Schema>::Input>;

    /// A message of the game's own to send this tick (a chat line, "ready"); at most one per
    /// tick.
    fn next_message(
        &mut self,
        turn: &Turn<'_, Self::Schema>,
    ) -> Option<<Self::Schema as Schema>::ClientMessage> {
        let _ = turn;
        None
    }

    /// Whether the bot sends an input every tick. One that does not (an idle spectator) has
    /// its client acknowledge every snapshot with `Ack`, so the server still sends deltas.
    fn sends_inputs(&self) -> bool {
        true
    }

    /// The bot's own figures, as `(name, value)` pairs the report sums over honest bots
    /// (shots, hits, kills, events seen…). Called once, when the bot's run is over.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// A game's bots, made by behaviour name: what the swarm needs to know about a game.
pub trait BotFactory: Send + Sync + 'static {
    /// The bots it makes.
    type Bot: Bot;

    /// The behaviours `--mix` may name besides [`CHAOS`]; the first is what every bot does
    /// when no mix is given.
    fn behaviours(&self) -> &[&'static str];

    /// Bot number `index` of a run seeded with `seed`, behaving as `behaviour` (one of
    /// [`BotFactory::behaviours`], or [`CHAOS`]: then the bot supplies the ordinary inputs a
    /// chaos bot sends between its mischief). The same arguments must make a bot that plays
    /// the same way, so a run can be replayed.
    fn bot(&self, behaviour: &str, seed: u64, index: usize) -> Self::Bot;
}
