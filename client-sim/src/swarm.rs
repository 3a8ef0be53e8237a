//! The bot swarm: N bots of any game (a [`BotFactory`]) as tasks on the caller's tokio
//! runtime (no thread and no timer per bot: a shared [`TickHub`] ticks them all), connected
//! along a ramp, played for a fixed duration, then asked to leave; their outcomes are merged
//! into a [`SwarmReport`]. Generic over the factory, so each game's swarm is monomorphized.
//!
//! Honest bots (every behaviour but chaos) reconnect after an unexplained disconnect and
//! are what the report's top level describes, their [`Bot::counters`] summed in its
//! `game_counters`; chaos bots ([`crate::chaos`]) are counted apart. Latencies go into one [`SharedLatency`] rather than a histogram per bot, so 10,000
//! bots cost tens of MB, not GB.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync_client::{
    matchmake, tick_period, Client, ClientError, ClientOptions, ConnectFailure, InputTiming,
    MatchRequest, MatchmakeError, SharedLatency, TickHub, TickSource, TlsConfig,
    DEFAULT_HANDSHAKE_TIMEOUT,
};
use ticksync_protocol::{ErrorCode, WireFormat};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use crate::auth::{bot_player_id, bot_url};
use crate::behaviour::{is_honest, Mix, MixError};
use crate::bot::{Bot, BotFactory, CHAOS};
use crate::chaos::{run_chaos_bot, ChaosCounters, ChaosPlan, ChaosRates};
use crate::driver::BotDriver;
use crate::live::LiveStats;
use crate::progress::{spawn_progress, ProgressMode};
use crate::ramp::connect_offset;
use crate::report::{BotOutcome, SwarmReport};

/// Handshakes in flight at once. Bounding them ramps a large swarm in instead of landing
/// every connect on the server's accept queue in the same millisecond (which overflows the
/// listen backlog and measures queueing, not the server).
pub const DEFAULT_MAX_CONCURRENT_HANDSHAKES: usize = 32;

/// How long a bot waits, after sending `Leave`, for the server to close before it gives up
/// and drops the connection.
pub const LEAVE_GRACE: Duration = Duration::from_secs(2);

/// First pause before an honest bot reconnects after a disconnect; it doubles with each
/// failed attempt up to [`RECONNECT_MAX_DELAY`], and each pause is jittered by ±50% so a
/// server that dropped many bots at once is not hit by a synchronized reconnect storm.
pub const RECONNECT_BASE_DELAY: Duration = Duration::from_millis(250);

/// Longest pause between reconnect attempts.
pub const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(5);

/// The pause before reconnect attempt `attempt` (0-based): exponential backoff with jitter.
pub fn reconnect_delay(attempt: u32, rng: &mut impl rand::Rng) -> Duration {
    let exponential = RECONNECT_BASE_DELAY.saturating_mul(1u32 << attempt.min(16));
    let capped = exponential.min(RECONNECT_MAX_DELAY);
    capped.mul_f64(rng.random_range(0.5..1.5))
}

/// Socket read buffer per bot. Arena snapshots in the scale (area of interest) mode are
/// well under a few KiB, and larger ones are read in several calls; 4 KiB keeps 10,000
/// bots' buffers at 40 MiB (the client's default of 16 KiB would be 160 MiB).
pub const SWARM_READ_BUFFER_BYTES: usize = 4 * 1024;

/// Default seed, so two runs with no `--seed` move the same way.
pub const DEFAULT_SEED: u64 = 0x5EED;

/// Default room named in join tokens.
pub const DEFAULT_ROOM: &str = "arena";

