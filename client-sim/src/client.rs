//! [`Client`]: one player's connection to a ticksync server — WebSocket connect with the
//! protocol's subprotocol, the `Hello` → `Welcome` handshake, sequenced inputs, pings, and
//! decoded server events with input→ack latency measured along the way.
//!
//! Snapshots are deltas against a view this client acknowledged; the client applies them
//! with a [`ViewStore`], checks the server's checksum, and acknowledges the last one applied
//! in every input (or in an `Ack`). [`Client::view`] is the world as of
//! [`Client::view_tick`].
//!
//! The client is a plain struct driven by its owner: call [`Client::next_event`] to read,
//! the `send_*` methods to write. For a callback style see [`crate::ClientHandler`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use http::header::{HeaderValue, SEC_WEBSOCKET_PROTOCOL};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync_protocol::codec::{MAX_SERVER_JSON_MESSAGE_BYTES, MAX_SERVER_MESSAGE_BYTES};
use ticksync_protocol::{
    close_code, Ack, ClientMessage, EntityId, EntityState, Hello, Input, InputSeq, MoveDir, Ping,
    Resume, ServerMessage, Snapshot, Tick, Welcome, WireFormat, PROTOCOL_VERSION,
};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{debug, trace};

use crate::error::ClientError;
use crate::event::{ClientEvent, CloseInfo};
use crate::latency::{duration_to_us, latency_histogram, AckLatencyTracker, SharedLatency};
use crate::stats::{tick_gap, ClientCounters};
use crate::tls::TlsConfig;
use crate::trace;
use crate::view::ViewStore;

/// Default bound on connect + upgrade + `Welcome`: a local server answers in milliseconds,
/// and a loaded one accepting a swarm still well within this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Socket read buffer. Arena snapshots for a few hundred players are a few KiB, so 16 KiB
/// reads most frames in one call while keeping a thousand bots' buffers at 16 MiB total
/// (tungstenite's default is 128 KiB each).
pub const DEFAULT_READ_BUFFER_BYTES: usize = 16 * 1024;

/// The WebSocket stream type a [`Client`] owns.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How to connect. `ClientOptions::default()` suits a game client and a bot alike.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Name sent in `Hello` (at most `ticksync_protocol::MAX_PLAYER_NAME_BYTES` bytes).
    pub player_name: String,
    /// Bound on TCP connect, WebSocket upgrade and waiting for `Welcome` together.
    pub handshake_timeout: Duration,
    /// Size of the socket read buffer in bytes.
    pub read_buffer_bytes: usize,
    /// Send an `Ack` right after each snapshot applied, from [`Client::next_event`]. For
    /// clients that send no inputs (spectators, tools): without acks the server has no
    /// baseline and sends every snapshot in full. Clients that send an input per tick do
    /// not need it, inputs carry the acknowledgement.
    pub ack_every_snapshot: bool,
    /// Chaos knob for tests: the fraction (0.0 to 1.0) of received snapshots to throw away
    /// before applying them, as if the network had lost them. Thrown-away snapshots are not
    /// applied, not acknowledged, not returned as events, and are counted in
    /// [`ClientCounters::snapshots_discarded`]. Values outside the range are clamped; NaN
    /// counts as 0.
    pub snapshot_loss: f64,
    /// Seed of the RNG that picks which snapshots [`ClientOptions::snapshot_loss`] throws
    /// away, so a lossy run can be replayed.
    pub loss_seed: u64,
    /// TLS settings for `wss://` URLs (see [`crate::tls::tls_config`]); `None` uses
    /// tokio-tungstenite's default, which has no trusted roots built in.
    pub tls: Option<TlsConfig>,
    /// Print every frame sent and received, decoded, with a timestamp, to stderr (like
    /// websocket-client's `enableTrace(True)`), whatever the log filter says.
    pub trace: bool,
    /// Record input→ack latencies into this shared histogram (under `key`) instead of the
    /// client's own, which then stays empty: a swarm's bots share one, as a histogram
    /// per bot would cost ~140 KiB each.
    pub shared_latency: Option<(Arc<SharedLatency>, usize)>,
    /// Take back an entity after a dropped connection: sends `Resume` with this token (the
    /// `resume_token` of the previous `Welcome`) instead of `Hello`.
    pub resume_token: Option<String>,
    /// The codec: bincode binary frames (the default) or JSON text frames.
    pub format: WireFormat,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            player_name: "player".to_owned(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            read_buffer_bytes: DEFAULT_READ_BUFFER_BYTES,
            ack_every_snapshot: false,
            snapshot_loss: 0.0,
            loss_seed: 0,
            tls: None,
            trace: false,
            shared_latency: None,
            resume_token: None,
            format: WireFormat::Bincode,
        }
    }
}

