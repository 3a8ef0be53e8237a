//! One client connection from accept to close.
//!
//! Phases (after the WebSocket upgrade in [`super::connection`]): `Hello` → join the room →
//! `Welcome` → play → close. Everything up to `Welcome` is bounded by the handshake timeout. While playing, a reader and a writer
//! run side by side in this one task:
//! - the reader decodes frames, validates them, forwards inputs to the room's bounded queue
//!   and answers pings;
//! - the writer drains the frames the room queued and flushes once per batch (one flush per
//!   tick, not per message); or, where the room writes the frames to the connection's
//!   [`Lane`] itself (bincode, over ws or wss), writes what the socket could not take at once.
//!
//! The room hands on the `Welcome` as the first of its frames, so nothing it writes can
//! reach the client before it.
//!
//! Whichever ends first decides the [`SessionEnd`] (its [`EndReason`] decides the rest); the session then sends the error message
//! and close frame, bounded by a timeout so a peer that stopped reading cannot hold it open.
//!
//! This file holds the phases and the shared helpers; [`reader`] and [`writer`] the two
//! halves of a playing session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use ticksync_game::Claims;
use ticksync_protocol::codec::CodecError;
use ticksync_protocol::messages::{validate_player_name, HelloError};
use ticksync_protocol::{
    ClientMessage, ErrorMessage, Hello, Resume, Schema, ServerMessage, Welcome, WireFormat,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

mod reader;
mod writer;

use reader::{Heard, RateGate, Reader};
use writer::{Frames, Writer};

use super::connection::TcpBacked;
use super::lane::{Lane, RoomLane};
use super::limits::{GameMessageBudget, MessageRateLimiter};
use super::session_end::{EndReason, SessionEnd};
use super::upgrade::Admission;
use super::SessionContext;
use crate::metrics::{FailureReason, ServerMetrics};
use crate::room::{
    Disconnect, FromClient, JoinRefused, JoinRequest, NoRoom, Outlet, RoomHandle, SessionLink,
    MESSAGE_RESERVE,
};

type Ws<S> = WebSocketStream<S>;
type WsSink<'a, S> = SplitSink<&'a mut Ws<S>, Message>;
type WsStream<'a, S> = SplitStream<&'a mut Ws<S>>;

/// Time allowed for writing the error message and close frame. A peer that stopped reading
/// cannot take them; it does not get to hold its connection (and its connection slots) longer:
/// the connection is reset.
const CLOSE_WRITE_TIMEOUT: Duration = Duration::from_millis(500);

/// Time allowed, once the close frame is written, for the peer's answering close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Time allowed for the whole close of a session kicked for not reading: writing the frames,
/// then an answer that such a peer is not going to send. It is gone within this of the kick,
/// whatever it does.
const KICKED_CLOSE_TIMEOUT: Duration = Duration::from_millis(750);

/// Runs a session on a freshly upgraded WebSocket until it closes: `Hello`, join, play,
/// close. `deadline` bounds everything up to `Welcome` (the handshake timeout, counted from
/// accept). The admission says which codec the session speaks, which room it joins, and
/// (with join tokens on) the verified token, whose name is the player's.
pub async fn run<S, P>(
    mut ws: Ws<S>,
    admission: Admission,
    peer: SocketAddr,
    deadline: Instant,
    ctx: &SessionContext<P>,
) where
    S: AsyncRead + AsyncWrite + TcpBacked + Unpin + Send,
    P: Schema,
{
    let format = admission.format;
    let joined = match greet(&mut ws, admission, deadline, ctx).await {
        Ok(joined) => joined,
        Err(end) => {
            ctx.metrics
                .handshake_failed(FailureReason::Greeting(end.label()));
            tracing::debug!(%peer, reason = end.label().as_str(), detail = end.detail(), "session refused");
            close::<S, P>(&mut ws, &end, format, &ctx.metrics).await;
            return;
        }
    };
    let player = joined.welcome.player_id;
    tracing::debug!(%peer, %player, resumed = joined.welcome.resumed, "session started");
    let shared = joined.shared.clone();
    let end = play(&mut ws, joined, format, ctx).await;
    // Tell the room whether the entity may wait for a Resume: only when the connection was
    // lost or stalled, not after Leave or a kick for misbehaviour.
    if end.allows_resume() {
        shared.end_resumable();
    } else {
        shared.end_final();
    }
    count_end(&ctx.metrics, &end);
    tracing::debug!(%peer, %player, reason = end.label().as_str(), "session ended");
    close::<S, P>(&mut ws, &end, format, &ctx.metrics).await;
}

/// The greeting, bounded by `deadline` (the handshake timeout) and cut short by a shutdown:
/// `Hello` or `Resume`, then the join (the room hands the `Welcome` on with the frames).
async fn greet<S, P>(
    ws: &mut Ws<S>,
    admission: Admission,
    deadline: Instant,
    ctx: &SessionContext<P>,
) -> Result<Joined<P>, SessionEnd>
where
    S: AsyncRead + AsyncWrite + TcpBacked + Unpin + Send,
    P: Schema,
{
    tokio::select! {
        opened = tokio::time::timeout_at(deadline, Box::pin(open(ws, admission, ctx))) => {
            opened.unwrap_or_else(|_elapsed| {
                Err(SessionEnd::new(EndReason::NoHelloInTime, "no Hello in time"))
            })
        }
        // Upgraded but not yet welcomed: a close frame all the same, like a player's.
        _ = ctx.shutdown.cancelled() => Err(SessionEnd::going_away()),
    }
}

/// Counts a played session's end: its kick counter, if the session kicked the client, and
/// its disconnect reason.
fn count_end(metrics: &ServerMetrics, end: &SessionEnd) {
    if let Some(kick) = end.reason.kick() {
        metrics.kicked(kick, 1);
    }
    metrics.disconnected(end.label());
}

/// A session that passed `Hello` and was admitted.
struct Joined<P: Schema> {
    welcome: Welcome,
    /// The room joined, for its current tick.
    room: RoomHandle<P>,
    to_room: mpsc::Sender<FromClient<P>>,
    /// The frames the room queued for this session's writer; `None` when the room writes
    /// them to the connection's [`Lane`] itself.
    outbound: Option<mpsc::Receiver<Bytes>>,
    /// Where the room's frames go, for the session's own (pongs), in order with them.
    outlet: Outlet,
    disconnect: oneshot::Receiver<Disconnect>,
    shared: Arc<SessionLink>,
}

/// How a session opens: a new player, or one taking its entity back.
enum Greeting {
    Hello(Hello),
    Resume(Resume),
}

/// Read `Hello` (or `Resume`) and join the room, which hands on the `Welcome`.
async fn open<S, P>(
    ws: &mut Ws<S>,
    admission: Admission,
    ctx: &SessionContext<P>,
) -> Result<Joined<P>, SessionEnd>
where
    S: AsyncRead + AsyncWrite + TcpBacked + Unpin + Send,
    P: Schema,
{
    let Admission {
        format,
        room,
        claims,
    } = admission;
    let (name, resume_token) = match read_greeting::<S, P>(ws, format, &ctx.metrics).await? {
        Greeting::Hello(hello) => (hello.player_name, None),
        Greeting::Resume(resume) => (String::new(), Some(resume.resume_token)),
    };
    // A verified token's `name` claim names the player; the name in Hello is only a wish.
    // The token's name was checked at the upgrade and passes the same checks again here.
    // The rest of the claims go to the game.
    let (name, claims) = match claims {
        None => (name, None),
        Some(claims) => {
            let name = match claims.name {
                None => name,
                Some(token_name) => {
                    validate_player_name(&token_name).map_err(refuse_greeting)?;
                    token_name
                }
            };
            let game_claims = Claims {
                subject: claims.sub,
                custom: claims.custom,
            };
            (name, Some(game_claims))
        }
    };
    let resuming = resume_token.is_some();
    // The room writes a bincode session's frames straight to the connection's lane; a JSON
    // session's writer re-encodes each.
    let lane = match format {
        WireFormat::Bincode => Some(ws.get_ref().lane().clone()),
        WireFormat::Json => None,
    };
    let joined = join(&room, (name, claims, resume_token), lane, ctx).await?;
    if let (Some(cluster), false) = (&ctx.cluster, resuming) {
        cluster.joined(&room);
    }
    Ok(joined)
}

async fn read_greeting<S, P>(
    ws: &mut Ws<S>,
    format: WireFormat,
    metrics: &ServerMetrics,
) -> Result<Greeting, SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: Schema,
{
    loop {
        let message = match ws.next().await {
            Some(Ok(message)) => message,
            Some(Err(error)) => return Err(end_for_read_error(error)),
            None => return Err(SessionEnd::peer_gone()),
        };
        match decode_frame::<P>(message, format, metrics)? {
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
                return Err(SessionEnd::new(
                    EndReason::UnexpectedMessage,
                    format!("expected Hello or Resume first, got {}", other.name()),
                ))
            }
            // Control frames before Hello are fine.
            None => continue,
        }
    }
}

