//! A game's schema: the four types a game declares — its entity state, its input payload,
//! and its messages each way — and the identity they give the protocol.
//!
//! The envelope ([`crate::ClientMessage`], [`crate::ServerMessage`]) is generic over a
//! [`Schema`]; the server, the clients, the codecs and the sync machinery are written once
//! for every game. A schema's identity is its name and a hash of its layout; the WebSocket
//! subprotocol carries both (`ticksync.v2.arena.1a2b3c4d.bincode`), so a client built for
//! another layout is refused at the upgrade with a message naming both.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::describe::{layout_hash, EntityDescription};
use crate::replicated::Replicated;
use crate::wire_format::WireFormat;

/// What a game's input and messages must be: plain serde types the codecs can carry.
pub trait Payload:
    Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

impl<T> Payload for T where
    T: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
}

/// A game's protocol. Implement it on a unit struct in the game's crate:
///
/// ```ignore
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
/// pub struct ArenaSchema;
/// impl Schema for ArenaSchema {
///     const NAME: &'static str = "arena";
///     const LAYOUT: &'static str = "input: move_dir{x:i8,y:i8},buttons:u8; messages: none";
///     type Entity = ArenaEntity;
///     type Input = ArenaInput;
///     type ClientMessage = NoMessage;
///     type ServerMessage = ArenaEvent;
/// }
/// ```
pub trait Schema: Debug + Clone + Copy + PartialEq + Eq + Default + Send + Sync + 'static {
    /// The game's name: 1 to 32 of `[a-z0-9_-]`. It appears in the subprotocol.
    const NAME: &'static str;
    /// A canonical text of the input and message layouts, part of the schema hash: change it
    /// whenever those types change shape. The entity's layout is hashed from its derived
    /// description, so it needs no mention here.
    const LAYOUT: &'static str;
    /// The replicated state of one entity.
    type Entity: Replicated;
    /// What a player's input carries besides the sequence number and the acknowledgement.
    type Input: Payload;
    /// The game's messages from clients.
    type ClientMessage: Payload;
    /// The game's messages to clients.
    type ServerMessage: Payload;
}

/// The message type of a game that has none in that direction. It has no values, so it
/// never decodes: a client that sends a game message to such a game gets a decode error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoMessage {}

/// Version of the envelope: the messages every game shares. Bumped on any incompatible
/// change to them; a game's own types are covered by its schema hash instead.
pub const ENVELOPE_VERSION: u16 = 2;

/// Everything about a schema that a client needs, and its identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SchemaDescription {
    pub envelope_version: u16,
    pub game: &'static str,
    /// Eight lowercase hex digits.
    pub hash: String,
    /// Subprotocols by codec name (`bincode`, `json`).
    pub subprotocols: std::collections::BTreeMap<&'static str, String>,
    pub entity: EntityDescription,
    /// The canonical text of the input and message layouts, as the game declared it.
    pub layout: &'static str,
}

/// The schema's identity hash: FNV-1a over the envelope version, the game's name, its
/// entity description and its declared layout.
pub fn schema_hash<S: Schema>() -> u32 {
    let entity = serde_json::to_string(&S::Entity::description()).unwrap_or_default();
    layout_hash(&format!(
        "ticksync.v{ENVELOPE_VERSION};game={};entity={entity};layout={}",
        S::NAME,
        S::LAYOUT
    ))
}

/// The description served at `GET /schema`.
pub fn describe<S: Schema>() -> SchemaDescription {
    SchemaDescription {
        envelope_version: ENVELOPE_VERSION,
        game: S::NAME,
        hash: format!("{:08x}", schema_hash::<S>()),
        subprotocols: WireFormat::ALL
            .into_iter()
            .map(|format| (format.codec_name(), subprotocol::<S>(format)))
            .collect(),
        entity: S::Entity::description(),
        layout: S::LAYOUT,
    }
}

