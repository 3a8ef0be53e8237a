//! The writing half of a playing session: pings a client that has gone quiet, and either
//! forwards the frames the room queued, flushing once per batch (one flush per tick, not per
//! message), or — where the room writes the frames to the connection's [`Lane`] itself —
//! writes what the socket could not take at once when it turns writable.
//!
//! The room encodes every frame once, in bincode (shared by all clients with the same
//! snapshot body). A JSON session's writer re-encodes each frame as JSON text: the codec is
//! a property of the connection, so the room and its shared encoding stay codec-agnostic.

use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use std::marker::PhantomData;

use ticksync_protocol::codec::decode_server_message;
use ticksync_protocol::{PlayerId, Schema, WireFormat};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::reader::Heard;
use super::{frame_message, WsSink};
use crate::metrics::ServerMetrics;
use crate::net::lane::Lane;
use crate::net::session_end::{EndReason, SessionEnd};
use crate::net::FaultInjector;
use crate::room::Disconnect;

/// Floor of the ping interval, so a tiny idle timeout in a test cannot make the writer spin.
const MIN_PING_INTERVAL: Duration = Duration::from_millis(50);

/// Frames written per flush at most, so one session's burst cannot monopolize its task.
const MAX_FRAMES_PER_FLUSH: usize = 64;

/// Where a session's frames come from.
pub(super) enum Frames<'a> {
    /// The room queues them; the writer writes them.
    Queued(&'a mut mpsc::Receiver<Bytes>),
    /// The room writes them to the lane; the writer writes the lane's backlog.
    Laned(&'a Lane),
}

/// The writing half: forwards queued frames, flushing once per batch (or keeps a lane's
/// backlog moving), until the room stops or the socket fails. (The room's word to stop, [`Disconnect`], is watched beside it, see
/// `play`: a write blocked on a full socket must not delay it.)
pub(super) struct Writer<'a, P: Schema> {
    pub(super) player: PlayerId,
    /// The game schema the frames are of (for the JSON transcoding).
    pub(super) schema: PhantomData<P>,
    pub(super) format: WireFormat,
    pub(super) metrics: &'a ServerMetrics,
    pub(super) faults: Option<&'a dyn FaultInjector>,
    pub(super) heard: Heard<'a>,
    pub(super) ping_every: Duration,
}