fn refuse_greeting(error: HelloError) -> SessionEnd {
    match error {
        HelloError::UnsupportedVersion { .. } => {
            SessionEnd::new(EndReason::UnsupportedVersion, error.to_string())
        }
        _ => SessionEnd::new(EndReason::InvalidHello, error.to_string()),
    }
}

/// How many times a join is retried when its room closed in between (each retry starts a
/// fresh room; more than one in a row needs a room closing again within microseconds).
const JOIN_ATTEMPTS: usize = 3;

async fn join<P: Schema>(
    room: &str,
    (player_name, claims, resume_token): (String, Option<Claims>, Option<String>),
    lane: Option<Arc<Lane>>,
    ctx: &SessionContext<P>,
) -> Result<Joined<P>, SessionEnd> {
    let mut last = JoinRefused::RoomClosed;
    for _ in 0..JOIN_ATTEMPTS {
        let handle = ctx
            .rooms
            .handle_for(room)
            .map_err(|refused| match refused {
                NoRoom::ShuttingDown => SessionEnd::going_away(),
                NoRoom::LimitReached { .. } => {
                    SessionEnd::new(EndReason::NoRoomAvailable, refused.to_string())
                }
                NoRoom::StartFailed { .. } => {
                    SessionEnd::new(EndReason::Internal, refused.to_string())
                }
            })?;
        let request = (player_name.clone(), claims.clone(), resume_token.clone());
        match join_room(handle, request, lane.clone(), ctx).await {
            Ok(joined) => return Ok(joined),
            Err(JoinRefused::RoomClosed) if !ctx.shutdown.is_cancelled() => {
                last = JoinRefused::RoomClosed;
                continue;
            }
            Err(refused) => {
                last = refused;
                break;
            }
        }
    }
    Err(match last {
        refused @ JoinRefused::RoomFull { .. } => {
            SessionEnd::new(EndReason::RoomFull, refused.to_string())
        }
        refused @ JoinRefused::ResumeRefused => {
            SessionEnd::new(EndReason::ResumeRefused, refused.to_string())
        }
        JoinRefused::Game(reason) => SessionEnd::new(EndReason::JoinRefused, reason),
        JoinRefused::ShuttingDown | JoinRefused::RoomClosed => SessionEnd::going_away(),
    })
}

