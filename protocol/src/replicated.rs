//! The seam between a game's entity state and the replication machinery.
//!
//! A game declares its entity state as a struct of plain wire fields and derives
//! [`Replicated`] for it (`#[derive(Replicated)]` from `ticksync-derive`): per-field deltas,
//! dead reckoning, checksums, the position interest reads and a description for clients in
//! other languages all come from the declaration. Entity ids are not part of the state: the
//! envelope carries them ([`crate::Entity`]), so every game's ids work the same way.
//!
//! The checksum is FNV-1a over little-endian field bytes: the entity's id (`u32`), then its
//! fields in declaration order; a view's checksum is FNV-1a over its entities' checksums in
//! id order. Simple to reimplement in any language, which matters more here than speed or
//! strength: it detects divergence, it does not defend against forgery.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::checksum::Checksum;
use crate::describe::{EntityDescription, WireType};
use crate::ids::EntityId;

/// Replicated state of one entity, in wire units. Derive it; implementing it by hand is
/// possible but the description must then match the encoding exactly.
pub trait Replicated:
    Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// What travels when the entity changed: only the fields that differ from the
    /// prediction.
    type Delta: Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// The state expected `ticks` ticks after this one if nothing changes (dead reckoning).
    /// Server and client call the same function, so a correct prediction costs no bytes.
    fn predict(&self, ticks: u32) -> Self;

    /// The delta turning `predicted` into `self`, or `None` when they are equal.
    fn diff(&self, predicted: &Self) -> Option<Self::Delta>;

    /// Applies a delta produced by [`Replicated::diff`] to the same prediction.
    fn apply(predicted: &Self, delta: &Self::Delta) -> Self;

    /// Feeds every field, in declaration order, to the checksum.
    fn checksum_into(&self, checksum: &mut Checksum);

    /// The position the built-in area-of-interest policy reads, in the entity's own units;
    /// `None` for entities without one (then every player sees them).
    fn position(&self) -> Option<(i32, i32)>;

    /// The wire layout: field names and types, prediction rules, checksum order.
    fn description() -> EntityDescription;
}

/// A type that can be a field of a [`Replicated`] entity: a fixed-size primitive with a
/// defined checksum encoding.
pub trait WireField:
    Clone + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    const WIRE_TYPE: WireType;

    /// Feeds the field's little-endian bytes to the checksum.
    fn checksum_into(&self, checksum: &mut Checksum);
}

macro_rules! wire_fields {
    ($($ty:ty => $wire:ident),* $(,)?) => {$(
        impl WireField for $ty {
            const WIRE_TYPE: WireType = WireType::$wire;

            fn checksum_into(&self, checksum: &mut Checksum) {
                checksum.write_bytes(&self.to_le_bytes());
            }
        }
    )*};
}

wire_fields!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, u64 => U64, i64 => I64);

impl WireField for bool {
    const WIRE_TYPE: WireType = WireType::Bool;

    fn checksum_into(&self, checksum: &mut Checksum) {
        checksum.write_bytes(&[u8::from(*self)]);
    }
}

impl WireField for f32 {
    const WIRE_TYPE: WireType = WireType::F32;

    /// The IEEE-754 bits, so the checksum is exact whatever the value (NaN payloads
    /// included).
    fn checksum_into(&self, checksum: &mut Checksum) {
        checksum.write_bytes(&self.to_bits().to_le_bytes());
    }
}

/// What `#[derive(Replicated)]` generates calls to. Public so generated code in other crates
/// can reach it; not meant to be called by hand.
#[doc(hidden)]
pub mod derive_support {
    /// Integer wire fields: what dead reckoning needs.
    pub trait Integer: Copy {
        fn to_i128(self) -> i128;
        /// The value, saturated to the type's range.
        fn from_i128_saturating(value: i128) -> Self;
        fn wrapping_sub(self, other: Self) -> Self;
        fn wrapping_add(self, other: Self) -> Self;
    }

    macro_rules! integers {
        ($($ty:ty),*) => {$(
            impl Integer for $ty {
                fn to_i128(self) -> i128 {
                    i128::from(self)
                }

                fn from_i128_saturating(value: i128) -> Self {
                    value.clamp(i128::from(<$ty>::MIN), i128::from(<$ty>::MAX)) as $ty
                }

                fn wrapping_sub(self, other: Self) -> Self {
                    <$ty>::wrapping_sub(self, other)
                }

                fn wrapping_add(self, other: Self) -> Self {
                    <$ty>::wrapping_add(self, other)
                }
            }
        )*};
    }

    integers!(u8, i8, u16, i16, u32, i32, u64, i64);

    /// `position + velocity × ticks`, saturated to the position's type.
    pub fn advance<P: Integer, V: Integer>(position: P, velocity: V, ticks: u32) -> P {
        P::from_i128_saturating(
            position
                .to_i128()
                .saturating_add(velocity.to_i128().saturating_mul(i128::from(ticks))),
        )
    }

    /// What a predicted field's delta carries: the target minus the prediction, wrapping
    /// (small numbers when the prediction was close, so short varints).
    pub fn offset<P: Integer>(target: P, predicted: P) -> P {
        target.wrapping_sub(predicted)
    }

    /// The inverse of [`offset`].
    pub fn add_offset<P: Integer>(predicted: P, offset: P) -> P {
        predicted.wrapping_add(offset)
    }

    /// A position field as an interest coordinate.
    pub fn coordinate<P: Integer>(value: P) -> i32 {
        i32::from_i128_saturating(value.to_i128())
    }
}

/// Checksum of one entity: its id, then its fields in declaration order.
pub fn entity_checksum<E: Replicated>(id: EntityId, state: &E) -> u32 {
    let mut checksum = Checksum::new();
    checksum.write_u32(id.0);
    state.checksum_into(&mut checksum);
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

/// Checksum of a view (entities sorted by id), as carried in a snapshot.
pub fn view_checksum<E: Replicated>(view: &[crate::Entity<E>]) -> u32 {
    view_checksum_from(
        view.iter()
            .map(|entity| entity_checksum(entity.id, &entity.state)),
    )
}

#[cfg(test)]
mod tests {
    use super::derive_support::*;
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

    #[test]
    fn dead_reckoning_saturates_and_offsets_wrap() {
        assert_eq!(advance(10i32, 3i16, 5), 25);
        assert_eq!(advance(i32::MAX - 1, 7i16, u32::MAX), i32::MAX);
        assert_eq!(advance(5u8, -3i8, 4), 0);
        assert_eq!(advance(i64::MIN, -1i64, u32::MAX), i64::MIN);
        assert_eq!(offset(i32::MIN, i32::MAX), 1);
        assert_eq!(add_offset(i32::MAX, 1), i32::MIN);
        assert_eq!(coordinate(u64::MAX), i32::MAX);
    }
}
