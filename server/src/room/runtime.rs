//! The tick runtime: rooms' tick loops run on their own tokio runtime, on threads of their
//! own, apart from the runtime that serves sockets.
//!
//! Why: a room's tick is due at a fixed time. On a shared runtime its timer fires only when a
//! worker gets to it, behind whatever socket tasks are queued on that worker — with a
//! thousand players' frames to write, that is milliseconds. On their own threads, tick loops
//! wait only for the operating system's scheduler, which favours a thread that slept (a tick
//! loop sleeps most of every period). A heavy room's tick still runs under `block_in_place`
//! (see `tick_loop`), so the small rooms on the same tick thread move to another one.

use tokio::runtime::{Builder, Handle, Runtime};

/// Tick threads used when the configuration says 0 (automatic): one per core, at most this.
const MAX_AUTOMATIC_TICK_THREADS: usize = 4;

/// A runtime for tick loops, shut down without blocking when dropped (dropping a runtime
/// normally blocks, which is not allowed inside another runtime's task).
pub struct TickRuntime {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl TickRuntime {
    /// The tick runtime `tick_threads` asks for: `None` → one thread per core, up to 4;
    /// `Some(0)` → none (tick loops share the caller's runtime); `Some(n)` → `n` threads.
    pub fn for_setting(tick_threads: Option<usize>) -> std::io::Result<Option<TickRuntime>> {
        let threads = match tick_threads {
            Some(0) => return Ok(None),
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map_or(1, |cores| cores.get())
                .min(MAX_AUTOMATIC_TICK_THREADS),
        };
        TickRuntime::new(threads).map(Some)
    }

    /// A tick runtime with `threads` worker threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<TickRuntime> {
        let threads = threads.max(1);
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("ticksync-tick")
            .enable_time()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(TickRuntime {
            runtime: Some(runtime),
            handle,
        })
    }

    /// Where room tasks are spawned.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for TickRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