/// Queues a join at `room` and waits for its answer. With a `lane`, the room writes the
/// session's frames to it; otherwise into a queue for the session's writer.
async fn join_room<P: Schema>(
    room: RoomHandle<P>,
    (player_name, claims, resume_token): (String, Option<Claims>, Option<String>),
    lane: Option<Arc<Lane>>,
    ctx: &SessionContext<P>,
) -> Result<Joined<P>, JoinRefused> {
    let (to_room_tx, to_room_rx) = mpsc::channel(ctx.limits.input_queue_capacity);
    let shared = Arc::new(SessionLink::default());
    // Snapshots may use the configured capacity; the reserve above it is for game messages.
    let capacity = ctx.limits.outbound_queue_capacity;
    let (outlet, outbound) = match &lane {
        Some(lane) => {
            let connection = RoomLane::<P> {
                lane: lane.clone(),
                metrics: ctx.metrics.clone(),
                faults: ctx.faults.clone(),
                to_room: to_room_tx.downgrade(),
                shared: shared.clone(),
                capacity,
            };
            let connection = Arc::new(connection);
            (
                Outlet::Direct {
                    connection,
                    capacity,
                },
                None,
            )
        }
        None => {
            let (sender, receiver) = mpsc::channel(capacity + MESSAGE_RESERVE);
            (Outlet::Queue(sender), Some(receiver))
        }
    };
    let (disconnect_tx, disconnect_rx) = oneshot::channel();
    let (reply_tx, reply_rx) = oneshot::channel();
    let request = JoinRequest {
        player_name,
        claims,
        resume_token,
        from_client: to_room_rx,
        outlet: outlet.clone(),
        disconnect: disconnect_tx,
        shared: shared.clone(),
        reply: reply_tx,
    };
    room.request_join(request).await?;
    // The room dropping the reply without answering means it stopped.
    let welcome = reply_rx.await.unwrap_or(Err(JoinRefused::RoomClosed))?;
    Ok(Joined {
        welcome,
        room,
        to_room: to_room_tx,
        outbound,
        outlet,
        disconnect: disconnect_rx,
        shared,
    })
}

