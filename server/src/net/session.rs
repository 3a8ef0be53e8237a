//! One client connection from accept to close.
//!
//! Phases: WebSocket upgrade → `Hello` → join the room → `Welcome` → play → close. The first
//! three are bounded together by the handshake timeout. While playing, a reader and a writer
//! run side by side in this one task:
//! - the reader decodes frames, validates them, forwards inputs to the room's bounded queue
//!   and answers pings;
//! - the writer drains the frames the room queued and flushes once per batch (one flush per
//!   tick, not per message).
//!
//! Whichever ends first decides the [`SessionEnd`]; the session then sends the error message
//! and close frame, bounded by a timeout so a peer that stopped reading cannot hold it open.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use ticksync_protocol::codec::{self, decode_client_message, CodecError};
use ticksync_protocol::{
    close_code, ClientMessage, EntityId, ErrorCode, ErrorMessage, Hello, Input, InputSeq, Pong,
    ServerMessage, Tick, Welcome,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::close::SessionEnd;
use super::handshake::upgrade;
use super::FaultInjector;
use super::SessionContext;
use crate::metrics::ServerMetrics;
use crate::room::{Disconnect, JoinRefused, JoinRequest};

type Ws = WebSocketStream<TcpStream>;
type WsSink<'a> = SplitSink<&'a mut Ws, Message>;
type WsStream<'a> = SplitStream<&'a mut Ws>;

/// Time allowed for sending the error message and close frame, and for the peer's answering
/// close. A peer that stopped reading does not get to hold the connection longer.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Frames written per flush at most, so one session's burst cannot monopolize its task.
const MAX_FRAMES_PER_FLUSH: usize = 64;

/// Serves one accepted TCP connection until it closes.
pub async fn serve(tcp: TcpStream, peer: SocketAddr, ctx: Arc<SessionContext>) {
    let started = tokio::time::timeout(ctx.config.handshake_timeout, open(tcp, &ctx));
    let opened = tokio::select! {
        opened = started => opened,
        _ = ctx.shutdown.cancelled() => return,
    };
    let (mut ws, joined) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(OpenFailure::Upgrade(error))) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, %error, "WebSocket upgrade failed");
            return;
        }
        Ok(Err(OpenFailure::Refused(mut ws, end))) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, reason = end.label(), "session refused");
            close(&mut ws, &end, &ctx.metrics).await;
            return;
        }
        Err(_elapsed) => {
            ServerMetrics::add(&ctx.metrics.handshake_failures, 1);
            tracing::debug!(%peer, "handshake timed out");
            return;
        }
    };
    let entity = joined.welcome.entity_id;
    tracing::debug!(%peer, %entity, "session started");
    let end = play(&mut ws, joined, &ctx).await;
    match &end {
        SessionEnd::Close { code, .. } if *code == close_code::IDLE_TIMEOUT => {
            ServerMetrics::add(&ctx.metrics.kicks_idle, 1)
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
    acked_tick: Arc<AtomicU32>,
}

enum OpenFailure {
    Upgrade(WsError),
    // Boxed: the stream is large and this path is rare.
    Refused(Box<Ws>, SessionEnd),
}

/// Upgrade, read `Hello`, join the room and send `Welcome`.
async fn open(tcp: TcpStream, ctx: &SessionContext) -> Result<(Ws, Joined), OpenFailure> {
    let mut ws = upgrade(tcp, &ctx.config)
        .await
        .map_err(OpenFailure::Upgrade)?;
    let hello = match read_hello(&mut ws, &ctx.metrics).await {
        Ok(hello) => hello,
        Err(end) => return Err(OpenFailure::Refused(Box::new(ws), end)),
    };
    match join(&hello, ctx).await {
        Ok(joined) => {
            let welcome = ServerMessage::Welcome(joined.welcome.clone());
            if let Err(end) = send_message(&mut ws, &welcome, &ctx.metrics).await {
                return Err(OpenFailure::Refused(Box::new(ws), end));
            }
            Ok((ws, joined))
        }
        Err(end) => Err(OpenFailure::Refused(Box::new(ws), end)),
    }
}

async fn read_hello(ws: &mut Ws, metrics: &ServerMetrics) -> Result<Hello, SessionEnd> {
    loop {
        let message = match ws.next().await {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(end_for_read_error(error)),
            None => return Err(SessionEnd::PeerGone),
        };
        match classify(message, metrics)? {
            Some(ClientMessage::Hello(hello)) => {
                return match hello.validate() {
                    Ok(()) => Ok(hello),
                    Err(
                        error @ ticksync_protocol::messages::HelloError::UnsupportedVersion {
                            ..
                        },
                    ) => Err(SessionEnd::error(
                        ErrorCode::UnsupportedProtocolVersion,
                        close_code::UNSUPPORTED_VERSION,
                        error.to_string(),
                    )),
                    Err(error) => Err(SessionEnd::error(
                        ErrorCode::InvalidHello,
                        close_code::PROTOCOL_ERROR,
                        error.to_string(),
                    )),
                };
            }
            Some(other) => {
                return Err(SessionEnd::error(
                    ErrorCode::UnexpectedMessage,
                    close_code::PROTOCOL_ERROR,
                    format!("expected Hello first, got {}", message_name(&other)),
                ))
            }
            // Control frames before Hello are fine.
            None => continue,
        }
    }
}

async fn join(hello: &Hello, ctx: &SessionContext) -> Result<Joined, SessionEnd> {
    let (input_tx, input_rx) = mpsc::channel(ctx.config.input_queue_capacity);
    let (outbound_tx, outbound_rx) = mpsc::channel(ctx.config.outbound_queue_capacity);
    let (disconnect_tx, disconnect_rx) = oneshot::channel();
    let (reply_tx, reply_rx) = oneshot::channel();
    let acked_tick = Arc::new(AtomicU32::new(0));
    let request = JoinRequest {
        player_name: hello.player_name.clone(),
        inputs: input_rx,
        outbound: outbound_tx.clone(),
        disconnect: disconnect_tx,
        acked_tick: acked_tick.clone(),
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
            acked_tick,
        }),
        Err(refused @ JoinRefused::RoomFull { .. }) => Err(SessionEnd::error(
            ErrorCode::RoomFull,
            close_code::ROOM_FULL,
            refused.to_string(),
        )),
        Err(JoinRefused::ShuttingDown) => Err(SessionEnd::going_away()),
    }
}

