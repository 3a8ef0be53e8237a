//! One player in a room: the room's ends of the session's queues and the per-player
//! bookkeeping of the tick loop (last applied input, how long it has been behind).
//!
//! Game messages and snapshots share the outbound queue so they arrive in the order the room
//! produced them; the last [`MESSAGE_RESERVE`] slots are kept for messages, which must not
//! be lost, while snapshots may be (the next delta recovers).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use ticksync_protocol::{EntityId, InputSeq, PlayerId, Schema, Tick};
use tokio::sync::mpsc::error::{TryRecvError, TrySendError};
use tokio::sync::{mpsc, oneshot};

use super::{Disconnect, FromClient, SessionShared, MESSAGE_RESERVE};

/// A member of a room.
#[derive(Debug)]
pub struct Member<S: Schema> {
    pub player: PlayerId,
    /// The entity the player controls, if any: the centre of its area of interest.
    pub entity: Option<EntityId>,
    from_client: mpsc::Receiver<FromClient<S>>,
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

/// A member's arrival, in one value.
#[derive(Debug)]
pub struct MemberQueues<S: Schema> {
    pub from_client: mpsc::Receiver<FromClient<S>>,
    pub outbound: mpsc::Sender<Bytes>,
    pub disconnect: oneshot::Sender<Disconnect>,
    pub shared: Arc<SessionShared>,
}

impl<S: Schema> Member<S> {
    pub fn new(
        player: PlayerId,
        entity: Option<EntityId>,
        queues: MemberQueues<S>,
        resume_token: String,
    ) -> Member<S> {
        let MemberQueues {
            from_client,
            outbound,
            disconnect,
            shared,
        } = queues;
        Member {
            player,
            entity,
            from_client,
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

    /// Moves what the client sent into `out`, in the order sent: up to `max_inputs` inputs
    /// (skipping any at or below the last applied sequence) and `max_messages` game
    /// messages; stops at whichever bound comes first, leaving the rest for the next tick.
    /// Marks the member departed if its session is gone.
    pub fn drain(&mut self, max_inputs: usize, max_messages: usize, out: &mut Vec<FromClient<S>>) {
        out.clear();
        let (mut inputs, mut messages) = (0, 0);
        while inputs < max_inputs && messages < max_messages {
            match self.from_client.try_recv() {
                Ok(FromClient::Input(input)) => {
                    // The session forwards inputs in arrival order and drops stale
                    // sequences; checking here keeps the room correct whatever it does.
                    if input.seq > self.last_input_seq {
                        self.last_input_seq = input.seq;
                        inputs += 1;
                        out.push(FromClient::Input(input));
                    }
                }
                Ok(message @ FromClient::Message(_)) => {
                    messages += 1;
                    out.push(message);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.departed = true;
                    break;
                }
            }
        }
    }

    /// Hands a game message to the session without waiting. A message must not be lost:
    /// a member whose queue has no room left even in the reserve is disconnected as too
    /// slow.
    pub fn deliver_message(&mut self, frame: Bytes) {
        if self.departed {
            return;
        }
        match self.outbound.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.disconnect(Disconnect::TooSlow),
            Err(TrySendError::Closed(_)) => self.departed = true,
        }
    }

    /// Hands a snapshot frame to the session without waiting, if more than the message
    /// reserve is free in its queue.
    pub fn deliver(&mut self, frame: Bytes, tick: Tick) -> Delivery {
        if self.outbound.is_closed() {
            self.departed = true;
            return Delivery::Gone;
        }
        if self.outbound.capacity() <= MESSAGE_RESERVE {
            self.behind_since.get_or_insert(tick);
            return Delivery::Dropped;
        }
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
