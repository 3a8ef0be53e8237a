//! How the server's memory goes back to the operating system.
//!
//! The binary runs on jemalloc (`tikv-jemallocator`) with [`JEMALLOC_CONF`]: a background
//! thread returns pages freed for a second to the operating system, busy or idle. glibc's
//! malloc kept what a thousand rooms and their players had used (27 MB of 30 MB) after they
//! were gone, spread over its per-thread arenas; mimalloc kept more. RELIABILITY.md has the
//! figures. A binary built on this library opts in with one line, `ticksync_server::jemalloc!();`
//! (the stock server and the tutorial game's server do); jemalloc reads its settings from a C
//! string when it starts.

/// jemalloc's settings, a NUL-terminated C string: purge in a background thread; return
/// freed ("dirty") pages after a second (jemalloc's default waits ten, and purges only
/// while it allocates), without the intermediate lazily-freed state.
pub const JEMALLOC_CONF: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

/// jemalloc's allocator type, for [`jemalloc!`](crate::jemalloc).
pub use tikv_jemallocator::Jemalloc;

/// Installs jemalloc with [`JEMALLOC_CONF`] as the global allocator of the binary that invokes
/// it (the stock server's and a game's own `main.rs`: `ticksync_server::jemalloc!();`). A
/// library cannot choose the allocator for every binary linking it (tests that count
/// allocations install their own), so each binary opts in with this one line.
#[macro_export]
macro_rules! jemalloc {
    () => {
        #[global_allocator]
        static TICKSYNC_ALLOCATOR: $crate::memory::Jemalloc = $crate::memory::Jemalloc;

        /// jemalloc's settings, read when it starts (a pointer to a C string).
        #[export_name = "_rjem_malloc_conf"]
        pub static TICKSYNC_JEMALLOC_CONF: &u8 = &$crate::memory::JEMALLOC_CONF[0];
    };
}
