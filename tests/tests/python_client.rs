//! End to end: the Python example client (`examples/python/ticksync_client.py`, JSON text
//! codec on `websocket-client`) plays against a real server for a few seconds.
//!
//! The client runs as a child process. What it claims is not taken on trust: an observer
//! joined over the binary codec watches the world from the server's side and checks that the
//! Python player's entity really ran in a circle (it moved far on both axes, and its velocity
//! pointed every way), then disappeared when the client sent `Leave`. The client must exit 0
//! and have printed status lines with a measured round trip and no desync.
//!
//! Two more runs: the client's generic library (`examples/python/ticksync.py`) replays the
//! Rust protocol crate's schema vectors (`examples/python/test_ticksync.py` on
//! `tests/browser/schema_vectors.json`), and a client pinned to another arena layout
//! (`--schema 00000000`) is refused by the server with both schemas named, and says so.
//!
//! Python comes from `TICKSYNC_PYTHON` (default `python3`). Without it, or without the
//! `websocket` module, the test prints `SKIPPED` and passes — unless
//! `TICKSYNC_REQUIRE_PYTHON=1` (CI sets it), where that is a failure.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use ticksync_arena::{ArenaEntity, ArenaSchema};
use ticksync_protocol::schema::SchemaIdentity;
use ticksync_protocol::sync::ViewStore;
use ticksync_protocol::{ClientMessage, EntityId, Ping, Tick};
use ticksync_server::ServerConfig;
use ticksync_tests::skip::run_test_in_child;
use ticksync_tests::{skip, RawClient, TestServer, SKIPPED};
use tokio_util::sync::CancellationToken;

/// The Python interpreter to run.
const PYTHON_ENV: &str = "TICKSYNC_PYTHON";
/// Set to 1 where a missing Python or `websocket-client` must fail the test.
const REQUIRE_ENV: &str = "TICKSYNC_REQUIRE_PYTHON";
/// How long the Python client plays.
const PLAY_SECONDS: u32 = 3;
/// Upper bound for the child process, start-up included; it is killed past this.
const CHILD_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for `python -c "import websocket"`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
/// Position steps per world unit.
const STEPS_PER_UNIT: i32 = 64;
/// The client runs a circle of about 95 units radius; over a full turn its position spans
/// about 190 units on each axis. A straight line spans (nearly) nothing on one of them.
const MIN_EXTENT_UNITS: i32 = 60;
/// Velocity component, in steps per tick, that counts as moving that way (full speed is
/// 640 at 30 Hz).
const MIN_AXIS_SPEED: i16 = 150;

/// One observed state of the Python player's entity.
#[derive(Debug, Clone, Copy)]
struct Sample {
    tick: Tick,
    x: i32,
    y: i32,
    vx: i16,
    vy: i16,
}

/// What the observer saw.
#[derive(Debug, Default)]
struct Observed {
    /// Every entity other than the observer's own, with its states in tick order.
    tracks: BTreeMap<EntityId, Vec<Sample>>,
    /// Entities in the last view the observer applied.
    last_view: Vec<EntityId>,
    snapshots: usize,
}

/// A finished (or killed) child process.
struct ChildRun {
    /// `None`: killed at the timeout.
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `command` to completion, killing it after `timeout`.
fn run_bounded(mut command: Command, timeout: Duration) -> std::io::Result<ChildRun> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The pipes close when the child is gone (it starts no processes of its own).
    Ok(ChildRun {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// A Python command with the environment the test wants: no proxy for 127.0.0.1 traffic,
/// no bytecode files written into the source tree.
fn python_command(python: &str) -> Command {
    let mut command = Command::new(python);
    for proxy in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        command.env_remove(proxy);
    }
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    command
}

/// `Ok` when `python` runs and imports `websocket`; else why not.
fn probe_python(python: &str) -> Result<(), String> {
    let mut command = python_command(python);
    command.args(["-c", "import websocket; print(websocket.__version__)"]);
    match run_bounded(command, PROBE_TIMEOUT) {
        Err(error) => Err(format!("cannot run {python:?}: {error}")),
        Ok(ChildRun { status: None, .. }) => Err(format!("{python:?} did not answer in time")),
        Ok(ChildRun {
            status: Some(status),
            stderr,
            ..
        }) if !status.success() => Err(format!(
            "{python:?} cannot import websocket ({status}): {}",
            stderr.trim().lines().last().unwrap_or_default()
        )),
        Ok(_) => Ok(()),
    }
}

fn client_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/python/ticksync_client.py")
}

fn vectors_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/python/test_ticksync.py")
}

/// The Python to run, or `None` (after a skip notice that reaches the terminal, see
/// `ticksync_tests::skip`) when the test is to be skipped.
async fn python_or_skip(test: &str) -> Option<String> {
    let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_owned());
    let probe = {
        let python = python.clone();
        tokio::task::spawn_blocking(move || probe_python(&python))
            .await
            .expect("probe task")
    };
    match probe {
        Ok(()) => Some(python),
        Err(why) => {
            skip(
                test,
                REQUIRE_ENV,
                &why,
                "pip install -r examples/python/requirements.txt (in a venv), then set \
                 TICKSYNC_PYTHON to that interpreter",
            );
            None
        }
    }
}

