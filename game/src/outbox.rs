//! [`Outbox`]: what a game asks of the room during a tick — messages to one player, to
//! everyone, or to those who currently see an entity; kicks; the end of the room. The room
//! drains it after the game's call returns, encodes each message once, and delivers it to
//! every recipient before that recipient's next snapshot.

use ticksync_protocol::{EntityId, PlayerId, Schema};

/// Who a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// One player.
    Player(PlayerId),
    /// Everyone in the room.
    All,
    /// Everyone but one player (e.g. the sender of a chat line that echoed it locally).
    AllExcept(PlayerId),
    /// Everyone whose current view holds this entity (with area of interest, those near it).
    Seeing(EntityId),
}

/// Something the game wants done to its players or its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Remove the player: it gets an error with `reason` and close code 4007.
    Kick { player: PlayerId, reason: String },
    /// End the room: every player gets an error with `reason` and close code 4008, and the
    /// room closes (a new one of the same name starts on the next join).
    EndRoom { reason: String },
}

/// A game's messages and commands of one call, in order.
#[derive(Debug)]
pub struct Outbox<S: Schema> {
    messages: Vec<(Recipients, S::ServerMessage)>,
    commands: Vec<Command>,
}

impl<S: Schema> Default for Outbox<S> {
    fn default() -> Self {
        Outbox {
            messages: Vec::new(),
            commands: Vec::new(),
        }
    }
}

impl<S: Schema> Outbox<S> {
    pub fn new() -> Self {
        Outbox::default()
    }

    /// Sends `message` to `player`.
    pub fn send(&mut self, player: PlayerId, message: S::ServerMessage) {
        self.messages.push((Recipients::Player(player), message));
    }

    /// Sends `message` to everyone in the room.
    pub fn broadcast(&mut self, message: S::ServerMessage) {
        self.messages.push((Recipients::All, message));
    }

    /// Sends `message` to whoever has `entity` in view this tick.
    pub fn send_to_seeing(&mut self, entity: EntityId, message: S::ServerMessage) {
        self.messages.push((Recipients::Seeing(entity), message));
    }

    /// Sends `message` to `recipients`.
    pub fn send_to(&mut self, recipients: Recipients, message: S::ServerMessage) {
        self.messages.push((recipients, message));
    }

    /// Removes `player` from the room with `reason`.
    pub fn kick(&mut self, player: PlayerId, reason: impl Into<String>) {
        self.commands.push(Command::Kick {
            player,
            reason: reason.into(),
        });
    }

    /// Ends the room (a match is over) with `reason`, which every player receives.
    pub fn end_room(&mut self, reason: impl Into<String>) {
        self.commands.push(Command::EndRoom {
            reason: reason.into(),
        });
    }

    /// The queued messages, oldest first, leaving the outbox empty of them.
    pub fn drain_messages(&mut self) -> std::vec::Drain<'_, (Recipients, S::ServerMessage)> {
        self.messages.drain(..)
    }

    /// The queued commands, oldest first, leaving the outbox empty of them.
    pub fn drain_commands(&mut self) -> std::vec::Drain<'_, Command> {
        self.commands.drain(..)
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.commands.is_empty()
    }
}
