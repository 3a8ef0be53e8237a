//! The seam between a game's entity state and the replication machinery.
//!
//! Delta encoding ([`crate::delta`]), dead reckoning and desync checksums work over any type
//! that implements [`Replicated`]. The arena's [`crate::EntityState`] is the first user; a
//! game that adds a component (say `health: u8`) adds the field to its state and its delta
//! and extends these few methods — the server's `net` and `room` layers never change.

use crate::messages::EntityId;

/// Replicated state of one entity, in wire units.
pub trait Replicated: Clone + PartialEq {
    /// What travels when the entity changed: only what differs from the prediction.
    type Delta: Clone + PartialEq;

    /// The entity's id; lists of states are kept sorted by it.
    fn id(&self) -> EntityId;

    /// The state expected `ticks` ticks after this one if nothing changes (dead reckoning).
    /// Server and client call the same function, so a correct prediction costs no bytes.
    /// The default predicts no change.
    fn predict(&self, ticks: u32) -> Self {
        let _ = ticks;
        self.clone()
    }

    /// The delta turning `predicted` into `self`, or `None` when they are equal.
    fn delta_from(&self, predicted: &Self) -> Option<Self::Delta>;

    /// Applies a delta produced by [`Replicated::delta_from`] to the same prediction.
    fn apply_delta(predicted: &Self, delta: &Self::Delta) -> Self;

    /// The id a delta refers to.
    fn delta_id(delta: &Self::Delta) -> EntityId;

    /// Position in wire units, used for area-of-interest queries.
    fn position(&self) -> (i32, i32);

    /// Feeds every replicated field, in a fixed order, to the checksum.
    fn checksum_into(&self, checksum: &mut Checksum);
}

/// 32-bit FNV-1a, fed with little-endian field bytes. Simple to reimplement in any client
/// language, which matters more here than speed or strength: it detects divergence, it does
/// not defend against forgery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum(u32);

const FNV_OFFSET_BASIS: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

impl Default for Checksum {
    fn default() -> Self {
        Checksum(FNV_OFFSET_BASIS)
    }
}

impl Checksum {
    pub fn new() -> Checksum {
        Checksum::default()
    }

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u32::from(*byte)).wrapping_mul(FNV_PRIME);
        }
    }

    pub fn write_u32(&mut self, value: u32) {
        self.write_bytes(&value.to_le_bytes());
    }

    pub fn write_i32(&mut self, value: i32) {
        self.write_bytes(&value.to_le_bytes());
    }

    pub fn write_u16(&mut self, value: u16) {
        self.write_bytes(&value.to_le_bytes());
    }

    pub fn write_i16(&mut self, value: i16) {
        self.write_bytes(&value.to_le_bytes());
    }

    pub fn write_u8(&mut self, value: u8) {
        self.write_bytes(&[value]);
    }

    pub fn finish(self) -> u32 {
        self.0
    }
}

/// Checksum of one entity's state.
pub fn entity_checksum<E: Replicated>(entity: &E) -> u32 {
    let mut checksum = Checksum::new();
    entity.checksum_into(&mut checksum);
    checksum.finish()
}

/// Checksum of a view given each entity's checksum in id order: FNV-1a over the
/// little-endian bytes of the per-entity checksums. An empty view hashes to the FNV offset
/// basis.
pub fn view_checksum_from(entity_checksums: impl IntoIterator<Item = u32>) -> u32 {
    let mut checksum = Checksum::new();
    for value in entity_checksums {
        checksum.write_u32(value);
    }
    checksum.finish()
}

/// Checksum of a view (entities sorted by id), as carried in `Snapshot::checksum`.
pub fn view_checksum<E: Replicated>(view: &[E]) -> u32 {
    view_checksum_from(view.iter().map(entity_checksum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // Published FNV-1a 32-bit test vectors.
        let hash = |s: &str| {
            let mut c = Checksum::new();
            c.write_bytes(s.as_bytes());
            c.finish()
        };
        assert_eq!(hash(""), 0x811c9dc5);
        assert_eq!(hash("a"), 0xe40c292c);
        assert_eq!(hash("foobar"), 0xbf9cf968);
    }
}
