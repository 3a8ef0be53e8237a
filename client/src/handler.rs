//! Callback-style clients in the spirit of Python websocket-client's `WebSocketApp`:
//! implement [`ClientHandler`] for your game's schema, hand it to [`run_client`] (or
//! [`Client::run`]), and the event loop calls you on open, on every tick, on every snapshot,
//! on every game message, on errors and on close.
//!
//! ```no_run
//! use ticksync_arena::{ArenaEntity, ArenaInput, ArenaMessage, ArenaSchema, MoveDir};
//! use ticksync_client::{run_client, Client, ClientError, ClientHandler, ClientOptions};
//! use ticksync_protocol::{Snapshot, Welcome};
//!
//! /// Walks east and leaves after 90 snapshots.
//! struct Walker { seen: u32 }
//!
//! impl ClientHandler<ArenaSchema> for Walker {
//!     async fn on_open(&mut self, _client: &mut Client<ArenaSchema>, welcome: &Welcome) -> Result<(), ClientError> {
//!         println!("joined as {} at {} Hz", welcome.player_id, welcome.tick_rate_hz);
//!         Ok(())
//!     }
//!     async fn on_tick(&mut self, client: &mut Client<ArenaSchema>) -> Result<(), ClientError> {
//!         if !client.has_left() {
//!             let east = ArenaInput { move_dir: MoveDir::from_vector(1.0, 0.0), buttons: 0 };
//!             client.send_input(east).await?;
//!         }
//!         Ok(())
//!     }
//!     async fn on_message(&mut self, _client: &mut Client<ArenaSchema>, message: &ArenaMessage) -> Result<(), ClientError> {
//!         let ArenaMessage::World { width, height } = message;
//!         println!("the world is {width} × {height}");
//!         Ok(())
//!     }
//!     async fn on_snapshot(&mut self, client: &mut Client<ArenaSchema>, _snapshot: &Snapshot<ArenaEntity>) -> Result<(), ClientError> {
//!         self.seen += 1;
//!         if self.seen == 90 {
//!             client.leave().await?;
//!         }
//!         Ok(())
//!     }
//!     fn on_close(&mut self, code: Option<u16>, reason: &str) {
//!         println!("closed ({code:?}): {reason}");
//!     }
//! }
//!
//! # async fn demo() -> Result<(), ClientError> {
//! let mut walker = Walker { seen: 0 };
//! let closed = run_client("ws://127.0.0.1:7878/ws", ClientOptions::named("walker"), &mut walker).await?;
//! println!("session over: {closed:?}");
//! # Ok(()) }
//! ```

use std::future::Future;
use std::time::Duration;

use ticksync_protocol::{ErrorMessage, Pong, Schema, Snapshot, Welcome};
use tracing::warn;

use crate::client::Client;
use crate::error::ClientError;
use crate::event::{ClientEvent, CloseInfo};
use crate::options::{ClientOptions, InputTiming};
use crate::ticker::TickSource;

/// Reactions to a connection's events. Every method has a default, so a handler implements
/// only what it needs. Returning `Err` from a callback stops the loop and closes the
/// connection; to end a session cleanly, call [`Client::leave`] and let the loop run on to
/// [`ClientHandler::on_close`].
///
/// The async methods may be written as `async fn` in an implementation; their futures must
/// be `Send` so a handler can run in a spawned task.
pub trait ClientHandler<S: Schema>: Send {
    /// Called once, right after `Welcome`.
    fn on_open(
        &mut self,
        client: &mut Client<S>,
        welcome: &Welcome,
    ) -> impl Future<Output = Result<(), ClientError>> + Send {
        let _ = (client, welcome);
        async { Ok(()) }
    }

