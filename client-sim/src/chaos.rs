//! The chaos bot: a player that misbehaves on purpose, to check that one bad peer never
//! moves the other players' tick rate or desyncs them (ARCHITECTURE.md §2.7). Each tick it rolls
//! one [`ChaosAction`]: usually a normal input, sometimes a burst of inputs, a garbage or an
//! oversized frame, a stall (it stops reading and writing for a few seconds), or a
//! disconnect (abrupt or clean); after any disconnect, its own or the server's, it
//! reconnects. What it did and how the server answered is counted in [`ChaosCounters`].
//!
//! The mischief is the same for every game; the ordinary inputs come from the game's
//! [`Bot`] made for behaviour [`crate::bot::CHAOS`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use ticksync_client::tungstenite::Message;
use ticksync_client::{Client, ClientError, ClientEvent, ClientOptions, TickSource};
use ticksync_protocol::codec::MAX_CLIENT_MESSAGE_BYTES;
use tracing::debug;

use crate::bot::{Bot, Turn};
use crate::live::LiveStats;

/// Inputs in one burst: a second's worth at 30 Hz in one go, well past the server's
/// per-tick input bound, so the bound (not the bot) decides what is applied.
pub const BURST_INPUTS: usize = 30;

/// An oversized frame is this many times the largest client message the protocol allows
/// (1 KiB): 16 KiB, past the server's transport limit (4 KiB by default) with room to spare,
/// so no framing slack lets it through.
pub const OVERSIZE_FACTOR: usize = 16;

/// Longest garbage frame: random bytes up to this size (always within the size limit, so
/// it tests the decoder, not the size check).
const MAX_GARBAGE_BYTES: usize = 64;

/// How long the server gets to close after the chaos bot's run ends and it leaves.
const LEAVE_GRACE: Duration = Duration::from_secs(1);

/// How often a chaos bot does each thing, as "one tick in N" (at 30 Hz, N = 300 is about
/// once every 10 s), and the lengths of its pauses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosRates {
    pub burst_one_in: u32,
    pub garbage_one_in: u32,
    pub oversized_one_in: u32,
    pub stall_one_in: u32,
    pub disconnect_one_in: u32,
    /// A stall lasts a uniformly random time in this range.
    pub stall_min: Duration,
    pub stall_max: Duration,
    /// Pause before reconnecting, so a server that refuses a chaos bot is not hammered.
    pub reconnect_delay: Duration,
}

impl Default for ChaosRates {
    /// Every few seconds something happens to each chaos bot; stalls of 2–5 s are longer
    /// than a snapshot queue of a second or so, so they exercise slow-client handling.
    fn default() -> Self {
        ChaosRates {
            burst_one_in: 90,
            garbage_one_in: 300,
            oversized_one_in: 450,
            stall_one_in: 300,
            disconnect_one_in: 300,
            stall_min: Duration::from_secs(2),
            stall_max: Duration::from_secs(5),
            reconnect_delay: Duration::from_millis(500),
        }
    }
}

/// One tick's mischief.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChaosAction {
    Input,
    Burst,
    Garbage,
    Oversized,
    Stall(Duration),
    /// Drop the connection; `abrupt` without a close frame, else with one.
    Disconnect {
        abrupt: bool,
    },
}

/// Chooses a chaos bot's actions from its own seeded RNG.
#[derive(Debug, Clone)]
pub struct ChaosPlan {
    rates: ChaosRates,
    rng: SmallRng,
}

impl ChaosPlan {
    pub fn new(rates: ChaosRates, seed: u64) -> Self {
        ChaosPlan {
            rates,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// The action for the next tick.
    pub fn next_action(&mut self) -> ChaosAction {
        let rates = &self.rates;
        let mut roll = |one_in: u32| one_in > 0 && self.rng.random_range(0..one_in) == 0;
        if roll(rates.disconnect_one_in) {
            return ChaosAction::Disconnect {
                abrupt: self.rng.random(),
            };
        }
        if roll(rates.stall_one_in) {
            let (min, max) = (rates.stall_min, rates.stall_max.max(rates.stall_min));
            return ChaosAction::Stall(self.rng.random_range(min..=max));
        }
        if roll(rates.oversized_one_in) {
            return ChaosAction::Oversized;
        }
        if roll(rates.garbage_one_in) {
            return ChaosAction::Garbage;
        }
        if roll(rates.burst_one_in) {
            return ChaosAction::Burst;
        }
        ChaosAction::Input
    }

    fn garbage(&mut self) -> Vec<u8> {
        let len = self.rng.random_range(1..=MAX_GARBAGE_BYTES);
        (0..len).map(|_| self.rng.random()).collect()
    }
}

/// What chaos bots did, and how the server answered, summed over them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChaosCounters {
    /// Chaos bots in the run.
    pub bots: usize,
    /// Successful connections (welcomed), first ones and reconnections.
    pub connects: u64,
    /// Connections after a bot's first.
    pub reconnects: u64,
    /// Connection attempts that failed.
    pub connect_failures: u64,
    /// Disconnects the bots made on purpose.
    pub disconnects: u64,
    pub garbage_frames: u64,
    pub oversized_frames: u64,
    pub bursts: u64,
    pub stalls: u64,
    /// Connections the server ended, by WebSocket close code ("none": no close frame).
    pub server_closes: BTreeMap<String, u64>,
}

impl ChaosCounters {
    pub fn merge(&mut self, other: &ChaosCounters) {
        self.bots += other.bots;
        self.connects += other.connects;
        self.reconnects += other.reconnects;
        self.connect_failures += other.connect_failures;
        self.disconnects += other.disconnects;
        self.garbage_frames += other.garbage_frames;
        self.oversized_frames += other.oversized_frames;
        self.bursts += other.bursts;
        self.stalls += other.stalls;
        for (code, count) in &other.server_closes {
            *self.server_closes.entry(code.clone()).or_default() += count;
        }
    }

