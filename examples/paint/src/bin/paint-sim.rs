//! The paint game's bot swarm: the full `ticksync-sim` command line with paint bots.

fn main() -> anyhow::Result<std::process::ExitCode> {
    ticksync_sim::cli::run(ticksync_example_paint::PaintBots)
}
