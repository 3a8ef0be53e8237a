//! Rooms: a room owns a [`Game`](ticksync_game::Game) and its members and runs the
//! fixed-timestep loop — admit joins → apply messages and inputs → step → replicate → hand
//! frames to sessions.
//!
//! Sessions talk to a room only through bounded queues: a [`JoinRequest`] on the room's join
//! queue, inputs and game messages on a per-member queue the room drains, frames (game
//! messages and snapshots, in order) on a per-member queue the room fills with `try_send`.
//! The room never awaits a socket (ARCHITECTURE.md §2.1).

mod directory;
mod member;
mod outlet;
mod resume;
mod room_config;
mod runtime;
mod stats;
mod tick_clock;
mod tick_loop;

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;

use ticksync_game::Claims;
use ticksync_protocol::{Input, Schema, Tick, Welcome};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

pub use directory::{NoRoom, RoomDirectory};
pub(crate) use directory::{RoomLaunch, RoomStatus, RoomStatuses};
pub(crate) use outlet::{ArrivalClock, Delivery, DirectOutlet, Outlet, Urgency};
pub(crate) use room_config::{RoomConfig, RoomDefaults};
pub(crate) use runtime::TickRuntime;
pub use stats::TickSummary;
pub(crate) use tick_loop::{Room, RoomSettings};

/// Joins waiting for the next tick. A burst larger than this makes sessions wait (they await
/// the send), which is the backpressure we want during a connect storm.
pub(crate) const JOIN_QUEUE_CAPACITY: usize = 1024;

/// Joins admitted per tick, so a connect storm cannot blow one tick's time budget.
pub(crate) const MAX_JOINS_PER_TICK: usize = 256;

/// Frames the outbound queue keeps free for game messages: a snapshot is only queued while
/// more than this many slots are free, so a client that is behind loses snapshots (which
/// deltas recover from) before it could lose a message (which nothing recovers). A client
/// whose reserve runs out too is disconnected as too slow.
pub(crate) const MESSAGE_RESERVE: usize = 32;

/// What a session forwards to its room, in the order the client sent it.
#[derive(Debug)]
pub(crate) enum FromClient<S: Schema> {
    /// An input and when its frame was read: the session stamps it with the clock reading
    /// it already takes for the rate limit, so the room can tell the client how early its
    /// inputs arrive (`Snapshot::input_margin_100us`).
    Input {
        input: Input<S::Input>,
        arrived: Instant,
    },
    Message(S::ClientMessage),
}

/// A session's request to enter the room, carrying the session's ends of its queues.
#[derive(Debug)]
pub(crate) struct JoinRequest<S: Schema> {
    pub player_name: String,
    /// The verified join token's claims, when tokens are on.
    pub claims: Option<Claims>,
    /// `Some`: take back the player this resume token belongs to instead of joining anew.
    pub resume_token: Option<String>,
    /// Inputs and game messages from the session; the room drains it every tick.
    pub from_client: mpsc::Receiver<FromClient<S>>,
    /// Where the room hands the session's frames (`Welcome` first), never waiting.
    pub outlet: Outlet,
    /// Lets the room tell the session to close, and why.
    pub disconnect: oneshot::Sender<Disconnect>,
    /// State the session and the room both read and write.
    pub shared: Arc<SessionLink>,
    /// The room's answer.
    pub reply: oneshot::Sender<Result<Welcome, JoinRefused>>,
}

/// Why the room refused a join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JoinRefused {
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
    /// The game turned the player down.
    #[error("{0}")]
    Game(String),
}

/// Why the room ends a member's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disconnect {
    /// The client stayed behind reading snapshots for longer than the slow-client timeout,
    /// or fell so far behind that a game message could not be queued.
    TooSlow,
    /// The server is shutting down.
    ShuttingDown,
    /// A newer connection resumed this member's player.
    Replaced,
    /// The game kicked the player, for this reason.
    Kicked(String),
    /// The game ended the room, for this reason.
    RoomEnded(String),
    /// The player left (`Leave`, read by the room itself) and is gone from the game.
    Left,
    /// The room found the connection gone (a write to it failed) before the session did:
    /// the player's entity waits for a `Resume`.
    ConnectionLost,
}

/// State shared by a session and its room without a queue: lock-free, written by one side,
/// read by the other.
#[derive(Debug, Default)]
pub(crate) struct SessionLink {
    /// The last snapshot tick the client acknowledged, written by the session as acks arrive
    /// (monotonically) and read by the room when it picks the delta baseline.
    pub acked_tick: AtomicU32,
    /// How the session ended (see [`SessionLink::end_final`]); the room keeps a dropped
    /// player's entity for the resume grace period unless the end was final.
    ended: AtomicU8,
}

// 0, the default: not ended yet.
const ENDED_RESUMABLE: u8 = 1;
const ENDED_FINAL: u8 = 2;

impl SessionLink {
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
}

/// What a session holds to reach its room.
#[derive(Debug)]
pub struct RoomHandle<S: Schema> {
    /// Boxed: the queue allocates a block of slots up front, and a room nobody joins should
    /// not pay for 32 inline requests.
    joins: mpsc::Sender<Box<JoinRequest<S>>>,
    current_tick: Arc<AtomicU32>,
    status: Arc<RoomStatus>,
}

impl<S: Schema> Clone for RoomHandle<S> {
    fn clone(&self) -> Self {
        RoomHandle {
            joins: self.joins.clone(),
            current_tick: self.current_tick.clone(),
            status: self.status.clone(),
        }
    }
}

impl<S: Schema> RoomHandle<S> {
    /// Queues a join; waits only while the join queue is full. Fails with
    /// [`JoinRefused::RoomClosed`] when the room has stopped.
    pub(crate) async fn request_join(&self, request: JoinRequest<S>) -> Result<(), JoinRefused> {
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
