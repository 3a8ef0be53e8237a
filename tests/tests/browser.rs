//! The browser client end to end: headless Chromium (driven by Playwright in
//! `tests/browser/browser_test.mjs`) loads the page the server serves on `GET /`, joins a
//! room where 20 bots play, and holds 'D' for two seconds.
//!
//! The node script first replays `tests/browser/schema_vectors.json` (the Rust protocol
//! crate's views and checksums for two schemas) through the generic library
//! `server/web/ticksync.js`. Then it checks the page's side through
//! `window.ticksync.state()`: it fetched the arena's schema, got the `World` message, joined,
//! shows every entity, measured a round trip and a snapshot rate, never desynced, drew on
//! the canvas, and predicted its own move; it saves a screenshot to
//! `target/browser-screenshot.png`; and a page pinned to another schema hash is refused
//! with both schemas named. This test checks the server's side: an observer client
//! sees the browser player's entity move right by a clear margin while the key is held,
//! and not sideways.
//!
//! It needs `node`, Chromium at `/usr/bin/chromium` (or `$CHROMIUM_PATH`) and
//! `npm ci` run in `tests/browser`. Without them it passes without running and prints a framed
//! `SKIPPED` notice past the harness's capture (`ticksync_tests::skip`), unless
//! `TICKSYNC_REQUIRE_BROWSER=1` (as in CI), where a missing prerequisite fails it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ticksync_arena::quantize::dequantize_position;
use ticksync_arena::{ArenaEntity, ArenaInput, ArenaSchema, MoveDir};
use ticksync_client::{Client, ClientEvent, ClientOptions};
use ticksync_protocol::{Entity, EntityId};
use ticksync_server::ServerConfig;
use ticksync_tests::browser::{browser_script, chromium_path, workspace_root, REQUIRE_BROWSER_ENV};
use ticksync_tests::skip::run_test_in_child;
use ticksync_tests::{skip, TestServer, SKIPPED, WAIT};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

const BOTS: usize = 20;
/// How long the script holds 'D'.
const HOLD: Duration = Duration::from_secs(5);
/// Arena speed in units per second.
const SPEED: f32 = 300.0;
/// Bound on the whole node run; the script has its own, slightly shorter one.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(100);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

/// A bot that moves along a slowly turning direction, one input per tick, until told to
/// leave; returns its desync count.
async fn play_bot(url: String, index: usize, stop: watch::Receiver<bool>) -> u64 {
    let mut stop = stop;
    let mut client =
        Client::<ArenaSchema>::connect(&url, ClientOptions::named(format!("bot-{index}")))
            .await
            .expect("bot connects");
    let mut ticks = tokio::time::interval(Duration::from_millis(33));
    let mut angle = index as f32 / BOTS as f32 * std::f32::consts::TAU;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticks.tick() => {
                angle += 0.03;
                client
                    .send_input(ArenaInput {
                        move_dir: MoveDir::from_vector(angle.cos(), angle.sin()),
                        buttons: 0,
                    })
                    .await
                    .expect("bot input sent");
            }
            event = client.next_event() => match event {
                Some(ClientEvent::Snapshot(_))
                | Some(ClientEvent::Pong { .. })
                | Some(ClientEvent::Welcome(_))
                | Some(ClientEvent::Message(_)) => {}
                other => panic!("bot {index}: unexpected event {other:?}"),
            },
        }
    }
    let desyncs = client.counters().desyncs;
    client
        .leave_and_wait(WAIT)
        .await
        .expect("bot leaves cleanly");
    desyncs
}

/// The node process, killed if the test ends before it does.
struct NodeRun {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
}

impl NodeRun {
    fn spawn(script: &Path, page_url: &str, screenshot: &Path) -> NodeRun {
        let mut child = Command::new("node")
            .arg(script)
            .arg(page_url)
            .arg("--screenshot")
            .arg(screenshot)
            .arg("--min-entities")
            .arg((BOTS + 1).to_string())
            .arg("--hold-ms")
            .arg(HOLD.as_millis().to_string())
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
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        forward_lines(stdout, "", tx.clone());
        forward_lines(stderr, "stderr: ", tx);
        NodeRun { child, lines }
    }