/// What a swarm run does.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// Server WebSocket URL, e.g. `ws://127.0.0.1:7878/ws` or `wss://…`.
    pub url: String,
    /// Number of bots, honest and chaos together.
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
    /// Connects per second (bot `i` starts at `i / ramp` s); `None`: all at once, bounded
    /// only by `max_concurrent_handshakes`.
    pub ramp: Option<f64>,
    /// Fraction of snapshots each bot throws away unread, simulating network loss (see
    /// [`ClientOptions::snapshot_loss`]); 0.0 for a normal run. Bot `i`'s loss RNG is
    /// seeded with `seed` rotated by 32 bits, XOR `i`, independent of its steering.
    pub snapshot_loss: f64,
    /// Which behaviours, in which proportions; the default: every bot the game's default
    /// behaviour.
    pub mix: Mix,
    /// How often chaos bots misbehave.
    pub chaos: ChaosRates,
    /// TLS for `wss://` URLs.
    pub tls: Option<TlsConfig>,
    /// Secret to mint a join token per bot with (see [`crate::auth`]); `None`: no token.
    pub token_secret: Option<String>,
    /// Room the join tokens name when `rooms_named` is `None`.
    pub room: String,
    /// Rooms to join: `None` joins the server's default room (no `?room=`); `Some((name,
    /// 1))` joins `name`; `Some((name, n))` spreads the bots over `name-0` … `name-(n-1)`.
    pub rooms_named: Option<(String, usize)>,
    /// The codec the bots speak.
    pub format: WireFormat,
    /// Trace every frame of bot 0 to stderr.
    pub trace: bool,
    /// Live progress display.
    pub progress: ProgressMode,
    /// How honest bots time their inputs: aimed with the server's arrival feedback (the
    /// default), or each on its own free-running timer at a uniformly random phase.
    pub input_timing: InputTiming,
    /// Join through a cluster's matchmaker instead of `url`: each honest bot asks it for a
    /// seat (join-or-create by the filters), resumes on the same node after a drop, and
    /// asks again when that node is gone.
    pub matchmaking: Option<Matchmaking>,
}

/// Where honest bots get their seats (`--matchmake URL --filter KEY=VALUE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matchmaking {
    /// Any node's game port over HTTP: `http://host:port` (`https://` with `tls`).
    pub url: String,
    /// The metadata filters of join-or-create.
    pub filters: BTreeMap<String, String>,
}

impl SwarmConfig {
    /// A run of `bots` bots of the game's default behaviour against `url` for `duration`,
    /// with default seed and limits, no ramp, no TLS, no tokens and no progress display.
    pub fn new(url: impl Into<String>, bots: usize, duration: Duration) -> Self {
        SwarmConfig {
            url: url.into(),
            bots,
            duration,
            seed: DEFAULT_SEED,
            connect_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_concurrent_handshakes: DEFAULT_MAX_CONCURRENT_HANDSHAKES,
            ramp: None,
            snapshot_loss: 0.0,
            mix: Mix::default(),
            chaos: ChaosRates::default(),
            tls: None,
            token_secret: None,
            room: DEFAULT_ROOM.to_owned(),
            rooms_named: None,
            format: WireFormat::Bincode,
            trace: false,
            progress: ProgressMode::Off,
            input_timing: InputTiming::Synced,
            matchmaking: None,
        }
    }
}

/// What every bot task shares.
struct Shared<F> {
    config: SwarmConfig,
    factory: F,
    /// Set once a refused upgrade's reason has been logged: a whole swarm refused for the
    /// same reason (another game, another schema) says so once, not once per bot.
    rejection_logged: AtomicBool,
    started: Instant,
    leave_at: Instant,
    handshakes: Semaphore,
    ticks: TickHub,
    live: Arc<LiveStats>,
    /// Honest bots' latencies: what the report and the progress show.
    latency: Arc<SharedLatency>,
    /// Chaos bots' latencies, recorded apart so they never mix into the honest figures.
    chaos_latency: Arc<SharedLatency>,
    /// Honest bots' input arrival margins as the server reported them.
    input_margin: Arc<SharedLatency>,
}

