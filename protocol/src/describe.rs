//! A game schema described as data: what a client in any language needs to apply delta
//! snapshots and verify checksums with no per-game code, and what the schema's identity
//! (its hash, carried in the WebSocket subprotocol) is computed from.
//!
//! The server serves it as JSON (`GET /schema`). For each entity field: its name, its wire
//! type, whether it is dead-reckoned (advanced every tick by a velocity field, its delta
//! then being an offset from the prediction) and whether the interest policy reads it as a
//! coordinate. The checksum order is the field order, after the entity id.

use serde::Serialize;

use crate::checksum::Checksum;

/// The wire types an entity field can have. bincode writes integers wider than a byte as
/// varints (zigzag for signed ones); JSON writes them as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WireType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    Bool,
    F32,
}

/// Which interest coordinate a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Axis {
    X,
    Y,
}

/// One field of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldDescription {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub wire_type: WireType,
    /// The field that advances this one every tick: `predicted = value + velocity × ticks`
    /// saturated to the type's range, and a delta carries `target − predicted` (wrapping).
    /// `None`: predicted unchanged, a delta carries the new value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predict: Option<&'static str>,
    /// The interest coordinate this field is, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interest: Option<Axis>,
}

/// The replicated state of a game's entities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityDescription {
    /// The Rust type's name, for humans.
    pub name: &'static str,
    /// Position units per world unit (e.g. 64: positions are in 1/64 of a unit): how the
    /// server turns an area-of-interest radius in world units into position units.
    pub position_scale: u32,
    /// In declaration order, which is the checksum order and the delta mask's bit order.
    pub fields: Vec<FieldDescription>,
}

impl EntityDescription {
    /// Index of the field called `name`.
    pub fn field(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|field| field.name == name)
    }
}

/// FNV-1a over a canonical text: the schema's identity.
pub fn layout_hash(canonical: &str) -> u32 {
    let mut checksum = Checksum::new();
    checksum.write_bytes(canonical.as_bytes());
    checksum.finish()
}