    /// Called once per server tick (the rate from `Welcome`), on the client's clock: the
    /// place to send an input.
    fn on_tick(
        &mut self,
        client: &mut Client<S>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send {
        let _ = client;
        async { Ok(()) }
    }

    /// Called for every snapshot applied. `client.view()` is the world after it and
    /// `client.last_acked_input()` reflects it. Snapshots that could not be applied go to
    /// [`ClientHandler::on_error`] as [`ClientError::Desync`].
    fn on_snapshot(
        &mut self,
        client: &mut Client<S>,
        snapshot: &Snapshot<S::Entity>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send {
        let _ = (client, snapshot);
        async { Ok(()) }
    }

    /// Called for every message of the game's own, in order with the snapshots (one sent
    /// during tick T comes before the snapshot of tick T + 1).
    fn on_message(
        &mut self,
        client: &mut Client<S>,
        message: &S::ServerMessage,
    ) -> impl Future<Output = Result<(), ClientError>> + Send {
        let _ = (client, message);
        async { Ok(()) }
    }

    /// Called for every `Pong`, with the measured round trip.
    fn on_pong(&mut self, pong: &Pong, round_trip: Duration) {
        let _ = (pong, round_trip);
    }

    /// Called when the server sends an `Error` message (a close usually follows).
    fn on_server_error(&mut self, error: &ErrorMessage) {
        warn!(code = ?error.code, message = %error.message, "server reported an error");
    }

    /// Called for a frame that could not be understood or a snapshot that could not be
    /// applied ([`ClientError::Desync`]). The connection stays open.
    fn on_error(&mut self, error: &ClientError) {
        warn!(%error, "could not handle a frame from the server");
    }

    /// Called once when the connection is over; `code` is the WebSocket close code.
    fn on_close(&mut self, code: Option<u16>, reason: &str) {
        let _ = (code, reason);
    }
}

/// Connects, then runs `handler` on the connection until it closes. See the module
/// documentation for an example.
pub async fn run_client<S: Schema, H: ClientHandler<S>>(
    url: &str,
    options: ClientOptions,
    handler: &mut H,
) -> Result<CloseInfo, ClientError> {
    let mut client = Client::<S>::connect(url, options).await?;
    client.run(handler).await
}

impl<S: Schema> Client<S> {
    /// Runs `handler` on this (already welcomed) connection: calls `on_open`, then
    /// dispatches events and ticks until the connection closes, and returns how it closed.
    ///
    /// If a callback fails, the connection is closed and the error returned.
    pub async fn run<H: ClientHandler<S>>(
        &mut self,
        handler: &mut H,
    ) -> Result<CloseInfo, ClientError> {
        let ticks = match self.input_timing() {
            InputTiming::Synced => TickSource::Synced,
            InputTiming::Free => TickSource::own(self.welcome().tick_rate_hz),
        };
        self.run_with_ticks(handler, ticks).await
    }

    /// [`Client::run`] with ticks from `ticks` — a swarm passes a shared ticker
    /// ([`crate::ticker::TickHub`]) so its bots need no timer each.
    pub async fn run_with_ticks<H: ClientHandler<S>>(
        &mut self,
        handler: &mut H,
        ticks: TickSource,
    ) -> Result<CloseInfo, ClientError> {
        let result = self.dispatch(handler, ticks).await;
        if result.is_err() && !self.is_closed() {
            // Best effort: the callback's error is the one worth reporting.
            let _ = self.close().await;
        }
        result
    }

    async fn dispatch<H: ClientHandler<S>>(
        &mut self,
        handler: &mut H,
        mut ticks: TickSource,
    ) -> Result<CloseInfo, ClientError> {
        let welcome = self.welcome().clone();
        handler.on_open(self, &welcome).await?;
        // A late tick is skipped rather than burst: one input per tick is the contract.
        let synced = matches!(ticks, TickSource::Synced);
        // One timer for the whole session, moved when the clock moves: a timer made anew on
        // every pass of the loop would be re-armed each time a snapshot came first, and a
        // busy client would hardly ever see it fire.
        let input_due = tokio::time::sleep_until(self.input_due());
        tokio::pin!(input_due);
        loop {
            let due = self.input_due();
            if input_due.deadline() != due {
                input_due.as_mut().reset(due);
            }
            // Inputs first: they are due once a tick and late ones miss their tick, while a
            // snapshot read a moment later costs nothing.
            tokio::select! {
                biased;
                _ = ticks.tick(), if !synced && !self.is_closed() => handler.on_tick(self).await?,
                _ = &mut input_due, if synced && !self.is_closed() => {
                    self.input_clock_mut().advance(std::time::Instant::now());
                    handler.on_tick(self).await?;
                }
                event = self.next_event() => match event {
                    // `on_open` has had it.
                    Some(ClientEvent::Welcome(_)) => {}
                    Some(ClientEvent::Snapshot(snapshot)) => {
                        handler.on_snapshot(self, &snapshot).await?;
                    }
                    Some(ClientEvent::Message(message)) => {
                        handler.on_message(self, &message).await?;
                    }
                    Some(ClientEvent::Pong { pong, round_trip }) => handler.on_pong(&pong, round_trip),
                    Some(ClientEvent::ServerError(error)) => handler.on_server_error(&error),
                    Some(ClientEvent::Error(error)) => handler.on_error(&error),
                    Some(ClientEvent::Closed { code, reason }) => {
                        handler.on_close(code, &reason);
                        return Ok(CloseInfo { code, reason });
                    }
                    None => return Err(ClientError::Closed),
                },
            }
        }
    }
}

impl<S: Schema> Client<S> {
    /// When the input clock wants the next input, on tokio's clock.
    fn input_due(&self) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.input_clock().next_send())
    }
}
