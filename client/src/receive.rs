//! The read side of a [`Client`]: [`Client::next_event`] turns server frames into
//! [`ClientEvent`]s — it decodes with the connection's codec, times the input each snapshot
//! acknowledges, applies snapshots to the view store (a failure is a desync, reported and
//! survived), passes game messages through in order, and sends the `Ack`s
//! [`crate::ClientOptions::ack_every_snapshot`] asks for.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use ticksync_protocol::{Schema, ServerMessage, Snapshot};
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, trace};

use crate::client::Client;
use crate::error::ClientError;
use crate::event::ClientEvent;
use crate::handshake::{close_info, frame_kind, frame_matches, trace_received};
use crate::latency::duration_to_us;
use crate::loss::SnapshotLoss;
use crate::stats::tick_gap;
use crate::trace;

impl<S: Schema> Client<S> {
    /// Waits for the next event. The first is [`ClientEvent::Welcome`] (the same `Welcome`
    /// as [`Client::welcome`]), then game messages and snapshots in the order the server
    /// sent them. Returns `None` once [`ClientEvent::Closed`] has been returned.
    ///
    /// Cancel-safe: it can be a branch of `tokio::select!` next to a tick timer without
    /// losing a frame.
    pub async fn next_event(&mut self) -> Option<ClientEvent<S>> {
        if self.welcome_due {
            self.welcome_due = false;
            return Some(ClientEvent::Welcome(self.welcome.clone()));
        }
        loop {
            if let Some(event) = self.hand_out_pending().await {
                return Some(event);
            }
            if let Some(closed) = self.finish_close().await {
                return Some(closed);
            }
            if self.closed {
                return None;
            }
            let frame = match self.read_frame().await {
                Ok(frame) => frame,
                Err(closed) => return Some(closed),
            };
            if let Some(event) = self.on_frame(frame) {
                return Some(event);
            }
        }
    }

    /// The event held back until the `Ack` for it went out, once it has (at worst twice if
    /// cancelled in between: the flag and the event stay until the send returns, and a
    /// second `Ack` of the same tick is harmless).
    async fn hand_out_pending(&mut self) -> Option<ClientEvent<S>> {
        self.pending_event.as_ref()?;
        if self.ack_due {
            if let Err(error) = self.send_ack().await {
                // The connection is failing; the next read reports how.
                debug!(%error, "could not send an Ack");
            }
            self.ack_due = false;
        }
        self.pending_event.take()
    }

    /// The `Closed` event for a close frame received, once tungstenite's automatic close
    /// reply is pushed out (a failure changes nothing for the caller: the connection is over
    /// either way).
    async fn finish_close(&mut self) -> Option<ClientEvent<S>> {
        let info = self.pending_close.clone()?;
        let _ = self.socket.flush().await;
        self.pending_close = None;
        self.closed = true;
        Some(ClientEvent::Closed {
            code: info.code,
            reason: info.reason,
        })
    }

    /// The next WebSocket frame, or the `Closed` event of a connection that failed or ended
    /// without a close frame.
    async fn read_frame(&mut self) -> Result<Message, ClientEvent<S>> {
        let reason = match self.socket.next().await {
            Some(Ok(frame)) => return Ok(frame),
            Some(Err(error)) => ClientError::transport(error).to_string(),
            None => "connection ended without a close frame".to_owned(),
        };
        self.closed = true;
        Err(ClientEvent::Closed { code: None, reason })
    }

    /// The event one frame makes, if it is to be handed out now: a data frame's event waits
    /// in `pending_event` while its `Ack` is due, and a close frame's until the close reply
    /// is flushed (both at the top of [`Client::next_event`]'s loop).
    fn on_frame(&mut self, frame: Message) -> Option<ClientEvent<S>> {
        match frame {
            Message::Binary(_) | Message::Text(_) if !frame_matches(&frame, self.format) => {
                self.counters.malformed_frames += 1;
                Some(ClientEvent::Error(ClientError::UnexpectedFrame(
                    frame_kind(&frame),
                )))
            }
            Message::Binary(_) | Message::Text(_) => {
                let payload = frame.into_data();
                self.counters.count_received(payload.len());
                match self.on_server_frame(&payload, Instant::now()) {
                    Some(event) if self.ack_due => {
                        self.pending_event = Some(event);
                        None
                    }
                    // `None`: a snapshot lost on purpose; read on.
                    event => event,
                }
            }
            Message::Close(frame) => {
                let info = close_info(frame);
                if self.trace {
                    trace::event(&format!("received close {info}"));
                }
                debug!(code = ?info.code, reason = %info.reason, "server closed the connection");
                self.pending_close = Some(info);
                None
            }
            // WebSocket-level keepalives are answered by tungstenite itself.
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => None,
        }
    }

    /// The event for one data frame; `None` for a snapshot thrown away by the simulated
    /// loss.
    fn on_server_frame(&mut self, payload: &[u8], received_at: Instant) -> Option<ClientEvent<S>> {
        let message = match self.format.decode_server_message::<S>(payload) {
            Ok(message) => message,
            Err(error) => {
                if self.trace {
                    trace_received::<S>(self.format, payload, Err(&error));
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
            ServerMessage::Message(message) => {
                self.counters.game_messages_received += 1;
                ClientEvent::Message(message)
            }
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
                    expected: "Snapshot, Message, Pong or Error",
                    got: "Welcome",
                })
            }
        })
    }

    /// Times the input it acknowledges, then applies it to the views. A desync leaves the
    /// view, and so the tick acknowledged, at the last good snapshot.
    fn on_snapshot(
        &mut self,
        snapshot: Snapshot<S::Entity>,
        received_at: Instant,
    ) -> Option<ClientEvent<S>> {
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
        // says which input the server has reached, and how early it arrived.
        self.take_input_feedback(&snapshot);
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
}
