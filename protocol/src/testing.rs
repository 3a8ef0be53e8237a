//! A small game schema that is not the arena's, for tests of the generic machinery: three
//! kinds of field (a dead-reckoned position, a `u8`, a `bool`), an input with two fields, and
//! a message each way. Enabled by the `testing` feature (and in this crate's own tests).

use serde::{Deserialize, Serialize};

use crate::messages::PlayerId;
use crate::schema::Schema;
use crate::Replicated;

/// A token on a board: moves, has hit points, may be down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Replicated)]
#[replicated(position_scale = 16)]
pub struct Token {
    #[replicated(predict = dx, interest_x)]
    pub x: i32,
    #[replicated(predict = dy, interest_y)]
    pub y: i32,
    pub dx: i16,
    pub dy: i16,
    pub hp: u8,
    pub down: bool,
}

/// The test game's input: a thrust and a trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenInput {
    pub thrust: i8,
    pub fire: bool,
}

/// Messages from a test client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenClientMessage {
    Say(String),
    Ready,
}

/// Messages to a test client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenServerMessage {
    Said { from: PlayerId, text: String },
    Scored(u32),
}

/// The test game's schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenSchema;

impl Schema for TokenSchema {
    const NAME: &'static str = "tokens";
    const LAYOUT: &'static str = "input{thrust:i8,fire:bool};client{Say(string),Ready};server{Said{from:u32,text:string},Scored(u32)}";
    type Entity = Token;
    type Input = TokenInput;
    type ClientMessage = TokenClientMessage;
    type ServerMessage = TokenServerMessage;
}