    fn server_closed(&mut self, code: Option<u16>) {
        let key = code.map_or_else(|| "none".to_owned(), |code| code.to_string());
        *self.server_closes.entry(key).or_default() += 1;
    }
}

/// How one connection of a chaos bot ended.
enum SessionEnd {
    /// The run is over (the bot left).
    RunOver,
    /// The bot dropped the connection itself.
    Dropped,
    /// The server ended it.
    ServerClosed,
}

/// Runs one chaos bot until `leave_at`: connect, misbehave, reconnect after every
/// disconnect; its ordinary inputs come from `bot`. Never panics on what the server does;
/// returns what it counted.
pub async fn run_chaos_bot<B: Bot>(
    url: &str,
    options: ClientOptions,
    mut plan: ChaosPlan,
    mut bot: B,
    mut ticks: TickSource,
    leave_at: Instant,
    live: &LiveStats,
) -> ChaosCounters {
    let mut counters = ChaosCounters {
        bots: 1,
        ..ChaosCounters::default()
    };
    let reconnect_delay = plan.rates.reconnect_delay;
    while Instant::now() < leave_at {
        let connect = Client::<B::Schema>::connect(url, options.clone());
        let mut client = match tokio::time::timeout_at(leave_at.into(), connect).await {
            Err(_run_over) => break,
            Ok(Err(error)) => {
                debug!(%error, "chaos bot could not connect");
                counters.connect_failures += 1;
                pause_until(reconnect_delay, leave_at).await;
                continue;
            }
            Ok(Ok(client)) => client,
        };
        if counters.connects > 0 {
            counters.reconnects += 1;
        }
        counters.connects += 1;
        live.connected();
        bot.on_welcome(client.welcome());
        let mut chaos = Chaos {
            plan: &mut plan,
            bot: &mut bot,
            counters: &mut counters,
        };
        let end = chaos.session(&mut client, &mut ticks, leave_at).await;
        live.gone();
        match end {
            SessionEnd::RunOver => {
                let _ = client.leave_and_wait(LEAVE_GRACE).await;
                break;
            }
            SessionEnd::Dropped | SessionEnd::ServerClosed => {
                drop(client);
                pause_until(reconnect_delay, leave_at).await;
            }
        }
    }
    counters
}

async fn pause_until(delay: Duration, leave_at: Instant) {
    let until = (Instant::now() + delay).min(leave_at);
    tokio::time::sleep_until(until.into()).await;
}

/// One connection's worth of a chaos bot.
struct Chaos<'a, B: Bot> {
    plan: &'a mut ChaosPlan,
    bot: &'a mut B,
    counters: &'a mut ChaosCounters,
}

