//! Where a member's frames go: a queue that the session's task drains and writes (a JSON
//! session, which re-encodes each frame, or a TLS one), or the connection itself, written by
//! the room from the tick's own threads (a plain TCP connection's write lane, in `net`).
//!
//! Either way the room never waits: a frame is taken, dropped (a snapshot the client is too
//! far behind for; the next delta recovers) or refused because the session is gone. The last
//! [`MESSAGE_RESERVE`] places are kept for game messages, which must not be lost.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use ticksync_protocol::PlayerId;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

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
