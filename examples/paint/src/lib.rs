//! "Paint", the tutorial game of the README: every player drives a brush around a board and
//! may change its colour. It shows everything a game declares on ticksync, in one file:
//!
//! 1. the replicated state of an entity (`#[derive(Replicated)]`: a dead-reckoned position
//!    and a `u8` colour),
//! 2. the input (a direction),
//! 3. a message each way (`Paint` from a client, `Painted` to everyone),
//! 4. the rules (`impl Game`), and
//! 5. bots for the swarm (`impl Bot`, `impl BotFactory`).
//!
//! `src/bin/paint-server.rs` and `src/bin/paint-sim.rs` are the two one-line binaries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ticksync_game::{Game, InputContext, JoinRequest, Outbox, Refusal, RoomContext};
use ticksync_protocol::{Entity, EntityId, PlayerId, Replicated, Schema};
use ticksync_sim::{Bot, BotFactory, Turn};

// 1. What every client sees of an entity. `predict = vx` makes `x` advance by `vx` every
//    tick on the client too (dead reckoning), so a brush moving straight costs no bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Replicated)]
pub struct Brush {
    #[replicated(predict = vx, interest_x)]
    pub x: i32,
    #[replicated(predict = vy, interest_y)]
    pub y: i32,
    pub vx: i16,
    pub vy: i16,
    pub color: u8,
}

// 2. What a player sends every tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stroke {
    pub dx: i8,
    pub dy: i8,
}

// 3. The game's messages, one type each way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaintRequest {
    Paint(u8),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaintEvent {
    Painted { player: PlayerId, color: u8 },
}

/// The schema ties the four types together under a name; its layout text is part of the
/// protocol's identity, so a client built for another layout is refused at connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaintSchema;

impl Schema for PaintSchema {
    const NAME: &'static str = "paint";
    const LAYOUT: &'static str =
        "input{dx:i8,dy:i8};client{Paint(u8)};server{Painted{player:u32,color:u8}}";
    type Entity = Brush;
    type Input = Stroke;
    type ClientMessage = PaintRequest;
    type ServerMessage = PaintEvent;
}

/// The game's settings, from `[game]` in the server's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaintSettings {
    /// Colours a brush may have (0 to `palette - 1`).
    pub palette: u8,
}

impl Default for PaintSettings {
    fn default() -> Self {
        PaintSettings { palette: 8 }
    }
}

// 4. The rules.
#[derive(Debug, Default)]
pub struct Paint {
    palette: u8,
    brushes: BTreeMap<PlayerId, Entity<Brush>>,
    next_id: u32,
}

impl Paint {
    pub fn for_room(room: &RoomContext<PaintSettings>) -> Paint {
        Paint {
            palette: room.settings.palette.max(1),
            next_id: 1,
            ..Paint::default()
        }
    }
}

impl Game for Paint {
    type Schema = PaintSchema;
    type Settings = PaintSettings;

    fn join(
        &mut self,
        request: &JoinRequest<'_>,
        _out: &mut Outbox<PaintSchema>,
    ) -> Result<Option<EntityId>, Refusal> {
        if request.name.is_empty() {
            return Err(Refusal::new("a painter needs a name"));
        }
        let id = EntityId(self.next_id);
        self.next_id += 1;
        let state = Brush {
            x: 0,
            y: 0,
            vx: 0,
            vy: 0,
            color: 0,
        };
        self.brushes.insert(request.player, Entity { id, state });
        Ok(Some(id))
    }

    fn leave(&mut self, player: PlayerId, _out: &mut Outbox<PaintSchema>) {
        self.brushes.remove(&player);
    }

    fn input(&mut self, context: InputContext, stroke: &Stroke) {
        if let Some(brush) = self.brushes.get_mut(&context.player) {
            // Inputs come from the network: a direction is clamped to one of -1, 0, 1.
            brush.state.vx = i16::from(stroke.dx.signum()) * 8;
            brush.state.vy = i16::from(stroke.dy.signum()) * 8;
        }
    }

    fn message(&mut self, player: PlayerId, request: PaintRequest, out: &mut Outbox<PaintSchema>) {
        let PaintRequest::Paint(color) = request;
        if let Some(brush) = self.brushes.get_mut(&player) {
            brush.state.color = color % self.palette;
            out.broadcast(PaintEvent::Painted {
                player,
                color: brush.state.color,
            });
        }
    }

    fn step(&mut self, _dt: f32, _out: &mut Outbox<PaintSchema>) {
        for brush in self.brushes.values_mut() {
            let state = &mut brush.state;
            state.x = state.x.saturating_add(i32::from(state.vx));
            state.y = state.y.saturating_add(i32::from(state.vy));
        }
    }

    fn write_entities(&self, out: &mut Vec<Entity<Brush>>) {
        out.clear();
        out.extend(self.brushes.values().cloned());
        out.sort_unstable_by_key(|brush| brush.id);
    }
}

// 5. Bots: each one wanders, repaints itself now and then, and counts the paint it saw.
#[derive(Debug, Default)]
pub struct PaintBot {
    index: u64,
    ticks: u64,
    painted_seen: u64,
}

impl Bot for PaintBot {
    type Schema = PaintSchema;

    fn on_message(&mut self, event: &PaintEvent) {
        let PaintEvent::Painted { .. } = event;
        self.painted_seen += 1;
    }

    fn next_input(&mut self, _turn: &Turn<'_, PaintSchema>) -> Option<Stroke> {
        self.ticks += 1;
        // A new direction every second, different per bot.
        let phase = (self.ticks / 30 + self.index) % 4;
        let (dx, dy) = [(1, 0), (0, 1), (-1, 0), (0, -1)][phase as usize];
        Some(Stroke { dx, dy })
    }

    fn next_message(&mut self, _turn: &Turn<'_, PaintSchema>) -> Option<PaintRequest> {
        (self.ticks % 60 == 1).then_some(PaintRequest::Paint((self.ticks / 60) as u8))
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![("painted_seen", self.painted_seen)]
    }
}

/// Makes the swarm's paint bots (one behaviour, `wander`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PaintBots;

impl BotFactory for PaintBots {
    type Bot = PaintBot;

    fn behaviours(&self) -> &[&'static str] {
        &["wander"]
    }

    fn bot(&self, _behaviour: &str, _seed: u64, index: usize) -> PaintBot {
        PaintBot {
            index: index as u64,
            ..PaintBot::default()
        }
    }
}
