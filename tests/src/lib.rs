//! Helpers for the end-to-end tests in `tests/tests/`: a real server on an ephemeral
//! loopback port (the arena, or any game), and a raw WebSocket client for sending what an
//! honest client never would — [`RawClient`] speaks the arena, [`RawClientOf`] any schema.
//!
//! Every wait here is bounded by [`WAIT`], so a broken server fails a test instead of
//! hanging it.

pub mod browser;
pub mod cluster;
pub mod token_game;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use http::header::SEC_WEBSOCKET_PROTOCOL;
use http::HeaderValue;
use ticksync_arena::{Arena, ArenaSchema};
use ticksync_client::{tls_config, TlsTrust};
use ticksync_game::{Game, RoomContext, WebFile};
use ticksync_protocol::codec::decode_server_message;
use ticksync_protocol::schema::subprotocol;
use ticksync_protocol::{ErrorMessage, Hello, Schema, Tick, Welcome, WireFormat, PROTOCOL_VERSION};
use ticksync_server::metrics::MetricsReader;
use ticksync_server::net::FaultInjector;
use ticksync_server::{DrainHandle, Server, ServerConfig, ServerSummary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

pub mod skip;
pub use skip::{skip, SKIPPED};

/// A plain-HTTP answer: status code and body.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// `GET path` at `addr` over plain HTTP, reading until the server closes (at most [`WAIT`]):
/// the game port (`server.addr`) for the browser client, the operations port
/// (`server.admin()`) for `/metrics`, `/rooms`, `/healthz` and `/readyz`.
pub async fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<HttpAnswer> {
    http_exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    )
    .await
}

/// Sends `request` (a whole HTTP/1.1 request) to `addr` and reads the answer until the server
/// closes, at most [`WAIT`].
pub(crate) async fn http_exchange(addr: SocketAddr, request: String) -> anyhow::Result<HttpAnswer> {
    let exchange = async {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        tcp.read_to_end(&mut raw).await?;
        anyhow::Ok(String::from_utf8(raw)?)
    };
    let raw = tokio::time::timeout(WAIT, exchange)
        .await
        .context("HTTP answer timed out")??;
    let Some((head, body)) = raw.split_once("\r\n\r\n") else {
        bail!("no end of the response head in {raw:?}");
    };
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .context("no status code")?;
    Ok(HttpAnswer {
        status,
        headers: head.to_owned(),
        body: body.to_owned(),
    })
}

/// Upper bound of any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);

/// Opens a room of a running server by name, whatever its game.
type RoomOpener = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// A server running in the test's runtime on 127.0.0.1 with an ephemeral port (and an
/// ephemeral operations port, unless the configuration turns it off).
pub struct TestServer {
    pub addr: SocketAddr,
    /// The operations listener's address, `None` when `admin_bind` is off.
    pub admin_addr: Option<SocketAddr>,
    url: String,
    /// Opens a room by name without a socket (what a join naming it would do).
    open_room: Arc<RoomOpener>,
    pub metrics: MetricsReader,
    /// Starts draining (see `Server::drain_handle`).
    pub drain: DrainHandle,
    shutdown: CancellationToken,
    task: JoinHandle<ServerSummary>,
}

