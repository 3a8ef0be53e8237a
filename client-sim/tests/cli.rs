//! The swarm's command line refuses what cannot work before it starts: a URL that is not a
//! WebSocket URL is named with the fix.

use std::process::Command;

#[test]
fn an_http_url_is_refused_with_the_fix() {
    let output = Command::new(env!("CARGO_BIN_EXE_ticksync-sim"))
        .args([
            "--url",
            "http://127.0.0.1:7878/",
            "--bots",
            "1",
            "--duration",
            "1",
        ])
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("must be ws:// or wss://") && stderr.contains("ws://127.0.0.1:7878/ws"),
        "{stderr}"
    );
}
