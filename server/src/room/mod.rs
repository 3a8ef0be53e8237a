//! Rooms: a room owns a [`Game`](crate::game::Game) and its members and runs the
//! fixed-timestep loop — admit joins → apply inputs → step → replicate → hand frames to
//! sessions.
//!
//! Sessions talk to a room only through bounded queues: a [`JoinRequest`] on the room's join
//! queue, inputs on a per-member queue the room drains, snapshot frames on a per-member queue
//! the room fills with `try_send`. The room never awaits a socket (DESIGN.md §2.1).

mod directory;
mod member;
mod resume;
mod runtime;
mod stats;
mod tick_clock;
mod tick_loop;

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ticksync_protocol::{Input, Tick, Welcome};
use tokio::sync::{mpsc, oneshot};

pub use directory::{
    NoRoom, RoomDirectory, RoomInfo, RoomLaunch, RoomLifecycle, RoomStarter, RoomStatus,
};
pub use runtime::TickRuntime;
pub use stats::TickSummary;
pub use tick_clock::TickClock;
pub use tick_loop::{Room, RoomSettings};

/// Joins waiting for the next tick. A burst larger than this makes sessions wait (they await
/// the send), which is the backpressure we want during a connect storm.
pub const JOIN_QUEUE_CAPACITY: usize = 1024;

/// Joins admitted per tick, so a connect storm cannot blow one tick's time budget.
pub const MAX_JOINS_PER_TICK: usize = 256;

/// A session's request to enter the room, carrying the session's ends of its queues.
#[derive(Debug)]
pub struct JoinRequest {
    pub player_name: String,
    /// `Some`: take back the entity this resume token belongs to instead of joining anew.
    pub resume_token: Option<String>,
    /// Inputs from the session; the room drains it every tick.
    pub inputs: mpsc::Receiver<Input>,
    /// Encoded frames for the session's writer; the room only `try_send`s into it.
    pub outbound: mpsc::Sender<Bytes>,
    /// Lets the room tell the session to close, and why.
    pub disconnect: oneshot::Sender<Disconnect>,
    /// State the session and the room both read and write.
    pub shared: Arc<SessionShared>,
    /// The room's answer.
    pub reply: oneshot::Sender<Result<Welcome, JoinRefused>>,
}

/// Why the room refused a join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinRefused {
    #[error("the room is full ({capacity} players)")]
    RoomFull { capacity: usize },
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("resume token unknown, already used, or past its grace period; start a new session with Hello")]
    ResumeRefused,
    /// The room closed (it had been empty) between the lookup and the join: look it up
    /// again, which starts a fresh one.
    #[error("the room closed")]
    RoomClosed,
}

/// Why the room ends a member's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// The client stayed behind reading snapshots for longer than the slow-client timeout.
    TooSlow,
    /// The server is shutting down.
    ShuttingDown,
    /// A newer connection resumed this member's entity.
    Replaced,
}

/// State shared by a session and its room without a queue: lock-free, written by one side,
/// read by the other.
#[derive(Debug, Default)]
pub struct SessionShared {
    /// The last snapshot tick the client acknowledged, written by the session as acks arrive
    /// (monotonically) and read by the room when it picks the delta baseline.
    pub acked_tick: AtomicU32,
    /// How the session ended (see [`SessionShared::end_final`]); the room keeps a dropped
    /// player's entity for the resume grace period unless the end was final.
    ended: AtomicU8,
}

const ENDED_NOT_YET: u8 = 0;
const ENDED_RESUMABLE: u8 = 1;
const ENDED_FINAL: u8 = 2;

impl SessionShared {
    /// The player left (`Leave`) or was thrown out: its entity goes now.
    pub fn end_final(&self) {
        self.ended.store(ENDED_FINAL, Ordering::Relaxed);
    }

    /// The connection dropped: the entity waits for a `Resume`.
    pub fn end_resumable(&self) {
        self.ended.store(ENDED_RESUMABLE, Ordering::Relaxed);
    }

    pub fn is_final(&self) -> bool {
        self.ended.load(Ordering::Relaxed) == ENDED_FINAL
    }

    pub fn has_ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed) != ENDED_NOT_YET
    }
}

/// What a session holds to reach its room.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    /// Boxed: the queue allocates a block of slots up front, and a room nobody joins should
    /// not pay for 32 inline requests.
    joins: mpsc::Sender<Box<JoinRequest>>,
    current_tick: Arc<AtomicU32>,
    status: Arc<RoomStatus>,
}

impl RoomHandle {
    /// Queues a join; waits only while the join queue is full. Fails with
    /// [`JoinRefused::RoomClosed`] when the room has stopped.
    pub async fn request_join(&self, request: JoinRequest) -> Result<(), JoinRefused> {
        self.joins
            .send(Box::new(request))
            .await
            .map_err(|_| JoinRefused::RoomClosed)
    }

    /// The room's live figures.
    pub fn status(&self) -> &Arc<RoomStatus> {
        &self.status
    }

    /// The tick the room last completed (used to stamp `Pong`s without asking the room).
    pub fn current_tick(&self) -> Tick {
        self.current_tick.load(Ordering::Relaxed)
    }
}
