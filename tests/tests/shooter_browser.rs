//! The shooter's page end to end: headless Chromium (driven by Playwright in
//! `tests/browser/shooter_test.mjs`) loads the page the shooter's server serves on `GET /`,
//! joins, moves the mouse onto the enemy where the page draws it and clicks until its kill
//! feed shows its own kill. This side holds the server's view of it: the enemy — a Rust
//! client standing still — receives the `Killed` event naming the page's fighter, and never
//! desyncs.
//!
//! Same prerequisites and skipping rule as `browser.rs`: `node`, Chromium at
//! `/usr/bin/chromium` (or `$CHROMIUM_PATH`) and `npm ci` in `tests/browser`; without them
//! it passes without running and prints a framed `SKIPPED` notice, unless
//! `TICKSYNC_REQUIRE_BROWSER=1` (as in CI).

use std::process::{Command, Stdio};
use std::time::Duration;

use ticksync_client::{Client, ClientEvent, ClientOptions};
use ticksync_protocol::EntityId;
use ticksync_server::ServerConfig;
use ticksync_shooter::{Shooter, ShooterEvent, ShooterInput, ShooterSchema};
use ticksync_tests::browser::{browser_script, chromium_path, workspace_root, REQUIRE_BROWSER_ENV};
use ticksync_tests::{skip, TestServer, WAIT};
use tokio::sync::watch;
use tokio::time::Instant;

const BROWSER_TIMEOUT: Duration = Duration::from_secs(100);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// The enemy: stands still, acknowledging every tick; returns who killed it, and its
/// desyncs.
async fn target(url: String, mut stop: watch::Receiver<bool>) -> (Vec<EntityId>, u64) {
    let mut client = Client::<ShooterSchema>::connect(&url, ClientOptions::named("target"))
        .await
        .expect("the target connects");
    let me = client.entity_id().expect("a fighter");
    let mut killers = Vec::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(33));
    // After the stop, read on (bounded) until the death this test waits for has arrived.
    let mut stopping = None;
    loop {
        if let Some(deadline) = stopping {
            if !killers.is_empty() || Instant::now() > deadline {
                break;
            }
        }
        tokio::select! {
            _ = stop.changed(), if stopping.is_none() => stopping = Some(Instant::now() + WAIT),
            _ = ticks.tick() => {
                client.send_input(ShooterInput::default()).await.expect("input sent");
            }
            event = client.next_event() => match event {
                Some(ClientEvent::Message(ShooterEvent::Killed { killer, victim, .. })) if victim == me => {
                    killers.push(killer);
                }
                Some(ClientEvent::Error(error)) => panic!("target: {error}"),
                None => panic!("target: closed"),
                Some(_) => {}
            },
        }
    }
    let desyncs = client.counters().desyncs;
    client
        .leave_and_wait(WAIT)
        .await
        .expect("the target leaves");
    (killers, desyncs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_aims_clicks_and_sees_its_kill_in_the_feed() {
    let script = match browser_script("shooter_test.mjs") {
        Ok(script) => script,
        Err(why) => {
            skip(
                "the_page_aims_clicks_and_sees_its_kill_in_the_feed",
                REQUIRE_BROWSER_ENV,
                &why,
                "install Chromium (or set CHROMIUM_PATH) and node, then run `npm ci` in \
                 tests/browser",
            );
            return;
        }
    };
    // One hit kills, so one click that lands shows in the feed.
    let config = ServerConfig {
        game: toml::from_str("damage = 100").expect("settings parse"),
        ..ServerConfig::default()
    };
    let server =
        TestServer::start_game(config, Shooter::for_room, ticksync_shooter::web::FILES).await;
    let (stop, stopped) = watch::channel(false);
    // Joins first: team 0, so the page's fighter is on team 1.
    let enemy = tokio::spawn(target(server.url(), stopped));
    let screenshot = workspace_root().join("target/shooter-screenshot.png");
    let mut node = Command::new("node")
        .arg(&script)
        .arg(format!("http://{}/", server.addr))
        .arg("--screenshot")
        .arg(&screenshot)
        .arg("--timeout-ms")
        .arg(SCRIPT_TIMEOUT.as_millis().to_string())
        .arg("--chromium")
        .arg(chromium_path())
        .current_dir(script.parent().expect("the script is in a folder"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let status = loop {
        if let Some(status) = node.try_wait().expect("node status") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = node.kill();
            let _ = node.wait();
            panic!("the page test did not finish within {BROWSER_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = node.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(
        status.success(),
        "the page test failed ({status}):\n{stdout}\n{stderr}"
    );
    let ok = stdout
        .lines()
        .find(|line| line.starts_with("OK "))
        .expect("an OK line");
    let page_fighter: u32 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("JOINED as #"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .expect("the page said which fighter it is");

    // The enemy reads on until it has heard of its death (sent to everyone in the tick the
    // page's feed shows).
    stop.send(true).unwrap();
    let (killers, desyncs) = enemy.await.unwrap();
    assert_eq!(desyncs, 0);
    assert!(
        killers.contains(&EntityId(page_fighter)),
        "the target was not killed by the page's fighter #{page_fighter}: {killers:?} ({ok})"
    );
    server.stop().await;
}
