//! The command line every game's swarm binary shares: [`run`] parses the flags, sets up
//! logging and the runtime, runs the swarm with the game's [`BotFactory`], prints the
//! report and checks the release gates. The stock `ticksync-sim` binary is
//! `run(ArenaBots)`; a game's own swarm is one line too.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;
use ticksync_client::InputTiming;
use ticksync_protocol::WireFormat;
use tracing_subscriber::EnvFilter;

use crate::fdlimit::ensure_open_files;
use crate::progress::ProgressMode;
use crate::swarm::{Matchmaking, DEFAULT_MAX_CONCURRENT_HANDSHAKES, DEFAULT_SEED};
use crate::{run_swarm_with, tls_config, BotFactory, Gates, Mix, SwarmConfig, TlsTrust};

/// Exit status when a release gate (`--max-*`) is violated, distinct from 1 (the run
/// itself failed, e.g. no bot could connect).
const GATE_FAILURE_EXIT: u8 = 3;

/// Connect N bots to a ticksync server, play for a while, and report snapshot rate,
/// bandwidth per bot, input→ack latency, tick gaps and desyncs.
///
/// By default every bot plays the arena scenario (random-walk): one input per server tick,
/// moving in a random direction that changes once a second. `--mix` mixes in circling,
/// idle and chaos bots; chaos bots' figures are reported apart from the honest ones.
///
/// Exit status: 0 on success, 1 if the run failed (e.g. no bot connected), 3 if a release
/// gate (--max-desyncs, --max-p99-ms, --max-disconnects) was violated.
///
/// Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=ticksync_sim=debug) for detail.
#[derive(Debug, Parser)]
#[command(name = "ticksync-sim", version)]
struct Args {
    /// WebSocket URL of the server (ws:// or wss://).
    // The help names the variable only: clap would print "[env: TICKSYNC_URL=]" when it is
    // unset, which reads as an empty URL.
    #[arg(
        long,
        default_value = "ws://127.0.0.1:7878/ws",
        env = "TICKSYNC_URL",
        hide_env_values = true
    )]
    url: String,

    /// Join through a cluster's matchmaker instead of --url: any node's game port over
    /// HTTP (http://host:port, or https://host:port with --ca-cert or --insecure). Each bot asks for a seat with join-or-create by --filter,
    /// resumes on the same node after a drop, and asks again when that node is gone.
    #[arg(long, value_name = "URL")]
    matchmake: Option<String>,

    /// A join-or-create filter KEY=VALUE on the rooms' metadata (with --matchmake);
    /// repeatable.
    #[arg(long = "filter", value_name = "KEY=VALUE", value_parser = parse_filter)]
    filters: Vec<(String, String)>,

    /// Number of bots to connect (honest and chaos together).
    #[arg(long, default_value_t = 10)]
    bots: usize,

    /// Behaviours by percentage, e.g. `random-walk=90,chaos=10`. The arena's behaviours:
    /// random-walk (the arena bot), circle, idle (acks snapshots, sends no input); and for
    /// every game chaos (disconnects, bursts, garbage and oversized frames, stalls). A lone
    /// name means 100 %. Default: every bot the game's first behaviour (the arena's
    /// random-walk).
    #[arg(long)]
    mix: Option<Mix>,

    /// Length of the run in seconds, connect ramp included.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,

    /// Connects per second (bot i starts connecting i/RAMP seconds in). Without it bots
    /// connect as fast as --max-concurrent-handshakes allows.
    #[arg(long, value_parser = positive_rate)]
    ramp: Option<f64>,

    /// Seed of the bots' RNGs (bot i uses seed XOR i), for repeatable runs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,

    /// Worker threads of the runtime all bots share (default: one per CPU core).
    #[arg(long)]
    threads: Option<usize>,

    /// Seconds one bot may take to connect and be welcomed before it counts as a failure.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,

    /// Bot handshakes allowed in flight at once.
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_HANDSHAKES)]
    max_concurrent_handshakes: usize,

    /// For wss:// (and an https:// --matchmake): trust the CA certificate(s) in this PEM
    /// file.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    ca_cert: Option<PathBuf>,

    /// For wss:// (and an https:// --matchmake): accept any server certificate. For
    /// self-signed test servers only.
    #[arg(long)]
    insecure: bool,

    /// Mint a join token per bot (player id bot-i, valid 1 h) with this HS256 secret and
    /// pass it as ?token=… on the URL.
    #[arg(long, env = "TICKSYNC_TOKEN_SECRET", hide_env_values = true)]
    token_secret: Option<String>,

    /// Room to join (`?room=NAME`); without it bots join the server's default room and
    /// join tokens name "arena".
    #[arg(long, value_name = "NAME")]
    room: Option<String>,

    /// Spread the bots round-robin over this many rooms, NAME-0 … NAME-(N-1), where NAME is
    /// --room (default "room").
    #[arg(long, default_value_t = 1, value_name = "N")]
    rooms: usize,

    /// Codec: bincode (binary frames, the default) or json (text frames, as a browser or a
    /// script would speak).
    #[arg(long, default_value = "bincode", value_parser = parse_codec)]
    codec: WireFormat,

    /// How bots time their inputs: synced (aimed with the server's arrival feedback to land
    /// just before the tick that takes them) or free (each bot on its own timer at a random
    /// phase of the tick, as clients that ignore the feedback).
    #[arg(long, default_value = "synced", value_parser = parse_input_timing)]
    input_timing: InputTiming,

    /// Print every frame bot 0 sends and receives, decoded and timestamped, to stderr.
    #[arg(long)]
    trace: bool,

    /// No live progress on stderr.
    #[arg(long)]
    no_progress: bool,

    /// Fraction (0 to 1) of snapshots each bot throws away unread, as if the network lost
    /// them: a chaos test of the server's delta baselines. A correct server still shows
    /// 0 desyncs.
    #[arg(long, default_value_t = 0.0, value_parser = loss_fraction)]
    snapshot_loss: f64,

    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,

    /// Gate: fail (exit 3) if honest bots saw more desyncs than this.
    #[arg(long, value_name = "N")]
    max_desyncs: Option<u64>,

    /// Gate: fail (exit 3) if the honest bots' input→ack p99 exceeds this many ms.
    #[arg(long, value_name = "MS")]
    max_p99_ms: Option<f64>,

    /// Gate: fail (exit 3) if honest bots were disconnected more often than this (chaos
    /// bots' own disconnects do not count).
    #[arg(long, value_name = "N")]
    max_disconnects: Option<usize>,
}