/// What one bot task ends with.
enum BotResult {
    /// An honest bot's outcome and its game counters.
    Honest(BotOutcome, Vec<(&'static str, u64)>),
    Chaos(ChaosCounters),
}

/// Why a swarm could not start.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("--mix: {0}")]
    Mix(#[from] MixError),
}

/// Runs a swarm of `factory`'s bots to completion and reports what it measured. Failures of
/// individual bots are counted in the report, never returned as errors; only a mix the
/// game's bots do not know is.
pub async fn run_swarm_with<F: BotFactory>(
    config: SwarmConfig,
    factory: F,
) -> Result<SwarmReport, SwarmError> {
    let started = Instant::now();
    let mix = config.mix.resolve(factory.behaviours())?;
    let behaviours: Vec<String> = mix
        .assign(config.bots)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let honest_bots = behaviours.iter().filter(|b| is_honest(b)).count();
    info!(bots = config.bots, %mix, url = %config.url, duration = ?config.duration, "starting swarm");
    let shared = Arc::new(Shared {
        factory,
        rejection_logged: AtomicBool::new(false),
        started,
        leave_at: started + config.duration,
        handshakes: Semaphore::new(config.max_concurrent_handshakes.max(1)),
        ticks: TickHub::new(),
        live: Arc::new(LiveStats::new()),
        latency: Arc::new(SharedLatency::new()),
        chaos_latency: Arc::new(SharedLatency::new()),
        input_margin: Arc::new(SharedLatency::new()),
        config,
    });
    let progress = spawn_progress(
        shared.config.progress,
        Arc::clone(&shared.live),
        Arc::clone(&shared.latency),
        shared.config.duration,
    );

    let mut tasks = JoinSet::new();
    for (index, behaviour) in behaviours.into_iter().enumerate() {
        tasks.spawn(run_bot(Arc::clone(&shared), index, behaviour));
    }
    let mut outcomes = Vec::with_capacity(honest_bots);
    let mut chaos = ChaosCounters::default();
    let mut game_counters: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(BotResult::Honest(outcome, counters)) => {
                outcomes.push(outcome);
                for (name, value) in counters {
                    let total = game_counters.entry(name.to_owned()).or_default();
                    *total = total.saturating_add(value);
                }
            }
            Ok(BotResult::Chaos(counters)) => chaos.merge(&counters),
            Err(error) => {
                // A panicking bot is a bug in this crate; count it as a failure, not a crash.
                warn!(%error, "bot task failed");
                outcomes.push(BotOutcome::default());
            }
        }
    }
    if let Some(progress) = progress {
        progress.finish().await;
    }
    let latency = shared.latency.merged();
    let timing = match shared.config.input_timing {
        InputTiming::Synced => "synced",
        InputTiming::Free => "free",
    };
    let mut report =
        SwarmReport::from_outcomes(honest_bots, &outcomes, chaos, &latency, started.elapsed())
            .with_input_margins(timing, &shared.input_margin.merged());
    report.game_counters = game_counters;
    info!(connected = report.bots_connected, "swarm finished");
    Ok(report)
}

/// One bot's life: wait for its place on the ramp, then play its behaviour.
async fn run_bot<F: BotFactory>(
    shared: Arc<Shared<F>>,
    index: usize,
    behaviour: String,
) -> BotResult {
    let config = &shared.config;
    let start_at = shared.started + connect_offset(index, config.ramp);
    let chaotic = !is_honest(&behaviour);
    let nothing = || {
        if chaotic {
            BotResult::Chaos(ChaosCounters {
                bots: 1,
                ..ChaosCounters::default()
            })
        } else {
            BotResult::Honest(BotOutcome::default(), Vec::new())
        }
    };
    if start_at >= shared.leave_at {
        debug!(bot = index, "the ramp reaches this bot after the run ends");
        return nothing();
    }
    tokio::time::sleep_until(start_at.into()).await;

    let room = config
        .rooms_named
        .as_ref()
        .map(|(name, count)| match count {
            0 | 1 => name.clone(),
            _ => format!("{name}-{}", index % count),
        });
    // With a matchmaker, honest bots get their URL from it (chaos bots need a plain URL).
    let url = if config.matchmaking.is_some() {
        String::new()
    } else {
        match bot_url(
            &config.url,
            room.as_deref(),
            config.token_secret.as_ref().map(|secret| secret.as_bytes()),
            &config.room,
            index,
        ) {
            Ok(url) => url,
            Err(error) => {
                warn!(bot = index, %error, "could not make the bot's URL");
                return nothing();
            }
        }
    };
    let latency = if chaotic {
        &shared.chaos_latency
    } else {
        &shared.latency
    };
    let seed = config.seed;
    let bot = shared.factory.bot(&behaviour, seed, index);
    let options = ClientOptions {
        handshake_timeout: config.connect_timeout,
        read_buffer_bytes: SWARM_READ_BUFFER_BYTES,
        ack_every_snapshot: !bot.sends_inputs(),
        snapshot_loss: config.snapshot_loss,
        loss_seed: config.seed.rotate_left(32) ^ index as u64,
        tls: config.tls.clone(),
        trace: config.trace && index == 0,
        shared_latency: Some((Arc::clone(latency), index)),
        format: config.format,
        input_timing: config.input_timing,
        shared_input_margin: (!chaotic).then(|| Arc::clone(&shared.input_margin)),
        ..ClientOptions::named(bot_player_id(index))
    };
    if behaviour == CHAOS {
        let plan = ChaosPlan::new(config.chaos.clone(), seed.rotate_left(16) ^ index as u64);
        // Chaos bots act at a fixed rate, whatever the server's; the shared ticker for it
        // exists already once any honest bot of a 30 Hz game is in.
        let ticks = shared.ticks.subscribe(CHAOS_TICK_RATE_HZ);
        let counters = run_chaos_bot(
            &url,
            options,
            plan,
            bot,
            ticks,
            shared.leave_at,
            &shared.live,
        )
        .await;
        return BotResult::Chaos(counters);
    }
    let mut driver = BotDriver::new(bot, shared.leave_at).report_to(Arc::clone(&shared.live));
    let outcome = match &config.matchmaking {
        None => run_honest_bot(&shared, index, Target::Url(&url), options, &mut driver).await,
        Some(matchmaking) => {
            let target = Target::Matchmaker(matchmaking);
            run_honest_bot(&shared, index, target, options, &mut driver).await
        }
    };
    BotResult::Honest(outcome, driver.bot().counters())
}