    /// Waits (bounded) for the process to exit after its output ended.
    async fn exit_status(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("node status") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node closed its output but did not exit"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for NodeRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reads `stream` line by line on its own thread into `tx`, each prefixed.
fn forward_lines(
    stream: impl Read + Send + 'static,
    prefix: &'static str,
    tx: mpsc::UnboundedSender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(format!("{prefix}{line}")).is_err() {
                break;
            }
        }
    });
}

/// The browser player's entity in the observer's current view.
fn find(view: &[Entity<ArenaEntity>], id: Option<EntityId>) -> Option<ArenaEntity> {
    let id = id?;
    view.iter().find(|e| e.id == id).map(|e| e.state)
}

fn units(state: &ArenaEntity) -> (f32, f32) {
    (dequantize_position(state.x), dequantize_position(state.y))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_client_joins_shows_the_bots_and_moves_with_the_keys() {
    let script = match browser_script("browser_test.mjs") {
        Ok(script) => script,
        Err(why) => {
            skip(
                "browser_client_joins_shows_the_bots_and_moves_with_the_keys",
                REQUIRE_BROWSER_ENV,
                &why,
                "install Chromium (or set CHROMIUM_PATH) and node, then run `npm ci` in \
                 tests/browser",
            );
            return;
        }
    };

    let server = TestServer::start_with(ServerConfig {
        max_connections_per_ip: 0,
        ..ServerConfig::default()
    })
    .await;
    let page_url = format!("http://{}/", server.addr);
    let (stop_bots, bots_stopped) = watch::channel(false);
    let bots: Vec<JoinHandle<u64>> = (0..BOTS)
        .map(|i| tokio::spawn(play_bot(server.url(), i, bots_stopped.clone())))
        .collect();
    let mut observer = Client::<ArenaSchema>::connect(
        &server.url(),
        ClientOptions {
            ack_every_snapshot: true,
            ..ClientOptions::named("observer")
        },
    )
    .await
    .expect("observer connects");

    let screenshot = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("browser-screenshot.png");
    let mut node = NodeRun::spawn(&script, &page_url, &screenshot);
    let deadline = Instant::now() + BROWSER_TIMEOUT;

    let mut output = Vec::new();
    let mut web_entity: Option<EntityId> = None;
    let mut latest: Option<ArenaEntity> = None;
    let mut at_press: Option<ArenaEntity> = None;
    let mut at_release: Option<ArenaEntity> = None;
    let mut max_entities_seen = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                panic!("the browser test did not finish within {BROWSER_TIMEOUT:?}; its output:\n{}", output.join("\n"));
            }
            line = node.lines.recv() => {
                let Some(line) = line else { break };
                println!("node: {line}");
                if let Some(id) = line.strip_prefix("ENTITY ") {
                    let id = id.trim().parse().expect("ENTITY line carries an id");
                    web_entity = Some(EntityId(id));
                    latest = find(observer.view(), web_entity);
                } else if line.starts_with("PRESS ") {
                    at_press = find(observer.view(), web_entity);
                } else if line.starts_with("RELEASE ") {
                    at_release = find(observer.view(), web_entity);
                }
                output.push(line);
            }
            event = observer.next_event() => match event {
                Some(ClientEvent::Snapshot(_)) => {
                    max_entities_seen = max_entities_seen.max(observer.view().len());
                    if let Some(state) = find(observer.view(), web_entity) {
                        latest = Some(state);
                    }
                }
                Some(ClientEvent::Pong { .. })
                | Some(ClientEvent::Welcome(_))
                | Some(ClientEvent::Message(_)) => {}
                other => panic!("observer: unexpected event {other:?}"),
            },
        }
    }
    let status = node.exit_status().await;
    let output = output.join("\n");
    assert!(
        status.success(),
        "the browser test failed ({status}); its output:\n{output}"
    );
    assert!(
        output.lines().any(|line| line.starts_with("OK ")),
        "the browser test exited 0 without its OK line:\n{output}"
    );

    // Read on for a moment so the observer's view has the entity at rest.
    let settle = Instant::now() + Duration::from_millis(500);
    while let Ok(event) = tokio::time::timeout_at(settle, observer.next_event()).await {
        match event {
            Some(ClientEvent::Snapshot(_)) => {
                if let Some(state) = find(observer.view(), web_entity) {
                    latest = Some(state);
                }
            }
            Some(ClientEvent::Pong { .. })
            | Some(ClientEvent::Welcome(_))
            | Some(ClientEvent::Message(_)) => {}
            other => panic!("observer: unexpected event {other:?}"),
        }
    }

    let id = web_entity.expect("the script reported the page's entity");
    assert!(
        max_entities_seen >= BOTS + 2,
        "the observer saw at most {max_entities_seen} entities (20 bots, itself, the browser)"
    );
    let start = at_press.unwrap_or_else(|| {
        panic!("the observer did not see entity {id} when the key went down:\n{output}")
    });
    let held = at_release.unwrap_or_else(|| {
        panic!("the observer did not see entity {id} when the key went up:\n{output}")
    });
    // The page sent Leave when the browser closed, so the entity may be gone by now; the
    // last state seen is where it stopped.
    let end = latest.expect("the observer saw the browser's entity");
    let (x0, y0) = units(&start);
    let (x1, _) = units(&held);
    let (x2, y2) = units(&end);
    let expected = SPEED * HOLD.as_secs_f32();
    println!(
        "entity {id}: x {x0:.1} at press, {x1:.1} at release, {x2:.1} at rest (full speed for {HOLD:?} is +{expected})"
    );
    // Input latency and a slow CI machine cost a few ticks; a page that does not send the
    // keys moves 0, a wrong direction moves left or sideways.
    assert!(
        x1 - x0 > 100.0,
        "while 'D' was held the server moved entity {id} only {:.1} units right",
        x1 - x0
    );
    assert!(
        x2 - x0 > expected / 3.0 && x2 - x0 < expected * 1.5,
        "entity {id} moved {:.1} units right in all; expected about {expected}",
        x2 - x0
    );
    assert!(
        (y2 - y0).abs() < 5.0,
        "entity {id} moved {:.1} units vertically; only 'D' was held",
        y2 - y0
    );
    assert_eq!(end.vx, 0, "entity {id} still moving after the key went up");

    stop_bots.send_replace(true);
    for bot in bots {
        let desyncs = tokio::time::timeout(WAIT, bot)
            .await
            .expect("bot stops in time")
            .expect("bot task");
        assert_eq!(desyncs, 0, "a bot desynced");
    }
    assert_eq!(observer.counters().desyncs, 0, "the observer desynced");
    observer
        .leave_and_wait(WAIT)
        .await
        .expect("observer leaves cleanly");
    server.stop().await;
}

/// Without Chromium the test above passes, so its notice must reach the terminal of a plain
/// `cargo test` run: run it in a child with no Chromium and the harness's capture on.
#[test]
fn a_skipped_browser_test_says_so_past_the_harness_capture() {
    let test = "browser_client_joins_shows_the_bots_and_moves_with_the_keys";
    let (passed, output) = run_test_in_child(
        test,
        &[("CHROMIUM_PATH", "/nonexistent/chromium")],
        &[REQUIRE_BROWSER_ENV],
        Duration::from_secs(30),
    )
    .expect("the test binary runs itself");
    assert!(passed, "a skip passes\n{output}");
    assert!(
        output.contains(&format!("{SKIPPED} {test}:")),
        "no skip notice in what a plain run shows\n{output}"
    );
}
