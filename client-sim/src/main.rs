//! The stock `ticksync-sim` binary: the swarm's command line (see `ticksync_sim::cli`)
//! driving the arena's bots.

fn main() -> anyhow::Result<std::process::ExitCode> {
    ticksync_sim::cli::run(ticksync_sim::ArenaBots)
}
