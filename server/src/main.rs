//! The stock `ticksync-server` binary: the full server (see `ticksync_server::cli`) running
//! the arena, ticksync's canonical game, with its browser page, on jemalloc (see
//! `ticksync_server::memory`).

ticksync_server::jemalloc!();

fn main() -> std::process::ExitCode {
    ticksync_server::cli::run(ticksync_arena::Arena::for_room, ticksync_arena::web::FILES)
}