/// The rate at which chaos bots act: the arena's (ARCHITECTURE.md §4).
const CHAOS_TICK_RATE_HZ: u16 = 30;

/// Where an honest bot connects.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// Always this URL.
    Url(&'a str),
    /// A seat from the matchmaker; after a drop, the same node while it answers.
    Matchmaker(&'a Matchmaking),
}

/// Why a matchmaker gave no seat, counted as a failed connect.
fn matchmake_failure(error: &MatchmakeError) -> ConnectFailure {
    match error {
        MatchmakeError::Refused { status, .. } => ConnectFailure::Http(*status),
        MatchmakeError::Io { .. } => ConnectFailure::Network,
        MatchmakeError::Timeout { .. } => ConnectFailure::Timeout,
        _ => ConnectFailure::Other,
    }
}

/// Tries a bot that never got in makes before it gives up, when it joins through the
/// matchmaker: a seat can lose a race (the room filled, the node died before its lease ran
/// out), and the next seat is a new placement.
const MATCHMADE_FIRST_TRIES: u32 = 4;

/// Whether a bot stops trying after `attempt` failed tries: one that was never in gives
/// up at once on a plain URL (the report says why), after a few tries with a matchmaker.
fn gives_up(target: Target<'_>, outcome: &BotOutcome, attempt: u32) -> bool {
    match target {
        Target::Url(_) => !outcome.connected,
        Target::Matchmaker(_) => !outcome.connected && attempt >= MATCHMADE_FIRST_TRIES,
    }
}

/// Plays an honest bot until the run ends, reconnecting after unexplained disconnects.
async fn run_honest_bot<F: BotFactory>(
    shared: &Shared<F>,
    index: usize,
    target: Target<'_>,
    options: ClientOptions,
    bot: &mut BotDriver<F::Bot>,
) -> BotOutcome {
    let leave_at = shared.leave_at;
    let mut outcome = BotOutcome::default();
    let mut options = options;
    let mut backoff_rng = SmallRng::seed_from_u64(index as u64 ^ 0xB0FF);
    let mut attempt = 0u32;
    // With a matchmaker: the node to resume on after a drop, and the one being tried.
    let mut resume_url: Option<String> = None;
    let mut trying_resume_url: Option<String> = None;
    loop {
        let url = match target {
            Target::Url(url) => url.to_owned(),
            Target::Matchmaker(matchmaking) => match resume_url.take() {
                Some(resume) if options.resume_token.is_some() => {
                    trying_resume_url = Some(resume.clone());
                    resume
                }
                _ => {
                    options.resume_token = None;
                    let request = MatchRequest::JoinOrCreate(matchmaking.filters.clone());
                    match matchmake(&matchmaking.url, &request, &options).await {
                        Ok(seat) => {
                            trying_resume_url = Some(seat.resume_url());
                            seat.connect
                        }
                        Err(error) => {
                            debug!(bot = index, %error, "no seat from the matchmaker");
                            if !outcome.connected {
                                outcome.connect_failure = Some(matchmake_failure(&error));
                                outcome.server_said = Some(error.to_string());
                            }
                            let delay = reconnect_delay(attempt, &mut backoff_rng);
                            attempt += 1;
                            if gives_up(target, &outcome, attempt)
                                || Instant::now() + delay >= leave_at
                            {
                                return outcome;
                            }
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                }
            },
        };
        let url = url.as_str();
        let connected = {
            // The semaphore is never closed, so acquiring fails only if it were; treat that
            // like a failed connect rather than panicking.
            let Ok(_permit) = shared.handshakes.acquire().await else {
                return outcome;
            };
            Client::<<F::Bot as Bot>::Schema>::connect(url, options.clone()).await
        };
        let mut client = match connected {
            Ok(client) => client,
            Err(error) => {
                debug!(bot = index, %error, "bot could not connect");
                if let ClientError::UpgradeRejected { .. } = &error {
                    if !shared.rejection_logged.swap(true, Ordering::Relaxed) {
                        warn!(bot = index, %error, "the server refused a bot's connection");
                    }
                }
                if !outcome.connected {
                    outcome.connect_failure = Some(ConnectFailure::of(&error));
                    outcome.server_said = error.server_said().map(str::to_owned);
                }
                if matches!(
                    &error,
                    ClientError::Refused {
                        code: ErrorCode::ResumeRefused,
                        ..
                    }
                ) {
                    // The grace period is over: come back as a new player, at once.
                    options.resume_token = None;
                    continue;
                }
                let delay = reconnect_delay(attempt, &mut backoff_rng);
                attempt += 1;
                if gives_up(target, &outcome, attempt) || Instant::now() + delay >= leave_at {
                    return outcome;
                }
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        attempt = 0;
        resume_url = trying_resume_url.take();
        // Keep the newest resume token: after a drop, the bot takes its entity back.
        options.resume_token = Some(client.welcome().resume_token.clone());
        if outcome.connected {
            outcome.reconnects += 1;
        }
        outcome.connected = true;
        shared.live.connected();
        let welcomed_at = Instant::now();
        // Each bot's input clock has its own phase, as independent players' clocks do:
        // aimed at the server's tick by its feedback, or free at a random point of the tick.
        let ticks = match options.input_timing {
            InputTiming::Synced => TickSource::Synced,
            InputTiming::Free => {
                let rate = client.welcome().tick_rate_hz;
                let mut phase_rng =
                    SmallRng::seed_from_u64(shared.config.seed ^ (index as u64).rotate_left(24));
                let phase = tick_period(rate).mul_f64(phase_rng.random_range(0.0..1.0));
                TickSource::own_with_phase(rate, phase)
            }
        };
        // The bot leaves by itself at `leave_at`; the grace bounds a server that never
        // closes.
        let run = tokio::time::timeout_at(
            (leave_at + LEAVE_GRACE).into(),
            client.run_with_ticks(bot, ticks),
        )
        .await;
        shared.live.gone();
        match &run {
            Ok(Ok(close)) => {
                debug!(bot = index, code = ?close.code, reason = %close.reason, "bot closed")
            }
            Ok(Err(error)) => debug!(bot = index, %error, "bot stopped with an error"),
            Err(_elapsed) => debug!(bot = index, "server did not close after Leave; dropping"),
        }
        if let Some(departure) = bot.departure() {
            outcome.active += departure.at.saturating_duration_since(welcomed_at);
            outcome.counters.accumulate(&departure.counters);
            return outcome;
        }
        let ended = Instant::now().min(leave_at);
        outcome.active += ended.saturating_duration_since(welcomed_at);
        outcome.counters.accumulate(&client.counters());
        if run.is_err() {
            // Cut by the grace timeout while still connected: not a disconnect.
            return outcome;
        }
        // The run ended by itself without the bot leaving: the connection dropped.
        outcome.disconnects += 1;
        shared.live.disconnect();
        drop(client);
        let delay = reconnect_delay(attempt, &mut backoff_rng);
        attempt += 1;
        if Instant::now() + delay >= leave_at {
            return outcome;
        }
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn reconnect_delays_grow_jittered_and_capped() {
        let mut rng = SmallRng::seed_from_u64(1);
        let first = reconnect_delay(0, &mut rng);
        assert!(first >= RECONNECT_BASE_DELAY / 2 && first <= RECONNECT_BASE_DELAY * 3 / 2);
        let later = reconnect_delay(3, &mut rng);
        assert!(later >= RECONNECT_BASE_DELAY * 4 && later <= RECONNECT_BASE_DELAY * 12);
        for attempt in [10, 40, u32::MAX] {
            assert!(reconnect_delay(attempt, &mut rng) <= RECONNECT_MAX_DELAY * 3 / 2);
        }
        let spread: std::collections::HashSet<_> =
            (0..20).map(|_| reconnect_delay(2, &mut rng)).collect();
        assert!(spread.len() > 10, "jittered");
    }
}
