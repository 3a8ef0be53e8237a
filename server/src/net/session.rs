//! One client connection from accept to close.
//!
//! Phases (after the WebSocket upgrade in [`super::connection`]): `Hello` → join the room →
//! `Welcome` → play → close. Everything up to `Welcome` is bounded by the handshake timeout. While playing, a reader and a writer
//! run side by side in this one task:
//! - the reader decodes frames, validates them, forwards inputs to the room's bounded queue
//!   and answers pings;
//! - the writer drains the frames the room queued and flushes once per batch (one flush per
//!   tick, not per message).
//!
//! Whichever ends first decides the [`SessionEnd`]; the session then sends the error message
//! and close frame, bounded by a timeout so a peer that stopped reading cannot hold it open.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use ticksync_protocol::codec::{self, decode_client_message, CodecError};
use ticksync_protocol::messages::HelloError;
use ticksync_protocol::token::JoinClaims;
use ticksync_protocol::{
    close_code, ClientMessage, EntityId, ErrorCode, ErrorMessage, Hello, Input, InputSeq, Pong,
    Resume, ServerMessage, Tick, Welcome,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::close::SessionEnd;
use super::limits::{MessageRateLimiter, RateDecision};
use super::FaultInjector;
use super::SessionContext;
use crate::metrics::ServerMetrics;
use crate::room::{Disconnect, JoinRefused, JoinRequest, SessionShared};

type Ws<S> = WebSocketStream<S>;
type WsSink<'a, S> = SplitSink<&'a mut Ws<S>, Message>;
type WsStream<'a, S> = SplitStream<&'a mut Ws<S>>;

/// Time allowed for sending the error message and close frame, and for the peer's answering
/// close. A peer that stopped reading does not get to hold the connection longer.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Floor of the ping interval, so a tiny idle timeout in a test cannot make the writer spin.
const MIN_PING_INTERVAL: Duration = Duration::from_millis(50);

/// Frames written per flush at most, so one session's burst cannot monopolize its task.
const MAX_FRAMES_PER_FLUSH: usize = 64;

/// Runs a session on a freshly upgraded WebSocket until it closes: `Hello`, join, play,
/// close. `deadline` bounds everything up to `Welcome` (the handshake timeout, counted from
/// accept). With join tokens on, `claims` is the verified token; its name is the player's.
pub async fn run<S>(
    mut ws: Ws<S>,
    claims: Option<JoinClaims>,
    peer: SocketAddr,
    deadline: Instant,
    ctx: &SessionContext,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let opened = tokio::select! {
        opened = tokio::time::timeout_at(deadline, open(&mut ws, claims, ctx)) => opened,
        _ = ctx.shutdown.cancelled() => return,
    };
    let joined = match opened {
        Ok(Ok(joined)) => joined,
        Ok(Err(end)) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, reason = end.label(), "session refused");
            close(&mut ws, &end, &ctx.metrics).await;
            return;
        }
        Err(_elapsed) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, "no Hello before the handshake timeout");
            let end = SessionEnd::error(
                ErrorCode::IdleTimeout,
                close_code::IDLE_TIMEOUT,
                "no Hello in time",
            );
            close(&mut ws, &end, &ctx.metrics).await;
            return;
        }
    };
    let entity = joined.welcome.entity_id;
    tracing::debug!(%peer, %entity, resumed = joined.welcome.resumed, "session started");
    let shared = joined.shared.clone();
    let end = play(&mut ws, joined, ctx).await;
    // Tell the room whether the entity may wait for a Resume: only when the connection was
    // lost or stalled, not after Leave or a kick for misbehaviour.
    if end.allows_resume() {
        shared.end_resumable();
    } else {
        shared.end_final();
    }
    match &end {
        SessionEnd::Close { code, .. } if *code == close_code::IDLE_TIMEOUT => {
            ServerMetrics::add(&ctx.metrics.kicks_idle, 1)
        }
        SessionEnd::Close { code, error, .. }
            if *code == close_code::POLICY_VIOLATION && *error == Some(ErrorCode::Flooding) =>
        {
            ServerMetrics::add(&ctx.metrics.kicks_flood, 1)
        }
        SessionEnd::Close { code, .. }
            if matches!(
                *code,
                close_code::PROTOCOL_ERROR
                    | close_code::UNSUPPORTED_DATA
                    | close_code::MESSAGE_TOO_BIG
            ) =>
        {
            ServerMetrics::add(&ctx.metrics.kicks_protocol, 1)
        }
        _ => {}
    }
    tracing::debug!(%peer, %entity, reason = end.label(), "session ended");
    close(&mut ws, &end, &ctx.metrics).await;
}

