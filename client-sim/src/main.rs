//! `ticksync-sim`: load-tests a ticksync server with a swarm of arena bots and reports what
//! they measured. Thin over the library: parse flags, set up logging, run, print.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ticksync_sim::swarm::{DEFAULT_MAX_CONCURRENT_HANDSHAKES, DEFAULT_SEED};
use ticksync_sim::{run_swarm, SwarmConfig};
use tracing_subscriber::EnvFilter;

/// Connect N arena bots to a ticksync server, play for a while, and report snapshot rate,
/// bandwidth per bot, input→ack latency and desyncs.
///
/// Each bot sends one input per server tick, moving in a random direction that changes once
/// a second. Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=ticksync_sim=debug) for detail.
#[derive(Debug, Parser)]
#[command(name = "ticksync-sim", version)]
struct Args {
    /// WebSocket URL of the server.
    #[arg(long, default_value = "ws://127.0.0.1:7878/ws", env = "TICKSYNC_URL")]
    url: String,

    /// Number of bots to connect.
    #[arg(long, default_value_t = 10)]
    bots: usize,

    /// Length of the run in seconds, connect ramp included.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,

    /// Seed of the bots' movement (bot i uses seed XOR i), for repeatable runs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,

    /// Seconds one bot may take to connect and be welcomed before it counts as a failure.
    #[arg(long, default_value_t = 10.0)]
    connect_timeout: f64,

    /// Bot handshakes allowed in flight at once (ramps large swarms in gradually).
    #[arg(long, default_value_t = DEFAULT_MAX_CONCURRENT_HANDSHAKES)]
    max_concurrent_handshakes: usize,

    /// Fraction (0 to 1) of snapshots each bot throws away unread, as if the network lost
    /// them: a chaos test of the server's delta baselines. A correct server still shows
    /// 0 desyncs.
    #[arg(long, default_value_t = 0.0, value_parser = loss_fraction)]
    snapshot_loss: f64,

    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let config = SwarmConfig {
        url: args.url.clone(),
        bots: args.bots,
        duration: seconds(args.duration).context("--duration")?,
        seed: args.seed,
        connect_timeout: seconds(args.connect_timeout).context("--connect-timeout")?,
        max_concurrent_handshakes: args.max_concurrent_handshakes,
        snapshot_loss: args.snapshot_loss,
    };
    let report = run_swarm(config).await;
    println!("{report}");

    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context("serializing the report")?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the JSON report to {}", path.display()))?;
    }

    if args.bots > 0 && report.bots_connected == 0 {
        eprintln!(
            "error: none of the {} bots could connect to {} — is the server running there? \
             (RUST_LOG=ticksync_sim=debug shows why each connect failed)",
            args.bots, args.url
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
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
