//! A short soak, the CI-sized version of the release gate: 200 bots for about 20 seconds,
//! with the gates a release pipeline would use — no desync, no unexplained disconnect.
//! (Timing figures such as tick gaps are reported by the swarm, not asserted: on a shared
//! CI machine they measure the machine.)

use std::time::Duration;

use ticksync_server::ServerConfig;
use ticksync_sim::{run_swarm, Gates, SwarmConfig};
use ticksync_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_bots_for_twenty_seconds_pass_the_release_gates() {
    let server = TestServer::start_with(ServerConfig {
        max_connections_per_ip: 0,
        ..ServerConfig::default()
    })
    .await;
    let mut config = SwarmConfig::new(server.url(), 200, Duration::from_secs(20));
    config.ramp = Some(100.0);
    let report = run_swarm(config).await;
    let gates = Gates {
        max_desyncs: Some(0),
        max_disconnects: Some(0),
        ..Gates::default()
    };
    let violations = gates.check(&report);
    assert!(violations.is_empty(), "{violations:?}\n{report}");
    assert_eq!(report.bots_connected, 200, "{report}");
    assert!(report.snapshots_per_bot_per_s > 0.0, "{report}");
    server.stop().await;
}
