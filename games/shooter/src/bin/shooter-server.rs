//! The shooter's server binary: the full ticksync server (configuration layers, the `token`
//! subcommand, signals, draining) running the shooter, with its browser page compiled in.

ticksync_server::jemalloc!();

fn main() -> std::process::ExitCode {
    ticksync_server::cli::run(
        ticksync_shooter::Shooter::for_room,
        ticksync_shooter::web::FILES,
    )
}