/// Runs the reader and writer until one of them (or shutdown) ends the session.
async fn play(ws: &mut Ws, joined: Joined, ctx: &SessionContext) -> SessionEnd {
    let Joined {
        welcome,
        inputs,
        mut outbound,
        outbound_for_pongs,
        mut disconnect,
        acked_tick,
    } = joined;
    let (mut sink, mut stream) = ws.split();
    let reader = Reader {
        inputs,
        pongs: outbound_for_pongs,
        acked_tick,
        last_seq: 0,
        ctx,
    };
    let writer = Writer {
        entity: welcome.entity_id,
        metrics: &ctx.metrics,
        faults: ctx.faults.as_deref(),
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
    /// Shared with the room, which reads it to pick the delta baseline.
    acked_tick: Arc<AtomicU32>,
    last_seq: InputSeq,
    ctx: &'a SessionContext,
}

impl Reader<'_> {
    async fn run(mut self, stream: &mut WsStream<'_>) -> SessionEnd {
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
                ClientMessage::Hello(_) => {
                    return SessionEnd::error(
                        ErrorCode::UnexpectedMessage,
                        close_code::PROTOCOL_ERROR,
                        "Hello sent twice",
                    )
                }
            }
        }
    }

    /// Records an acknowledgement. Acks only move forward; a tick the room has not reached
    /// yet is a lie and ignored (the room would not find it in its history anyway).
    fn acknowledge(&self, tick: Tick) {
        if tick != 0 && tick <= self.ctx.room.current_tick() {
            self.acked_tick.fetch_max(tick, Ordering::Relaxed);
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
        ClientMessage::Leave => "Leave",
    }
}

/// The writing half: forwards queued frames, flushing once per batch, until the room says
/// stop or the socket fails.
struct Writer<'a> {
    entity: EntityId,
    metrics: &'a ServerMetrics,
    faults: Option<&'a dyn FaultInjector>,
}

impl Writer<'_> {
    async fn run(
        &self,
        sink: &mut WsSink<'_>,
        outbound: &mut mpsc::Receiver<Bytes>,
        disconnect: &mut oneshot::Receiver<Disconnect>,
    ) -> SessionEnd {
        loop {
            let first = tokio::select! {
                biased;
                reason = &mut *disconnect => return end_for_disconnect(reason.ok()),
                frame = outbound.recv() => match frame {
                    Some(frame) => frame,
                    None => return SessionEnd::going_away(),
                },
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
        // The room dropped us without a word: it has stopped.
        Some(Disconnect::ShuttingDown) | None => SessionEnd::going_away(),
    }
}

async fn send_message(
    ws: &mut Ws,
    message: &ServerMessage,
    metrics: &ServerMetrics,
) -> Result<(), SessionEnd> {
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
async fn close(ws: &mut Ws, end: &SessionEnd, metrics: &ServerMetrics) {
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
