//! What waits in a lane for its socket: chunks of bytes in the order they were taken, and how
//! many of them end one of the room's frames (the bound the room's frames are held to).

use std::collections::VecDeque;
use std::io::IoSlice;
use std::task::Waker;

use bytes::{Buf, Bytes};

/// One chunk waiting to be written, and whether it ends one of the room's frames.
#[derive(Debug)]
struct Chunk {
    bytes: Bytes,
    ends_frame: bool,
}

/// What waits to be written, and the lane's state.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    chunks: VecDeque<Chunk>,
    /// The room's frames in `chunks`.
    pub(super) frames: usize,
    /// Bytes in `chunks`.
    pub(super) bytes: usize,
    /// The session said the room may no longer write (it is closing).
    pub(super) closed_to_room: bool,
    /// A write failed: the connection is gone.
    pub(super) failed: bool,
    /// The session's task, waiting for the backlog to fill or the lane to fail.
    pub(super) drainer: Option<Waker>,
}

impl Backlog {
    pub(super) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Appends `bytes`; `ends_frame` counts it as one of the room's frames until written.
    pub(super) fn push(&mut self, bytes: Bytes, ends_frame: bool) {
        if bytes.is_empty() {
            return;
        }
        self.bytes += bytes.len();
        self.frames += usize::from(ends_frame);
        self.chunks.push_back(Chunk { bytes, ends_frame });
    }

    /// The first chunks, as slices for one vectored write.
    pub(super) fn front_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut count = 0;
        for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
            *slice = IoSlice::new(&chunk.bytes);
            count += 1;
        }
        count
    }

    /// Marks `written` bytes from the front as written.
    pub(super) fn advance(&mut self, mut written: usize) {
        self.bytes = self.bytes.saturating_sub(written);
        while written > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if written < front.bytes.len() {
                front.bytes.advance(written);
                return;
            }
            written -= front.bytes.len();
            self.frames -= usize::from(front.ends_frame);
            self.chunks.pop_front();
        }
    }

    /// Drops every chunk after the frame whose first bytes are already on the wire (if one
    /// is): a frame begun must be finished, or the stream is torn.
    pub(super) fn discard_unbegun(&mut self, front_begun: bool) {
        let mut kept = VecDeque::new();
        if front_begun {
            while let Some(chunk) = self.chunks.pop_front() {
                let ends_frame = chunk.ends_frame;
                kept.push_back(chunk);
                if ends_frame {
                    break;
                }
            }
        }
        self.chunks = kept;
        self.frames = self.chunks.iter().filter(|chunk| chunk.ends_frame).count();
        self.bytes = self.chunks.iter().map(|chunk| chunk.bytes.len()).sum();
    }

    /// The waker to wake once the lock is released, if the session's task waits for work.
    pub(super) fn take_drainer(&mut self) -> Option<Waker> {
        self.drainer.take()
    }
}
