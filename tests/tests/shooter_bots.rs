//! 200 shooter bots (`ticksync_shooter::ShooterBots`, through the swarm engine) play the
//! shooter for 20 seconds against a real server on loopback: every bot connects, none is
//! disconnected, every snapshot of every honest bot applies and matches its checksum, and
//! the game's own figures show a real match — shots, hits, kills, chat heard, events.
//!
//! The room ticks at 10 Hz instead of the shooter's 30: the test runs in a debug build on
//! whatever machine runs the suite (two shared cores here, under other builds), where 200
//! debug clients decoding 30 snapshots a second of 200 fighters each would measure the
//! machine, not the server. What the test holds — no desync, no disconnect, a match that
//! plays — does not depend on the rate; the rate's figures are the bench script's
//! (`bench/shooter.sh`, release builds).

use std::time::Duration;

use ticksync_server::ServerConfig;
use ticksync_shooter::{Shooter, ShooterBots};
use ticksync_sim::{run_swarm_with, SwarmConfig};
use ticksync_tests::TestServer;

const BOTS: usize = 200;
const PLAY_TIME: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_bots_play_twenty_seconds_without_a_desync_or_a_disconnect() {
    let config = ServerConfig {
        tick_rate_hz: 10,
        // A tick of 200 fighters carries a few kills, hits and chat lines besides the
        // snapshot, each its own frame: room for 32 frames ahead of the message reserve
        // rather than the default 8 (sized for the arena's one frame a tick), so a bot the
        // shared test machine delays for a few ticks is not closed as too slow.
        outbound_queue_capacity: 32,
        // The handshake is not what this test holds: on a machine at load 10, a debug bot
        // may take longer than the default 5 s from accept to Hello.
        handshake_timeout: Duration::from_secs(30),
        // Nor is the slow-client rule (tested in resilience.rs): the 200 bots share the
        // test's two threads with the server, and at load 12 a bot can fall a few seconds
        // behind for the machine's sake, not the game's.
        slow_client_timeout: Duration::from_secs(15),
        ..ServerConfig::default()
    };
    let server = TestServer::start_game(config, Shooter::for_room, &[]).await;
    let swarm = SwarmConfig {
        // Connects spread over the first 4 s, so a loaded machine is not asked for 200
        // handshakes at once.
        ramp: Some(50.0),
        connect_timeout: Duration::from_secs(30),
        ..SwarmConfig::new(server.url(), BOTS, PLAY_TIME)
    };
    let report = run_swarm_with(swarm, ShooterBots)
        .await
        .expect("the swarm runs");
    let summary = server.stop().await;
    let figures = &report.game_counters;
    let figure = |name: &str| figures.get(name).copied().unwrap_or(0);
    eprintln!("report: {report:?}\nserver: {summary:?}");
    assert_eq!(
        report.bots_connected, BOTS,
        "{:?}",
        report.connect_failure_reasons
    );
    assert_eq!(report.connect_failures, 0);
    assert_eq!(report.disconnects, 0, "no bot may be disconnected");
    assert_eq!(report.desyncs, 0, "every checksum matches");
    // A match was played: the bots shot, hit, killed, chatted, and heard about it.
    for name in [
        "shots",
        "hits",
        "kills",
        "deaths",
        "chat_sent",
        "chat_received",
        "events",
    ] {
        assert!(figure(name) > 0, "{name} is 0: {figures:?}");
    }
    // A hit is a shot that landed. (Kills and deaths are counted by different bots, which
    // stop reading at slightly different moments, so they need not match exactly.)
    assert!(figure("hits") <= figure("shots"), "{figures:?}");
}
