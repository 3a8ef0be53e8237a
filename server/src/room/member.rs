//! One player in a room: the room's ends of the session's queues and the per-player
//! bookkeeping of the tick loop (last applied input, how long it has been behind).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use ticksync_protocol::{EntityId, Input, InputSeq, Tick};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};

use super::{Disconnect, SessionShared};

/// A member of a room.
#[derive(Debug)]
pub struct Member {
    pub entity: EntityId,
    inputs: mpsc::Receiver<Input>,
    outbound: mpsc::Sender<Bytes>,
    disconnect: Option<oneshot::Sender<Disconnect>>,
    pub shared: Arc<SessionShared>,
    /// The secret that lets this player resume after a dropped connection.
    pub resume_token: String,
    /// The entity now belongs to a newer session: retiring this member must not remove it.
    pub transferred: bool,
    /// Highest input sequence applied; 0 before the first.
    pub last_input_seq: InputSeq,
    /// First tick of the current run of dropped snapshots, if the client is behind.
    behind_since: Option<Tick>,
    /// The session is gone (its queues closed) or has been told to go.
    pub departed: bool,
}

/// What happened to a frame handed to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// The queue was full: the client is not keeping up.
    Dropped,
    /// The session has ended.
    Gone,
}

impl Member {
    pub fn new(
        entity: EntityId,
        inputs: mpsc::Receiver<Input>,
        outbound: mpsc::Sender<Bytes>,
        disconnect: oneshot::Sender<Disconnect>,
        shared: Arc<SessionShared>,
        resume_token: String,
    ) -> Member {
        Member {
            entity,
            inputs,
            outbound,
            disconnect: Some(disconnect),
            shared,
            resume_token,
            transferred: false,
            last_input_seq: 0,
            behind_since: None,
            departed: false,
        }
    }

    /// The last snapshot tick the client acknowledged (0: none).
    pub fn acked_tick(&self) -> Tick {
        self.shared.acked_tick.load(Ordering::Relaxed)
    }

    /// Moves up to `max` queued inputs into `out`, sorted by sequence, skipping any at or
    /// below the last applied one. Marks the member departed if its session is gone.
    pub fn drain_inputs(&mut self, max: usize, out: &mut Vec<Input>) {
        out.clear();
        while out.len() < max {
            match self.inputs.try_recv() {
                Ok(input) => {
                    if input.seq > self.last_input_seq {
                        out.push(input);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.departed = true;
                    break;
                }
            }
        }
        // The session forwards inputs in arrival order and drops stale sequences, so this is
        // normally already sorted; sorting keeps the room correct whatever the session does.
        out.sort_unstable_by_key(|input| input.seq);
        out.dedup_by_key(|input| input.seq);
    }

    /// Hands a frame to the session without waiting.
    pub fn deliver(&mut self, frame: Bytes, tick: Tick) -> Delivery {
        match self.outbound.try_send(frame) {
            Ok(()) => {
                self.behind_since = None;
                Delivery::Queued
            }
            Err(TrySendError::Full(_)) => {
                self.behind_since.get_or_insert(tick);
                Delivery::Dropped
            }
            Err(TrySendError::Closed(_)) => {
                self.departed = true;
                Delivery::Gone
            }
        }
    }

    /// Ticks this member has been continuously behind as of `tick`.
    pub fn ticks_behind(&self, tick: Tick) -> u32 {
        self.behind_since
            .map_or(0, |since| tick.saturating_sub(since) + 1)
    }

    /// Tells the session to close, once. The member is departed from then on.
    pub fn disconnect(&mut self, reason: Disconnect) {
        if let Some(sender) = self.disconnect.take() {
            // The session may already be gone; then there is nobody to tell.
            let _ = sender.send(reason);
        }
        self.departed = true;
    }
}