impl ClientOptions {
    /// Default options with the given player name.
    pub fn named(player_name: impl Into<String>) -> Self {
        ClientOptions {
            player_name: player_name.into(),
            ..ClientOptions::default()
        }
    }
}

/// A connected, welcomed player.
///
/// ```no_run
/// # async fn demo() -> Result<(), ticksync_sim::ClientError> {
/// use ticksync_sim::{Client, ClientEvent, ClientOptions};
/// use ticksync_protocol::MoveDir;
///
/// let mut client = Client::connect("ws://127.0.0.1:7878/ws", ClientOptions::named("ada")).await?;
/// println!("I am entity {}", client.welcome().entity_id);
/// client.send_input(MoveDir::from_vector(1.0, 0.0), 0).await?;
/// while let Some(event) = client.next_event().await {
///     match event {
///         ClientEvent::Snapshot(snapshot) => {
///             println!("tick {} acked input {}", snapshot.tick, snapshot.last_input_seq);
///             println!("{} entities in view", client.view().len());
///             break;
///         }
///         ClientEvent::Closed { code, reason } => println!("closed {code:?}: {reason}"),
///         _ => {}
///     }
/// }
/// client.leave_and_wait(std::time::Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
pub struct Client {
    socket: Socket,
    welcome: Welcome,
    /// Zero point of the clock carried in `Ping`s, so a `Pong` can be timed.
    epoch: Instant,
    /// Sequence number of the next input; the first is 1.
    next_input_seq: InputSeq,
    acks: AckLatencyTracker,
    ack_latency_us: Histogram<u64>,
    /// Where latencies go instead of `ack_latency_us` ([`ClientOptions::shared_latency`]).
    shared_latency: Option<(Arc<SharedLatency>, usize)>,
    /// Tick of the last snapshot received (0: none), for [`ClientCounters::tick_gaps`].
    last_received_tick: Tick,
    trace: bool,
    format: WireFormat,
    counters: ClientCounters,
    latest_snapshot: Option<Arc<Snapshot>>,
    /// The views of recent snapshots: the current one and the baselines the server may use.
    views: ViewStore,
    /// Simulated snapshot loss; `None` when off.
    loss: Option<SnapshotLoss>,
    ack_every_snapshot: bool,
    /// An event held back while the `Ack` it calls for is sent (so `next_event` stays
    /// cancel-safe across that send).
    pending_event: Option<ClientEvent>,
    /// An `Ack` for the current view is to be sent before `pending_event` is handed out.
    ack_due: bool,
    /// A close frame was read but `Closed` not yet handed out (kept so `next_event` stays
    /// cancel-safe while the close reply is flushed).
    pending_close: Option<CloseInfo>,
    closed: bool,
    left: bool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("welcome", &self.welcome)
            .field("next_input_seq", &self.next_input_seq)
            .field("view_tick", &self.views.tick())
            .field("counters", &self.counters)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `url` (e.g. `ws://127.0.0.1:7878/ws`), offering the bincode subprotocol,
    /// sends `Hello` and waits for `Welcome`, all within `options.handshake_timeout`.
    ///
    /// An `Error` from the server becomes [`ClientError::Refused`]; an HTTP answer to the
    /// upgrade becomes [`ClientError::UpgradeRejected`].
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let limit = options.handshake_timeout;
        match tokio::time::timeout(limit, Self::connect_and_greet(url, &options)).await {
            Ok(result) => result,
            Err(_elapsed) => {
                if options.trace {
                    trace::event(&format!("no Welcome within {limit:?}: giving up"));
                }
                Err(ClientError::HandshakeTimeout(limit))
            }
        }
    }

    async fn connect_and_greet(url: &str, options: &ClientOptions) -> Result<Client, ClientError> {
        let mut request = url
            .into_client_request()
            .map_err(|source| ClientError::InvalidUrl {
                url: url.to_owned(),
                source: Box::new(source),
            })?;
        request.headers_mut().insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(options.format.subprotocol()),
        );
        let max_message_bytes = match options.format {
            WireFormat::Bincode => MAX_SERVER_MESSAGE_BYTES,
            WireFormat::Json => MAX_SERVER_JSON_MESSAGE_BYTES,
        };
        let config = WebSocketConfig::default()
            .read_buffer_size(options.read_buffer_bytes)
            .max_message_size(Some(max_message_bytes))
            .max_frame_size(Some(max_message_bytes));
        // Nagle off: inputs are tiny and latency-critical; batching them would add up to a
        // delayed-ACK interval to every input→ack measurement.
        let disable_nagle = true;
        let connector = options
            .tls
            .as_ref()
            .map(|tls| tokio_tungstenite::Connector::Rustls(Arc::clone(tls)));
        let trace = options.trace;
        if trace {
            trace::connecting(url);
            trace::upgrade_request(&request);
        }
        let (mut socket, response) = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            disable_nagle,
            connector,
        )
        .await
        .map_err(|error| {
            if trace {
                match &error {
                    tokio_tungstenite::tungstenite::Error::Http(response) => {
                        trace::upgrade_response(response);
                    }
                    other => trace::event(&format!("connect failed: {other}")),
                }
            }
            ClientError::connect(error)
        })?;
        if trace {
            trace::upgrade_response(&response);
            let chosen = response
                .headers()
                .get(SEC_WEBSOCKET_PROTOCOL)
                .and_then(|value| value.to_str().ok());
            trace::subprotocol(chosen, options.format);
        }
        debug!(url, "WebSocket connected; sending Hello");

        let mut counters = ClientCounters::default();
        let hello = match &options.resume_token {
            Some(token) => ClientMessage::Resume(Resume {
                protocol_version: PROTOCOL_VERSION,
                resume_token: token.clone(),
            }),
            None => ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                player_name: options.player_name.clone(),
            }),
        };
        let format = options.format;
        send_frame(&mut socket, &hello, format, &mut counters, trace).await?;
        let welcome = await_welcome(&mut socket, format, &mut counters, trace).await?;
        debug!(entity = %welcome.entity_id, tick_rate_hz = welcome.tick_rate_hz, "welcomed");
        let ack_latency_us = match options.shared_latency {
            // Auto-resizing from a tiny range: it is never recorded into, so it stays small.
            Some(_) => Histogram::new(1).map_err(|_| ClientError::Closed)?,
            None => latency_histogram(),
        };
        Ok(Client {
            socket,
            welcome,
            epoch: Instant::now(),
            next_input_seq: 1,
            acks: AckLatencyTracker::new(),
            ack_latency_us,
            shared_latency: options.shared_latency.clone(),
            last_received_tick: 0,
            trace,
            format,
            counters,
            latest_snapshot: None,
            views: ViewStore::new(),
            loss: SnapshotLoss::new(options.snapshot_loss, options.loss_seed),
            ack_every_snapshot: options.ack_every_snapshot,
            pending_event: None,
            ack_due: false,
            pending_close: None,
            closed: false,
            left: false,
        })
    }

    /// The server's `Welcome`: this player's entity, the tick rate, the world size.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// The entity this player controls (shorthand for `welcome().entity_id`).
    pub fn entity_id(&self) -> EntityId {
        self.welcome.entity_id
    }

    /// Sends one input with the next sequence number (1, 2, 3, ...) and returns that number.
    /// The input acknowledges [`Client::view_tick`], the last snapshot applied. The send
    /// time is remembered to time the server's acknowledgement.
    pub async fn send_input(
        &mut self,
        move_dir: MoveDir,
        buttons: u8,
    ) -> Result<InputSeq, ClientError> {
        let seq = self.next_input_seq;
        self.next_input_seq = self.next_input_seq.wrapping_add(1);
        self.acks.record_sent(seq, Instant::now());
        let ack_tick = self.acknowledge_current_view();
        self.send_message(&ClientMessage::Input(Input {
            seq,
            ack_tick,
            move_dir,
            buttons,
        }))
        .await?;
        self.counters.inputs_sent += 1;
        Ok(seq)
    }

    /// Sends an `Ack` for [`Client::view_tick`], the last snapshot applied, and returns that
    /// tick. Before the first snapshot there is nothing to acknowledge: nothing is sent and
    /// 0 is returned. Clients that send inputs need not call it (inputs carry the ack);
    /// see also [`ClientOptions::ack_every_snapshot`].
    pub async fn ack(&mut self) -> Result<Tick, ClientError> {
        let tick = self.acknowledge_current_view();
        if tick == 0 {
            return Ok(0);
        }
        self.send_message(&ClientMessage::Ack(Ack { tick })).await?;
        self.counters.acks_sent += 1;
        Ok(tick)
    }

    /// The tick to acknowledge, noting that its view must now be kept as a baseline. Noted
    /// before the send: if the send is cancelled after the frame left, the view must still
    /// be there when the server uses it.
    fn acknowledge_current_view(&mut self) -> Tick {
        self.views.mark_current_acked();
        self.views.tick()
    }

    /// Sends a `Ping` stamped with this client's clock; the answer arrives as
    /// [`ClientEvent::Pong`] with the round trip measured. Returns the stamp sent.
    pub async fn ping(&mut self) -> Result<u64, ClientError> {
        let client_time_us = duration_to_us(self.epoch.elapsed());
        self.send_message(&ClientMessage::Ping(Ping { client_time_us }))
            .await?;
        Ok(client_time_us)
    }

    /// Tells the server the player leaves. The server removes the entity and closes with
    /// `close_code::NORMAL`; keep reading events until [`ClientEvent::Closed`].
    pub async fn leave(&mut self) -> Result<(), ClientError> {
        self.send_message(&ClientMessage::Leave).await?;
        self.left = true;
        Ok(())
    }

    /// Leaves and reads (and counts) events until the server closes, at most `timeout`;
    /// past it the client closes the connection itself.
    pub async fn leave_and_wait(&mut self, timeout: Duration) -> Result<CloseInfo, ClientError> {
        if !self.closed {
            self.leave().await?;
        }
        let drain = async {
            while let Some(event) = self.next_event().await {
                if let ClientEvent::Closed { code, reason } = event {
                    return Some(CloseInfo { code, reason });
                }
            }
            None
        };
        match tokio::time::timeout(timeout, drain).await {
            Ok(Some(info)) => Ok(info),
            Ok(None) => Err(ClientError::Closed),
            Err(_elapsed) => {
                self.close().await?;
                Ok(CloseInfo {
                    code: Some(close_code::NORMAL),
                    reason: "server did not close in time; client closed".to_owned(),
                })
            }
        }
    }

    /// Sends a WebSocket close frame (code 1000) without `Leave`. Later events still drain
    /// until [`ClientEvent::Closed`].
    pub async fn close(&mut self) -> Result<(), ClientError> {
        if self.closed {
            return Ok(());
        }
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "client closed".into(),
        };
        self.socket
            .close(Some(frame))
            .await
            .map_err(ClientError::transport)
    }

    /// Sends any WebSocket message as is: an escape hatch for tests that speak to the server
    /// outside the protocol (garbage bytes, text frames). Binary payloads are counted.
    pub async fn send_raw(&mut self, message: Message) -> Result<(), ClientError> {
        let binary_len = match &message {
            Message::Binary(payload) => Some(payload.len()),
            _ => None,
        };
        if self.trace {
            trace::event(&format!("sent raw {}", trace::describe_raw(&message)));
        }
        self.socket
            .send(message)
            .await
            .map_err(ClientError::transport)?;
        if let Some(len) = binary_len {
            self.counters.count_sent(len);
        }
        Ok(())
    }

    async fn send_message(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        if self.closed {
            return Err(ClientError::Closed);
        }
        send_frame(
            &mut self.socket,
            message,
            self.format,
            &mut self.counters,
            self.trace,
        )
        .await
    }

    /// Waits for the next event. Returns `None` once [`ClientEvent::Closed`] has been
    /// returned.
    ///
    /// Cancel-safe: it can be a branch of `tokio::select!` next to a tick timer without
    /// losing a frame.
    pub async fn next_event(&mut self) -> Option<ClientEvent> {
        loop {
            if self.pending_event.is_some() {
                if self.ack_due {
                    // If this is cancelled the flag and the event stay, and the ack is
                    // retried on the next call: at worst sent twice, which is harmless.
                    if let Err(error) = self.ack().await {
                        // The connection is failing; the next read reports how.
                        debug!(%error, "could not send an Ack");
                    }
                    self.ack_due = false;
                }
                if let Some(event) = self.pending_event.take() {
                    return Some(event);
                }
            }
            if let Some(info) = &self.pending_close {
                // Push out tungstenite's automatic close reply. A failure changes nothing
                // for the caller: the connection is over either way.
                let _ = self.socket.flush().await;
                let info = info.clone();
                self.pending_close = None;
                self.closed = true;
                return Some(ClientEvent::Closed {
                    code: info.code,
                    reason: info.reason,
                });
            }
            if self.closed {
                return None;
            }
            let frame = match self.socket.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(error)) => {
                    self.closed = true;
                    return Some(ClientEvent::Closed {
                        code: None,
                        reason: ClientError::transport(error).to_string(),
                    });
                }
                None => {
                    self.closed = true;
                    return Some(ClientEvent::Closed {
                        code: None,
                        reason: "connection ended without a close frame".to_owned(),
                    });
                }
            };
            match frame {
                Message::Binary(_) | Message::Text(_) if !frame_matches(&frame, self.format) => {
                    self.counters.malformed_frames += 1;
                    let kind = if frame.is_text() { "text" } else { "binary" };
                    return Some(ClientEvent::Error(ClientError::UnexpectedFrame(kind)));
                }
                Message::Binary(_) | Message::Text(_) => {
                    let payload = frame.into_data();
                    self.counters.count_received(payload.len());
                    match self.on_server_frame(&payload, Instant::now()) {
                        // Handed out at the top of the loop, after the ack is sent.
                        Some(event) if self.ack_due => self.pending_event = Some(event),
                        Some(event) => return Some(event),
                        // A snapshot lost on purpose: read on.
                        None => {}
                    }
                }
                Message::Close(frame) => {
                    let info = close_info(frame);
                    if self.trace {
                        trace::event(&format!("received close {}", info));
                    }
                    debug!(code = ?info.code, reason = %info.reason, "server closed the connection");
                    // Handed out at the top of the loop, after the close reply is flushed.
                    self.pending_close = Some(info);
                }
                // WebSocket-level keepalives are answered by tungstenite itself.
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// The event for one binary frame; `None` for a snapshot thrown away by the simulated
    /// loss.
    fn on_server_frame(&mut self, payload: &[u8], received_at: Instant) -> Option<ClientEvent> {
        let message = match self.format.decode_server_message(payload) {
            Ok(message) => message,
            Err(error) => {
                if self.trace {
                    trace_received(self.format, payload, Err(&error));
                }
                self.counters.malformed_frames += 1;
                return Some(ClientEvent::Error(error.into()));
            }
        };
        if self.trace {
            trace_received(self.format, payload, Ok(&message));
        }
        Some(match message {
            ServerMessage::Snapshot(snapshot) => return self.on_snapshot(snapshot, received_at),
            ServerMessage::Pong(pong) => {
                let sent_at = self
                    .epoch
                    .checked_add(Duration::from_micros(pong.client_time_us));
                let round_trip = sent_at
                    .map(|sent_at| received_at.saturating_duration_since(sent_at))
                    .unwrap_or_default();
                ClientEvent::Pong { pong, round_trip }
            }
            ServerMessage::Error(error) => ClientEvent::ServerError(error),
            ServerMessage::Welcome(_) => {
                self.counters.malformed_frames += 1;
                ClientEvent::Error(ClientError::UnexpectedMessage {
                    expected: "Snapshot, Pong or Error",
                    got: "Welcome",
                })
            }
        })
    }

    /// Times the input it acknowledges, then applies it to the views. A desync leaves the
    /// view, and so the tick acknowledged, at the last good snapshot.
    fn on_snapshot(&mut self, snapshot: Snapshot, received_at: Instant) -> Option<ClientEvent> {
        self.counters.snapshots_received += 1;
        self.counters.tick_gaps += tick_gap(self.last_received_tick, snapshot.tick);
        self.last_received_tick = self.last_received_tick.max(snapshot.tick);
        if self.loss.as_mut().is_some_and(SnapshotLoss::loses_next) {
            if self.trace {
                trace::event(&format!(
                    "snapshot tick {} discarded (simulated loss)",
                    snapshot.tick
                ));
            }
            self.counters.snapshots_discarded += 1;
            trace!(tick = snapshot.tick, "snapshot discarded (simulated loss)");
            return None;
        }
        // The input ack is independent of the view: even a snapshot that fails to apply
        // says which input the server has reached.
        if let Some(latency) = self.acks.on_ack(snapshot.last_input_seq, received_at) {
            match &self.shared_latency {
                Some((shared, key)) => shared.record(*key, latency),
                None => self
                    .ack_latency_us
                    .saturating_record(duration_to_us(latency).max(1)),
            }
            trace!(
                seq = snapshot.last_input_seq,
                ?latency,
                "input acknowledged"
            );
        }
        match self.views.apply(&snapshot) {
            Ok(()) => {
                if self.trace {
                    trace::event(&format!(
                        "snapshot tick {} (baseline {}): checksum {:#010x} matches the view \
                         ({} in view)",
                        snapshot.tick,
                        snapshot.baseline_tick,
                        snapshot.checksum,
                        self.views.current().len()
                    ));
                }
                self.counters.snapshots_applied += 1;
                self.ack_due = self.ack_every_snapshot;
                let snapshot = Arc::new(snapshot);
                self.latest_snapshot = Some(Arc::clone(&snapshot));
                Some(ClientEvent::Snapshot(snapshot))
            }
            Err(reason) => {
                if self.trace {
                    trace::event(&format!(
                        "snapshot tick {} (baseline {}): DESYNC, {reason}",
                        snapshot.tick, snapshot.baseline_tick
                    ));
                }
                self.counters.desyncs += 1;
                debug!(
                    tick = snapshot.tick,
                    baseline_tick = snapshot.baseline_tick,
                    acked = self.views.tick(),
                    %reason,
                    "desync"
                );
                Some(ClientEvent::Error(ClientError::Desync {
                    tick: snapshot.tick,
                    reason,
                }))
            }
        }
    }

    /// Traffic totals so far.
    pub fn counters(&self) -> ClientCounters {
        self.counters
    }

    /// Input→ack latencies measured so far, in microseconds (see [`crate::latency`]).
    pub fn ack_latency_us(&self) -> &Histogram<u64> {
        &self.ack_latency_us
    }

    /// The most recent snapshot applied, if any (a delta: read entities from
    /// [`Client::view`]).
    pub fn latest_snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.latest_snapshot.as_ref()
    }

    /// The world as of [`Client::view_tick`]: every entity the server replicates to this
    /// client, sorted by id, exactly as the server holds it (the checksum says so). Empty
    /// before the first snapshot.
    pub fn view(&self) -> &[EntityState] {
        self.views.current()
    }

    /// Tick of the last snapshot applied: what inputs and `Ack`s acknowledge (0: none).
    pub fn view_tick(&self) -> Tick {
        self.views.tick()
    }

    /// How many views are held as possible baselines, the current one included (bounded by
    /// [`crate::view::MAX_HELD_VIEWS`]).
    pub fn held_views(&self) -> usize {
        self.views.held_views()
    }

    /// Highest input sequence the server has acknowledged (0: none yet).
    pub fn last_acked_input(&self) -> InputSeq {
        self.acks.highest_acked()
    }

    /// Sequence number of the last input sent (0: none yet).
    pub fn last_sent_input(&self) -> InputSeq {
        self.next_input_seq.wrapping_sub(1)
    }

    /// Whether [`Client::leave`] has been sent.
    pub fn has_left(&self) -> bool {
        self.left
    }

    /// Whether the connection is over (the `Closed` event has been returned).
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// Simulated network loss of snapshots ([`ClientOptions::snapshot_loss`]).
#[derive(Debug)]
struct SnapshotLoss {
    /// In (0, 1].
    probability: f64,
    rng: SmallRng,
}