/// Runs the reader and writer until one of them (or shutdown) ends the session.
async fn play<S, P>(
    ws: &mut Ws<S>,
    joined: Joined<P>,
    format: WireFormat,
    ctx: &SessionContext<P>,
) -> SessionEnd
where
    S: AsyncRead + AsyncWrite + TcpBacked + Unpin + Send,
    P: Schema,
{
    let Joined {
        welcome,
        room,
        to_room,
        mut outbound,
        outlet,
        disconnect,
        shared,
    } = joined;
    let lane = ws.get_ref().lane().clone();
    let (mut sink, mut stream) = ws.split();
    let started = Instant::now();
    // When the client was last heard from: the lane's clock, which the room's reads keep too.
    let heard = Heard {
        started: lane.created(),
        last: lane.heard(),
    };
    heard.record();
    let limits = (
        MessageRateLimiter::new(
            ctx.limits.max_messages_per_second,
            ctx.limits.flood_timeout,
            started,
        ),
        GameMessageBudget::new(ctx.limits.max_game_messages_per_second, started),
    );
    // A bincode connection the room writes to is read by the room too, from its next tick:
    // no wake-up of this task per input (this task reads what the room leaves it).
    let gate = if outbound.is_none() {
        match lane.enter_room(limits, ctx.limits.max_message_bytes) {
            Ok(()) => RateGate::Lane(lane.clone()),
            Err((rate, budget)) => RateGate::Own { rate, budget },
        }
    } else {
        lane.leave_reading_to_session();
        let (rate, budget) = limits;
        RateGate::Own { rate, budget }
    };
    let reader = Reader {
        to_room,
        replies: outlet,
        player: welcome.player_id,
        shared,
        last_seq: 0,
        room,
        format,
        gate,
        heard,
        ctx,
    };
    let writer = Writer::<P> {
        player: welcome.player_id,
        schema: std::marker::PhantomData,
        format,
        metrics: &ctx.metrics,
        faults: ctx.faults.as_deref(),
        heard,
        // Three pings per idle timeout: a live client's WebSocket stack answers each, so
        // it is never closed as idle just because the game has nothing to say.
        ping_every: ctx.limits.idle_timeout / 3,
    };
    // The session's own token for the shutdown: the select below polls it on every wake-up
    // (every frame, every input), and a pending wait on the server-wide token locks the one
    // mutex that every session's wait shares.
    let shutdown = ctx.shutdown.child_token();
    let frames = match &mut outbound {
        Some(outbound) => Frames::Queued(outbound),
        None => Frames::Laned(&lane),
    };
    // The room's word and the shutdown are watched beside the reader and the writer, not
    // between the writer's writes: a kicked client that does not read blocks the writer on a
    // full socket, and must be closed all the same.
    let reason = tokio::select! {
        biased;
        reason = disconnect => reason.ok(),
        _ = shutdown.cancelled() => return SessionEnd::going_away(),
        end = reader.run(&mut stream) => return end,
        end = writer.run(&mut sink, frames) => return end,
    };
    // Frames the room queued before its word are still owed to the client (the writer may
    // not have taken them yet: the word is polled first). Bounded: a kicked client that does
    // not read cannot hold the session open.
    if let (true, Some(outbound)) = (writer::delivers_queued(&reason), &mut outbound) {
        let writing = writer.write_queued(&mut sink, outbound);
        if let Ok(Err(end)) = tokio::time::timeout(CLOSE_WRITE_TIMEOUT, writing).await {
            return end;
        }
    }
    writer::end_for_disconnect(reason)
    // `sink` and `stream` are halves of `ws`; dropping them here hands `ws` back for the close.
}