/// A session that passed `Hello` and was admitted.
struct Joined {
    welcome: Welcome,
    inputs: mpsc::Sender<Input>,
    outbound: mpsc::Receiver<Bytes>,
    outbound_for_pongs: mpsc::Sender<Bytes>,
    disconnect: oneshot::Receiver<Disconnect>,
    shared: Arc<SessionShared>,
}

/// How a session opens: a new player, or one taking its entity back.
enum Greeting {
    Hello(Hello),
    Resume(Resume),
}

/// Read `Hello` (or `Resume`), join the room and send `Welcome`.
async fn open<S>(
    ws: &mut Ws<S>,
    claims: Option<JoinClaims>,
    ctx: &SessionContext,
) -> Result<Joined, SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (name, resume_token) = match read_greeting(ws, &ctx.metrics).await? {
        Greeting::Hello(hello) => (hello.player_name, None),
        Greeting::Resume(resume) => (String::new(), Some(resume.resume_token)),
    };
    // A verified token names the player; the name in Hello is only a wish.
    let name = claims.map_or(name, |claims| claims.name);
    let joined = join(name, resume_token, ctx).await?;
    let welcome = ServerMessage::Welcome(joined.welcome.clone());
    send_message(ws, &welcome, &ctx.metrics).await?;
    Ok(joined)
}

async fn read_greeting<S>(ws: &mut Ws<S>, metrics: &ServerMetrics) -> Result<Greeting, SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let message = match ws.next().await {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(end_for_read_error(error)),
            None => return Err(SessionEnd::PeerGone),
        };
        match classify(message, metrics)? {
            Some(ClientMessage::Hello(hello)) => {
                return hello
                    .validate()
                    .map(|()| Greeting::Hello(hello))
                    .map_err(refuse_greeting);
            }
            Some(ClientMessage::Resume(resume)) => {
                return resume
                    .validate()
                    .map(|()| Greeting::Resume(resume))
                    .map_err(refuse_greeting);
            }
            Some(other) => {
                return Err(SessionEnd::error(
                    ErrorCode::UnexpectedMessage,
                    close_code::PROTOCOL_ERROR,
                    format!(
                        "expected Hello or Resume first, got {}",
                        message_name(&other)
                    ),
                ))
            }
            // Control frames before Hello are fine.
            None => continue,
        }
    }
}

fn refuse_greeting(error: HelloError) -> SessionEnd {
    match error {
        HelloError::UnsupportedVersion { .. } => SessionEnd::error(
            ErrorCode::UnsupportedProtocolVersion,
            close_code::UNSUPPORTED_VERSION,
            error.to_string(),
        ),
        _ => SessionEnd::error(
            ErrorCode::InvalidHello,
            close_code::PROTOCOL_ERROR,
            error.to_string(),
        ),
    }
}

async fn join(
    player_name: String,
    resume_token: Option<String>,
    ctx: &SessionContext,
) -> Result<Joined, SessionEnd> {
    let (input_tx, input_rx) = mpsc::channel(ctx.config.input_queue_capacity);
    let (outbound_tx, outbound_rx) = mpsc::channel(ctx.config.outbound_queue_capacity);
    let (disconnect_tx, disconnect_rx) = oneshot::channel();
    let (reply_tx, reply_rx) = oneshot::channel();
    let shared = Arc::new(SessionShared::default());
    let request = JoinRequest {
        player_name,
        resume_token,
        inputs: input_rx,
        outbound: outbound_tx.clone(),
        disconnect: disconnect_tx,
        shared: shared.clone(),
        reply: reply_tx,
    };
    let answer = match ctx.room.request_join(request).await {
        Ok(()) => reply_rx.await.unwrap_or(Err(JoinRefused::ShuttingDown)),
        Err(refused) => Err(refused),
    };
    match answer {
        Ok(welcome) => Ok(Joined {
            welcome,
            inputs: input_tx,
            outbound: outbound_rx,
            outbound_for_pongs: outbound_tx,
            disconnect: disconnect_rx,
            shared,
        }),
        Err(refused @ JoinRefused::RoomFull { .. }) => Err(SessionEnd::error(
            ErrorCode::RoomFull,
            close_code::ROOM_FULL,
            refused.to_string(),
        )),
        Err(refused @ JoinRefused::ResumeRefused) => Err(SessionEnd::error(
            ErrorCode::ResumeRefused,
            close_code::RESUME_REFUSED,
            refused.to_string(),
        )),
        Err(JoinRefused::ShuttingDown) => Err(SessionEnd::going_away()),
    }
}