impl SnapshotLoss {
    /// `None` when `probability` loses nothing (0, negative or NaN).
    fn new(probability: f64, seed: u64) -> Option<SnapshotLoss> {
        (probability > 0.0).then(|| SnapshotLoss {
            probability: probability.min(1.0),
            rng: SmallRng::seed_from_u64(seed),
        })
    }

    fn loses_next(&mut self) -> bool {
        self.rng.random::<f64>() < self.probability
    }
}

/// Whether a data frame has the type of `format` (binary for bincode, text for JSON).
fn frame_matches(frame: &Message, format: WireFormat) -> bool {
    if format.uses_text_frames() {
        frame.is_text()
    } else {
        frame.is_binary()
    }
}

/// Encodes `message` and sends it as one frame of the format's type, counting it.
async fn send_frame(
    socket: &mut Socket,
    message: &ClientMessage,
    format: WireFormat,
    counters: &mut ClientCounters,
    trace: bool,
) -> Result<(), ClientError> {
    let payload = format.encode(message)?;
    let len = payload.len();
    if trace {
        trace::frame(trace::Direction::Sent, format, &payload, Ok(message));
    }
    let frame = if format.uses_text_frames() {
        // The JSON encoder writes UTF-8 only.
        Message::Text(String::from_utf8_lossy(&payload).into_owned().into())
    } else {
        Message::Binary(payload.into())
    };
    socket.send(frame).await.map_err(ClientError::transport)?;
    counters.count_sent(len);
    Ok(())
}

