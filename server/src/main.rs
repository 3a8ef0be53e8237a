//! The `ticksync-server` binary: parse flags, set up logging, run the server until Ctrl-C or
//! SIGTERM.

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use ticksync_server::{Server, ServerArgs};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Log filter when `RUST_LOG` is not set: startup, periodic stats and warnings only.
const DEFAULT_LOG_FILTER: &str = "info";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = ServerArgs::parse().into_config();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        // Colour only on a terminal, so logs piped to files or collectors stay plain text.
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    let server = Server::bind(config.clone())
        .await
        .context("could not start ticksync-server")?;
    tracing::info!(
        "ticksync-server listening on ws://{}{} (tick rate {} Hz, world {}x{}, up to {} players)",
        server.local_addr(),
        ticksync_protocol::WEBSOCKET_PATH,
        config.tick_rate_hz,
        config.world_size,
        config.world_size,
        config.max_players,
    );
    spawn_signal_handler(server.shutdown_token());
    let summary = server.run().await;
    tracing::info!(
        ticks = summary.ticks.ticks,
        tick_p99_us = summary.ticks.tick_p99_us,
        overruns = summary.ticks.overruns,
        connections = summary.connections_accepted,
        snapshots_sent = summary.snapshots_sent,
        snapshots_dropped = summary.snapshots_dropped,
        "ticksync-server stopped"
    );
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM.
fn spawn_signal_handler(shutdown: CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("signal received; shutting down");
        shutdown.cancel();
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
