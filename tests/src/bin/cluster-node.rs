//! The stock server (the arena) as a binary of the test crate, so cluster tests can run
//! nodes as processes of their own and kill one with SIGKILL (`CARGO_BIN_EXE_cluster-node`).

fn main() -> std::process::ExitCode {
    ticksync_server::cli::run(ticksync_arena::Arena::for_room, ticksync_arena::web::FILES)
}