/// Runs the reader and writer until one of them (or shutdown) ends the session.
async fn play<S>(ws: &mut Ws<S>, joined: Joined, ctx: &SessionContext) -> SessionEnd
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let Joined {
        welcome,
        inputs,
        mut outbound,
        outbound_for_pongs,
        mut disconnect,
        shared,
    } = joined;
    let (mut sink, mut stream) = ws.split();
    let started = Instant::now();
    let last_heard = AtomicU64::new(0);
    let reader = Reader {
        inputs,
        pongs: outbound_for_pongs,
        shared,
        last_seq: 0,
        rate: MessageRateLimiter::new(
            ctx.config.max_messages_per_second,
            ctx.config.flood_timeout,
            started,
        ),
        heard: Heard {
            started,
            last: &last_heard,
        },
        ctx,
    };
    let writer = Writer {
        entity: welcome.entity_id,
        metrics: &ctx.metrics,
        faults: ctx.faults.as_deref(),
        heard: Heard {
            started,
            last: &last_heard,
        },
        // Three pings per idle timeout: a live client's WebSocket stack answers each, so
        // it is never closed as idle just because the game has nothing to say.
        ping_every: ctx.config.idle_timeout / 3,
    };
    tokio::select! {
        end = reader.run(&mut stream) => end,
        end = writer.run(&mut sink, &mut outbound, &mut disconnect) => end,
        _ = ctx.shutdown.cancelled() => SessionEnd::going_away(),
    }
    // `sink` and `stream` are halves of `ws`; dropping them here hands `ws` back for the close.
}

/// The reading half of a playing session.
struct Reader<'a> {
    inputs: mpsc::Sender<Input>,
    pongs: mpsc::Sender<Bytes>,
    /// Shared with the room, which reads the acknowledged tick to pick the delta baseline.
    shared: Arc<SessionShared>,
    last_seq: InputSeq,
    rate: MessageRateLimiter,
    heard: Heard<'a>,
    ctx: &'a SessionContext,
}

/// When the client was last heard from, shared by the reader (which writes it) and the
/// writer (which pings a quiet client). Milliseconds since the session started.
#[derive(Clone, Copy)]
struct Heard<'a> {
    started: Instant,
    last: &'a AtomicU64,
}