/// Runs `command` to its end (bounded) and returns its status and output, for asserts.
async fn run_to_end(command: Command) -> (ExitStatus, String) {
    let run = tokio::task::spawn_blocking(move || run_bounded(command, CHILD_TIMEOUT))
        .await
        .expect("child task")
        .expect("the Python process starts");
    let output = format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        run.stdout, run.stderr
    );
    let status = run.status.unwrap_or_else(|| {
        panic!("the Python process was killed after {CHILD_TIMEOUT:?}\n{output}")
    });
    (status, output)
}

/// Joins over the binary codec and records every other entity's state each tick, until
/// `stop`. It never acknowledges, so every snapshot is full; the `ViewStore` applies them
/// anyway and checks their checksums. A ping every two seconds keeps it from idling out.
async fn observe(mut client: RawClient, me: EntityId, stop: CancellationToken) -> Observed {
    let mut observed = Observed::default();
    let mut views = ViewStore::<ArenaEntity>::new();
    let mut pings = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return observed,
            _ = pings.tick() => {
                client
                    .send(&ClientMessage::Ping(Ping { client_time_us: 0 }))
                    .await
                    .expect("observer pings");
            }
            snapshot = client.next_snapshot() => {
                let snapshot = snapshot.expect("observer keeps receiving snapshots");
                if let Err(reason) = views.apply(&snapshot) {
                    panic!("observer desynced at tick {}: {reason}", snapshot.tick);
                }
                observed.snapshots += 1;
                observed.last_view.clear();
                for entity in views.current().iter().filter(|e| e.id != me) {
                    observed.last_view.push(entity.id);
                    observed.tracks.entry(entity.id).or_default().push(Sample {
                        tick: snapshot.tick,
                        x: entity.state.x,
                        y: entity.state.y,
                        vx: entity.state.vx,
                        vy: entity.state.vy,
                    });
                }
            }
        }
    }
}

/// The entity id from the client's `joined: entity=#N ...` line.
fn joined_entity(stdout: &str) -> Option<EntityId> {
    let line = stdout.lines().find(|line| line.starts_with("joined:"))?;
    let id = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("entity=#"))?;
    id.parse().ok().map(EntityId)
}

