//! [`ClientOptions`]: how a [`crate::Client`] connects and behaves — its name, codec, TLS,
//! timeouts, acknowledgement policy, resume token, and the test knobs (simulated snapshot
//! loss, frame tracing, a shared latency histogram) and how it times its inputs
//! ([`InputTiming`]).

use std::sync::Arc;
use std::time::Duration;

use ticksync_protocol::WireFormat;

use crate::latency::SharedLatency;
use crate::tls::TlsConfig;

/// Default bound on connect + upgrade + `Welcome`: a local server answers in milliseconds,
/// and a loaded one accepting a swarm still well within this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Socket read buffer. Arena snapshots for a few hundred players are a few KiB, so 16 KiB
/// reads most frames in one call while keeping a thousand bots' buffers at 16 MiB total
/// (tungstenite's default is 128 KiB each).
pub const DEFAULT_READ_BUFFER_BYTES: usize = 16 * 1024;

/// How to connect. `ClientOptions::default()` suits a game client and a bot alike.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Name sent in `Hello` (at most `ticksync_protocol::MAX_PLAYER_NAME_BYTES` bytes).
    pub player_name: String,
    /// Bound on TCP connect, WebSocket upgrade and waiting for `Welcome` together.
    pub handshake_timeout: Duration,
    /// Size of the socket read buffer in bytes.
    pub read_buffer_bytes: usize,
    /// Send an `Ack` right after each snapshot applied, from [`crate::Client::next_event`].
    /// For clients that send no inputs (spectators, tools): without acks the server has no
    /// baseline and sends every snapshot in full. Clients that send an input per tick do
    /// not need it, inputs carry the acknowledgement.
    pub ack_every_snapshot: bool,
    /// Chaos knob for tests: the fraction (0.0 to 1.0) of received snapshots to throw away
    /// before applying them, as if the network had lost them. Thrown-away snapshots are not
    /// applied, not acknowledged, not returned as events, and are counted in
    /// [`crate::ClientCounters::snapshots_discarded`]. Values outside the range are clamped;
    /// NaN counts as 0.
    pub snapshot_loss: f64,
    /// Seed of the RNG that picks which snapshots [`ClientOptions::snapshot_loss`] throws
    /// away, so a lossy run can be replayed.
    pub loss_seed: u64,
    /// TLS settings for `wss://` URLs (see [`crate::tls::tls_config`]); `None` uses
    /// tokio-tungstenite's default, which has no trusted roots built in.
    pub tls: Option<TlsConfig>,
    /// Print the HTTP upgrade both ways, every frame sent and received (JSON text, or a hex
    /// dump and the message as JSON) and each snapshot's checksum verdict, with timestamps,
    /// to stderr (like websocket-client's `enableTrace(True)`), whatever the log filter says.
    pub trace: bool,
    /// Record input→ack latencies into this shared histogram (under `key`) instead of the
    /// client's own, which then stays empty: a swarm's bots share one, as a histogram
    /// per bot would cost ~140 KiB each.
    pub shared_latency: Option<(Arc<SharedLatency>, usize)>,
    /// Take back a player after a dropped connection: sends `Resume` with this token (the
    /// `resume_token` of the previous `Welcome`) instead of `Hello`.
    pub resume_token: Option<String>,
    /// The codec: bincode binary frames (the default) or JSON text frames.
    pub format: WireFormat,
    /// When [`crate::Client::run`] calls [`crate::ClientHandler::on_tick`]: aimed at the
    /// server's tick with its arrival feedback (the default), or on a free-running timer.
    pub input_timing: InputTiming,
    /// Record the arrival margin of every input the server reports on (µs; inputs that
    /// missed their tick as 1 µs) into this shared histogram, under the key of
    /// [`ClientOptions::shared_latency`] (0 without one).
    pub shared_input_margin: Option<Arc<SharedLatency>>,
}

/// How a client times its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputTiming {
    /// On a timer at the tick rate, whatever the phase: inputs wait in the server's queue
    /// for a random part of a tick.
    Free,
    /// Aimed with the server's arrival feedback ([`crate::InputClock`]) to arrive a small
    /// margin before the tick that takes them (PROTOCOL.md §7, "Input timing").
    #[default]
    Synced,
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
            input_timing: InputTiming::default(),
            shared_input_margin: None,
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
