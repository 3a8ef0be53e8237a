//! The bot swarm: N [`ArenaBot`]s as tasks on the caller's tokio runtime (no thread per
//! bot), connected gradually, played for a fixed duration, then asked to leave; their
//! outcomes and latencies are merged into a [`SwarmReport`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::bot::{ArenaBot, BotSteering};
use crate::client::{Client, ClientOptions, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::latency::latency_histogram;
use crate::report::{BotOutcome, SwarmReport};

/// Handshakes in flight at once. Bounding them ramps a large swarm in instead of landing
/// every connect on the server's accept queue in the same millisecond (which overflows the
/// listen backlog and measures queueing, not the server).
pub const DEFAULT_MAX_CONCURRENT_HANDSHAKES: usize = 32;

/// How long a bot waits, after sending `Leave`, for the server to close before it gives up
/// and drops the connection.
pub const LEAVE_GRACE: Duration = Duration::from_secs(2);

/// Default seed, so two runs with no `--seed` move the same way.
pub const DEFAULT_SEED: u64 = 0x5EED;

/// What a swarm run does.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// Server WebSocket URL, e.g. `ws://127.0.0.1:7878/ws`.
    pub url: String,
    /// Number of bots.
    pub bots: usize,
    /// Length of the run, from the start of the swarm until every bot leaves (the connect
    /// ramp is inside it).
    pub duration: Duration,
    /// Seed of every bot's RNG (bot `i` uses `seed ^ i`).
    pub seed: u64,
    /// Bound on one bot's connect + upgrade + `Welcome`.
    pub connect_timeout: Duration,
    /// Handshakes allowed in flight at once.
    pub max_concurrent_handshakes: usize,
    /// Fraction of snapshots each bot throws away unread, simulating network loss (see
    /// [`ClientOptions::snapshot_loss`]); 0.0 for a normal run. Bot `i`'s loss RNG is
    /// seeded with `seed` rotated by 32 bits, XOR `i`, independent of its steering.
    pub snapshot_loss: f64,
}

impl SwarmConfig {
    /// A run of `bots` bots against `url` for `duration`, with default seed and limits.
    pub fn new(url: impl Into<String>, bots: usize, duration: Duration) -> Self {
        SwarmConfig {
            url: url.into(),
            bots,
            duration,
            seed: DEFAULT_SEED,
            connect_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_concurrent_handshakes: DEFAULT_MAX_CONCURRENT_HANDSHAKES,
            snapshot_loss: 0.0,
        }
    }
}

/// Runs the swarm to completion and reports what it measured. Failures of individual bots
/// are counted in the report, never returned as errors.
pub async fn run_swarm(config: SwarmConfig) -> SwarmReport {
    let started = Instant::now();
    let leave_at = started + config.duration;
    let handshakes = Arc::new(Semaphore::new(config.max_concurrent_handshakes.max(1)));
    let config = Arc::new(config);
    info!(bots = config.bots, url = %config.url, duration = ?config.duration, "starting swarm");

    let mut tasks = JoinSet::new();
    for index in 0..config.bots {
        let config = Arc::clone(&config);
        let handshakes = Arc::clone(&handshakes);
        tasks.spawn(run_bot(config, handshakes, index, leave_at));
    }

    let mut outcomes = Vec::with_capacity(config.bots);
    let mut latency = latency_histogram();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((outcome, bot_latency)) => {
                if let Err(error) = latency.add(&bot_latency) {
                    warn!(%error, "could not merge a bot's latency histogram");
                }
                outcomes.push(outcome);
            }
            Err(error) => {
                // A panicking bot is a bug in this crate; count it as a failure, not a crash.
                warn!(%error, "bot task failed");
                outcomes.push(BotOutcome::default());
            }
        }
    }
    let report = SwarmReport::from_outcomes(config.bots, &outcomes, &latency, started.elapsed());
    info!(connected = report.bots_connected, "swarm finished");
    report
}

/// One bot's life: connect (within the handshake budget), play until `leave_at`, leave.
async fn run_bot(
    config: Arc<SwarmConfig>,
    handshakes: Arc<Semaphore>,
    index: usize,
    leave_at: Instant,
) -> (BotOutcome, Histogram<u64>) {
    let options = ClientOptions {
        handshake_timeout: config.connect_timeout,
        snapshot_loss: config.snapshot_loss,
        loss_seed: config.seed.rotate_left(32) ^ index as u64,
        ..ClientOptions::named(format!("bot-{index}"))
    };
    let connected = {
        // The semaphore is never closed, so acquiring fails only if it were; treat that
        // like a failed connect rather than panicking.
        let Ok(_permit) = handshakes.acquire().await else {
            return (BotOutcome::default(), latency_histogram());
        };
        Client::connect(&config.url, options).await
    };
    let mut client = match connected {
        Ok(client) => client,
        Err(error) => {
            debug!(bot = index, %error, "bot could not connect");
            return (BotOutcome::default(), latency_histogram());
        }
    };
    let welcomed_at = Instant::now();
    let mut bot = ArenaBot::new(BotSteering::new(config.seed, index as u64), leave_at);

    // The bot leaves by itself at `leave_at`; the grace bounds a server that never closes.
    let run = tokio::time::timeout_at((leave_at + LEAVE_GRACE).into(), client.run(&mut bot)).await;
    match &run {
        Ok(Ok(close)) => {
            debug!(bot = index, code = ?close.code, reason = %close.reason, "bot closed")
        }
        Ok(Err(error)) => debug!(bot = index, %error, "bot stopped with an error"),
        Err(_elapsed) => debug!(bot = index, "server did not close after Leave; dropping"),
    }

    let outcome = match bot.departure() {
        Some(departure) => BotOutcome {
            connected: true,
            disconnected: false,
            active: departure.at.saturating_duration_since(welcomed_at),
            counters: departure.counters,
        },
        None => {
            let ended = Instant::now().min(leave_at);
            BotOutcome {
                connected: true,
                // The run ended by itself without the bot leaving: the connection dropped.
                // (A run cut by the grace timeout was still connected, so it is not one.)
                disconnected: run.is_ok(),
                active: ended.saturating_duration_since(welcomed_at),
                counters: client.counters(),
            }
        }
    };
    (outcome, client.ack_latency_us().clone())
}
