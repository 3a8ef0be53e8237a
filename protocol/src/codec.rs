//! The byte format of every message, defined in one place: bincode 2 with its standard
//! configuration (little-endian, variable-length integers), one message per WebSocket frame.
//! The same messages also travel as JSON text frames ([`WireFormat::Json`], subprotocol
//! the schema's `json` subprotocol) for clients without a bincode decoder: same types, same
//! semantics, serde's default JSON representation. Every function is generic over the
//! game's [`Schema`]; monomorphized, a game pays nothing for the genericity.
//!
//! Every decode is bounded — the input length is checked against a per-direction limit before
//! bincode sees it, and bincode's own allocation limit is set to the same value — and every
//! failure is a [`CodecError`], never a panic. A frame must hold exactly one message:
//! trailing bytes are an error, so two peers can never disagree about where a message ends.

use bincode::config::{self, Configuration};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::messages::{Changed, ClientMessage, Entity, EntityId, InputSeq, ServerMessage, Tick};
use crate::replicated::Replicated;
use crate::schema::Schema;
pub use crate::wire_format::WireFormat;

/// Largest client message accepted. A `Hello` with the longest name is under 50 bytes and an
/// arena `Input` under 20; 1 KiB leaves room for a game's larger inputs and messages without
/// letting a peer make the server parse much.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 1024;

/// Largest server message a client accepts: a full snapshot of 100,000 arena entities at the
/// worst-case 24 bytes each fits, with margin.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Why a message could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("message is {actual} bytes; the limit is {limit}")]
    TooLarge { actual: usize, limit: usize },
    #[error("message has {extra} unexpected trailing bytes after {consumed}")]
    TrailingBytes { consumed: usize, extra: usize },
    #[error("malformed message: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    #[error("could not encode message: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    #[error("malformed JSON message: {0}")]
    Json(#[from] serde_json::Error),
}

/// Largest client message accepted on the JSON codec. JSON spells numbers and field names
/// out, so the same messages are a few times larger than in bincode: an `Input` is about 80
/// bytes, a `Hello` with the longest name about 100.
pub const MAX_CLIENT_JSON_MESSAGE_BYTES: usize = 2 * 1024;

/// Largest server message a JSON client accepts (a full snapshot of 100,000 entities at about
/// 70 bytes each fits).
pub const MAX_SERVER_JSON_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

impl WireFormat {
    /// Encodes a message; for [`WireFormat::Json`] the bytes are UTF-8 text.
    pub fn encode<M: Serialize>(self, message: &M) -> Result<Vec<u8>, CodecError> {
        match self {
            WireFormat::Bincode => encode(message),
            WireFormat::Json => Ok(serde_json::to_vec(message)?),
        }
    }

    /// Decodes one client message from a whole frame payload, bounded like
    /// [`decode_client_message`].
    pub fn decode_client_message<S: Schema>(
        self,
        frame: &[u8],
    ) -> Result<ClientMessage<S>, CodecError> {
        match self {
            WireFormat::Bincode => decode_client_message(frame),
            WireFormat::Json => decode_json(frame, MAX_CLIENT_JSON_MESSAGE_BYTES),
        }
    }

    /// Decodes one server message from a whole frame payload.
    pub fn decode_server_message<S: Schema>(
        self,
        frame: &[u8],
    ) -> Result<ServerMessage<S>, CodecError> {
        match self {
            WireFormat::Bincode => decode_server_message(frame),
            WireFormat::Json => decode_json(frame, MAX_SERVER_JSON_MESSAGE_BYTES),
        }
    }

    /// Largest client message this format accepts.
    pub fn max_client_message_bytes(self) -> usize {
        match self {
            WireFormat::Bincode => MAX_CLIENT_MESSAGE_BYTES,
            WireFormat::Json => MAX_CLIENT_JSON_MESSAGE_BYTES,
        }
    }
}

/// serde_json allocates in proportion to its input and refuses trailing non-whitespace, so
/// the length check up front bounds the work like bincode's budget does.
fn decode_json<M: DeserializeOwned>(frame: &[u8], limit: usize) -> Result<M, CodecError> {
    if frame.len() > limit {
        return Err(CodecError::TooLarge {
            actual: frame.len(),
            limit,
        });
    }
    Ok(serde_json::from_slice(frame)?)
}

/// The one configuration every encode and decode uses.
fn wire_config() -> Configuration {
    config::standard()
}

/// Encodes any protocol message into a fresh buffer.
pub fn encode<M: Serialize>(message: &M) -> Result<Vec<u8>, CodecError> {
    Ok(bincode::serde::encode_to_vec(message, wire_config())?)
}

/// Appends the encoding of `message` to `out` and returns the number of bytes written.
pub fn encode_into<M: Serialize>(message: &M, out: &mut Vec<u8>) -> Result<usize, CodecError> {
    Ok(bincode::serde::encode_into_std_write(
        message,
        out,
        wire_config(),
    )?)
}