impl Heard<'_> {
    fn now(&self) {
        let millis = self.started.elapsed().as_millis() as u64;
        self.last.store(millis, Ordering::Relaxed);
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

impl Reader<'_> {
    async fn run<S>(mut self, stream: &mut WsStream<'_, S>) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let idle_timeout = self.ctx.config.idle_timeout;
        loop {
            let message = match tokio::time::timeout(idle_timeout, stream.next()).await {
                Err(_elapsed) => {
                    return SessionEnd::error(
                        ErrorCode::IdleTimeout,
                        close_code::IDLE_TIMEOUT,
                        format!("nothing received for {}s", idle_timeout.as_secs()),
                    )
                }
                Ok(None) => return SessionEnd::PeerGone,
                Ok(Some(Err(error))) => return end_for_read_error(error),
                Ok(Some(Ok(message))) => message,
            };
            self.heard.now();
            match self.rate.check(Instant::now()) {
                RateDecision::Allow => {}
                RateDecision::Drop => {
                    ServerMetrics::add(&self.ctx.metrics.messages_dropped, 1);
                    continue;
                }
                RateDecision::Flooding => {
                    let config = &self.ctx.config;
                    return SessionEnd::error(
                        ErrorCode::Flooding,
                        close_code::POLICY_VIOLATION,
                        format!(
                            "message flood: over {} messages/s for {}s",
                            config.max_messages_per_second,
                            config.flood_timeout.as_secs_f32()
                        ),
                    );
                }
            }
            let message = match classify(message, &self.ctx.metrics) {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(end) => return end,
            };
            match message {
                ClientMessage::Input(input) => {
                    self.acknowledge(input.ack_tick);
                    self.forward_input(input);
                }
                ClientMessage::Ack(ack) => self.acknowledge(ack.tick),
                ClientMessage::Ping(ping) => {
                    let pong = ServerMessage::Pong(Pong {
                        client_time_us: ping.client_time_us,
                        server_tick: self.ctx.room.current_tick(),
                    });
                    // A pong that does not fit the queue is dropped like a snapshot would be.
                    if let Ok(frame) = codec::encode(&pong) {
                        let _ = self.pongs.try_send(Bytes::from(frame));
                    }
                }
                ClientMessage::Leave => return SessionEnd::normal(),
                ClientMessage::Hello(_) | ClientMessage::Resume(_) => {
                    return SessionEnd::error(
                        ErrorCode::UnexpectedMessage,
                        close_code::PROTOCOL_ERROR,
                        "Hello or Resume sent twice",
                    )
                }
            }
        }
    }

    /// Records an acknowledgement. Acks only move forward; a tick the room has not reached
    /// yet is a lie and ignored (the room would not find it in its history anyway).
    fn acknowledge(&self, tick: Tick) {
        if tick != 0 && tick <= self.ctx.room.current_tick() {
            self.shared.acked_tick.fetch_max(tick, Ordering::Relaxed);
        }
    }

    fn forward_input(&mut self, input: Input) {
        // Sequences must increase; a replay or reordering is dropped here so the room never
        // sees it.
        if input.seq <= self.last_seq {
            ServerMetrics::add(&self.ctx.metrics.inputs_dropped, 1);
            return;
        }
        self.last_seq = input.seq;
        if self.inputs.try_send(input).is_err() {
            ServerMetrics::add(&self.ctx.metrics.inputs_dropped, 1);
        }
    }
}

/// Turns a WebSocket message into a client message: `Ok(None)` for control frames, an error
/// end for anything that is not a well-formed binary message.
fn classify(
    message: Message,
    metrics: &ServerMetrics,
) -> Result<Option<ClientMessage>, SessionEnd> {
    match message {
        Message::Binary(payload) => {
            ServerMetrics::add(&metrics.bytes_in, payload.len() as u64);
            match decode_client_message(&payload) {
                Ok(message) => Ok(Some(message)),
                Err(CodecError::TooLarge { actual, limit }) => Err(SessionEnd::error(
                    ErrorCode::MessageTooLarge,
                    close_code::MESSAGE_TOO_BIG,
                    format!("message of {actual} bytes exceeds {limit}"),
                )),
                Err(error) => Err(SessionEnd::error(
                    ErrorCode::MalformedMessage,
                    close_code::PROTOCOL_ERROR,
                    error.to_string(),
                )),
            }
        }
        Message::Text(_) => Err(SessionEnd::error(
            ErrorCode::UnexpectedTextFrame,
            close_code::UNSUPPORTED_DATA,
            "text frames are not accepted on ticksync.v1.bincode; send binary frames",
        )),
        Message::Close(_) => Err(SessionEnd::PeerGone),
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
    }
}

fn end_for_read_error(error: WsError) -> SessionEnd {
    match error {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => SessionEnd::error(
            ErrorCode::MessageTooLarge,
            close_code::MESSAGE_TOO_BIG,
            format!("message of {size} bytes exceeds {max_size}"),
        ),
        WsError::Capacity(error) => SessionEnd::error(
            ErrorCode::MessageTooLarge,
            close_code::MESSAGE_TOO_BIG,
            error.to_string(),
        ),
        // The peer's TCP connection ended without a close frame: a lost connection (a crash,
        // a dead network), not a protocol violation — the player may resume.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => SessionEnd::PeerGone,
        WsError::Protocol(error) => SessionEnd::error(
            ErrorCode::MalformedMessage,
            close_code::PROTOCOL_ERROR,
            error.to_string(),
        ),
        WsError::Utf8(_) => SessionEnd::error(
            ErrorCode::MalformedMessage,
            close_code::PROTOCOL_ERROR,
            "invalid UTF-8 in a text frame",
        ),
        // Connection reset, closed, I/O errors: nobody to talk to.
        _ => SessionEnd::PeerGone,
    }
}

