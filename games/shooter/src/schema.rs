//! The shooter's protocol: a fighter's replicated state, the input (move, aim, fire and the
//! sender's interpolation delay), the chat line a player sends, and the events the room
//! sends (join details, hits, kills with the score change they make, rounds, chat).
//!
//! Shots are not entities: a shot is judged the tick it is fired (hitscan), and every
//! client draws it from the shooter's `shots` counter, which changes by one per shot and
//! costs one field in a delta. Only what a shot *did* travels as an event: a hit to the two
//! players concerned, a kill (with the score change it makes) to everyone.

use serde::{Deserialize, Serialize};
use ticksync_protocol::{EntityId, PlayerId, Replicated, Schema};

/// One fighter as every client sees it, in wire units: positions in 1/64 world unit,
/// velocities in position steps per tick, the aim in 1/65536 turn (0 = +x,
/// counter-clockwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Replicated)]
#[replicated(position_scale = 64)]
pub struct Fighter {
    #[replicated(predict = vx, interest_x)]
    pub x: i32,
    #[replicated(predict = vy, interest_y)]
    pub y: i32,
    /// Position steps moved in the last tick (zero where a wall stopped it, and while dead).
    pub vx: i16,
    pub vy: i16,
    pub aim: u16,
    /// 0: dead, waiting to respawn.
    pub health: u8,
    /// 0 or 1.
    pub team: u8,
    /// Kills this round.
    pub score: u16,
    /// Shots fired, wrapping: a client draws a shot along `aim` whenever it changes.
    pub shots: u8,
}

impl Fighter {
    pub fn alive(&self) -> bool {
        self.health > 0
    }
}

/// What a player sends every tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShooterInput {
    /// Move direction, each axis in [-127, 127] meaning [-1, 1]; the length is clamped to 1.
    pub move_x: i8,
    pub move_y: i8,
    /// Where the fighter aims, 1/65536 turn, 0 = +x, counter-clockwise.
    pub aim: u16,
    /// The trigger: a shot goes off whenever the weapon is ready.
    pub fire: bool,
    /// How many ticks behind its newest snapshot the sender draws the other fighters (its
    /// interpolation delay; 0 for a client that draws its newest snapshot). The server
    /// judges a shot against the world as of `ack_tick - view_delay`, no further back than
    /// its rewind window.
    pub view_delay: u8,
}

/// What a player may send besides inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShooterRequest {
    /// A chat line to the room (at most [`crate::chat::MAX_CHAT_CHARS`] characters, a few
    /// lines a second).
    Say(String),
}

/// Why a round ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoundEnd {
    /// A team reached the kills the round is played to.
    Kills,
    /// The time limit ran out.
    Time,
}

/// What the room tells players. Events of tick T arrive before the snapshot of tick T, so
/// they never contradict the state a client holds: a `Killed` victim shows 0 health in the
/// very next snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShooterEvent {
    /// To a player who joins, before its first snapshot: the world, its team and the rules.
    Joined {
        world_size: u32,
        team: u8,
        round: u32,
        kills_to_win: u16,
        /// Ticks left in the round (0 in an intermission).
        round_ticks_left: u32,
        /// The longest rewind a shot is judged with, in ticks.
        rewind_ticks: u16,
        max_health: u8,
        /// Movement speed, units per second (for the client's prediction).
        speed: u32,
    },
    /// A round began: scores are 0 and everyone has respawned.
    RoundStarted { round: u32, round_ticks: u32 },
    /// A shot hit (to the shooter's and the target's players).
    Hit {
        shooter: EntityId,
        target: EntityId,
        damage: u8,
        /// The target's health after the hit.
        health: u8,
    },
    /// A fighter died (to everyone), and the score change it made: the killer's new score
    /// and each team's kills this round. One message per kill, for the kill feed and the
    /// scoreboard alike.
    Killed {
        killer: EntityId,
        victim: EntityId,
        killer_score: u16,
        team_kills: [u16; 2],
    },
    /// The round is over (to everyone): the winning team (`None`: a draw), each team's
    /// kills, the best fighter, and why.
    RoundEnded {
        round: u32,
        winner: Option<u8>,
        team_kills: [u16; 2],
        best: Option<EntityId>,
        reason: RoundEnd,
    },
    /// A chat line (to everyone in the room, its sender included).
    Chat {
        from: PlayerId,
        name: String,
        text: String,
    },
    /// The sender's chat line was not sent, and why.
    ChatRefused { reason: String },
}

/// The shooter's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShooterSchema;

impl Schema for ShooterSchema {
    const NAME: &'static str = "shooter";
    const LAYOUT: &'static str = "input{move_x:i8,move_y:i8,aim:u16,fire:bool,view_delay:u8};\
        client{Say(string)};\
        server{Joined{world_size:u32,team:u8,round:u32,kills_to_win:u16,round_ticks_left:u32,rewind_ticks:u16,max_health:u8,speed:u32},\
        RoundStarted{round:u32,round_ticks:u32},Hit{shooter:u32,target:u32,damage:u8,health:u8},\
        Killed{killer:u32,victim:u32,killer_score:u16,team_kills:[u16;2]},\
        RoundEnded{round:u32,winner:option<u8>,team_kills:[u16;2],best:option<u32>,reason:{Kills,Time}},\
        Chat{from:u32,name:string,text:string},ChatRefused{reason:string}}";
    type Entity = Fighter;
    type Input = ShooterInput;
    type ClientMessage = ShooterRequest;
    type ServerMessage = ShooterEvent;
}
