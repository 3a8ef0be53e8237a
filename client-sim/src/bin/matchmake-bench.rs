//! `matchmake-bench`: load on a cluster's matchmakers, for BENCHMARKS.md. `--workers` tasks
//! ask for seats by join-or-create (filters spread over `--filter-values` values, so some
//! requests join a room and some create one) round-robin over the `--matchmaker` nodes for
//! `--duration` seconds; the tool prints requests per second and the latency percentiles.
//! Seats are never taken, so rooms fill with reservations and new ones keep being made: a
//! mix of joins and creations.
//!
//! ```text
//! matchmake-bench --matchmaker http://127.0.0.1:7001 --matchmaker http://127.0.0.1:7002 \
//!     --workers 32 --duration 10
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use ticksync_client::{matchmake, ClientOptions, MatchRequest};

#[derive(Debug, Parser)]
#[command(name = "matchmake-bench")]
struct Args {
    /// A node's game port over HTTP; repeat for several nodes.
    #[arg(long = "matchmaker", required = true)]
    matchmakers: Vec<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Distinct filter values (`bench=0` … `bench=N-1`).
    #[arg(long, default_value_t = 20)]
    filter_values: usize,
}

struct Tally {
    latency_us: Histogram<u64>,
    ok: u64,
    refused: BTreeMap<String, u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let tally = Arc::new(Mutex::new(Tally {
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        ok: 0,
        refused: BTreeMap::new(),
    }));
    let started = Instant::now();
    let end = started + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for worker in 0..args.workers {
        let tally = tally.clone();
        let matchmakers = args.matchmakers.clone();
        let values = args.filter_values.max(1);
        let options = ClientOptions {
            handshake_timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        };
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while Instant::now() < end {
                let url = &matchmakers[i % matchmakers.len()];
                let filters = BTreeMap::from([("bench".to_owned(), (i % values).to_string())]);
                let request = MatchRequest::JoinOrCreate(filters);
                let asked = Instant::now();
                let answer = matchmake(url, &request, &options).await;
                let took = asked.elapsed().as_micros() as u64;
                let mut tally = tally
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                match answer {
                    Ok(_) => {
                        tally.ok += 1;
                        let _ = tally.latency_us.record(took.max(1));
                    }
                    Err(error) => *tally.refused.entry(error.to_string()).or_default() += 1,
                }
                i += 1;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let tally = tally
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let ms = |q: f64| tally.latency_us.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "matchmaking: {} seats in {elapsed:.1} s = {:.0} req/s over {} node(s), {} workers; \
         latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        tally.ok,
        tally.ok as f64 / elapsed,
        args.matchmakers.len(),
        args.workers,
        ms(0.5),
        ms(0.99),
        tally.latency_us.max() as f64 / 1000.0,
    );
    for (reason, count) in &tally.refused {
        println!("  refused {count} ×: {reason}");
    }
    Ok(())
}
