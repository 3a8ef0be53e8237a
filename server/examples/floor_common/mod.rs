//! What the two floor programs (`floor.rs`, `floor_lean.rs`) share: their flags, the filler
//! world whose full snapshot has the size asked for, the snapshot frame encoded from it each
//! tick, and the server's side of the handshake (the subprotocol answer and the `Welcome`).
//! The programs differ only in how they move those bytes.

use std::net::SocketAddr;

use clap::Args;
use http::HeaderValue;
use ticksync_arena::{ArenaEntity, ArenaSchema};
use ticksync_protocol::codec::{encode, encode_snapshot, CodecError, EncodedBody, SnapshotHeader};
use ticksync_protocol::replicated::view_checksum;
use ticksync_protocol::schema::subprotocol;
use ticksync_protocol::{Entity, EntityId, PlayerId, ServerMessage, Tick, Welcome, WireFormat};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

/// The flags both floors take.
#[derive(Debug, Args)]
pub struct FloorFlags {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7990")]
    pub bind: SocketAddr,
    /// Frames per second to every connection.
    #[arg(long, default_value_t = 30)]
    pub tick_rate: u16,
    /// Approximate size of each frame in bytes (the real server's downlink per snapshot).
    #[arg(long, default_value_t = 170)]
    pub frame_bytes: usize,
}

/// Bytes one arena entity takes in a full snapshot, to size the filler.
const ENTITY_BYTES: usize = 17;

/// The one snapshot every connection gets each tick: a full snapshot of filler entities,
/// valid for `ticksync-sim` (its checksum is right), encoded once.
pub struct FloorSnapshot {
    body: EncodedBody,
    checksum: u32,
}

impl FloorSnapshot {
    /// A snapshot of entities whose full encoding is about `bytes` long.
    pub fn of_size(bytes: usize) -> Result<FloorSnapshot, CodecError> {
        let entities: Vec<Entity<ArenaEntity>> = (0..(bytes / ENTITY_BYTES).max(1) as u32)
            .map(|i| Entity {
                id: EntityId(i + 1),
                state: ArenaEntity {
                    x: 64_000 + i as i32,
                    y: 64_000,
                    vx: 0,
                    vy: 0,
                    heading: 0,
                },
            })
            .collect();
        Ok(FloorSnapshot {
            body: EncodedBody::new::<ArenaEntity>(&entities, &[], &[])?,
            checksum: view_checksum(&entities),
        })
    }

    /// Appends the snapshot message of `tick` to `out`.
    pub fn encode(&self, tick: Tick, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let header = SnapshotHeader {
            tick,
            baseline_tick: 0,
            last_input_seq: 0,
            input_margin_100us: 0,
            checksum: self.checksum,
        };
        encode_snapshot(header, &self.body, out)
    }
}

/// The upgrade's answer: the arena's bincode subprotocol, as the server names it.
// The closure's signature is tungstenite's handshake callback; its error type is theirs.
#[allow(clippy::result_large_err)]
pub fn subprotocol_answer(
) -> anyhow::Result<impl FnOnce(&Request, Response) -> Result<Response, ErrorResponse> + Unpin> {
    let protocol = HeaderValue::from_str(&subprotocol::<ArenaSchema>(WireFormat::Bincode))?;
    Ok(move |_: &Request, mut response: Response| {
        response
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol);
        Ok(response)
    })
}

/// The `Welcome` a floor answers every `Hello` with, encoded.
pub fn welcome(tick_rate: u16) -> Result<Vec<u8>, CodecError> {
    encode(&ServerMessage::<ArenaSchema>::Welcome(Welcome {
        player_id: PlayerId(1),
        entity_id: Some(EntityId(1)),
        tick_rate_hz: tick_rate,
        tick: 0,
        resume_token: String::new(),
        resumed: false,
    }))
}
