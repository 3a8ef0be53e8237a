//! How the server's memory goes back to the operating system.
//!
//! The binary runs on jemalloc (`tikv-jemallocator`) with [`JEMALLOC_CONF`]: a background
//! thread returns pages freed for a second to the operating system, busy or idle. glibc's
//! malloc kept what a thousand rooms and their players had used (27 MB of 30 MB) after they
//! were gone, spread over its per-thread arenas; mimalloc kept more. RELIABILITY.md has the
//! figures. A binary built on this library (and the tests that check the figures) opts in
//! with:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
//!
//! #[export_name = "_rjem_malloc_conf"]
//! pub static JEMALLOC_CONF: &u8 = &ticksync_server::memory::JEMALLOC_CONF[0];
//! ```
//!
//! (jemalloc reads its settings from that C string when it starts.)

/// jemalloc's settings, a NUL-terminated C string: purge in a background thread; return
/// freed ("dirty") pages after a second (jemalloc's default waits ten, and purges only
/// while it allocates), without the intermediate lazily-freed state.
pub const JEMALLOC_CONF: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
