//! The Python client and the browser library join through a cluster's matchmaker (a real
//! `redis-server`, two node processes): the Python player gets a seat by join-or-create and
//! plays; the browser library's `matchmake` gets a seat the Rust client then takes.
//! Each skips loudly without its runtime (Python with `websocket-client`, node), and fails
//! instead where CI requires it.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use ticksync_arena::ArenaSchema;
use ticksync_client::{Client, ClientOptions};
use ticksync_tests::cluster::{
    eventually, matchmake, redis_or_skip, Node, NodeSettings, RedisServer,
};
use ticksync_tests::{skip, WAIT};

const NODE: &str = env!("CARGO_BIN_EXE_cluster-node");

fn workspace_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// Runs `command` to its end, killing it after `timeout`: exit success, stdout, stderr.
async fn run_bounded(mut command: Command, timeout: Duration) -> (bool, String, String) {
    tokio::task::spawn_blocking(move || {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the child starts");
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        let mut err = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        (status.is_some_and(|status| status.success()), out, err)
    })
    .await
    .expect("child task")
}

async fn two_nodes(redis: &RedisServer) -> Vec<Node> {
    let mut nodes = Vec::new();
    for id in ["n1", "n2"] {
        nodes.push(Node::start(NODE, &redis.url(), &NodeSettings::new(id)).await);
    }
    for node in &nodes {
        eventually("the nodes registered", WAIT, || async {
            matchmake(node.addr, "create", serde_json::json!({"private": true}))
                .await
                .0
                == 200
        })
        .await;
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_plays_through_the_matchmaker() {
    let python = std::env::var("TICKSYNC_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let (usable, _, why) = run_bounded(
        {
            let mut probe = Command::new(&python);
            probe.args(["-c", "import websocket"]);
            probe
        },
        WAIT,
    )
    .await;
    if !usable {
        skip(
            "the_python_client_plays_through_the_matchmaker",
            "TICKSYNC_REQUIRE_PYTHON",
            &format!("{python} cannot import websocket: {}", why.trim()),
            "pip install -r examples/python/requirements.txt and set TICKSYNC_PYTHON",
        );
        return;
    }
    let Some(redis) = redis_or_skip("the_python_client_plays_through_the_matchmaker").await else {
        return;
    };
    let nodes = two_nodes(&redis).await;
    let mut command = Command::new(&python);
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .arg(workspace_file("examples/python/ticksync_client.py"))
        .args([
            "--matchmake",
            &nodes[1].http(),
            "--filter",
            "mode=py",
            "--name",
            "py",
            "--duration",
            "2",
        ]);
    let (ok, out, err) = run_bounded(command, Duration::from_secs(30)).await;
    assert!(
        ok,
        "the Python client failed\n--- stdout ---\n{out}--- stderr ---\n{err}"
    );
    let seat_line = out
        .lines()
        .find(|line| line.starts_with("seat: "))
        .unwrap_or_else(|| panic!("no seat line\n{out}"));
    assert!(seat_line.contains("node=n"), "{seat_line}");
    assert!(
        out.lines().any(|line| line.starts_with("joined: ")),
        "{out}"
    );
    assert!(out.contains("desyncs=0"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_library_gets_a_seat_the_node_admits() {
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !node_ok {
        skip(
            "the_browser_library_gets_a_seat_the_node_admits",
            "TICKSYNC_REQUIRE_BROWSER",
            "no `node` on PATH",
            "install Node.js 18 or later",
        );
        return;
    }
    let Some(redis) = redis_or_skip("the_browser_library_gets_a_seat_the_node_admits").await else {
        return;
    };
    let nodes = two_nodes(&redis).await;
    let mut command = Command::new("node");
    command
        .arg(workspace_file("tests/browser/matchmake_test.mjs"))
        .arg(nodes[0].http());
    let (ok, out, err) = run_bounded(command, Duration::from_secs(30)).await;
    assert!(
        ok,
        "matchmake_test.mjs failed\n--- stdout ---\n{out}--- stderr ---\n{err}"
    );
    let seat = out
        .lines()
        .find_map(|line| line.strip_prefix("SEAT "))
        .unwrap_or_else(|| panic!("no SEAT line\n{out}"));
    let seat: ticksync_client::SeatReservation = serde_json::from_str(seat).expect("a seat");
    let client = Client::<ArenaSchema>::connect(&seat.connect, ClientOptions::named("from-js"))
        .await
        .expect("the node admits the seat the browser library got");
    assert!(client.entity_id().is_some());
}
