//! The paint game's server: the full ticksync server (configuration, `--print-config`,
//! `token`, signals, draining) around the tutorial game.

// jemalloc, which gives the memory of closed rooms back to the operating system.
ticksync_server::jemalloc!();

fn main() -> std::process::ExitCode {
    ticksync_server::cli::run(ticksync_example_paint::Paint::for_room, &[])
}