impl TestServer {
    /// Starts an arena server with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::start_with(ServerConfig::default()).await
    }

    /// Starts an arena server with `config`, bound to 127.0.0.1:0 whatever `config.bind`
    /// says.
    pub async fn start_with(config: ServerConfig) -> TestServer {
        TestServer::launch(TestServer::bind_arena(config).await)
    }

    /// Like [`TestServer::start_with`], with a fault injector losing outgoing frames.
    pub async fn start_with_faults(
        config: ServerConfig,
        faults: Arc<dyn FaultInjector>,
    ) -> TestServer {
        TestServer::launch(
            TestServer::bind_arena(config)
                .await
                .with_fault_injector(faults),
        )
    }

    /// Starts a server of any game, bound to 127.0.0.1:0.
    pub async fn start_game<G, F>(config: ServerConfig, make_game: F, web: &[WebFile]) -> TestServer
    where
        G: Game,
        F: Fn(&RoomContext<G::Settings>) -> G + Send + Sync + 'static,
    {
        init_logging();
        let server = Server::<G::Schema>::bind_with_game(loopback(config), make_game, web)
            .await
            .expect("test server binds");
        TestServer::launch(server)
    }

    async fn bind_arena(config: ServerConfig) -> Server<ArenaSchema> {
        init_logging();
        Server::bind_with_game(
            loopback(config),
            Arena::for_room,
            ticksync_arena::web::FILES,
        )
        .await
        .expect("test server binds")
    }

    /// Opens room `name` as a join naming it would, without a socket.
    pub fn open_room(&self, name: &str) -> Result<(), String> {
        (self.open_room)(name)
    }

    fn launch<P: Schema>(server: Server<P>) -> TestServer {
        let addr = server.local_addr();
        let admin_addr = server.admin_addr();
        let url = server.url();
        let metrics = server.metrics();
        let drain = server.drain_handle();
        let shutdown = server.shutdown_token();
        let rooms = server.rooms();
        let open_room = Arc::new(move |name: &str| {
            rooms
                .handle_for(name)
                .map(|_| ())
                .map_err(|refused| refused.to_string())
        });
        let task = tokio::spawn(server.run());
        TestServer {
            addr,
            admin_addr,
            url,
            open_room,
            metrics,
            drain,
            shutdown,
            task,
        }
    }

    /// The operations listener's address (panics when the test turned it off).
    pub fn admin(&self) -> SocketAddr {
        self.admin_addr
            .expect("the test server's operations listener is on")
    }

    /// The WebSocket URL of the server (`ws://`, or `wss://` with TLS on).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Shuts the server down gracefully and returns its summary.
    pub async fn stop(self) -> ServerSummary {
        self.shutdown.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("server stops in time")
            .expect("server task does not panic")
    }
}

/// `config` bound to 127.0.0.1 on ephemeral ports (the operations listener too, unless the
/// test turned it off).
fn loopback(config: ServerConfig) -> ServerConfig {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    ServerConfig {
        bind: loopback,
        admin_bind: config.admin_bind.map(|_| loopback),
        ..config
    }
}

/// Logs to the test output when `RUST_LOG` is set; silent otherwise.
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

type RawWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The arena's messages, which most tests speak.
pub type ClientMessage = ticksync_protocol::ClientMessage<ArenaSchema>;
pub type ServerMessage = ticksync_protocol::ServerMessage<ArenaSchema>;
pub type Snapshot = ticksync_protocol::Snapshot<ticksync_arena::ArenaEntity>;

/// What a raw client saw.
#[derive(Debug, Clone, PartialEq)]
pub enum RawEvent<P: Schema = ArenaSchema> {
    Message(ticksync_protocol::ServerMessage<P>),
    /// The server's close frame: code and reason.
    Closed(Option<(u16, String)>),
}

/// A raw client of the arena.
pub type RawClient = RawClientOf<ArenaSchema>;

/// The subprotocol of the arena's schema in `format`.
pub fn arena_subprotocol(format: WireFormat) -> String {
    subprotocol::<ArenaSchema>(format)
}

/// A WebSocket client with no manners: it sends whatever the test tells it to.
pub struct RawClientOf<P: Schema> {
    ws: RawWs,
    /// The codec `send` and `next_event` speak.
    format: WireFormat,
    schema: std::marker::PhantomData<P>,
}

impl<P: Schema> RawClientOf<P> {
    /// Connects offering the schema's bincode subprotocol.
    pub async fn connect(url: &str) -> anyhow::Result<RawClientOf<P>> {
        RawClientOf::connect_offering(url, Some(&subprotocol::<P>(WireFormat::Bincode))).await
    }

    /// Connects offering the JSON subprotocol; messages go as JSON text frames.
    pub async fn connect_json(url: &str) -> anyhow::Result<RawClientOf<P>> {
        let mut client =
            RawClientOf::connect_offering(url, Some(&subprotocol::<P>(WireFormat::Json))).await?;
        client.format = WireFormat::Json;
        Ok(client)
    }