/// Reads until the server's answer to `Hello`: `Welcome`, or a refusal.
async fn await_welcome(
    socket: &mut Socket,
    format: WireFormat,
    counters: &mut ClientCounters,
    trace: bool,
) -> Result<Welcome, ClientError> {
    loop {
        let frame = match socket.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => return Err(ClientError::transport(error)),
            None => {
                return Err(ClientError::ClosedDuringHandshake {
                    code: None,
                    reason: "connection ended without a close frame".to_owned(),
                })
            }
        };
        match frame {
            Message::Binary(_) | Message::Text(_) if !frame_matches(&frame, format) => {
                let kind = if frame.is_text() { "text" } else { "binary" };
                return Err(ClientError::UnexpectedFrame(kind));
            }
            Message::Binary(_) | Message::Text(_) => {
                let payload = frame.into_data();
                counters.count_received(payload.len());
                let message = match format.decode_server_message(&payload) {
                    Ok(message) => message,
                    Err(error) => {
                        if trace {
                            trace_received(format, &payload, Err(&error));
                        }
                        return Err(error.into());
                    }
                };
                if trace {
                    trace_received(format, &payload, Ok(&message));
                }
                return match message {
                    ServerMessage::Welcome(welcome) => Ok(welcome),
                    ServerMessage::Error(error) => Err(ClientError::Refused {
                        code: error.code,
                        message: error.message,
                    }),
                    other => Err(ClientError::UnexpectedMessage {
                        expected: "Welcome",
                        got: message_kind(&other),
                    }),
                };
            }
            Message::Close(frame) => {
                let info = close_info(frame);
                if trace {
                    trace::event(&format!("received close {}", info));
                }
                return Err(ClientError::ClosedDuringHandshake {
                    code: info.code,
                    reason: info.reason,
                });
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
}

/// Traces a frame received: the message, or why it did not decode.
fn trace_received(
    format: WireFormat,
    payload: &[u8],
    decoded: Result<&ServerMessage, &ticksync_protocol::CodecError>,
) {
    let decoded = decoded.map_err(|error| error as &dyn std::fmt::Display);
    trace::frame(trace::Direction::Received, format, payload, decoded);
}

fn close_info(frame: Option<CloseFrame>) -> CloseInfo {
    match frame {
        Some(frame) => CloseInfo {
            code: Some(u16::from(frame.code)),
            reason: frame.reason.as_str().to_owned(),
        },
        None => CloseInfo {
            code: None,
            reason: "close frame without a code".to_owned(),
        },
    }
}

/// The variant name of a server message, for error messages.
fn message_kind(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Welcome(_) => "Welcome",
        ServerMessage::Snapshot(_) => "Snapshot",
        ServerMessage::Pong(_) => "Pong",
        ServerMessage::Error(_) => "Error",
    }
}
