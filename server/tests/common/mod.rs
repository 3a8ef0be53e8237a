//! Shared by the tests that run the `ticksync-server` binary: start it on ephemeral ports and
//! read what it logs.

// Each test binary uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

pub const WAIT: Duration = Duration::from_secs(10);

/// A running `ticksync-server` process.
pub struct Binary {
    pub child: Child,
    /// `ws://127.0.0.1:PORT/ws`.
    pub url: String,
    /// `127.0.0.1:PORT` of the operations endpoints.
    pub admin: String,
    /// The lines it logs after the two that name its addresses.
    pub lines: Receiver<String>,
}

impl Drop for Binary {
    /// A test that fails half-way does not leave the server running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts the binary with `args` (and `envs`, `RUST_LOG` unset unless given) on ephemeral
/// ports, and waits for the lines that say where it listens: "... listening on
/// ws://127.0.0.1:PORT/ws ..." and "operations endpoints (...) on http://127.0.0.1:PORT".
pub fn spawn_server(args: &[&str], envs: &[(&str, &str)]) -> Binary {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ticksync-server"))
        .args(["--bind", "127.0.0.1:0", "--admin-bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("RUST_LOG")
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (line_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line_tx.send(line).is_err() {
                return;
            }
        }
    });
    let word_after = |line: &str, marker: &str| {
        let rest = line.split(marker).nth(1)?;
        Some(rest.split_whitespace().next()?.to_owned())
    };
    let (mut url, mut admin) = (None, None);
    while url.is_none() || admin.is_none() {
        let line = lines.recv_timeout(WAIT).expect("server logs its addresses");
        url = url.or_else(|| word_after(&line, "listening on "));
        admin = admin.or_else(|| word_after(&line, ") on http://"));
    }
    Binary {
        child,
        url: url.unwrap_or_default(),
        admin: admin.unwrap_or_default(),
        lines,
    }
}

/// Waits (bounded) for the process to exit and checks it exited 0.
pub async fn assert_exits_cleanly(child: &mut Child) {
    let deadline = std::time::Instant::now() + WAIT;
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit}");
}

pub fn send_sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// The whole answer (status line, headers, body) to `GET path` at `addr` (`HOST:PORT`), read
/// until the server closes, within [`WAIT`].
pub async fn http_get(addr: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(WAIT, tcp.read_to_string(&mut answer))
        .await
        .expect("answer in time")
        .unwrap();
    answer
}