    /// Connects speaking `format`.
    pub async fn connect_format(url: &str, format: WireFormat) -> anyhow::Result<RawClientOf<P>> {
        match format {
            WireFormat::Bincode => RawClientOf::connect(url).await,
            WireFormat::Json => RawClientOf::connect_json(url).await,
        }
    }

    /// Connects and completes Hello/Welcome over `wss://`, trusting the PEM certificate at
    /// `ca_cert`.
    pub async fn join_tls(
        url: &str,
        ca_cert: &std::path::Path,
    ) -> anyhow::Result<(RawClientOf<P>, Welcome)> {
        let protocol = subprotocol::<P>(WireFormat::Bincode);
        let client = RawClientOf::connect_with(
            url,
            &[("Sec-WebSocket-Protocol", protocol.as_str())],
            Some(ca_cert),
        )
        .await?;
        client.hello("tls").await
    }

    /// Connects offering `subprotocol` (or none).
    pub async fn connect_offering(
        url: &str,
        subprotocol: Option<&str>,
    ) -> anyhow::Result<RawClientOf<P>> {
        let headers: Vec<(&str, &str)> = subprotocol
            .map(|protocol| (SEC_WEBSOCKET_PROTOCOL.as_str(), protocol))
            .into_iter()
            .collect();
        RawClientOf::connect_with(url, &headers, None).await
    }

    /// Connects sending `headers` (the subprotocol among them, if wanted), over TLS trusting
    /// only the PEM certificate at `ca_cert` when given.
    pub async fn connect_with(
        url: &str,
        headers: &[(&str, &str)],
        ca_cert: Option<&std::path::Path>,
    ) -> anyhow::Result<RawClientOf<P>> {
        let mut request = url.into_client_request()?;
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        // The same trust setup the bot swarm uses for `--ca-cert`.
        let connector = match ca_cert {
            None => None,
            Some(path) => tls_config(&TlsTrust::CaFile(path.to_owned()))?
                .map(tokio_tungstenite::Connector::Rustls),
        };
        let connecting =
            tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector);
        let (ws, _response) = tokio::time::timeout(WAIT, connecting)
            .await
            .context("connect timed out")??;
        Ok(RawClientOf {
            ws,
            format: WireFormat::Bincode,
            schema: std::marker::PhantomData,
        })
    }

    /// Connects and completes Hello/Welcome.
    pub async fn join(url: &str, name: &str) -> anyhow::Result<(RawClientOf<P>, Welcome)> {
        RawClientOf::connect(url).await?.hello(name).await
    }

    /// Connects to room `room` (`?room=`) and completes Hello/Welcome.
    pub async fn join_room(
        url: &str,
        room: &str,
        name: &str,
    ) -> anyhow::Result<(RawClientOf<P>, Welcome)> {
        RawClientOf::connect(&format!("{url}?room={room}"))
            .await?
            .hello(name)
            .await
    }

    /// Sends `Hello` and waits for `Welcome`.
    pub async fn hello(mut self, name: &str) -> anyhow::Result<(RawClientOf<P>, Welcome)> {
        let client = &mut self;
        client
            .send(&ticksync_protocol::ClientMessage::Hello(Hello {
                protocol_version: PROTOCOL_VERSION,
                player_name: name.into(),
            }))
            .await?;
        match client.next_event().await? {
            RawEvent::Message(ticksync_protocol::ServerMessage::Welcome(welcome)) => {
                Ok((self, welcome))
            }
            other => bail!("expected Welcome, got {other:?}"),
        }
    }

    pub async fn send(
        &mut self,
        message: &ticksync_protocol::ClientMessage<P>,
    ) -> anyhow::Result<()> {
        let bytes = self.format.encode(message)?;
        let frame = match self.format {
            WireFormat::Bincode => Message::Binary(bytes.into()),
            WireFormat::Json => Message::Text(String::from_utf8(bytes)?.into()),
        };
        self.send_raw(frame).await
    }

    pub async fn send_raw(&mut self, message: Message) -> anyhow::Result<()> {
        Ok(self.ws.send(message).await?)
    }

    /// The next message or close from the server, waiting at most [`WAIT`].
    pub async fn next_event(&mut self) -> anyhow::Result<RawEvent<P>> {
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .context("no frame from the server in time")?;
            match frame {
                Some(Ok(Message::Binary(bytes))) if self.format == WireFormat::Bincode => {
                    return Ok(RawEvent::Message(decode_server_message::<P>(&bytes)?));
                }
                Some(Ok(Message::Text(text))) if self.format == WireFormat::Json => {
                    let message = WireFormat::Json.decode_server_message::<P>(text.as_bytes())?;
                    return Ok(RawEvent::Message(message));
                }
                Some(Ok(frame @ (Message::Binary(_) | Message::Text(_)))) => {
                    bail!("{} frame on the {} codec", frame_kind(&frame), self.format)
                }
                Some(Ok(Message::Close(frame))) => {
                    return Ok(RawEvent::Closed(frame.map(
                        |CloseFrame { code, reason }| (u16::from(code), reason.to_string()),
                    )))
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(anyhow!("connection failed: {error}")),
                None => return Ok(RawEvent::Closed(None)),
            }
        }
    }

    /// Reads until the server closes (at most [`WAIT`] in all); returns the last `Error`
    /// message seen and the close code and reason.
    pub async fn expect_close(
        &mut self,
    ) -> anyhow::Result<(Option<ErrorMessage>, Option<(u16, String)>)> {
        let reading = async {
            let mut error = None;
            loop {
                match self.next_event().await? {
                    RawEvent::Message(ticksync_protocol::ServerMessage::Error(message)) => {
                        error = Some(message)
                    }
                    RawEvent::Message(_) => continue,
                    RawEvent::Closed(close) => return Ok((error, close)),
                }
            }
        };
        tokio::time::timeout(WAIT, reading)
            .await
            .context("the server did not close the connection in time")?
    }

    /// The next snapshot, skipping other messages.
    pub async fn next_snapshot(
        &mut self,
    ) -> anyhow::Result<ticksync_protocol::Snapshot<P::Entity>> {
        loop {
            match self.next_event().await? {
                RawEvent::Message(ticksync_protocol::ServerMessage::Snapshot(snapshot)) => {
                    return Ok(snapshot)
                }
                RawEvent::Message(_) => continue,
                RawEvent::Closed(close) => bail!("closed while waiting for a snapshot: {close:?}"),
            }
        }
    }
}

