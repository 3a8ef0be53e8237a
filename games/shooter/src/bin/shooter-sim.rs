//! The shooter's swarm binary: the full `ticksync-sim` command line (bots, ramp, chaos,
//! report, gates) with the shooter's bots, whose shots, hits, kills, deaths, chat and events
//! join the report's `game_counters`.

fn main() -> anyhow::Result<std::process::ExitCode> {
    ticksync_sim::cli::run(ticksync_shooter::ShooterBots)
}