/// Runs a swarm binary for the game whose bots `bots` makes:
///
/// ```no_run
/// fn main() -> anyhow::Result<std::process::ExitCode> {
///     ticksync_sim::cli::run(ticksync_sim::ArenaBots)
/// }
/// ```
pub fn run<F: BotFactory>(bots: F) -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    ensure_open_files(args.bots).context("checking the open-file limit")?;
    let config = swarm_config(&args)?;
    // Checked before the runtime starts, so a typo in --mix is a usage error at once.
    config.mix.resolve(bots.behaviours()).context("--mix")?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = runtime.block_on(run_swarm_with(config, bots))?;
    println!("{report}");

    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the JSON report to {}", path.display()))?;
    }

    if report.bots_requested > 0 && report.bots_connected == 0 {
        eprintln!(
            "error: none of the {} honest bots could connect to {} — is the server running \
             there? (RUST_LOG=ticksync_sim=debug shows why each connect failed)",
            report.bots_requested, args.url
        );
        return Ok(ExitCode::FAILURE);
    }
    let gates = Gates {
        max_desyncs: args.max_desyncs,
        max_p99_ms: args.max_p99_ms,
        max_disconnects: args.max_disconnects,
    };
    let violations = gates.check(&report);
    for violation in &violations {
        eprintln!("gate failed: {violation}");
    }
    if !violations.is_empty() {
        return Ok(ExitCode::from(GATE_FAILURE_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

fn swarm_config(args: &Args) -> anyhow::Result<SwarmConfig> {
    let trust = match (&args.ca_cert, args.insecure) {
        (Some(path), _) => TlsTrust::CaFile(path.clone()),
        (None, true) => TlsTrust::Insecure,
        (None, false) => TlsTrust::Default,
    };
    if !args.filters.is_empty() && args.matchmake.is_none() {
        bail!("--filter chooses rooms through the matchmaker: add --matchmake http://NODE:PORT");
    }
    if let Some(url) = &args.matchmake {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--matchmake {url:?}: the matchmaker is any node's game port over HTTP, e.g. http://127.0.0.1:7878 (https:// where the nodes serve TLS)");
        }
        if url.starts_with("https://") && trust == TlsTrust::Default {
            bail!(
                "--matchmake {url} is an https:// URL: pass --ca-cert FILE (the nodes' CA, PEM) \
                 or, for self-signed test nodes, --insecure; the same trust then covers the \
                 nodes' wss:// URLs"
            );
        }
        if args.token_secret.is_some() || args.room.is_some() {
            bail!("--matchmake chooses the room: leave out --room and --token-secret");
        }
    }
    let scheme = args
        .url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("ws" | "wss")) {
        bail!(
            "--url {:?}: the URL must be ws:// or wss:// — the server's WebSocket endpoint, \
             e.g. ws://127.0.0.1:7878/ws (an http:// address is its web page)",
            args.url
        );
    }
    if args.url.starts_with("wss://") && trust == TlsTrust::Default {
        bail!(
            "{} is a wss:// URL: pass --ca-cert FILE (the server's CA, PEM) or, for a \
             self-signed test server, --insecure",
            args.url
        );
    }
    let progress = if args.no_progress {
        ProgressMode::Off
    } else if std::io::stdout().is_terminal() {
        ProgressMode::Bar
    } else {
        ProgressMode::Plain
    };
    Ok(SwarmConfig {
        url: args.url.clone(),
        bots: args.bots,
        duration: seconds(args.duration).context("--duration")?,
        seed: args.seed,
        connect_timeout: seconds(args.connect_timeout).context("--connect-timeout")?,
        max_concurrent_handshakes: args.max_concurrent_handshakes,
        ramp: args.ramp,
        snapshot_loss: args.snapshot_loss,
        mix: args.mix.clone().unwrap_or_default(),
        tls: tls_config(&trust).context("setting up TLS")?,
        token_secret: args.token_secret.clone(),
        rooms_named: match (&args.room, args.rooms) {
            (None, 0 | 1) => None,
            (Some(room), rooms) => Some((room.clone(), rooms)),
            (None, rooms) => Some(("room".to_owned(), rooms)),
        },
        format: args.codec,
        input_timing: args.input_timing,
        trace: args.trace,
        progress,
        matchmaking: args.matchmake.clone().map(|url| Matchmaking {
            url,
            filters: args.filters.iter().cloned().collect(),
        }),
        ..SwarmConfig::new(args.url.clone(), args.bots, Duration::ZERO)
    })
}

/// A `--filter` value.
fn parse_filter(value: &str) -> Result<(String, String), String> {
    value
        .split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("--filter {value:?}: write KEY=VALUE"))
}

/// An `--input-timing` value.
fn parse_input_timing(value: &str) -> Result<InputTiming, String> {
    match value {
        "synced" => Ok(InputTiming::Synced),
        "free" => Ok(InputTiming::Free),
        other => Err(format!(
            "unknown input timing {other:?}; use synced or free"
        )),
    }
}

/// A `--codec` value.
fn parse_codec(value: &str) -> Result<WireFormat, String> {
    match value {
        "bincode" => Ok(WireFormat::Bincode),
        "json" => Ok(WireFormat::Json),
        other => Err(format!("unknown codec {other:?}; use bincode or json")),
    }
}

/// A `--ramp` value: connects per second, a positive number.
fn positive_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!(
            "{value} is not a positive number of connects per second"
        )),
    }
}

/// A `--snapshot-loss` value: a number from 0 to 1.
fn loss_fraction(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(fraction) if (0.0..=1.0).contains(&fraction) => Ok(fraction),
        _ => Err(format!("{value} is not a fraction between 0 and 1")),
    }
}

/// A non-negative, finite number of seconds as a `Duration`.
fn seconds(value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{value} is not a valid number of seconds"))
}
