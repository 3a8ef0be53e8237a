//! The paint game's server: the full ticksync server (configuration, `--print-config`,
//! `token`, signals, draining) around the tutorial game.

fn main() -> std::process::ExitCode {
    ticksync_server::cli::run(ticksync_example_paint::Paint::for_room, &[])
}
