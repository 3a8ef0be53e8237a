//! [`Client`]: one player's connection to a ticksync server running game `S` — WebSocket
//! connect offering the schema's subprotocol, the `Hello` → `Welcome` handshake (or
//! `Resume`), sequenced inputs carrying the game's payload, game messages, pings, and
//! decoded server events with input→ack latency measured along the way.
//!
//! Snapshots are deltas against a view this client acknowledged; the client applies them
//! with the protocol's [`ViewStore`], checks the server's checksum, and acknowledges the
//! last one applied in every input (or in an `Ack`). [`Client::view`] is the world as of
//! [`Client::view_tick`].
//!
//! The client is a plain struct driven by its owner: call [`Client::next_event`] (in
//! `receive.rs`) to read, the `send_*` methods to write. For a callback style see
//! [`crate::ClientHandler`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use hdrhistogram::Histogram;
use ticksync_protocol::sync::ViewStore;
use ticksync_protocol::{
    close_code, Ack, ClientMessage, Entity, EntityId, Input, InputSeq, Ping, PlayerId, Schema,
    Snapshot, Tick, Welcome, WireFormat, INPUT_MARGIN_UNIT_US,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::error::ClientError;
use crate::event::{ClientEvent, CloseInfo};
use crate::handshake::{self, send_frame, Socket};
use crate::input_clock::InputClock;
use crate::latency::{duration_to_us, latency_histogram, AckLatencyTracker, SharedLatency};
use crate::loss::SnapshotLoss;
use crate::options::{ClientOptions, InputTiming};
use crate::stats::ClientCounters;
use crate::trace;
use ticksync_protocol::tick_period;

/// A connected, welcomed player of game `S`.
///
/// ```no_run
/// # async fn demo() -> Result<(), ticksync_client::ClientError> {
/// use ticksync_arena::{ArenaInput, ArenaMessage, ArenaSchema, MoveDir};
/// use ticksync_client::{Client, ClientEvent, ClientOptions};
///
/// let mut client =
///     Client::<ArenaSchema>::connect("ws://127.0.0.1:7878/ws", ClientOptions::named("ada")).await?;
/// println!("I am {} controlling {:?}", client.player_id(), client.entity_id());
/// let east = ArenaInput { move_dir: MoveDir::from_vector(1.0, 0.0), buttons: 0 };
/// client.send_input(east).await?;
/// while let Some(event) = client.next_event().await {
///     match event {
///         ClientEvent::Message(ArenaMessage::World { width, height }) => {
///             println!("the world is {width} × {height}");
///         }
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
pub struct Client<S: Schema> {
    pub(crate) socket: Socket,
    pub(crate) welcome: Welcome,
    /// Zero point of the clock carried in `Ping`s, so a `Pong` can be timed.
    pub(crate) epoch: Instant,
    /// Sequence number of the next input; the first is 1.
    next_input_seq: InputSeq,
    pub(crate) acks: AckLatencyTracker,
    pub(crate) ack_latency_us: Histogram<u64>,
    /// Where latencies go instead of `ack_latency_us` ([`ClientOptions::shared_latency`]).
    pub(crate) shared_latency: Option<(Arc<SharedLatency>, usize)>,
    /// Tick of the last snapshot received (0: none), for [`ClientCounters::tick_gaps`].
    pub(crate) last_received_tick: Tick,
    pub(crate) trace: bool,
    pub(crate) format: WireFormat,
    pub(crate) counters: ClientCounters,
    pub(crate) latest_snapshot: Option<Arc<Snapshot<S::Entity>>>,
    /// The views of recent snapshots: the current one and the baselines the server may use.
    pub(crate) views: ViewStore<S::Entity>,
    /// Simulated snapshot loss; `None` when off.
    pub(crate) loss: Option<SnapshotLoss>,
    pub(crate) ack_every_snapshot: bool,
    /// The `Welcome` event is still to be handed out by `next_event`.
    pub(crate) welcome_due: bool,
    /// An event held back while the `Ack` it calls for is sent (so `next_event` stays
    /// cancel-safe across that send).
    pub(crate) pending_event: Option<ClientEvent<S>>,
    /// An `Ack` for the current view is to be sent before `pending_event` is handed out.
    pub(crate) ack_due: bool,
    /// A close frame was read but `Closed` not yet handed out (kept so `next_event` stays
    /// cancel-safe while the close reply is flushed).
    pub(crate) pending_close: Option<CloseInfo>,
    pub(crate) closed: bool,
    left: bool,
    input_timing: InputTiming,
    /// When the next input is due, aimed with the server's arrival feedback.
    input_clock: InputClock,
    pub(crate) shared_input_margin: Option<Arc<SharedLatency>>,
    /// The inputs sent that the server has not applied yet, each numbered by the tick it is
    /// meant for, and the last one applied: what a game's own prediction replays.
    pub(crate) inputs: PendingInputs<S::Input>,
}

/// An input this client sent, numbered by the server tick it is meant for (PROTOCOL.md §7,
/// "Prediction and reconciliation"): the first input after `Welcome` is meant for
/// `Welcome.tick + 2`, each later one for the tick after the one before.
#[derive(Debug, Clone, PartialEq)]
pub struct SentInput<P> {
    pub seq: InputSeq,
    pub tick: Tick,
    pub payload: P,
}

/// The inputs a game's prediction replays: those sent and not yet applied by the server, in
/// `seq` order, and the last one it applied (whose payload still holds in a game where an
/// input lasts until the next, like the arena's direction).
#[derive(Debug, Clone)]
pub struct PendingInputs<P> {
    next_tick: Tick,
    pending: std::collections::VecDeque<SentInput<P>>,
    applied: Option<SentInput<P>>,
}

/// Inputs kept unapplied at most: far more than a round trip's worth at any tick rate; a
/// server that stops applying them is not worth remembering more for.
const MAX_PENDING_INPUTS: usize = 256;

impl<P: Clone> PendingInputs<P> {
    fn new(welcome_tick: Tick) -> Self {
        PendingInputs {
            next_tick: welcome_tick.wrapping_add(2),
            pending: std::collections::VecDeque::new(),
            applied: None,
        }
    }

    fn on_sent(&mut self, seq: InputSeq, payload: &P) {
        if self.pending.len() == MAX_PENDING_INPUTS {
            self.pending.pop_front();
        }
        self.pending.push_back(SentInput {
            seq,
            tick: self.next_tick,
            payload: payload.clone(),
        });
        self.next_tick = self.next_tick.wrapping_add(1);
    }

    pub(crate) fn on_applied(&mut self, last_input_seq: InputSeq) {
        while let Some(front) = self.pending.front() {
            if front.seq > last_input_seq {
                break;
            }
            self.applied = self.pending.pop_front();
        }
    }

    /// Inputs sent and not applied yet, oldest first.
    pub fn pending(&self) -> impl ExactSizeIterator<Item = &SentInput<P>> + '_ {
        self.pending.iter()
    }

    /// The newest input the server has applied, once it applied one this client still knew.
    pub fn applied(&self) -> Option<&SentInput<P>> {
        self.applied.as_ref()
    }

    /// The tick the next input sent will be meant for.
    pub fn next_tick(&self) -> Tick {
        self.next_tick
    }

    /// Renumbers the inputs not applied yet so the next one sent is meant for `next_tick`
    /// (a client whose tick count drifted from the server's; costs one correction).
    pub fn renumber(&mut self, next_tick: Tick) {
        let shift = next_tick.wrapping_sub(self.next_tick);
        for input in &mut self.pending {
            input.tick = input.tick.wrapping_add(shift);
        }
        self.next_tick = next_tick;
    }
}