impl<B: Bot> Chaos<'_, B> {
    async fn session(
        &mut self,
        client: &mut Client<B::Schema>,
        ticks: &mut TickSource,
        leave_at: Instant,
    ) -> SessionEnd {
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    let now = Instant::now();
                    if now >= leave_at {
                        return SessionEnd::RunOver;
                    }
                    let action = self.plan.next_action();
                    if let ChaosAction::Disconnect { abrupt } = action {
                        self.counters.disconnects += 1;
                        if !abrupt {
                            let _ = client.close().await;
                        }
                        return SessionEnd::Dropped;
                    }
                    if self.act(client, action, now, leave_at).await.is_err() {
                        // The connection is gone; read how it ended, briefly.
                        let closed = tokio::time::timeout(LEAVE_GRACE, drain_to_close(client)).await;
                        self.counters.server_closed(closed.ok().flatten());
                        return SessionEnd::ServerClosed;
                    }
                }
                event = client.next_event() => match event {
                    Some(ClientEvent::Closed { code, .. }) => {
                        self.counters.server_closed(code);
                        return SessionEnd::ServerClosed;
                    }
                    None => {
                        self.counters.server_closed(None);
                        return SessionEnd::ServerClosed;
                    }
                    Some(ClientEvent::Message(message)) => self.bot.on_message(&message),
                    Some(ClientEvent::Snapshot(snapshot)) => {
                        self.bot.on_snapshot(&snapshot, client.view());
                    }
                    Some(_) => {}
                },
            }
        }
    }

    /// Does one tick's `action` (anything but a disconnect).
    async fn act(
        &mut self,
        client: &mut Client<B::Schema>,
        action: ChaosAction,
        now: Instant,
        leave_at: Instant,
    ) -> Result<(), ClientError> {
        match action {
            ChaosAction::Input => self.send_input(client, now).await,
            ChaosAction::Burst => {
                self.counters.bursts += 1;
                for _ in 0..BURST_INPUTS {
                    self.send_input(client, now).await?;
                }
                Ok(())
            }
            ChaosAction::Garbage => {
                self.counters.garbage_frames += 1;
                client
                    .send_raw(Message::Binary(self.plan.garbage().into()))
                    .await
            }
            ChaosAction::Oversized => {
                self.counters.oversized_frames += 1;
                let frame = vec![0xA5; MAX_CLIENT_MESSAGE_BYTES * OVERSIZE_FACTOR];
                client.send_raw(Message::Binary(frame.into())).await
            }
            ChaosAction::Stall(pause) => {
                self.counters.stalls += 1;
                // Neither reading nor writing: the server's queue for us fills up.
                pause_until(pause, leave_at).await;
                Ok(())
            }
            ChaosAction::Disconnect { .. } => Ok(()),
        }
    }

    /// The game bot's ordinary input; an `Ack` when it has none.
    async fn send_input(
        &mut self,
        client: &mut Client<B::Schema>,
        now: Instant,
    ) -> Result<(), ClientError> {
        let input = self.bot.next_input(&Turn::of(client, now));
        match input {
            Some(input) => client.send_input(input).await.map(drop),
            None => client.send_ack().await.map(drop),
        }
    }
}

/// Reads until the close, returning its code.
async fn drain_to_close<S: ticksync_protocol::Schema>(client: &mut Client<S>) -> Option<u16> {
    while let Some(event) = client.next_event().await {
        if let ClientEvent::Closed { code, .. } = event {
            return code;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rates_mostly_send_inputs_and_sometimes_misbehave() {
        let mut plan = ChaosPlan::new(ChaosRates::default(), 1);
        let actions: Vec<ChaosAction> = (0..30_000).map(|_| plan.next_action()).collect();
        let count = |f: fn(&ChaosAction) -> bool| actions.iter().filter(|a| f(a)).count();
        let inputs = count(|a| *a == ChaosAction::Input);
        assert!(inputs > 27_000, "{inputs}");
        assert!(count(|a| *a == ChaosAction::Burst) > 100);
        assert!(count(|a| *a == ChaosAction::Garbage) > 20);
        assert!(count(|a| *a == ChaosAction::Oversized) > 20);
        assert!(count(|a| matches!(a, ChaosAction::Disconnect { .. })) > 20);
        for action in &actions {
            if let ChaosAction::Stall(pause) = action {
                assert!((Duration::from_secs(2)..=Duration::from_secs(5)).contains(pause));
            }
        }
    }

    #[test]
    fn plans_replay_from_their_seed_and_zero_rates_never_fire() {
        let run = |seed| {
            let mut plan = ChaosPlan::new(ChaosRates::default(), seed);
            (0..1000).map(|_| plan.next_action()).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        let calm = ChaosRates {
            burst_one_in: 0,
            garbage_one_in: 0,
            oversized_one_in: 0,
            stall_one_in: 0,
            disconnect_one_in: 0,
            ..ChaosRates::default()
        };
        let mut plan = ChaosPlan::new(calm, 9);
        assert!((0..1000).all(|_| plan.next_action() == ChaosAction::Input));
    }

    #[test]
    fn counters_merge_close_codes_by_key() {
        let mut total = ChaosCounters::default();
        let mut one = ChaosCounters {
            bots: 1,
            bursts: 2,
            ..ChaosCounters::default()
        };
        one.server_closed(Some(1009));
        one.server_closed(None);
        total.merge(&one);
        total.merge(&one);
        assert_eq!(total.bots, 2);
        assert_eq!(total.bursts, 4);
        assert_eq!(total.server_closes["1009"], 2);
        assert_eq!(total.server_closes["none"], 2);
    }
}
