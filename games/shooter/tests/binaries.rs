//! The shooter's two binaries end to end: `shooter-server` on an ephemeral loopback port and
//! `shooter-sim` against it with no `--mix` (every bot the shooter's default behaviour):
//! the swarm exits successfully, with no desync, and its JSON report carries the shooter's
//! own figures.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_swarm_binary_plays_against_the_server_binary() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_shooter-server"))
        .args(["--bind", "127.0.0.1:0", "--admin-bind", "off"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("shooter-server starts");
    let log = server.stdout.take().expect("stdout is piped");
    let server = Running(server);
    // The server logs the address it listens on; read it from another thread so a silent
    // server fails the test after a bound instead of hanging it.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(log).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server said where it listens");
    let json = std::env::temp_dir().join(format!("shooter-sim-{}.json", std::process::id()));
    let sim = Command::new(env!("CARGO_BIN_EXE_shooter-sim"))
        .args(["--url", &url, "--bots", "6", "--duration", "4", "--json"])
        .arg(&json)
        .stdin(Stdio::null())
        .output()
        .expect("shooter-sim runs");
    assert!(
        sim.status.success(),
        "shooter-sim failed: {}\n{}",
        String::from_utf8_lossy(&sim.stdout),
        String::from_utf8_lossy(&sim.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON report")).unwrap();
    let _ = std::fs::remove_file(&json);
    assert_eq!(report["bots_connected"], 6, "{report}");
    assert_eq!(report["desyncs"], 0, "{report}");
    assert!(
        report["game_counters"]["events"].as_u64() > Some(0),
        "{report}"
    );
    drop(server);
}
