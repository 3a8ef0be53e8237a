//! A small game that is not the arena, built only on the public API, for the end-to-end
//! tests of the generic core: the protocol crate's test schema ([`TokenSchema`]: a token
//! with a dead-reckoned position, hit points (`u8`) and a `down` flag; an input of a thrust
//! and a trigger; chat each way, and a score event) with rules that exercise every hook.
//!
//! - join: a name starting with `banned` is refused; everyone else gets a token.
//! - join: everyone is told `Said { from, "NAME joined" }`.
//! - input: `thrust` sets the token's velocity (its position is dead-reckoned, so a steady
//!   thrust costs nothing in a delta); `fire` costs the shooter one hit point, and the last
//!   one puts it `down`.
//! - messages: `Say(text)` is broadcast as `Said`; `Say("kick me")` kicks the sender;
//!   `Say("end")` ends the room; `Ready` is answered in the next step with `Scored(n)` to
//!   the sender alone, `n` being the number of that step — the tick the room publishes next.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ticksync_game::{Game, InputContext, JoinRequest, Outbox, Refusal, RoomContext};
use ticksync_protocol::testing::{
    Token, TokenClientMessage, TokenInput, TokenSchema, TokenServerMessage,
};
use ticksync_protocol::{Entity, EntityId, PlayerId};

/// The token game's settings (`[game]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// Hit points a token starts with.
    pub hp: u8,
}

/// The token game.
#[derive(Debug, Default)]
pub struct TokenGame {
    tokens: BTreeMap<PlayerId, Entity<Token>>,
    next_entity: u32,
    steps: u32,
    start_hp: u8,
    /// `Ready`s received since the last step, answered in the next step.
    ready: Vec<PlayerId>,
}

impl TokenGame {
    pub fn for_room(room: &RoomContext<TokenSettings>) -> TokenGame {
        TokenGame {
            start_hp: if room.settings.hp == 0 {
                10
            } else {
                room.settings.hp
            },
            next_entity: 1,
            ..TokenGame::default()
        }
    }
}

impl Game for TokenGame {
    type Schema = TokenSchema;
    type Settings = TokenSettings;

    fn join(
        &mut self,
        request: &JoinRequest<'_>,
        out: &mut Outbox<TokenSchema>,
    ) -> Result<Option<EntityId>, Refusal> {
        if request.name.starts_with("banned") {
            return Err(Refusal::new(format!(
                "{} is banned from room {}",
                request.name, request.room
            )));
        }
        let id = EntityId(self.next_entity);
        self.next_entity += 1;
        self.tokens.insert(
            request.player,
            Entity {
                id,
                state: Token {
                    x: (id.0 as i32) * 100,
                    y: 0,
                    dx: 0,
                    dy: 0,
                    hp: self.start_hp,
                    down: false,
                },
            },
        );
        out.broadcast(TokenServerMessage::Said {
            from: request.player,
            text: format!("{} joined", request.name),
        });
        Ok(Some(id))
    }

    fn leave(&mut self, player: PlayerId, _out: &mut Outbox<TokenSchema>) {
        self.tokens.remove(&player);
    }

    fn input(&mut self, context: InputContext, input: &TokenInput) {
        if let Some(token) = self.tokens.get_mut(&context.player) {
            token.state.dx = i16::from(input.thrust);
            if input.fire {
                token.state.hp = token.state.hp.saturating_sub(1);
                token.state.down = token.state.hp == 0;
            }
        }
    }

    fn message(
        &mut self,
        player: PlayerId,
        message: TokenClientMessage,
        out: &mut Outbox<TokenSchema>,
    ) {
        match message {
            // The game's last words go out in the same tick as the kick or the end of the
            // room: they must reach the players before the close.
            TokenClientMessage::Say(text) if text == "kick me" => {
                out.send(
                    player,
                    TokenServerMessage::Said {
                        from: player,
                        text: "bye".into(),
                    },
                );
                out.kick(player, "you asked for it")
            }
            TokenClientMessage::Say(text) if text == "end" => {
                out.broadcast(TokenServerMessage::Said {
                    from: player,
                    text: "final score".into(),
                });
                out.end_room("match over: someone said end")
            }
            TokenClientMessage::Say(text) => {
                out.broadcast(TokenServerMessage::Said { from: player, text })
            }
            TokenClientMessage::Ready => self.ready.push(player),
        }
    }

    fn step(&mut self, _dt: f32, out: &mut Outbox<TokenSchema>) {
        self.steps += 1;
        for token in self.tokens.values_mut() {
            token.state.x = token.state.x.saturating_add(i32::from(token.state.dx));
        }
        for player in self.ready.drain(..) {
            out.send(player, TokenServerMessage::Scored(self.steps));
        }
    }

    fn write_entities(&self, out: &mut Vec<Entity<Token>>) {
        out.clear();
        out.extend(self.tokens.values().cloned());
        out.sort_unstable_by_key(|entity| entity.id);
    }
}
