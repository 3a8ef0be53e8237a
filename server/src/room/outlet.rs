//! Where a member's frames go: a queue that the session's task drains and writes (a JSON
//! session, which re-encodes each frame), or the connection itself, read and written by the
//! room from the tick's own threads (a bincode connection's lane in `net`, plain or TLS).
//!
//! Either way the room never waits: a frame is taken, dropped (a snapshot the client is too
//! far behind for; the next delta recovers) or refused because the session is gone. The last
//! [`MESSAGE_RESERVE`] places are kept for game messages, which must not be lost.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use ticksync_protocol::{PlayerId, Tick};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use super::MESSAGE_RESERVE;

/// What happened to a frame handed to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// No room for it: the client is not keeping up.
    Dropped,
    /// The session has ended.
    Gone,
}

/// How much a frame may wait behind: a snapshot only while more than the message reserve is
/// free, a game message (or the `Welcome`) up to the last place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Snapshot,
    Message,
}

/// A connection the room writes to itself, without a queue or the session's task in between.
pub trait DirectOutlet: Send + Sync + fmt::Debug {
    /// Writes `frame` to `player`'s connection, or keeps it behind bytes not yet written
    /// while fewer than `max_waiting` frames wait there. Never waits.
    fn send(&self, player: PlayerId, frame: &Bytes, max_waiting: usize) -> Delivery;

    /// Reads what the client sent, where the room reads the connection itself: its inputs
    /// and game messages join the session's queue (inputs stamped with their arrival), its
    /// acknowledgements count now (`tick`: the newest snapshot, beyond which an
    /// acknowledgement is a lie), its pings are answered, and every other frame goes to the
    /// session. Never waits.
    fn read_inputs(&self, clock: &ArrivalClock, tick: Tick);
}

/// The oldest a receive timestamp is taken to be: bytes wait in a socket for about a tick.
const MAX_STAMP_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// One reading of the clocks, by which a tick turns the kernel's receive timestamps (wall
/// clock) into instants.
#[derive(Debug, Clone, Copy)]
pub struct ArrivalClock {
    pub now: Instant,
    pub wall: SystemTime,
}

impl ArrivalClock {
    /// The instant of `wall`, a moment before this reading. A step of the wall clock
    /// between the two could make it later (counted as now) or long before (counted as at
    /// most [`MAX_STAMP_AGE`] before).
    pub fn instant_of(&self, wall: SystemTime) -> Instant {
        let ago = self.wall.duration_since(wall).unwrap_or_default();
        self.now
            .checked_sub(ago.min(MAX_STAMP_AGE))
            .unwrap_or(self.now)
    }
}

/// Where a member's frames go.
#[derive(Debug, Clone)]
pub enum Outlet {
    /// A bounded queue the session's writer drains; its capacity is the snapshots' share
    /// plus [`MESSAGE_RESERVE`].
    Queue(mpsc::Sender<Bytes>),
    /// Straight to the connection. `capacity`: frames that may wait for a slow socket, on
    /// top of [`MESSAGE_RESERVE`] for messages.
    Direct {
        connection: Arc<dyn DirectOutlet>,
        capacity: usize,
    },
}

impl Outlet {
    /// Whether the room reads and writes the connection itself.
    pub fn is_direct(&self) -> bool {
        matches!(self, Outlet::Direct { .. })
    }

    /// Reads what the client sent, where the room reads the connection itself (see
    /// [`DirectOutlet::read_inputs`]).
    pub fn read_inputs(&self, clock: &ArrivalClock, tick: Tick) {
        if let Outlet::Direct { connection, .. } = self {
            connection.read_inputs(clock, tick);
        }
    }

    /// Hands `frame` on without waiting.
    pub fn offer(&self, player: PlayerId, frame: Bytes, urgency: Urgency) -> Delivery {
        match self {
            Outlet::Queue(queue) => {
                if queue.is_closed() {
                    return Delivery::Gone;
                }
                if urgency == Urgency::Snapshot && queue.capacity() <= MESSAGE_RESERVE {
                    return Delivery::Dropped;
                }
                match queue.try_send(frame) {
                    Ok(()) => Delivery::Queued,
                    Err(TrySendError::Full(_)) => Delivery::Dropped,
                    Err(TrySendError::Closed(_)) => Delivery::Gone,
                }
            }
            Outlet::Direct {
                connection,
                capacity,
            } => {
                let max_waiting = match urgency {
                    Urgency::Snapshot => *capacity,
                    Urgency::Message => capacity + MESSAGE_RESERVE,
                };
                connection.send(player, &frame, max_waiting)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_keeps_its_reserve_for_messages() {
        let (sender, mut receiver) = mpsc::channel(2 + MESSAGE_RESERVE);
        let outlet = Outlet::Queue(sender);
        let player = PlayerId(1);
        let offer = |urgency| outlet.offer(player, Bytes::from_static(b"f"), urgency);
        assert_eq!(offer(Urgency::Snapshot), Delivery::Queued);
        assert_eq!(offer(Urgency::Snapshot), Delivery::Queued);
        assert_eq!(offer(Urgency::Snapshot), Delivery::Dropped);
        for _ in 0..MESSAGE_RESERVE {
            assert_eq!(offer(Urgency::Message), Delivery::Queued);
        }
        assert_eq!(offer(Urgency::Message), Delivery::Dropped);
        receiver.close();
        while receiver.try_recv().is_ok() {}
        assert_eq!(offer(Urgency::Message), Delivery::Gone);
    }
}
