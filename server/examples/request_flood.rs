//! A bounded HTTP request flood against a ticksync server on this machine, for the figures in
//! RELIABILITY.md: scrapers hammering the operations port, or clients whose upgrades are
//! refused. Each of `--concurrency` loops sends a request on a fresh connection, reads the
//! answer to its end and starts over, until `--requests` answers in all or `--duration`.
//!
//! ```sh
//! # 32 scrapers for 25 s
//! cargo run --release -p ticksync-server --example request_flood -- --addr 127.0.0.1:7879 --path /metrics --concurrency 32 --duration 25
//! # 1,000 upgrades with a forged token
//! cargo run --release -p ticksync-server --example request_flood -- --addr 127.0.0.1:7878 --upgrade --path '/ws?token=x.y.z' --requests 1000
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Flags of the flood.
#[derive(Debug, Parser)]
#[command(about = "A bounded HTTP request flood (loopback addresses only)")]
struct Args {
    /// Where to send the requests; must be a loopback address.
    #[arg(long)]
    addr: SocketAddr,
    /// Request path (with its query).
    #[arg(long, default_value = "/metrics")]
    path: String,
    /// Send a WebSocket upgrade (bincode subprotocol) instead of a plain GET.
    #[arg(long)]
    upgrade: bool,
    /// Request loops running at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Stop after this many answers in all.
    #[arg(long, default_value_t = 1_000_000)]
    requests: usize,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

/// What the loops saw.
#[derive(Debug, Default)]
struct Tally {
    by_status: BTreeMap<String, u64>,
    bytes: u64,
    latencies_us: Vec<u64>,
    errors: u64,
}

/// One request on a fresh connection; the status code and the answer's size.
async fn exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<(String, usize)> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.write_all(request).await?;
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await?;
    let status = String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .unwrap_or("none")
        .to_owned();
    Ok((status, answer.len()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.addr.ip().is_loopback(),
        "floods go to loopback addresses only"
    );
    let mut request = format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\n", args.path);
    if args.upgrade {
        // The arena's own subprotocol, so refusals are about the token, not the schema.
        let protocol = ticksync_protocol::schema::subprotocol::<ticksync_arena::ArenaSchema>(
            ticksync_protocol::WireFormat::Bincode,
        );
        request.push_str(&format!(
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: {protocol}\r\n"
        ));
    }
    request.push_str("\r\n");
    let request: Arc<[u8]> = request.into_bytes().into();
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
    let started = AtomicUsize::new(0);
    let (started, tally) = (Arc::new(started), Arc::new(Mutex::new(Tally::default())));
    let began = Instant::now();
    let loops: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (request, started, tally) = (request.clone(), started.clone(), tally.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline
                    && started.fetch_add(1, Ordering::Relaxed) < args.requests
                {
                    let sent = Instant::now();
                    let remaining = deadline.saturating_duration_since(sent);
                    let answered =
                        tokio::time::timeout(remaining, exchange(args.addr, &request)).await;
                    let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
                    match answered {
                        Ok(Ok((status, bytes))) => {
                            *tally.by_status.entry(status).or_default() += 1;
                            tally.bytes += bytes as u64;
                            tally.latencies_us.push(sent.elapsed().as_micros() as u64);
                        }
                        Ok(Err(_)) => tally.errors += 1,
                        Err(_elapsed) => break,
                    }
                }
            })
        })
        .collect();
    for task in loops {
        task.await?;
    }
    let elapsed = began.elapsed().as_secs_f64();
    let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
    let answers: u64 = tally.by_status.values().sum();
    tally.latencies_us.sort_unstable();
    let quantile = |q: f64| {
        let latencies = &tally.latencies_us;
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "{answers} answers in {elapsed:.1} s ({:.0}/s), by status {:?}, {} errors; {:.0} bytes per answer; latency p50 {:.2} ms, p99 {:.2} ms",
        answers as f64 / elapsed,
        tally.by_status,
        tally.errors,
        tally.bytes as f64 / answers.max(1) as f64,
        quantile(0.5),
        quantile(0.99)
    );
    Ok(())
}
