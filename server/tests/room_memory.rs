//! What a room costs in memory: an empty room (what anyone can open by naming one in the URL)
//! takes at most 16 KiB of heap while it ticks, measured with a counting allocator around the
//! system's.
//!
//! Its own test binary, so the allocator counts this test's allocations only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use ticksync_arena::{Arena, ArenaSchema};
use ticksync_server::{Server, ServerConfig};

/// Bytes allocated and not yet freed, process-wide.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to `System` unchanged; only the sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Rooms opened for the measurement.
const ROOMS: usize = 200;

/// Ticks every room runs before it is measured (a second at the default 30 Hz): its
/// histograms and queues have grown to what an idle room needs.
const TICKS: u32 = 30;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_room_costs_at_most_16_kib() {
    let config = ServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    };
    let server = Server::<ArenaSchema>::bind_with_game(config, Arena::for_room, &[])
        .await
        .expect("binds");
    let rooms = server.rooms();
    let shutdown = server.shutdown_token();
    let running = tokio::spawn(server.run());
    let open = |prefix: &str, count: usize| {
        (0..count)
            .map(|i| {
                rooms
                    .handle_for(&format!("{prefix}-{i}"))
                    .expect("room opens")
            })
            .collect::<Vec<_>>()
    };
    let ticked = |handles: Vec<ticksync_server::room::RoomHandle<ArenaSchema>>| async move {
        let deadline = tokio::time::Instant::now() + WAIT;
        while handles.iter().any(|handle| handle.current_tick() < TICKS) {
            assert!(tokio::time::Instant::now() < deadline, "rooms tick");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        handles
    };
    // Warm up: whatever the first rooms allocate once (runtime, maps) is not a room's cost.
    let _warm = ticked(open("warm", 20)).await;
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let handles = ticked(open("room", ROOMS)).await;
    let after = LIVE_BYTES.load(Ordering::Relaxed);
    let per_room = (after - before) / ROOMS as isize;
    println!("an empty room: {per_room} bytes");
    assert!(
        per_room <= 16 * 1024,
        "an empty room costs {per_room} bytes"
    );
    drop(handles);
    shutdown.cancel();
    tokio::time::timeout(WAIT, running)
        .await
        .expect("server stops")
        .expect("no panic");
}