impl<S: Schema> std::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("game", &S::NAME)
            .field("welcome", &self.welcome)
            .field("next_input_seq", &self.next_input_seq)
            .field("view_tick", &self.views.tick())
            .field("counters", &self.counters)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<S: Schema> Client<S> {
    /// Connects to `url` (e.g. `ws://127.0.0.1:7878/ws`) offering the subprotocol of `S` in
    /// `options.format` (`ticksync_protocol::schema::subprotocol`), sends `Hello` (or
    /// `Resume` with [`ClientOptions::resume_token`]) and waits for `Welcome`, all within
    /// `options.handshake_timeout`.
    ///
    /// An `Error` from the server becomes [`ClientError::Refused`]; an HTTP answer to the
    /// upgrade (a server running another game or schema answers 400 and says which)
    /// becomes [`ClientError::UpgradeRejected`] with the server's status and body.
    pub async fn connect(url: &str, options: ClientOptions) -> Result<Client<S>, ClientError> {
        let limit = options.handshake_timeout;
        let mut counters = ClientCounters::default();
        let greeted = tokio::time::timeout(
            limit,
            handshake::connect_and_greet::<S>(url, &options, &mut counters),
        )
        .await;
        let (socket, welcome) = match greeted {
            Ok(result) => result?,
            Err(_elapsed) => {
                if options.trace {
                    trace::event(&format!("no Welcome within {limit:?}: giving up"));
                }
                return Err(ClientError::HandshakeTimeout(limit));
            }
        };
        let ack_latency_us = match options.shared_latency {
            // Auto-resizing from a tiny range: it is never recorded into, so it stays small.
            Some(_) => Histogram::new(1).map_err(|_| ClientError::Closed)?,
            None => latency_histogram(),
        };
        let period = tick_period(welcome.tick_rate_hz);
        Ok(Client {
            socket,
            input_timing: options.input_timing,
            input_clock: InputClock::new(period, Instant::now()),
            shared_input_margin: options.shared_input_margin.clone(),
            inputs: PendingInputs::new(welcome.tick),
            welcome,
            epoch: Instant::now(),
            next_input_seq: 1,
            acks: AckLatencyTracker::new(),
            ack_latency_us,
            shared_latency: options.shared_latency.clone(),
            last_received_tick: 0,
            trace: options.trace,
            format: options.format,
            counters,
            latest_snapshot: None,
            views: ViewStore::new(),
            loss: SnapshotLoss::new(options.snapshot_loss, options.loss_seed),
            ack_every_snapshot: options.ack_every_snapshot,
            welcome_due: true,
            pending_event: None,
            ack_due: false,
            pending_close: None,
            closed: false,
            left: false,
        })
    }

    /// Feeds a snapshot's arrival feedback to the input clock and the statistics, and
    /// drops the inputs it says were applied.
    pub(crate) fn take_input_feedback(&mut self, snapshot: &Snapshot<S::Entity>) {
        self.inputs.on_applied(snapshot.last_input_seq);
        let samples = self.input_clock.samples();
        self.input_clock.on_feedback(
            snapshot.last_input_seq,
            snapshot.input_margin_100us,
            self.next_input_seq,
        );
        if self.input_clock.samples() == samples {
            return;
        }
        let margin_us = i64::from(snapshot.input_margin_100us) * INPUT_MARGIN_UNIT_US;
        if margin_us < 0 {
            self.counters.inputs_missed_tick += 1;
        }
        if let Some(shared) = &self.shared_input_margin {
            let key = self.shared_latency.as_ref().map_or(0, |(_, key)| *key);
            shared.record(key, Duration::from_micros(margin_us.max(1).unsigned_abs()));
        }
    }

    /// The inputs sent and not applied yet, each numbered by the tick it is meant for, and
    /// the last one applied: what a game's own prediction replays, one step per tick
    /// (PROTOCOL.md §7).
    pub fn inputs(&self) -> &PendingInputs<S::Input> {
        &self.inputs
    }

    /// Renumbering for a game's prediction (see [`PendingInputs::renumber`]).
    pub fn inputs_mut(&mut self) -> &mut PendingInputs<S::Input> {
        &mut self.inputs
    }

    /// The input clock aimed with the server's arrival feedback.
    pub fn input_clock(&self) -> &InputClock {
        &self.input_clock
    }

    /// Mutable access for the handler loop, which advances the clock when an input is due.
    pub(crate) fn input_clock_mut(&mut self) -> &mut InputClock {
        &mut self.input_clock
    }

    /// How [`Client::run`] times its ticks.
    pub fn input_timing(&self) -> InputTiming {
        self.input_timing
    }

    /// The server's `Welcome`: this player, its entity, the tick rate, the resume token.
    pub fn welcome(&self) -> &Welcome {
        &self.welcome
    }

    /// This player (shorthand for `welcome().player_id`).
    pub fn player_id(&self) -> PlayerId {
        self.welcome.player_id
    }

    /// The entity this player controls, if the game gave it one (shorthand for
    /// `welcome().entity_id`).
    pub fn entity_id(&self) -> Option<EntityId> {
        self.welcome.entity_id
    }

    /// The codec this connection speaks.
    pub fn format(&self) -> WireFormat {
        self.format
    }

    /// Sends one input with the next sequence number (1, 2, 3, ...) and returns that number.
    /// The input acknowledges [`Client::view_tick`], the last snapshot applied. The send
    /// time is remembered to time the server's acknowledgement.
    pub async fn send_input(&mut self, payload: S::Input) -> Result<InputSeq, ClientError> {
        let seq = self.next_input_seq;
        self.next_input_seq = self.next_input_seq.wrapping_add(1);
        self.acks.record_sent(seq, Instant::now());
        self.input_clock.on_sent(seq);
        self.inputs.on_sent(seq, &payload);
        let ack_tick = self.acknowledge_current_view();
        self.send_envelope(&ClientMessage::Input(Input {
            seq,
            ack_tick,
            payload,
        }))
        .await?;
        self.counters.inputs_sent += 1;
        Ok(seq)
    }

    /// Sends one of the game's own messages (chat, "ready", "buy"): reliable and ordered
    /// with everything else on the connection.
    pub async fn send_message(&mut self, message: S::ClientMessage) -> Result<(), ClientError> {
        self.send_envelope(&ClientMessage::Message(message)).await?;
        self.counters.game_messages_sent += 1;
        Ok(())
    }

    /// Sends an `Ack` for [`Client::view_tick`], the last snapshot applied, and returns that
    /// tick. Before the first snapshot there is nothing to acknowledge: nothing is sent and
    /// 0 is returned. Clients that send inputs need not call it (inputs carry the ack);
    /// see also [`ClientOptions::ack_every_snapshot`].
    pub async fn send_ack(&mut self) -> Result<Tick, ClientError> {
        let tick = self.acknowledge_current_view();
        if tick == 0 {
            return Ok(0);
        }
        self.send_envelope(&ClientMessage::Ack(Ack { tick }))
            .await?;
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
        self.send_envelope(&ClientMessage::Ping(Ping { client_time_us }))
            .await?;
        Ok(client_time_us)
    }

    /// Tells the server the player leaves. The server removes the player and closes with
    /// `close_code::NORMAL`; keep reading events until [`ClientEvent::Closed`].
    pub async fn leave(&mut self) -> Result<(), ClientError> {
        self.send_envelope(&ClientMessage::Leave).await?;
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

    /// Sends any envelope message (a test can send a `Hello` twice, say).
    pub async fn send_envelope(&mut self, message: &ClientMessage<S>) -> Result<(), ClientError> {
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
    pub fn latest_snapshot(&self) -> Option<&Arc<Snapshot<S::Entity>>> {
        self.latest_snapshot.as_ref()
    }

    /// The world as of [`Client::view_tick`]: every entity the server replicates to this
    /// client, sorted by id, exactly as the server holds it (the checksum says so). Empty
    /// before the first snapshot.
    pub fn view(&self) -> &[Entity<S::Entity>] {
        self.views.current()
    }

    /// The state of entity `id` in [`Client::view`], if it is in view.
    pub fn entity(&self, id: EntityId) -> Option<&S::Entity> {
        let view = self.view();
        view.binary_search_by_key(&id, |entity| entity.id)
            .ok()
            .and_then(|index| view.get(index))
            .map(|entity| &entity.state)
    }

    /// Tick of the last snapshot applied: what inputs and `Ack`s acknowledge (0: none).
    pub fn view_tick(&self) -> Tick {
        self.views.tick()
    }

    /// How many views are held as possible baselines, the current one included (bounded by
    /// `ticksync_protocol::sync::view::MAX_HELD_VIEWS`).
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

#[cfg(test)]
mod tests {
    use super::PendingInputs;

    #[test]
    fn inputs_are_numbered_by_tick_and_dropped_once_applied() {
        let mut inputs = PendingInputs::<char>::new(100);
        assert_eq!(
            inputs.next_tick(),
            102,
            "the first input is meant for Welcome.tick + 2"
        );
        for (seq, payload) in [(1, 'a'), (2, 'b'), (3, 'c')] {
            inputs.on_sent(seq, &payload);
        }
        let ticks: Vec<_> = inputs.pending().map(|i| (i.seq, i.tick)).collect();
        assert_eq!(ticks, [(1, 102), (2, 103), (3, 104)]);
        inputs.on_applied(2);
        assert_eq!(inputs.applied().map(|i| i.payload), Some('b'));
        assert_eq!(inputs.pending().map(|i| i.seq).collect::<Vec<_>>(), [3]);
        // A repeated or older acknowledgement changes nothing.
        inputs.on_applied(1);
        assert_eq!(inputs.applied().map(|i| i.seq), Some(2));
        inputs.renumber(110);
        assert_eq!(inputs.pending().map(|i| i.tick).collect::<Vec<_>>(), [109]);
        assert_eq!(inputs.next_tick(), 110);
    }
}