/// The WebSocket subprotocol of this schema in `format`:
/// `ticksync.v{ENVELOPE_VERSION}.{game}.{hash}.{codec}`.
pub fn subprotocol<S: Schema>(format: WireFormat) -> String {
    format!(
        "ticksync.v{ENVELOPE_VERSION}.{}.{:08x}.{}",
        S::NAME,
        schema_hash::<S>(),
        format.codec_name()
    )
}

/// A subprotocol name taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedSubprotocol<'a> {
    pub envelope_version: &'a str,
    pub game: &'a str,
    pub hash: &'a str,
    pub format: Option<WireFormat>,
}

/// Reads `ticksync.v2.arena.1a2b3c4d.bincode`; `None` for anything that is not a ticksync
/// subprotocol at all.
pub fn parse_subprotocol(name: &str) -> Option<OfferedSubprotocol<'_>> {
    let mut parts = name.split('.');
    if parts.next()? != "ticksync" {
        return None;
    }
    let envelope_version = parts.next()?;
    let game = parts.next()?;
    let hash = parts.next()?;
    let codec = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    Some(OfferedSubprotocol {
        envelope_version,
        game,
        hash,
        format: WireFormat::from_codec_name(codec),
    })
}

/// Whether `name` is a valid game name for [`Schema::NAME`].
pub fn is_valid_game_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// A schema's identity as plain data (no type parameter): what the server's handshake and a
/// client's connect compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaIdentity {
    pub game: &'static str,
    /// Eight lowercase hex digits.
    pub hash: String,
    bincode: String,
    json: String,
}

impl SchemaIdentity {
    /// The identity of schema `S`.
    pub fn of<S: Schema>() -> SchemaIdentity {
        SchemaIdentity {
            game: S::NAME,
            hash: format!("{:08x}", schema_hash::<S>()),
            bincode: subprotocol::<S>(WireFormat::Bincode),
            json: subprotocol::<S>(WireFormat::Json),
        }
    }

    /// The subprotocol that selects `format` for this schema.
    pub fn subprotocol(&self, format: WireFormat) -> &str {
        match format {
            WireFormat::Bincode => &self.bincode,
            WireFormat::Json => &self.json,
        }
    }

    /// The format an offered subprotocol selects, if it is one of this schema's.
    pub fn format_of(&self, offered: &str) -> Option<WireFormat> {
        WireFormat::ALL
            .into_iter()
            .find(|format| self.subprotocol(*format) == offered)
    }
}

impl std::fmt::Display for SchemaIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.game, self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TokenSchema;

    #[test]
    fn subprotocols_name_the_game_its_hash_and_the_codec() {
        let identity = SchemaIdentity::of::<TokenSchema>();
        let bincode = identity.subprotocol(WireFormat::Bincode).to_owned();
        assert_eq!(
            bincode,
            format!("ticksync.v2.tokens.{}.bincode", identity.hash)
        );
        assert_eq!(identity.format_of(&bincode), Some(WireFormat::Bincode));
        let parsed = parse_subprotocol(&bincode).unwrap();
        assert_eq!(
            (parsed.game, parsed.hash),
            ("tokens", identity.hash.as_str())
        );
        assert_eq!(parse_subprotocol("chat"), None);
        assert!(is_valid_game_name(TokenSchema::NAME));
    }

    #[test]
    fn the_hash_follows_the_layout() {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        struct Changed;
        impl Schema for Changed {
            const NAME: &'static str = "tokens";
            const LAYOUT: &'static str = "input{thrust:i16,fire:bool}";
            type Entity = crate::testing::Token;
            type Input = crate::testing::TokenInput;
            type ClientMessage = NoMessage;
            type ServerMessage = NoMessage;
        }
        assert_ne!(schema_hash::<Changed>(), schema_hash::<TokenSchema>());
        assert_eq!(schema_hash::<TokenSchema>(), schema_hash::<TokenSchema>());
        let description = serde_json::to_value(describe::<TokenSchema>()).unwrap();
        assert_eq!(description["entity"]["fields"][0]["predict"], "dx");
        assert_eq!(description["entity"]["fields"][4]["type"], "u8");
        assert_eq!(description["entity"]["position_scale"], 16);
    }
}