fn frame_kind(frame: &Message) -> &'static str {
    if frame.is_text() {
        "text"
    } else {
        "binary"
    }
}

/// Honest players watching while a test misbehaves beside them (see [`Observers`]).
pub const OBSERVERS: usize = 3;

/// Honest players reading snapshots in the background.
pub struct Observers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Vec<Tick>>>,
}

impl Observers {
    /// Joins three observers that record the tick of every snapshot they receive.
    pub async fn join(server: &TestServer) -> Observers {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for i in 0..OBSERVERS {
            let (mut client, _) = RawClient::join(&server.url(), &format!("observer-{i}"))
                .await
                .unwrap();
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                let mut ticks = Vec::new();
                loop {
                    tokio::select! {
                        _ = stopped.changed() => return ticks,
                        snapshot = client.next_snapshot() => ticks.push(snapshot.expect("observer keeps its snapshots").tick),
                    }
                }
            }));
        }
        Observers { stop, tasks }
    }

    /// Stops the observers and checks each saw an unbroken run of ticks.
    pub async fn assert_no_gaps(self) {
        // Let a few more ticks pass after the bad client is gone.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.stop.send_replace(true);
        for task in self.tasks {
            let ticks = task.await.expect("observer task");
            assert!(
                ticks.len() >= 5,
                "observer saw only {} snapshots",
                ticks.len()
            );
            for pair in ticks.windows(2) {
                assert_eq!(
                    pair[1],
                    pair[0] + 1,
                    "observer missed ticks between {} and {}",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
}

/// The HTTP status and body of a refused upgrade.
pub fn refused_upgrade<P: Schema>(result: anyhow::Result<RawClientOf<P>>) -> (u16, String) {
    let error = match result {
        Ok(_) => panic!("the upgrade should have been refused"),
        Err(error) => error,
    };
    match error.downcast::<tungstenite::Error>() {
        Ok(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            (response.status().as_u16(), body.unwrap_or_default())
        }
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}
