//! The room's side of a lane: what the room writes to a member's connection and reads from
//! it at its ticks, as the member's [`DirectOutlet`].

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use ticksync_protocol::codec::{self, decode_client_message};
use ticksync_protocol::{ClientMessage, PlayerId, Pong, Schema, ServerMessage, Tick};
use tokio::sync::mpsc;

use super::{Lane, LaneSend};
use crate::metrics::ServerMetrics;
use crate::net::FaultInjector;
use crate::room::{ArrivalClock, Delivery, DirectOutlet, FromClient, SessionLink};

/// The room's side of a lane: the member's frames, written from the tick, and what the client
/// sends (inputs, acknowledgements, game messages, pings), read at the tick once the session
/// let the room read.
pub(crate) struct RoomLane<P: Schema> {
    pub lane: Arc<Lane>,
    pub metrics: Arc<ServerMetrics>,
    /// Test hook that loses frames on their way (see [`FaultInjector`]).
    pub faults: Option<Arc<dyn FaultInjector>>,
    /// The session's queue to the room, where the inputs read go, in order with what the
    /// session forwards (weak: the room notices a session gone by its queue closing).
    pub to_room: mpsc::WeakSender<FromClient<P>>,
    /// Where acknowledgements go.
    pub shared: Arc<SessionLink>,
    /// Frames that may wait for the socket (a pong is dropped past it, like a snapshot).
    pub capacity: usize,
}

impl<P: Schema> std::fmt::Debug for RoomLane<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomLane")
            .field("lane", &self.lane)
            .finish()
    }
}

impl<P: Schema> DirectOutlet for RoomLane<P> {
    fn send(&self, player: PlayerId, frame: &Bytes, max_waiting: usize) -> Delivery {
        if self
            .faults
            .as_ref()
            .is_some_and(|faults| faults.drop_frame(player, frame))
        {
            // Lost on the way, as a lossy network would lose it.
            return Delivery::Queued;
        }
        match self.lane.send_frame(frame, max_waiting) {
            LaneSend::Taken => {
                self.metrics.bytes_out.inc_by(frame.len() as u64);
                Delivery::Queued
            }
            LaneSend::Full => Delivery::Dropped,
            LaneSend::Closed => Delivery::Gone,
        }
    }

    fn read_inputs(&self, clock: &ArrivalClock, tick: Tick) {
        let Some(to_room) = self.to_room.upgrade() else {
            return;
        };
        let acknowledge = |acked: Tick| {
            if acked != 0 && acked <= tick {
                self.shared.acked_tick.fetch_max(acked, Ordering::Relaxed);
            }
        };
        let (mut dropped_inputs, mut left) = (0, false);
        let sorted = self.lane.pump(clock, &mut |payload, arrived, budget| {
            match decode_client_message::<P>(payload) {
                Ok(ClientMessage::Input(input)) => {
                    acknowledge(input.ack_tick);
                    // A full queue drops the input, as the session's reader would.
                    if to_room
                        .try_send(FromClient::Input { input, arrived })
                        .is_err()
                    {
                        dropped_inputs += 1;
                    }
                    true
                }
                Ok(ClientMessage::Ack(ack)) => {
                    acknowledge(ack.tick);
                    true
                }
                // Within the budget and the queue; otherwise the session reads it again and
                // ends with the error it would have ended with.
                Ok(ClientMessage::Message(message)) => {
                    budget.as_mut().is_some_and(|budget| budget.take(clock.now))
                        && to_room.try_send(FromClient::Message(message)).is_ok()
                }
                Ok(ClientMessage::Ping(ping)) => {
                    let pong = ServerMessage::<P>::Pong(Pong {
                        client_time_us: ping.client_time_us,
                        server_tick: tick,
                    });
                    // Dropped, like a snapshot, when the client is that far behind.
                    if let Ok(frame) = codec::encode(&pong) {
                        let frame = Bytes::from(frame);
                        if self.lane.send_frame(&frame, self.capacity) == LaneSend::Taken {
                            self.metrics.bytes_out.inc_by(frame.len() as u64);
                        }
                    }
                    true
                }
                Ok(ClientMessage::Leave) => {
                    left = true;
                    false
                }
                // The session refuses the rest, with the right close code.
                Ok(ClientMessage::Hello(_) | ClientMessage::Resume(_)) | Err(_) => false,
            }
        });
        if left {
            // Nothing waits before the `Leave` (the room is offered a frame only then): the
            // room's frames stop, the player leaves at this tick and the room tells the
            // session so (`Disconnect::Left`), which then closes normally.
            self.shared.end_final();
            self.lane.close_to_room(false);
        }
        self.metrics.bytes_in.inc_by(sorted.taken_bytes);
        self.metrics.messages_dropped.inc_by(sorted.dropped);
        self.metrics.inputs_dropped.inc_by(dropped_inputs);
    }
}
