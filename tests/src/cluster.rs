//! Helpers for the cluster tests: a real `redis-server` on a free loopback port, killed on
//! drop; cluster nodes as processes of their own ([`Node`], the `cluster-node` binary) so a
//! test can SIGKILL one; and the matchmaker's HTTP calls.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::{http_exchange, HttpAnswer, WAIT};

/// The seat secret every test node shares.
pub const SEAT_SECRET: &str = "cluster-test-seat-secret-0123456789abcdef";

/// Where `redis-server` is looked for: `TICKSYNC_REDIS_SERVER`, else `redis-server` on PATH.
pub fn redis_server_binary() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("TICKSYNC_REDIS_SERVER") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("redis-server"))
            .find(|candidate| candidate.is_file())
    })
}

/// A free TCP port on 127.0.0.1 (bound and released: another process could take it in
/// between, which on loopback in a test is rare enough).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// A scratch directory under the system's temporary directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ticksync-{what}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `redis-server` on 127.0.0.1 with no persistence, killed on drop.
pub struct RedisServer {
    binary: PathBuf,
    pub port: u16,
    child: Option<Child>,
    _dir: Scratch,
}

impl RedisServer {
    /// Starts one; `None` when `redis-server` is not installed (the caller skips).
    pub async fn start() -> Option<RedisServer> {
        let binary = redis_server_binary()?;
        let mut redis = RedisServer {
            binary,
            port: free_port(),
            child: None,
            _dir: Scratch::new("redis"),
        };
        redis.launch().await;
        Some(redis)
    }

    async fn launch(&mut self) {
        let child = Command::new(&self.binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self._dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if self.ping().await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING in time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ping(&self) -> bool {
        let exchange = async {
            let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).await?;
            tcp.write_all(b"PING\r\n").await?;
            let mut buffer = [0u8; 16];
            let n = tcp.read(&mut buffer).await?;
            anyhow::Ok(buffer[..n].starts_with(b"+PONG"))
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(1), exchange).await,
            Ok(Ok(true))
        )
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills it (SIGKILL): everything it held is lost, as with a crash.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.stop();
        self.launch().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis for `test`, or `None` after a loud skip notice when `redis-server` is missing
/// (a failure instead where `TICKSYNC_REQUIRE_REDIS=1`, as in CI).
pub async fn redis_or_skip(test: &str) -> Option<RedisServer> {
    let redis = RedisServer::start().await;
    if redis.is_none() {
        crate::skip(
            test,
            "TICKSYNC_REQUIRE_REDIS",
            "redis-server is not installed",
            "install it (apt-get install redis-server) or point TICKSYNC_REDIS_SERVER at one",
        );
    }
    redis
}

/// Settings of one test node.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub id: String,
    pub lease: &'static str,
    pub seat_ttl: &'static str,
    pub tick_rate_hz: u16,
    pub max_players: usize,
    pub max_rooms: usize,
    pub drain_period: &'static str,
    pub resume_grace: &'static str,
    /// Serve `wss://` (and the matchmaker over `https://`) with a certificate generated at
    /// start (`dev_tls`), written to [`Node::cert_path`].
    pub dev_tls: bool,
}

impl NodeSettings {
    pub fn new(id: &str) -> NodeSettings {
        NodeSettings {
            id: id.to_owned(),
            lease: "1500ms",
            seat_ttl: "10s",
            tick_rate_hz: 30,
            max_players: 64,
            max_rooms: 64,
            drain_period: "0s",
            resume_grace: "5s",
            dev_tls: false,
        }
    }
}

/// A cluster node: the `cluster-node` binary in a process of its own, killed on drop.
pub struct Node {
    pub id: String,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    tls: bool,
    child: Option<Child>,
    _dir: Scratch,
}

impl Node {
    /// Starts node `settings.id` on `redis` and waits until its game port answers.
    /// `binary` is the `cluster-node` binary: `env!("CARGO_BIN_EXE_cluster-node")` in a test.
    pub async fn start(binary: &str, redis_url: &str, settings: &NodeSettings) -> Node {
        let node = Node::spawn(binary, redis_url, settings);
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(node.addr).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "node {} did not listen in time:\n{}",
                node.id,
                node.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        node
    }

