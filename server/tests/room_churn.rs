//! Memory comes back: after thousands of rooms (what anyone can open by naming rooms in URLs)
//! have opened and closed, the process's resident memory is within 10 MB of what it was
//! before. Runs on the allocator and settings the binary runs with
//! ([`ticksync_server::memory`]); on glibc's malloc most of it stays.
//!
//! Its own test binary, for its own allocator and a resident size nothing else moves.

#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::time::Duration;

use ticksync_arena::{Arena, ArenaSchema};
use ticksync_server::metrics::process_rss_bytes;
use ticksync_server::{Server, ServerConfig};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[export_name = "_rjem_malloc_conf"]
pub static JEMALLOC_CONF: &u8 = &ticksync_server::memory::JEMALLOC_CONF[0];

const ROOMS: usize = 3000;
const MIB: u64 = 1024 * 1024;
const WAIT: Duration = Duration::from_secs(20);

fn rss() -> u64 {
    process_rss_bytes().expect("procfs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_comes_back_after_thousands_of_rooms_close() {
    let config = ServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        admin_bind: None,
        max_rooms: ROOMS + 1,
        // What a room allocates does not depend on its rate; thousands of rooms ticking at
        // 30 Hz would cost a debug build more than the machine has.
        tick_rate_hz: 2,
        empty_room_timeout: Duration::from_millis(500),
        ..ServerConfig::default()
    };
    let server = Server::<ArenaSchema>::bind_with_game(config, Arena::for_room, &[])
        .await
        .expect("binds");
    let rooms = server.rooms();
    let shutdown = server.shutdown_token();
    let running = tokio::spawn(server.run());
    let before = rss();
    let handles: Vec<_> = (0..ROOMS)
        .map(|i| rooms.handle_for(&format!("churn-{i}")).expect("room opens"))
        .collect();
    let deadline = tokio::time::Instant::now() + WAIT;
    while handles.iter().any(|handle| handle.current_tick() < 2) {
        assert!(tokio::time::Instant::now() < deadline, "rooms tick");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let peak = rss();
    drop(handles);
    while rooms.list().len() > 1 {
        assert!(tokio::time::Instant::now() < deadline, "rooms close");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut after = rss();
    while after > before + 10 * MIB {
        assert!(
            tokio::time::Instant::now() < deadline,
            "RSS {} MiB before {ROOMS} rooms, {} MiB with them, still {} MiB after they closed",
            before / MIB,
            peak / MIB,
            after / MIB
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = rss();
    }
    println!(
        "RSS KiB: before {}, with {ROOMS} rooms {}, after {}",
        before / 1024,
        peak / 1024,
        after / 1024
    );
    shutdown.cancel();
    tokio::time::timeout(WAIT, running)
        .await
        .expect("server stops")
        .expect("no panic");
}
