//! The reading half of a playing session: decodes and validates the client's frames under a
//! message-rate limit, forwards inputs and game messages to the room's bounded queue (game
//! messages under a budget of their own), records acknowledgements, answers pings, and ends
//! the session on `Leave` or anything it must refuse. Where the room reads the connection
//! itself (a bincode connection, `net::lane`), this reader gets only the frames the
//! room leaves it, and the rate limit and budget are kept in the lane for both.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use ticksync_protocol::codec;
use ticksync_protocol::{
    ClientMessage, Input, InputSeq, PlayerId, Pong, Schema, ServerMessage, Tick, WireFormat,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{decode_frame, end_for_read_error, WsStream};
use crate::net::lane::{Lane, ReadEnd};
use crate::net::limits::{GameMessageBudget, MessageRateLimiter, RateDecision};
use crate::net::session_end::{EndReason, SessionEnd};
use crate::net::SessionContext;
use crate::room::{FromClient, Outlet, RoomHandle, SessionLink, Urgency};

/// The reading half of a playing session.
pub(super) struct Reader<'a, P: Schema> {
    /// Inputs and game messages for the room, in the order the client sent them.
    pub(super) to_room: mpsc::Sender<FromClient<P>>,
    /// Where the room's frames go: pongs go the same way, in order with them.
    pub(super) replies: Outlet,
    pub(super) player: PlayerId,
    /// Shared with the room, which reads the acknowledged tick to pick the delta baseline.
    pub(super) shared: Arc<SessionLink>,
    pub(super) last_seq: InputSeq,
    /// The room the session joined.
    pub(super) room: RoomHandle<P>,
    pub(super) format: WireFormat,
    /// The message rate limit and the game message budget, and with them whether the room
    /// reads the connection (this reader then gets only the frames the room leaves it, see
    /// `net::lane::inbox`).
    pub(super) gate: RateGate,
    pub(super) heard: Heard<'a>,
    pub(super) ctx: &'a SessionContext<P>,
}

/// Where the session's message rate limit and game message budget are kept.
pub(super) enum RateGate {
    /// Here: the session reads every frame.
    Own {
        rate: MessageRateLimiter,
        budget: GameMessageBudget,
    },
    /// In the lane, when the room reads the connection and counts the frames it takes.
    Lane(Arc<Lane>),
}

impl RateGate {
    /// The connection's lane, when the room reads it.
    fn room_reads(&self) -> Option<&Arc<Lane>> {
        match self {
            RateGate::Own { .. } => None,
            RateGate::Lane(lane) => Some(lane),
        }
    }

    fn check(&mut self, now: Instant) -> RateDecision {
        match self {
            RateGate::Own { rate, .. } => rate.check(now),
            RateGate::Lane(lane) => lane.check_rate(now).unwrap_or(RateDecision::Allow),
        }
    }

    fn take_message(&mut self, now: Instant) -> bool {
        match self {
            RateGate::Own { budget, .. } => budget.take(now),
            RateGate::Lane(lane) => lane.take_message_budget(now).unwrap_or(true),
        }
    }
}

/// When the client was last heard from, shared by whoever reads (which writes it) and the
/// writer (which pings a quiet client). Milliseconds since `started`.
#[derive(Clone, Copy)]
pub(super) struct Heard<'a> {
    pub(super) started: Instant,
    pub(super) last: &'a AtomicU64,
}

impl Heard<'_> {
    pub(super) fn record(&self) {
        let millis = self.started.elapsed().as_millis() as u64;
        self.last.store(millis, Ordering::Relaxed);
    }

    pub(super) fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

