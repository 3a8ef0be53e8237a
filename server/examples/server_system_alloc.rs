//! The stock server on the system allocator instead of jemalloc, for heap profilers that see
//! only `malloc` (valgrind's DHAT in `bench/connection_memory.sh`). Otherwise the same program
//! as the `ticksync-server` binary.
//!
//! ```sh
//! cargo build --release -p ticksync-server --example server_system_alloc
//! ```

fn main() -> std::process::ExitCode {
    ticksync_server::cli::run(ticksync_arena::Arena::for_room, ticksync_arena::web::FILES)
}
