//! The read side of a lane: the bytes read from the socket and who gets them.
//!
//! A playing bincode connection is read by its room, at its ticks ([`ReadMode::Room`]): the
//! room takes the inputs and acknowledgements itself, without a wake-up of the session's task
//! per input, and every other frame (game messages, pings, `Leave`, the close, anything odd)
//! goes to the session whole and in order, which reads it through tungstenite as before.
//! Handing over from the session to the room has to happen at a frame boundary, so until
//! then tungstenite is never given bytes past the end of the frame it is reading
//! ([`ReadMode::Frames`]).

use std::io::{self, Cursor};
use std::task::Waker;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use crate::net::limits::{GameMessageBudget, MessageRateLimiter, RateDecision};

/// Buffer capacity kept when a buffer empties: a large frame's memory goes back.
const KEPT_CAPACITY: usize = 4096;

/// Who reads the connection now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadMode {
    /// The session reads the socket as it comes (HTTP, TLS, JSON, or after the room let go).
    Passthrough,
    /// The session reads, but tungstenite gets no byte past the end of the frame it reads.
    Frames,
    /// The room reads at its ticks; the session gets only the frames the room leaves it.
    Room,
}

/// Why the room's reading stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEnd {
    /// The client closed the connection.
    PeerGone,
    /// Reading failed.
    Failed(io::ErrorKind),
    /// Over the message rate for longer than the flood timeout.
    Flooding,
}

/// What the room does with a payload it is offered, given the game message budget: whether
/// it took it.
pub type OfferFrame<'a> = dyn FnMut(&[u8], &mut Option<GameMessageBudget>) -> bool + 'a;

/// What one sorting of the inbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Sorted {
    /// Frames the room took, and their payload bytes.
    pub taken: u64,
    pub taken_bytes: u64,
    /// Frames over the message rate, dropped.
    pub dropped: u64,
    /// Whether frames went to the session.
    pub deferred: bool,
}

/// Everything behind the read side's lock.
#[derive(Debug)]
pub(super) struct ReadSide {
    pub mode: ReadMode,
    /// Read from the socket, not yet handed on.
    pub inbox: Vec<u8>,
    /// `Frames`: bytes of the frame in progress not yet given to the session.
    frame_left: usize,
    /// `Room`: whole frames for the session, in order, from `deferred_at` on.
    deferred: Vec<u8>,
    deferred_at: usize,
    /// `Room`: a fragmented message is under way; its frames go to the session.
    in_fragment: bool,
    /// `Room`: data messages given to the session that it has not handled yet. While any
    /// wait, everything goes to the session, so nothing overtakes them.
    pub outstanding: usize,
    /// `Room`: a frame the room does not read (malformed, too large): everything from it on
    /// goes to the session, whose tungstenite refuses it with the right close code.
    gave_up: bool,
    pub ended: Option<ReadEnd>,
    /// The session's task, waiting for frames.
    pub waker: Option<Waker>,
    /// `Room`: the session's message rate limit and game message budget, moved here with
    /// the reading (the session's reader uses them here too).
    pub rate: Option<MessageRateLimiter>,
    pub budget: Option<GameMessageBudget>,
    /// Largest payload a client frame may carry (tungstenite's limit for the session).
    pub max_payload: usize,
}

impl ReadSide {
    pub fn new(mode: ReadMode) -> ReadSide {
        ReadSide {
            mode,
            inbox: Vec::new(),
            frame_left: 0,
            deferred: Vec::new(),
            deferred_at: 0,
            in_fragment: false,
            outstanding: 0,
            gave_up: false,
            ended: None,
            waker: None,
            rate: None,
            budget: None,
            max_payload: usize::MAX,
        }
    }

    /// Whether the session's tungstenite has read up to a frame boundary (so the room can
    /// take over).
    pub fn at_frame_boundary(&self) -> bool {
        self.frame_left == 0
    }

    /// Bytes waiting for the session.
    pub fn deferred_len(&self) -> usize {
        self.deferred.len() - self.deferred_at
    }