/// The round trip of a status line (`t=... rtt=1.2ms ...`, or the final `done: t=...`), when
/// it has one.
fn status_rtt_ms(line: &str) -> Option<f64> {
    if !(line.starts_with("t=") || line.starts_with("done: t=")) {
        return None;
    }
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("rtt="))?
        .strip_suffix("ms")?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_runs_a_circle_and_leaves() {
    let Some(python) = python_or_skip("python_client_runs_a_circle_and_leaves").await else {
        return;
    };

    let server = TestServer::start_with(ServerConfig::default()).await;
    let (observer, welcome) = RawClient::join(&server.url(), "observer")
        .await
        .expect("observer joins");
    let me = welcome
        .entity_id
        .expect("the arena gives the observer an entity");
    let stop = CancellationToken::new();
    let watching = tokio::spawn(observe(observer, me, stop.clone()));

    let mut command = python_command(&python);
    command.arg(client_script()).args([
        "--url",
        &server.url(),
        "--name",
        "py-circle",
        "--duration",
        &PLAY_SECONDS.to_string(),
    ]);
    let run = tokio::task::spawn_blocking(move || run_bounded(command, CHILD_TIMEOUT))
        .await
        .expect("child task")
        .expect("the Python client starts");
    // A few more ticks so the observer sees the entity removed after `Leave`.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let observed = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("observer stops in time")
        .expect("observer task");
    server.stop().await;

    let output = format!(
        "--- stdout ---\n{}--- stderr ---\n{}",
        run.stdout, run.stderr
    );
    let status = run.status.unwrap_or_else(|| {
        panic!("the Python client was killed after {CHILD_TIMEOUT:?}\n{output}")
    });
    assert!(
        status.success(),
        "the Python client failed ({status})\n{output}"
    );

    // What the client printed.
    let entity = joined_entity(&run.stdout)
        .unwrap_or_else(|| panic!("no `joined: entity=#N` line\n{output}"));
    // The arena's World message, with the default world size.
    assert!(
        run.stdout.lines().any(|line| line == "world: 2000x2000"),
        "no `world: 2000x2000` line (the arena's World message)\n{output}"
    );
    assert!(
        run.stdout
            .lines()
            .any(|line| line.starts_with("joined:") && line.ends_with(" nodelay=1")),
        "the client should run with TCP_NODELAY on (PROTOCOL.md §2)\n{output}"
    );
    let rtts: Vec<f64> = run.stdout.lines().filter_map(status_rtt_ms).collect();
    assert!(
        rtts.len() >= PLAY_SECONDS as usize - 1,
        "expected a status line with a measured RTT about every second\n{output}"
    );
    assert!(
        rtts.iter().all(|rtt| (0.0..1000.0).contains(rtt)),
        "implausible RTTs {rtts:?}\n{output}"
    );
    let last = run.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("done:") && last.contains("desyncs=0"),
        "the final line should report a clean run: {last:?}\n{output}"
    );

    // What the server really did with its entity.
    let others: Vec<EntityId> = observed.tracks.keys().copied().collect();
    assert_eq!(
        others,
        vec![entity],
        "the Python player should be the only other entity\n{output}"
    );
    let track = &observed.tracks[&entity];
    // At 30 Hz, most of the run's ticks (start-up and shutdown take some).
    let min_samples = (PLAY_SECONDS as usize - 1) * 30;
    assert!(
        track.len() >= min_samples,
        "the entity was seen in only {} snapshots (of {})",
        track.len(),
        observed.snapshots
    );
    let extent = |axis: fn(&Sample) -> i32| {
        let (min, max) = track
            .iter()
            .map(axis)
            .fold((i32::MAX, i32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        (max - min) / STEPS_PER_UNIT
    };
    let (width, height) = (extent(|s| s.x), extent(|s| s.y));
    assert!(
        width >= MIN_EXTENT_UNITS && height >= MIN_EXTENT_UNITS,
        "the entity should run a circle, but its path spans only {width} x {height} units \
         (first {:?}, last {:?})",
        track.first(),
        track.last()
    );
    let heads = |test: fn(&Sample) -> bool| track.iter().any(test);
    assert!(
        heads(|s| s.vx >= MIN_AXIS_SPEED)
            && heads(|s| s.vx <= -MIN_AXIS_SPEED)
            && heads(|s| s.vy >= MIN_AXIS_SPEED)
            && heads(|s| s.vy <= -MIN_AXIS_SPEED),
        "a circling entity heads every way; velocities seen (every 5th tick): {:?}",
        track
            .iter()
            .step_by(5)
            .map(|s| (s.vx, s.vy))
            .collect::<Vec<_>>()
    );
    assert!(
        !observed.last_view.contains(&entity),
        "the entity should be gone after `Leave` (last seen at tick {:?})",
        track.last().map(|s| s.tick)
    );
}

/// The generic library against the Rust implementation: the schema vectors replay to the
/// same views and checksums (arena and a schema with every wire type).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_library_matches_the_rust_schema_vectors() {
    let Some(python) = python_or_skip("python_library_matches_the_rust_schema_vectors").await
    else {
        return;
    };
    let mut command = python_command(&python);
    command.arg(vectors_script());
    let (status, output) = run_to_end(command).await;
    assert!(
        status.success(),
        "examples/python/test_ticksync.py failed ({status})\n{output}"
    );
}

/// A player built for another arena layout is refused at the upgrade, and prints the
/// server's answer naming both schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_pinned_to_another_schema_is_refused_naming_both() {
    let Some(python) =
        python_or_skip("python_client_pinned_to_another_schema_is_refused_naming_both").await
    else {
        return;
    };
    let server = TestServer::start_with(ServerConfig::default()).await;
    let mut command = python_command(&python);
    command.arg(client_script()).args([
        "--url",
        &server.url(),
        "--duration",
        "1",
        "--schema",
        "00000000",
    ]);
    let (status, output) = run_to_end(command).await;
    server.stop().await;
    assert_eq!(status.code(), Some(1), "expected exit 1\n{output}");
    let served = SchemaIdentity::of::<ArenaSchema>();
    assert!(
        output.contains("arena 00000000") && output.contains(&format!("arena {}", served.hash)),
        "the refusal should name both schemas (arena 00000000 and arena {})\n{output}",
        served.hash
    );
    assert!(
        !output.contains("joined:"),
        "a refused client never joins\n{output}"
    );
}

/// Without Python the test above passes, so its notice must reach the terminal of a plain
/// `cargo test` run: run it in a child with no usable Python and the harness's capture on.
#[test]
fn a_skipped_python_test_says_so_past_the_harness_capture() {
    let test = "python_client_runs_a_circle_and_leaves";
    let (passed, output) = run_test_in_child(
        test,
        &[(PYTHON_ENV, "/nonexistent/python3")],
        &[REQUIRE_ENV],
        CHILD_TIMEOUT,
    )
    .expect("the test binary runs itself");
    assert!(passed, "a skip passes\n{output}");
    assert!(
        output.contains(&format!("{SKIPPED} {test}:")),
        "no skip notice in what a plain run shows\n{output}"
    );
    // Required, the same run fails.
    let (passed, output) = run_test_in_child(
        test,
        &[(PYTHON_ENV, "/nonexistent/python3"), (REQUIRE_ENV, "1")],
        &[],
        CHILD_TIMEOUT,
    )
    .expect("the test binary runs itself");
    assert!(
        !passed,
        "{REQUIRE_ENV}=1 turns a skip into a failure\n{output}"
    );
}
