//! Builds the per-client `Snapshot` frames of one tick from a single shared encoding of the
//! world's entities.

use bytes::Bytes;
use ticksync_protocol::codec::{self, CodecError, EncodedEntities};
use ticksync_protocol::{EntityState, InputSeq, Tick};

use crate::game::Game;

/// Largest per-client header of a snapshot frame: variant + tick + input sequence, each a
/// varint of at most 5 bytes.
const SNAPSHOT_HEADER_MAX_BYTES: usize = 16;

/// Reusable buffers for building one tick's snapshots.
#[derive(Debug, Default)]
pub struct SnapshotBuilder {
    tick: Tick,
    entities: Vec<EntityState>,
    encoded: EncodedEntities,
}

impl SnapshotBuilder {
    /// Collects and encodes the world's entities once for this tick.
    pub fn prepare<G: Game + ?Sized>(&mut self, tick: Tick, game: &G) -> Result<(), CodecError> {
        self.tick = tick;
        game.write_entities(&mut self.entities);
        self.encoded = EncodedEntities::new(&self.entities)?;
        Ok(())
    }

    /// The snapshot frame for a client whose last applied input is `last_input_seq`.
    pub fn frame_for(&self, last_input_seq: InputSeq) -> Result<Bytes, CodecError> {
        let mut frame = Vec::with_capacity(SNAPSHOT_HEADER_MAX_BYTES + self.encoded.len());
        codec::encode_snapshot(self.tick, last_input_seq, &self.encoded, &mut frame)?;
        Ok(Bytes::from(frame))
    }

    /// The entities of the prepared tick, in id order.
    pub fn entities(&self) -> &[EntityState] {
        &self.entities
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::arena::Arena;
    use ticksync_protocol::{codec::decode_server_message, ServerMessage};

    #[test]
    fn frames_decode_to_the_world_with_each_clients_sequence() {
        let mut arena = Arena::new(2000);
        for _ in 0..3 {
            arena.join("p");
        }
        let mut builder = SnapshotBuilder::default();
        builder.prepare(7, &arena).unwrap();
        for seq in [0, 1, 500] {
            let frame = builder.frame_for(seq).unwrap();
            let ServerMessage::Snapshot(snapshot) = decode_server_message(&frame).unwrap() else {
                panic!("not a snapshot");
            };
            assert_eq!(snapshot.tick, 7);
            assert_eq!(snapshot.last_input_seq, seq);
            assert_eq!(snapshot.entities, builder.entities());
            assert_eq!(snapshot.entities.len(), 3);
        }
    }
}