    /// Copies into `buf` what the session may read now without the socket: frames the room
    /// left it, then the inbox (in `Frames` mode, only up to the end of the frame in
    /// progress). `None`: nothing.
    pub fn session_read(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.deferred_len() > 0 {
            let n = buf.len().min(self.deferred_len());
            let at = self.deferred_at;
            buf[..n].copy_from_slice(&self.deferred[at..at + n]);
            self.deferred_at += n;
            if self.deferred_at == self.deferred.len() {
                self.deferred.clear();
                self.deferred_at = 0;
                // Memory comes back after a large frame.
                self.deferred.shrink_to(KEPT_CAPACITY);
            }
            return Some(n);
        }
        if self.inbox.is_empty() || self.mode == ReadMode::Room {
            return None;
        }
        let available = match self.mode {
            ReadMode::Frames => {
                if self.frame_left == 0 {
                    self.frame_left = match frame_len(&self.inbox) {
                        Ok(Some(len)) => len,
                        // The header is not all here yet.
                        Ok(None) => return None,
                        // Not a frame: tungstenite will say what is wrong with it.
                        Err(_) => usize::MAX,
                    };
                }
                self.frame_left.min(self.inbox.len())
            }
            _ => self.inbox.len(),
        };
        let n = buf.len().min(available);
        buf[..n].copy_from_slice(&self.inbox[..n]);
        self.inbox.drain(..n);
        if self.mode == ReadMode::Frames {
            self.frame_left -= n;
        }
        Some(n)
    }

    /// `Room`: goes through the complete frames in the inbox, in order. A final, masked
    /// binary frame is offered to `take` (its payload unmasked, in `scratch`, and the game
    /// message budget) when nothing waits for the session; `take` returns whether the room
    /// took it. Every other frame, and every frame after one the room did not take, goes to
    /// the session. Frames the room would take are counted against the rate limit; over it
    /// they are dropped, and a flood ends the reading.
    pub fn sort(
        &mut self,
        now: Instant,
        scratch: &mut Vec<u8>,
        take: &mut OfferFrame<'_>,
    ) -> Sorted {
        let mut sorted = Sorted::default();
        let mut at = 0;
        // Frames read before the client closed are still sorted; a flood stops the sorting.
        while at < self.inbox.len() && self.ended != Some(ReadEnd::Flooding) {
            if self.gave_up {
                self.defer(at..self.inbox.len(), &mut sorted);
                at = self.inbox.len();
                break;
            }
            let mut cursor = Cursor::new(&self.inbox[at..]);
            let (header, len) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(_) => {
                    self.gave_up = true;
                    continue;
                }
            };
            if len > self.max_payload as u64 {
                self.gave_up = true;
                continue;
            }
            let start = at + cursor.position() as usize;
            let end = start + len as usize;
            if end > self.inbox.len() {
                break;
            }
            let plain_binary = header.is_final
                && !(header.rsv1 || header.rsv2 || header.rsv3)
                && header.opcode == OpCode::Data(Data::Binary);
            let offered = plain_binary
                && !self.in_fragment
                && self.outstanding == 0
                && self.deferred_len() == 0;
            if let (true, Some(mask)) = (offered, header.mask) {
                match self.rate.as_mut().map(|rate| rate.check(now)) {
                    Some(RateDecision::Drop) => {
                        sorted.dropped += 1;
                        at = end;
                        continue;
                    }
                    Some(RateDecision::Flooding) => {
                        self.ended = Some(ReadEnd::Flooding);
                        at = end;
                        break;
                    }
                    Some(RateDecision::Allow) | None => {}
                }
                scratch.clear();
                scratch.extend_from_slice(&self.inbox[start..end]);
                for (i, byte) in scratch.iter_mut().enumerate() {
                    *byte ^= mask[i & 3];
                }
                if take(scratch, &mut self.budget) {
                    sorted.taken += 1;
                    sorted.taken_bytes += len;
                    at = end;
                    continue;
                }
                // Not the room's: the session will count it when it reads it.
                if let Some(rate) = self.rate.as_mut() {
                    rate.refund();
                }
            }
            match header.opcode {
                OpCode::Data(data) => {
                    if !header.is_final {
                        self.in_fragment = true;
                    } else if data == Data::Continue || !self.in_fragment {
                        self.in_fragment = false;
                        self.outstanding += 1;
                    }
                }
                OpCode::Control(_) => {}
            }
            self.defer(at..end, &mut sorted);
            at = end;
        }
        self.inbox.drain(..at);
        self.inbox.shrink_to(KEPT_CAPACITY.max(self.inbox.len()));
        sorted
    }

    fn defer(&mut self, range: std::ops::Range<usize>, sorted: &mut Sorted) {
        self.deferred.extend_from_slice(&self.inbox[range]);
        sorted.deferred = true;
    }
}

/// The length of the frame at the start of `bytes`, header included, once its header is
/// complete.
fn frame_len(bytes: &[u8]) -> io::Result<Option<usize>> {
    let mut cursor = Cursor::new(bytes);
    match FrameHeader::parse(&mut cursor) {
        Ok(Some((_, len))) => Ok(Some(
            usize::try_from(len)
                .unwrap_or(usize::MAX)
                .saturating_add(cursor.position() as usize),
        )),
        Ok(None) => Ok(None),
        Err(error) => Err(io::Error::new(io::ErrorKind::InvalidData, error)),
    }
}

#[cfg(test)]
mod tests;
