//! The command line every game's server binary shares: `ticksync_server::cli::run` gives a
//! game's `main.rs` what the stock `ticksync-server` binary has — the configuration layers
//! (defaults, config file, `TICKSYNC_*` environment, flags), `--print-config`, the `token`
//! subcommand, logging, the open-file limit, signals and draining.
//!
//! Errors are printed as one line of causes, never with a backtrace (even with
//! `RUST_BACKTRACE=1`): a configuration mistake is the user's to fix, not a bug. The exit
//! status is 2 for a configuration error, as for a bad flag, and 1 for any other failure.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ticksync_game::{Game, RoomContext, WebFile};
use ticksync_protocol::schema::SchemaIdentity;
use ticksync_protocol::token::{mint, JoinClaims};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::config::{self, Command, TokenArgs, TOKEN_SECRET_ENV};
use crate::drain::DrainHandle;
use crate::{Server, ServerArgs, ServerConfig};

/// Log filter when `RUST_LOG` is not set: startup, periodic stats and warnings only.
const DEFAULT_LOG_FILTER: &str = "info";

/// Exit status of a configuration the server cannot run with.
const EXIT_CONFIG: u8 = 2;

/// Runs a game's server binary: parses the command line, then mints a token, prints the
/// configuration, or runs the server until Ctrl-C or SIGTERM. `make_game` makes each room's
/// game; `web` is the game's web client (empty for none), compiled in.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     ticksync_server::cli::run(ticksync_arena::Arena::for_room, ticksync_arena::web::FILES)
/// }
/// ```
pub fn run<G, F>(make_game: F, web: &'static [WebFile]) -> ExitCode
where
    G: Game,
    F: Fn(&RoomContext<G::Settings>) -> G + Send + Sync + 'static,
{
    let mut args = ServerArgs::parse_with_defaults();
    let config = match config::load(&args, std::env::vars_os()) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ticksync-server: configuration error: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let result = match args.command.take() {
        Some(Command::Token(token_args)) => print_token(&config, token_args),
        None if args.print_config => config
            .to_toml()
            .map(|toml| print!("{toml}"))
            .map_err(Into::into),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("could not start the async runtime")
            .and_then(|runtime| runtime.block_on(serve(config, make_game, web))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}`: the causes on one line, and no backtrace (which `{:?}` would add).
            if error.downcast_ref::<config::ConfigError>().is_some() {
                eprintln!("ticksync-server: configuration error: {error:#}");
                return ExitCode::from(EXIT_CONFIG);
            }
            eprintln!("ticksync-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the server until Ctrl-C or SIGTERM.
async fn serve<G, F>(
    config: ServerConfig,
    make_game: F,
    web: &'static [WebFile],
) -> anyhow::Result<()>
where
    G: Game,
    F: Fn(&RoomContext<G::Settings>) -> G + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        // Colour only on a terminal, so logs piped to files or collectors stay plain text.
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    for variable in config::unknown_env_variables(std::env::vars_os()) {
        match variable.did_you_mean {
            Some(meant) => tracing::warn!(
                variable = %variable.name,
                "ignored: no config key of that name; did you mean {meant}? (keys: ticksync-server --print-config)"
            ),
            // Most likely another program's (the bot swarm's TICKSYNC_URL, say).
            None => tracing::debug!(variable = %variable.name, "ignored: not a config key"),
        }
    }
    raise_open_file_limit(config.max_connections);

    let server = Server::<G::Schema>::bind_with_game(config.clone(), make_game, web)
        .await
        .context("could not start the server")?;
    let schema = SchemaIdentity::of::<G::Schema>();
    tracing::info!(
        "listening on {} (game {schema}, tick rate {} Hz, up to {} players per room)",
        server.url(),
        config.tick_rate_hz,
        config.max_players,
    );
    match server.admin_addr() {
        Some(addr) => tracing::info!(
            "operations endpoints (/healthz, /readyz, /metrics, /rooms) on http://{addr}"
        ),
        None => tracing::info!("operations endpoints off (admin_bind = \"off\")"),
    }
    if let Some(certificate) = server.dev_certificate() {
        tracing::info!(
            path = %certificate.path.display(),
            sha256 = %certificate.sha256,
            "development TLS certificate generated; clients must trust it (ticksync-sim --ca-cert PATH)"
        );
    }
    if config.token_secret.is_some() {
        tracing::info!(room = %config.default_room, "join tokens required (HS256, ?token=... or Authorization: Bearer)");
    } else {
        tracing::warn!(
            "no join-token secret ({TOKEN_SECRET_ENV} or token_secret_file): the server is open, anyone can join without a token"
        );
    }
    if config.allowed_origins.is_empty() {
        tracing::info!(
            "browser clients from any origin may connect (restrict with allowed_origins or --allow-origin)"
        );
    }
    spawn_signal_handler(
        server.shutdown_token(),
        server.drain_handle(),
        config.drain_period,
    );
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

/// Descriptors needed besides the players' sockets: the listener, epoll, the runtimes'
/// wakers, plain-HTTP requests in flight, log files.
const FD_HEADROOM: u64 = 256;

/// Raises the soft open-file limit to cover `max_connections` (a common default of 1024
/// would stop the server at about a thousand players with "too many open files" at accept),
/// and warns when the hard limit does not allow it.
fn raise_open_file_limit(max_connections: usize) {
    let wanted = u64::try_from(max_connections)
        .unwrap_or(u64::MAX)
        .saturating_add(FD_HEADROOM);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => tracing::warn!(
            open_files = limit,
            needed = wanted,
            max_connections,
            "the open-file limit ({limit}) is below max_connections + {FD_HEADROOM} = {wanted}: connections past it fail at accept; raise it to {wanted} (ulimit -n, LimitNOFILE= in systemd) or lower max_connections"
        ),
        Ok(limit) => tracing::debug!(open_files = limit, "open-file limit"),
        Err(error) => tracing::warn!(%error, "could not read or raise the open-file limit"),
    }
}

/// `ticksync-server token`: prints a signed join token.
fn print_token(config: &ServerConfig, args: TokenArgs) -> anyhow::Result<()> {
    let secret = config.token_secret.as_ref().with_context(|| {
        format!("no secret to sign with: set {TOKEN_SECRET_ENV} or token_secret_file (--token-secret-file)")
    })?;
    let name = args.name.unwrap_or_else(|| args.player.clone());
    let room = args.room.unwrap_or_else(|| config.default_room.clone());
    let claims = JoinClaims::new(args.player, name, room, args.ttl);
    let token = mint(secret.expose(), &claims).context("signing the token")?;
    println!("{token}");
    Ok(())
}

/// On Ctrl-C or SIGTERM: drains for `drain_period` (readiness off, no new players), then
/// cancels `shutdown`. A second signal during the drain shuts down at once.
fn spawn_signal_handler(
    shutdown: CancellationToken,
    draining: DrainHandle,
    drain_period: Duration,
) {
    tokio::spawn(async move {
        wait_for_signal().await;
        if !drain_period.is_zero() {
            draining.start();
            tracing::info!(
                drain_period = %humantime::format_duration(drain_period),
                "signal received; draining: /readyz answers 503, no new players"
            );
            tokio::select! {
                _ = tokio::time::sleep(drain_period) => {}
                _ = wait_for_signal() => tracing::info!("second signal; ending the drain"),
            }
        }
        tracing::info!("shutting down");
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