/// Decodes one client message from a whole frame.
pub fn decode_client_message<S: Schema>(frame: &[u8]) -> Result<ClientMessage<S>, CodecError> {
    decode_bounded::<ClientMessage<S>, MAX_CLIENT_MESSAGE_BYTES, CLIENT_DECODE_BUDGET>(frame)
}

/// Decodes one server message from a whole frame.
pub fn decode_server_message<S: Schema>(frame: &[u8]) -> Result<ServerMessage<S>, CodecError> {
    decode_bounded::<ServerMessage<S>, MAX_SERVER_MESSAGE_BYTES, SERVER_DECODE_BUDGET>(frame)
}

/// bincode's decode budget counts both the bytes it reads and the memory it reserves for
/// strings and lists, so a frame at the size limit needs more than its own length. Four
/// times the frame limit admits every frame within the limit while still bounding what a
/// hostile length prefix can make the decoder reserve.
const DECODE_BUDGET_FACTOR: usize = 4;
const CLIENT_DECODE_BUDGET: usize = MAX_CLIENT_MESSAGE_BYTES * DECODE_BUDGET_FACTOR;
const SERVER_DECODE_BUDGET: usize = MAX_SERVER_MESSAGE_BYTES * DECODE_BUDGET_FACTOR;

fn decode_bounded<M: DeserializeOwned, const LIMIT: usize, const BUDGET: usize>(
    frame: &[u8],
) -> Result<M, CodecError> {
    if frame.len() > LIMIT {
        return Err(CodecError::TooLarge {
            actual: frame.len(),
            limit: LIMIT,
        });
    }
    let (message, consumed) =
        bincode::serde::decode_from_slice(frame, wire_config().with_limit::<BUDGET>())?;
    if consumed != frame.len() {
        return Err(CodecError::TrailingBytes {
            consumed,
            extra: frame.len() - consumed,
        });
    }
    Ok(message)
}

/// The body of a snapshot — its created, changed and removed lists — encoded once and
/// shared by every client whose snapshot has the same body (in everyone-sees-everyone mode,
/// all clients that acknowledged the same baseline).
///
/// bincode lays a struct out as its fields in order with no framing, so a `Snapshot` frame is
/// `variant | tick | baseline_tick | last_input_seq | input_margin_100us | checksum | created |
/// changed | removed`.
/// [`encode_snapshot`] writes the per-client header and appends this shared part, producing
/// exactly the bytes of `encode(&ServerMessage::Snapshot(..))` (a test holds it to that).
#[derive(Debug, Clone, Default)]
pub struct EncodedBody {
    bytes: Vec<u8>,
}

impl EncodedBody {
    /// Encodes the three lists of a snapshot body (each sorted by id).
    pub fn new<E: Replicated>(
        created: &[Entity<E>],
        changed: &[Changed<E>],
        removed: &[EntityId],
    ) -> Result<Self, CodecError> {
        Ok(EncodedBody {
            bytes: encode(&(created, changed, removed))?,
        })
    }

    /// Size of the shared part in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Index of `ServerMessage::Snapshot` among the enum's variants, as bincode writes it.
const SNAPSHOT_VARIANT: u32 = 1;

/// Whether a server frame encoded by this crate is a `Snapshot`, judged by its variant tag
/// alone (e.g. for a test hook that loses snapshots but not errors). Only for frames this
/// crate encoded: the decoder also accepts non-canonical varints (`fb 01 00` is variant 1
/// too), which this quick check does not recognise.
pub fn is_snapshot_frame(frame: &[u8]) -> bool {
    // Variant indices below 251 are a single varint byte.
    frame.first() == Some(&(SNAPSHOT_VARIANT as u8))
}

/// The per-client fields of a snapshot frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotHeader {
    pub tick: Tick,
    pub baseline_tick: Tick,
    pub last_input_seq: InputSeq,
    pub input_margin_100us: i16,
    pub checksum: u32,
}

/// Longest encoding of a [`SnapshotHeader`] with its variant tag: five varints of at most
/// five bytes and one of at most three.
pub const SNAPSHOT_HEADER_MAX_BYTES: usize = 28;

/// Appends a complete `ServerMessage::Snapshot` frame for one client to `out`.
pub fn encode_snapshot(
    header: SnapshotHeader,
    body: &EncodedBody,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let SnapshotHeader {
        tick,
        baseline_tick,
        last_input_seq,
        input_margin_100us,
        checksum,
    } = header;
    encode_into(
        &(
            SNAPSHOT_VARIANT,
            tick,
            baseline_tick,
            last_input_seq,
            input_margin_100us,
            checksum,
        ),
        out,
    )?;
    out.extend_from_slice(&body.bytes);
    Ok(())
}

#[cfg(test)]
mod tests;