    /// Starts node `settings.id` on `redis` without waiting for it (a test that expects it
    /// to refuse to start waits for its exit instead).
    pub fn spawn(binary: &str, redis_url: &str, settings: &NodeSettings) -> Node {
        let dir = Scratch::new(&format!("node-{}", settings.id));
        let (port, admin) = (free_port(), free_port());
        let scheme = if settings.dev_tls { "wss" } else { "ws" };
        let tls = if settings.dev_tls {
            format!(
                "dev_tls = true\ndev_tls_cert = \"{}\"\n",
                dir.0.join("cert.pem").display()
            )
        } else {
            String::new()
        };
        let config = format!(
            "bind = \"127.0.0.1:{port}\"\nadmin_bind = \"127.0.0.1:{admin}\"\nmax_connections_per_ip = 0\n\
             tick_rate_hz = {}\nmax_players = {}\nmax_rooms = {}\ndrain_period = \"{}\"\nresume_grace = \"{}\"\n\
             empty_room_timeout = \"2s\"\n{tls}\n[cluster]\nredis_url = \"{redis_url}\"\npublic_url = \"{scheme}://127.0.0.1:{port}/ws\"\n\
             node_id = \"{}\"\nlease = \"{}\"\nseat_ttl = \"{}\"\nredis_timeout = \"500ms\"\n",
            settings.tick_rate_hz,
            settings.max_players,
            settings.max_rooms,
            settings.drain_period,
            settings.resume_grace,
            settings.id,
            settings.lease,
            settings.seat_ttl,
        );
        let path = dir.0.join("node.toml");
        std::fs::write(&path, config).expect("node config written");
        let log = std::fs::File::create(dir.0.join("node.log")).expect("node log");
        let child = Command::new(binary)
            .env("TICKSYNC_CONFIG", &path)
            .env("TICKSYNC_SEAT_SECRET", SEAT_SECRET)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cluster node starts");
        Node {
            id: settings.id.clone(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            admin: SocketAddr::from(([127, 0, 0, 1], admin)),
            tls: settings.dev_tls,
            child: Some(child),
            _dir: dir,
        }
    }

    /// The certificate a `dev_tls` node generated (it exists once the node set up TLS).
    pub fn cert_path(&self) -> PathBuf {
        self._dir.0.join("cert.pem")
    }

    /// The node's WebSocket URL as it publishes it.
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/ws", self.addr)
    }

    /// The value of the series `series` (name and labels exactly as on the page) on the
    /// node's `/metrics`; `None` while it is not there.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let answer = crate::http_get(self.admin, "/metrics").await.ok()?;
        answer.body.lines().find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.trim().parse().ok()
        })
    }

    /// What the node logged (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.0.join("node.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`: the matchmaker on this node.
    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: no goodbye, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM: the node drains for its `drain_period`, then shuts down.
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
        }
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, within: Duration) -> bool {
        self.exit_status(within).await.is_some()
    }

    /// Waits for the process to exit by itself and returns whether it exited with success
    /// (`Some(true)` too when it was reaped before); `None` while it still runs.
    pub async fn exit_status(&mut self, within: Duration) -> Option<bool> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Some(status.success());
                }
            } else {
                return Some(true);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain-HTTP request with an optional JSON body, read until the server closes.
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<HttpAnswer> {
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    http_exchange(addr, request).await
}

/// `POST /matchmake/ACTION` with `body` on `node`; the answer's status and JSON.
pub async fn matchmake(
    node: SocketAddr,
    action: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let answer = http_request(node, "POST", &format!("/matchmake/{action}"), Some(&body))
        .await
        .expect("matchmaker answers");
    let json = serde_json::from_str(&answer.body)
        .unwrap_or_else(|_| serde_json::Value::String(answer.body.clone()));
    (answer.status, json)
}

/// `GET /matchmake/rooms?filters` on `node`.
pub async fn list_rooms(
    node: SocketAddr,
    filters: &BTreeMap<&str, &str>,
) -> (u16, serde_json::Value) {
    let query: String = url_query(filters);
    let answer = http_request(node, "GET", &format!("/matchmake/rooms?{query}"), None)
        .await
        .expect("matchmaker answers");
    let json = serde_json::from_str(&answer.body)
        .unwrap_or_else(|_| serde_json::Value::String(answer.body.clone()));
    (answer.status, json)
}

fn url_query(pairs: &BTreeMap<&str, &str>) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Waits until `condition` holds, polling, at most `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
