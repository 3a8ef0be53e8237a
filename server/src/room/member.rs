//! One player in a room: the room's ends of the session's queue and outlet, and the
//! per-player bookkeeping of the tick loop (last applied input, how long it has been behind).
//!
//! Game messages and snapshots share the member's [`Outlet`] so they arrive in the order the
//! room produced them; the last [`super::MESSAGE_RESERVE`] places are kept for messages,
//! which must not be lost, while snapshots may be (the next delta recovers).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use ticksync_protocol::{EntityId, InputSeq, PlayerId, Schema, Tick, INPUT_MARGIN_UNIT_US};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::outlet::{ArrivalClock, Delivery, Outlet, Urgency};
use super::{Disconnect, FromClient, SessionLink};

/// A member of a room.
#[derive(Debug)]
pub struct Member<S: Schema> {
    pub player: PlayerId,
    /// The entity the player controls, if any: the centre of its area of interest.
    pub entity: Option<EntityId>,
    from_client: mpsc::Receiver<FromClient<S>>,
    outlet: Outlet,
    disconnect: Option<oneshot::Sender<Disconnect>>,
    pub shared: Arc<SessionLink>,
    /// The secret that lets this player resume after a dropped connection.
    pub resume_token: String,
    /// The entity now belongs to a newer session: retiring this member must not remove it.
    pub transferred: bool,
    /// Highest input sequence applied; 0 before the first.
    pub last_input_seq: InputSeq,
    /// Arrival feedback for `last_input_seq`, reported in every snapshot (see
    /// [`Member::record_arrivals`]); 0 before the first input.
    pub input_margin_100us: i16,
    /// The last [`Member::drain`]: how many inputs it took and when the first of them
    /// arrived.
    drained_inputs: u64,
    first_arrival: Option<Instant>,
    /// First tick of the current run of dropped snapshots, if the client is behind.
    behind_since: Option<Tick>,
    /// The session is gone (its queues closed) or has been told to go.
    pub departed: bool,
}

/// `reference − arrived` in units of [`INPUT_MARGIN_UNIT_US`], rounded down (so any input
/// that arrived after `reference` is negative) and saturated to `i16`.
fn margin_100us(reference: Instant, arrived: Instant) -> i16 {
    let micros = if reference >= arrived {
        i64::try_from((reference - arrived).as_micros()).unwrap_or(i64::MAX)
    } else {
        -i64::try_from((arrived - reference).as_micros()).unwrap_or(i64::MAX)
    };
    let units = micros.div_euclid(INPUT_MARGIN_UNIT_US);
    // Clamped to the i16 range just above, so the cast cannot truncate.
    units.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16
}

/// A member's arrival, in one value.
#[derive(Debug)]
pub struct MemberQueues<S: Schema> {
    pub from_client: mpsc::Receiver<FromClient<S>>,
    pub outlet: Outlet,
    pub disconnect: oneshot::Sender<Disconnect>,
    pub shared: Arc<SessionLink>,
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
            outlet,
            disconnect,
            shared,
        } = queues;
        Member {
            player,
            entity,
            from_client,
            outlet,
            disconnect: Some(disconnect),
            shared,
            resume_token,
            transferred: false,
            last_input_seq: 0,
            input_margin_100us: 0,
            drained_inputs: 0,
            first_arrival: None,
            behind_since: None,
            departed: false,
        }
    }

    /// Reads the client's connection, where the room reads it itself (see
    /// [`super::DirectOutlet::read_inputs`]): before [`Member::drain`], which then finds its
    /// inputs in the queue.
    pub fn read_inputs(&self, clock: &ArrivalClock, tick: Tick) {
        self.outlet.read_inputs(clock, tick);
    }

    /// Whether the room reads and writes this member's connection itself.
    pub fn is_direct(&self) -> bool {
        self.outlet.is_direct()
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
        self.first_arrival = None;
        let (mut inputs, mut messages) = (0, 0);
        while inputs < max_inputs && messages < max_messages {
            match self.from_client.try_recv() {
                Ok(FromClient::Input { input, arrived }) => {
                    // The session forwards inputs in arrival order and drops stale
                    // sequences; checking here keeps the room correct whatever it does.
                    if input.seq > self.last_input_seq {
                        self.last_input_seq = input.seq;
                        inputs += 1;
                        self.first_arrival.get_or_insert(arrived);
                        out.push(FromClient::Input { input, arrived });
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
        self.drained_inputs = inputs as u64;
    }

    /// Records the arrival feedback of the inputs the last [`Member::drain`] took, at the
    /// tick that took them at `cutoff`; the tick before took its inputs at
    /// `previous_cutoff`. Keeps the previous feedback when it took none.
    ///
    /// One input per tick is the contract, so a lone input is measured against this tick:
    /// the margin is how long before `cutoff` it arrived. When several inputs share a tick,
    /// the first of them arrived after the previous tick took its inputs: it missed that
    /// tick (the game saw a newer input in the same tick), so the margin is measured against
    /// `previous_cutoff`, negative. Returns how many inputs missed their tick.
    pub fn record_arrivals(&mut self, cutoff: Instant, previous_cutoff: Instant) -> u64 {
        let Some(first) = self.first_arrival else {
            return 0;
        };
        let (reference, missed) = match self.drained_inputs {
            0 | 1 => (cutoff, 0),
            n => (previous_cutoff, n - 1),
        };
        self.input_margin_100us = margin_100us(reference, first);
        missed
    }

    /// Hands a game message (or the `Welcome`) to the session without waiting. A message
    /// must not be lost: a member with no room left even in the reserve is disconnected as
    /// too slow.
    pub fn deliver_message(&mut self, frame: Bytes) {
        if self.departed {
            return;
        }
        match self.outlet.offer(self.player, frame, Urgency::Message) {
            Delivery::Queued => {}
            Delivery::Dropped => self.disconnect(Disconnect::TooSlow),
            Delivery::Gone => self.departed = true,
        }
    }

    /// Hands a snapshot frame to the session without waiting, if more than the message
    /// reserve is free.
    pub fn deliver(&mut self, frame: Bytes, tick: Tick) -> Delivery {
        let delivery = self.outlet.offer(self.player, frame, Urgency::Snapshot);
        match delivery {
            Delivery::Queued => self.behind_since = None,
            Delivery::Dropped => {
                self.behind_since.get_or_insert(tick);
            }
            Delivery::Gone => self.departed = true,
        }
        delivery
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