impl<P: Schema> Writer<'_, P> {
    pub(super) async fn run<S>(&self, sink: &mut WsSink<'_, S>, frames: Frames<'_>) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        match frames {
            Frames::Queued(outbound) => self.forward(sink, outbound).await,
            Frames::Laned(lane) => self.keep_lane(sink, lane).await,
        }
    }

    /// Pings the client every `ping_every` it has been quiet.
    fn ping_timer(&self) -> tokio::time::Interval {
        let mut timer = tokio::time::interval(self.ping_every.max(MIN_PING_INTERVAL));
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer
    }

    /// Pings the client if it has been quiet for `ping_every`.
    async fn ping_if_quiet<S>(&self, sink: &mut WsSink<'_, S>) -> Result<(), SessionEnd>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if self.heard.quiet_for() >= self.ping_every {
            let ping = Message::Ping(Bytes::new());
            if sink.feed(ping).await.is_err() || sink.flush().await.is_err() {
                return Err(SessionEnd::peer_gone());
            }
        }
        Ok(())
    }

    /// Writes, when the socket turns writable, what the room's writes left in the lane's
    /// backlog; pings a quiet client. Ends only when the connection fails.
    async fn keep_lane<S>(&self, sink: &mut WsSink<'_, S>, lane: &Lane) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut ping_timer = self.ping_timer();
        loop {
            tokio::select! {
                biased;
                _failed = lane.serve_backlog() => return SessionEnd::peer_gone(),
                _ = ping_timer.tick() => {
                    if let Err(end) = self.ping_if_quiet(sink).await {
                        return end;
                    }
                }
            }
        }
    }

    /// Forwards the frames the room queued, flushing once per batch.
    async fn forward<S>(
        &self,
        sink: &mut WsSink<'_, S>,
        outbound: &mut mpsc::Receiver<Bytes>,
    ) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut ping_timer = self.ping_timer();
        loop {
            let first = tokio::select! {
                biased;
                frame = outbound.recv() => match frame {
                    Some(frame) => frame,
                    None => return SessionEnd::going_away(),
                },
                _ = ping_timer.tick() => {
                    if let Err(end) = self.ping_if_quiet(sink).await {
                        return end;
                    }
                    continue;
                }
            };
            let mut written = 0u64;
            let mut next = Some(first);
            let mut batch = 0;
            while let Some(frame) = next.take() {
                batch += 1;
                if batch < MAX_FRAMES_PER_FLUSH {
                    next = outbound.try_recv().ok();
                }
                match self.write_frame(sink, frame).await {
                    Ok(bytes) => written += bytes,
                    Err(end) => return end,
                }
            }
            if sink.flush().await.is_err() {
                return SessionEnd::peer_gone();
            }
            self.metrics.bytes_out.inc_by(written);
        }
    }

    /// Writes what the room queued before it told this session to end (the game's last
    /// messages before a kick or the end of the room, and the snapshots before them), then
    /// flushes. The caller bounds it in time: a peer that does not read cannot hold it.
    pub(super) async fn write_queued<S>(
        &self,
        sink: &mut WsSink<'_, S>,
        outbound: &mut mpsc::Receiver<Bytes>,
    ) -> Result<(), SessionEnd>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut written = 0u64;
        while let Ok(frame) = outbound.try_recv() {
            written += self.write_frame(sink, frame).await?;
        }
        sink.flush().await.map_err(|_| SessionEnd::peer_gone())?;
        self.metrics.bytes_out.inc_by(written);
        Ok(())
    }

    /// Feeds one queued frame to the socket in the session's format (not flushed); the bytes
    /// it adds to the wire, 0 for a frame the fault injector drops.
    async fn write_frame<S>(
        &self,
        sink: &mut WsSink<'_, S>,
        frame: Bytes,
    ) -> Result<u64, SessionEnd>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        if self
            .faults
            .is_some_and(|faults| faults.drop_frame(self.player, &frame))
        {
            return Ok(0);
        }
        let message = match self.format {
            WireFormat::Bincode => Message::Binary(frame),
            WireFormat::Json => transcode_to_json::<P>(frame)?,
        };
        let bytes = message.len() as u64;
        sink.feed(message)
            .await
            .map_err(|_| SessionEnd::peer_gone())?;
        Ok(bytes)
    }
}

/// Whether a session the room ends for `reason` first gets what the room queued for it: the
/// game's last words to a kicked player or at the end of the room (a round's result, say)
/// arrive before the close, as every game message arrives before the next snapshot. Not for a
/// client kicked for not reading (it cannot take them), nor one replaced by its own resume
/// (the new connection carries on), nor a room that stopped without a word.
pub(super) fn delivers_queued(reason: &Option<Disconnect>) -> bool {
    matches!(
        reason,
        Some(Disconnect::Kicked(_) | Disconnect::RoomEnded(_) | Disconnect::ShuttingDown)
    )
}

/// Re-encodes a bincode frame from the room as a JSON text frame.
fn transcode_to_json<P: Schema>(frame: Bytes) -> Result<Message, SessionEnd> {
    let internal = |detail: String| SessionEnd::new(EndReason::Internal, detail);
    let message = decode_server_message::<P>(&frame)
        .map_err(|error| internal(format!("room frame did not decode: {error}")))?;
    let json = WireFormat::Json
        .encode(&message)
        .map_err(|error| internal(format!("could not encode JSON: {error}")))?;
    frame_message(WireFormat::Json, Bytes::from(json))
}

/// How the session ends when the room tells it to (`None`: the room dropped it without a word).
pub(super) fn end_for_disconnect(reason: Option<Disconnect>) -> SessionEnd {
    match reason {
        Some(Disconnect::TooSlow) => SessionEnd::new(
            EndReason::TooSlow,
            "too slow: snapshots were not read in time",
        ),
        Some(Disconnect::Replaced) => SessionEnd::new(
            EndReason::Replaced,
            "another connection resumed this player",
        ),
        Some(Disconnect::Kicked(reason)) => SessionEnd::new(EndReason::Kicked, reason),
        Some(Disconnect::RoomEnded(reason)) => SessionEnd::new(EndReason::RoomEnded, reason),
        Some(Disconnect::Left) => SessionEnd::normal(),
        Some(Disconnect::ConnectionLost) => SessionEnd::peer_gone(),
        // The room dropped us without a word: it has stopped.
        Some(Disconnect::ShuttingDown) | None => SessionEnd::going_away(),
    }
}