/// Turns a WebSocket message into a client message: `Ok(None)` for control frames, an error
/// end for anything that is not a well-formed message in the session's format (binary frames
/// for bincode, text frames for JSON).
fn decode_frame<P: Schema>(
    message: Message,
    format: WireFormat,
    metrics: &ServerMetrics,
) -> Result<Option<ClientMessage<P>>, SessionEnd> {
    let payload = match (message, format) {
        (Message::Binary(payload), WireFormat::Bincode) => payload,
        (Message::Text(text), WireFormat::Json) => Bytes::from(text),
        (Message::Text(_), WireFormat::Bincode) => {
            return Err(SessionEnd::new(EndReason::TextFrameOnBincode,
                "text frames are not accepted on the bincode subprotocol; send binary frames (or connect with the json subprotocol)",
            ))
        }
        (Message::Binary(_), WireFormat::Json) => {
            return Err(SessionEnd::new(EndReason::BinaryFrameOnJson,
                "binary frames are not accepted on the json subprotocol; send JSON text frames",
            ))
        }
        (Message::Close(_), _) => return Err(SessionEnd::peer_gone()),
        (Message::Ping(_) | Message::Pong(_) | Message::Frame(_), _) => return Ok(None),
    };
    metrics.bytes_in.inc_by(payload.len() as u64);
    match format.decode_client_message::<P>(&payload) {
        Ok(message) => Ok(Some(message)),
        Err(CodecError::TooLarge { actual, limit }) => Err(SessionEnd::new(
            EndReason::TooLarge,
            format!("message of {actual} bytes exceeds {limit}"),
        )),
        Err(error) => Err(SessionEnd::new(EndReason::Malformed, error.to_string())),
    }
}

fn end_for_read_error(error: WsError) -> SessionEnd {
    match error {
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => SessionEnd::new(
            EndReason::TooLarge,
            format!("message of {size} bytes exceeds {max_size}"),
        ),
        WsError::Capacity(error) => SessionEnd::new(EndReason::TooLarge, error.to_string()),
        // The peer's TCP connection ended without a close frame: a lost connection (a crash,
        // a dead network), not a protocol violation — the player may resume.
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => SessionEnd::peer_gone(),
        WsError::Protocol(error) => SessionEnd::new(EndReason::Malformed, error.to_string()),
        WsError::Utf8(_) => SessionEnd::new(EndReason::Malformed, "invalid UTF-8 in a text frame"),
        // Connection reset, closed, I/O errors: nobody to talk to.
        _ => SessionEnd::peer_gone(),
    }
}