fn message_name(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello(_) => "Hello",
        ClientMessage::Input(_) => "Input",
        ClientMessage::Ping(_) => "Ping",
        ClientMessage::Ack(_) => "Ack",
        ClientMessage::Resume(_) => "Resume",
        ClientMessage::Leave => "Leave",
    }
}

/// The writing half: forwards queued frames, flushing once per batch, until the room says
/// stop or the socket fails.
struct Writer<'a> {
    entity: EntityId,
    metrics: &'a ServerMetrics,
    faults: Option<&'a dyn FaultInjector>,
    heard: Heard<'a>,
    ping_every: Duration,
}

impl Writer<'_> {
    async fn run<S>(
        &self,
        sink: &mut WsSink<'_, S>,
        outbound: &mut mpsc::Receiver<Bytes>,
        disconnect: &mut oneshot::Receiver<Disconnect>,
    ) -> SessionEnd
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut ping_timer = tokio::time::interval(self.ping_every.max(MIN_PING_INTERVAL));
        ping_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                biased;
                reason = &mut *disconnect => return end_for_disconnect(reason.ok()),
                frame = outbound.recv() => match frame {
                    Some(frame) => frame,
                    None => return SessionEnd::going_away(),
                },
                _ = ping_timer.tick() => {
                    if self.heard.quiet_for() >= self.ping_every {
                        let ping = Message::Ping(Bytes::new());
                        if sink.feed(ping).await.is_err() || sink.flush().await.is_err() {
                            return SessionEnd::PeerGone;
                        }
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
                if self
                    .faults
                    .is_some_and(|faults| faults.drop_frame(self.entity, &frame))
                {
                    continue;
                }
                written += frame.len() as u64;
                if sink.feed(Message::Binary(frame)).await.is_err() {
                    return SessionEnd::PeerGone;
                }
            }
            if sink.flush().await.is_err() {
                return SessionEnd::PeerGone;
            }
            self.metrics.bytes_out.fetch_add(written, Ordering::Relaxed);
        }
    }
}

fn end_for_disconnect(reason: Option<Disconnect>) -> SessionEnd {
    match reason {
        Some(Disconnect::TooSlow) => SessionEnd::error(
            ErrorCode::TooSlow,
            close_code::POLICY_VIOLATION,
            "too slow: snapshots were not read in time",
        ),
        Some(Disconnect::Replaced) => SessionEnd::error(
            ErrorCode::Replaced,
            close_code::REPLACED,
            "another connection resumed this player",
        ),
        // The room dropped us without a word: it has stopped.
        Some(Disconnect::ShuttingDown) | None => SessionEnd::going_away(),
    }
}

async fn send_message<S>(
    ws: &mut Ws<S>,
    message: &ServerMessage,
    metrics: &ServerMetrics,
) -> Result<(), SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = codec::encode(message).map_err(|error| {
        SessionEnd::error(
            ErrorCode::Internal,
            close_code::INTERNAL_ERROR,
            error.to_string(),
        )
    })?;
    ServerMetrics::add(&metrics.bytes_out, frame.len() as u64);
    ws.send(Message::Binary(Bytes::from(frame)))
        .await
        .map_err(|_| SessionEnd::PeerGone)
}

/// Sends the error message and close frame of `end`, then waits (bounded) for the peer's
/// close so the TCP connection ends cleanly.
async fn close<S>(ws: &mut Ws<S>, end: &SessionEnd, metrics: &ServerMetrics)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let SessionEnd::Close {
        code,
        reason,
        error,
    } = end
    else {
        return;
    };
    let closing = async {
        if let Some(error) = error {
            let message = ServerMessage::Error(ErrorMessage {
                code: *error,
                message: reason.clone(),
            });
            // Best effort: the close frame below still goes out if this fails.
            let _ = send_message(ws, &message, metrics).await;
        }
        let frame = CloseFrame {
            code: CloseCode::from(*code),
            reason: reason.as_str().into(),
        };
        if ws.close(Some(frame)).await.is_err() {
            return;
        }
        // Drain until the peer's close arrives (or the connection drops).
        while let Some(Ok(_)) = ws.next().await {}
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
}