impl<P: Schema> Reader<'_, P> {
    pub(super) async fn run<S>(mut self, stream: &mut WsStream<'_, S>) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let idle_timeout = self.ctx.limits.idle_timeout;
        // One idle timer for the whole session, moved only when it fires early (a frame came
        // since it was set): a timer per frame would be a timer-wheel insert and removal for
        // every input.
        let idle = tokio::time::sleep(idle_timeout);
        tokio::pin!(idle);
        // A data message the room left this reader, handled: the room may take inputs again
        // once none wait (told before the next read, after the message went on).
        let mut handled = false;
        loop {
            if let (true, Some(lane)) = (std::mem::take(&mut handled), self.gate.room_reads()) {
                lane.message_handled();
            }
            let next = tokio::select! {
                biased;
                next = stream.next() => next,
                () = &mut idle => {
                    let quiet = self.heard.quiet_for();
                    if quiet >= idle_timeout {
                        return SessionEnd::new(
                            EndReason::IdleTimeout,
                            format!("nothing received for {}s", idle_timeout.as_secs()),
                        );
                    }
                    idle.as_mut().reset(Instant::now() + (idle_timeout - quiet));
                    continue;
                }
            };
            let message = match next {
                None | Some(Err(_)) if self.flooded() => return self.flooding(),
                None => return SessionEnd::peer_gone(),
                Some(Err(error)) => return end_for_read_error(error),
                Some(Ok(message)) => message,
            };
            handled = message.is_binary() || message.is_text();
            self.heard.record();
            // One clock reading per frame, for the rate limit and an input's arrival stamp.
            let now = Instant::now();
            match self.gate.check(now) {
                RateDecision::Allow => {}
                RateDecision::Drop => {
                    self.ctx.metrics.messages_dropped.inc();
                    continue;
                }
                RateDecision::Flooding => return self.flooding(),
            }
            let message = match decode_frame::<P>(message, self.format, &self.ctx.metrics) {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(end) => return end,
            };
            match message {
                ClientMessage::Input(input) => {
                    self.acknowledge(input.ack_tick);
                    self.forward_input(input, now);
                }
                ClientMessage::Ack(ack) => self.acknowledge(ack.tick),
                ClientMessage::Message(message) => {
                    if let Err(end) = self.forward_message(message) {
                        return end;
                    }
                }
                ClientMessage::Ping(ping) => {
                    let pong = ServerMessage::<P>::Pong(Pong {
                        client_time_us: ping.client_time_us,
                        server_tick: self.room.current_tick(),
                    });
                    // The room's frames are bincode; a JSON session's writer re-encodes them.
                    // A pong that finds no room is dropped like a snapshot would be.
                    if let Ok(frame) = codec::encode(&pong) {
                        let frame = Bytes::from(frame);
                        self.replies.offer(self.player, frame, Urgency::Snapshot);
                    }
                }
                ClientMessage::Leave => return SessionEnd::normal(),
                ClientMessage::Hello(_) | ClientMessage::Resume(_) => {
                    return SessionEnd::new(
                        EndReason::UnexpectedMessage,
                        "Hello or Resume sent twice",
                    )
                }
            }
        }
    }

    /// Whether the room stopped reading for a flood.
    fn flooded(&self) -> bool {
        self.gate
            .room_reads()
            .is_some_and(|lane| lane.read_end() == Some(ReadEnd::Flooding))
    }

    fn flooding(&self) -> SessionEnd {
        let config = &self.ctx.limits;
        SessionEnd::new(
            EndReason::Flooding,
            format!(
                "message flood: over {} messages/s for {}s",
                config.max_messages_per_second,
                config.flood_timeout.as_secs_f32()
            ),
        )
    }

    /// Records an acknowledgement. Acks only move forward; a tick the room has not reached
    /// yet is a lie and ignored (the room would not find it in its history anyway).
    fn acknowledge(&self, tick: Tick) {
        if tick != 0 && tick <= self.room.current_tick() {
            self.shared.acked_tick.fetch_max(tick, Ordering::Relaxed);
        }
    }

    /// Forwards a game message. Unlike an input, a message must not be lost, so one the
    /// budget or the room's queue cannot take ends the session with a clear error.
    fn forward_message(&mut self, message: P::ClientMessage) -> Result<(), SessionEnd> {
        let limit = self.ctx.limits.max_game_messages_per_second;
        if !self.gate.take_message(Instant::now()) {
            return Err(SessionEnd::new(
                EndReason::TooManyMessages,
                format!("too many game messages: over {limit} per second"),
            ));
        }
        self.to_room
            .try_send(FromClient::Message(message))
            .map_err(|_| {
                SessionEnd::new(
                    EndReason::TooManyMessages,
                    "too many game messages: the room's queue for this player is full",
                )
            })
    }

    fn forward_input(&mut self, input: Input<P::Input>, arrived: Instant) {
        // Sequences must increase; a replay or reordering is dropped here so the room never
        // sees it.
        if input.seq <= self.last_seq {
            self.ctx.metrics.inputs_dropped.inc();
            return;
        }
        self.last_seq = input.seq;
        if self
            .to_room
            .try_send(FromClient::Input { input, arrived })
            .is_err()
        {
            self.ctx.metrics.inputs_dropped.inc();
        }
    }
}