async fn send_message<S, P>(
    ws: &mut Ws<S>,
    message: &ServerMessage<P>,
    format: WireFormat,
    metrics: &ServerMetrics,
) -> Result<(), SessionEnd>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: Schema,
{
    let frame = format
        .encode(message)
        .map_err(|error| SessionEnd::new(EndReason::Internal, error.to_string()))
        .and_then(|bytes| frame_message(format, Bytes::from(bytes)))?;
    metrics.bytes_out.inc_by(frame.len() as u64);
    ws.send(frame).await.map_err(|_| SessionEnd::peer_gone())
}

/// Wraps an encoded message in the frame type of its format: binary for bincode, text for
/// JSON (whose encoder only produces UTF-8).
fn frame_message(format: WireFormat, encoded: Bytes) -> Result<Message, SessionEnd> {
    if !format.uses_text_frames() {
        return Ok(Message::Binary(encoded));
    }
    Utf8Bytes::try_from(encoded)
        .map(Message::Text)
        .map_err(|_| SessionEnd::new(EndReason::Internal, "encoded JSON is not UTF-8"))
}

/// Sends the error message and close frame of `end`, then waits (bounded) for the peer's
/// close so the TCP connection ends cleanly (for a peer kicked for not reading, all within
/// [`KICKED_CLOSE_TIMEOUT`]). When the frames cannot be written in [`CLOSE_WRITE_TIMEOUT`]
/// (the peer does not read), the connection is reset instead.
async fn close<S, P>(ws: &mut Ws<S>, end: &SessionEnd, format: WireFormat, metrics: &ServerMetrics)
where
    S: AsyncRead + AsyncWrite + TcpBacked + Unpin,
    P: Schema,
{
    // The room writes no more: the error and close frames below are the last on the wire (a
    // room may even have admitted the join just as the greeting failed). A client kicked for
    // not reading does not get the snapshots still waiting for it.
    ws.get_ref()
        .lane()
        .close_to_room(end.reason == EndReason::TooSlow);
    let Some(code) = end.reason.close_code() else {
        return;
    };
    let error = end.reason.error_code();
    let reason = end.detail();
    let writing = async {
        if let Some(error) = error {
            let message = ServerMessage::<P>::Error(ErrorMessage {
                code: error,
                message: reason.to_owned(),
            });
            // Best effort: the close frame below still goes out if this fails.
            let _ = send_message(ws, &message, format, metrics).await;
        }
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        ws.close(Some(frame)).await.is_ok()
    };
    let kicked_by = Instant::now() + KICKED_CLOSE_TIMEOUT;
    let not_reading = end.reason == EndReason::TooSlow;
    match tokio::time::timeout(CLOSE_WRITE_TIMEOUT, writing).await {
        Ok(true) => {
            // Drain until the peer's close arrives (or the connection drops).
            let answer = async { while let Some(Ok(_)) = ws.next().await {} };
            let deadline = if not_reading {
                kicked_by
            } else {
                Instant::now() + CLOSE_TIMEOUT
            };
            let _ = tokio::time::timeout_at(deadline, answer).await;
        }
        // The connection failed: nothing left to do.
        Ok(false) => {}
        Err(_elapsed) => {
            // The peer is not taking bytes. Reset rather than close, so the kernel does not
            // keep the unsent frames (and the connection) for a peer that is not reading.
            if let Err(error) = ws.get_ref().tcp().set_zero_linger() {
                tracing::debug!(%error, "could not set SO_LINGER to reset the connection");
            }
        }
    }
}
