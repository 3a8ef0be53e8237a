//! ticksync's Rust client library, for any game: generic over the game's
//! [`Schema`](ticksync_protocol::Schema), so a game's own crate declares its state, input
//! and messages and gets a client with no decoding code of its own.
//!
//! - [`Client`]: connect offering the schema's subprotocol, `Hello` (or `Resume`) →
//!   `Welcome`, send sequenced inputs that acknowledge the last snapshot applied
//!   ([`Client::send_input`]), the game's messages ([`Client::send_message`]), pings; read
//!   [`ClientEvent`]s. Snapshots are applied with the protocol's
//!   [`ViewStore`](ticksync_protocol::sync::ViewStore) and checked against the server's
//!   checksum; [`Client::view`] is the result. Input→ack latency ([`latency`]), traffic
//!   ([`ClientCounters`]) and desyncs are measured as it goes.
//! - [`ClientHandler`] and [`run_client`]: the same as callbacks, ticked at the server's
//!   rate ([`ticker`]).
//! - [`ClientOptions`]: codec, TLS ([`tls_config`]), timeouts, resume, frame tracing
//!   ([`mod@trace`]), simulated snapshot loss; [`server_url`] puts a room and a join token
//!   on the URL.
//! - [`InputClock`]: inputs aimed at the server's tick with its arrival feedback
//!   ([`InputTiming::Synced`], the default of [`Client::run`]); [`Client::inputs`] numbers
//!   the inputs not yet applied by the tick they are meant for, for a game's own per-tick
//!   prediction (PROTOCOL.md §7).
//! - [`matchmake`]: a seat from a cluster's matchmaker ([`SeatReservation`]: the node's URL
//!   and a seat token), then connect to [`SeatReservation::connect`].
//! - [`ClientError`] and, for tools that count failed connects, [`ConnectFailure`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ticksync_arena::{ArenaInput, ArenaSchema, MoveDir};
//! use ticksync_client::{Client, ClientEvent, ClientOptions};
//!
//! let url = ticksync_client::server_url("ws://127.0.0.1:7878/ws", Some("lobby"), None)?;
//! let mut client = Client::<ArenaSchema>::connect(&url, ClientOptions::named("ada")).await?;
//! let mut ticks = 0;
//! while let Some(event) = client.next_event().await {
//!     match event {
//!         ClientEvent::Welcome(welcome) => println!("joined at tick {}", welcome.tick),
//!         ClientEvent::Message(message) => println!("the arena says {message:?}"),
//!         ClientEvent::Snapshot(_) => {
//!             let mine = client.entity_id().and_then(|id| client.entity(id));
//!             println!("my state: {mine:?}");
//!             let north = ArenaInput { move_dir: MoveDir::from_vector(0.0, 1.0), buttons: 0 };
//!             client.send_input(north).await?;
//!             ticks += 1;
//!             if ticks == 30 {
//!                 client.leave().await?;
//!             }
//!         }
//!         ClientEvent::Closed { code, reason } => println!("closed {code:?}: {reason}"),
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod client;
pub mod error;
pub mod event;
pub mod handler;
mod handshake;
pub mod input_clock;
pub mod latency;
mod loss;
pub mod matchmaker;
pub mod options;
mod receive;
pub mod stats;
pub mod ticker;
pub mod tls;
pub mod trace;
pub mod url;

pub use client::{Client, PendingInputs, SentInput};
pub use error::{ClientError, ConnectFailure};
pub use event::{ClientEvent, CloseInfo};
pub use handler::{run_client, ClientHandler};
pub use handshake::Socket;
pub use input_clock::InputClock;
pub use latency::{AckLatencyTracker, SharedLatency};
pub use matchmaker::{matchmake, MatchRequest, MatchmakeError, SeatReservation};
pub use options::{
    ClientOptions, InputTiming, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_READ_BUFFER_BYTES,
};
pub use stats::ClientCounters;
pub use ticker::{TickHub, TickSource};
pub use ticksync_protocol::tick_period;
pub use tls::{tls_config, TlsConfig, TlsError, TlsTrust};
/// The WebSocket library, re-exported for [`Client::send_raw`].
pub use tokio_tungstenite::tungstenite;
pub use url::{server_url, UrlError};
