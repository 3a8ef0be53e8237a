//! The lean floor: the least user-space work that puts one snapshot frame per player-tick on
//! the wire and reads one input back — the lower bound beside `floor.rs` (which pays for a
//! tokio task per connection and tungstenite's per-message machinery, like the server).
//!
//! No async runtime and no task per connection: one loop thread per core owns its share of
//! the connections as non-blocking sockets. Every tick a loop encodes the snapshot frame once
//! (WebSocket header included), then for each connection makes one `write` of the frame and
//! one `read` (a short read means the socket is drained), unmasks and decodes whatever
//! complete frames arrived, and sleeps until the next tick. A socket that cannot take a frame
//! keeps the unwritten rest (bounded: one frame) and skips frames until it has drained it.
//! The WebSocket upgrade and `Hello` → `Welcome` use tungstenite's blocking API on the
//! accepting thread, with the server's settings (subprotocol, TCP_NODELAY, 64 KiB send
//! buffer); frames are parsed with tungstenite's `FrameHeader`. `ticksync-sim` drives it like a
//! real server: the frames are valid full snapshots with correct checksums.
//!
//! ```sh
//! cargo run --release -p ticksync-server --example floor_lean -- --bind 127.0.0.1:7990 --frame-bytes 170
//! ```

use std::io::{Cursor, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use ticksync_arena::ArenaSchema;
use ticksync_protocol::codec::decode_client_message;
use ticksync_protocol::ClientMessage;
use ticksync_server::net::websocket_config;
use ticksync_server::ServerConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::Message;

mod floor_common;
use floor_common::{subprotocol_answer, welcome, FloorFlags, FloorSnapshot};

/// Flags of the lean floor program.
#[derive(Debug, Parser)]
#[command(about = "The least socket work per player-tick: one non-blocking loop per core")]
struct Args {
    #[command(flatten)]
    floor: FloorFlags,
    /// Loop threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

/// Bytes one `read` takes at most (the server's read buffer).
const READ_BYTES: usize = 4096;

/// Largest client frame accepted; a bigger one closes the connection.
const MAX_CLIENT_FRAME: u64 = 64 * 1024;

/// Time a client gets for the upgrade and `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.floor.bind).context("binding")?;
    let config = ServerConfig::default();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |cores| cores.get()));
    let mut loops = Vec::with_capacity(threads);
    for _ in 0..threads.max(1) {
        let (joined, arrivals) = mpsc::channel();
        let snapshot =
            FloorSnapshot::of_size(args.floor.frame_bytes).context("encoding the snapshot")?;
        let tick_rate = args.floor.tick_rate;
        std::thread::spawn(move || run_loop(&arrivals, tick_rate, &snapshot));
        loops.push(joined);
    }
    eprintln!(
        "lean floor listening on ws://{}/ws ({} loops)",
        args.floor.bind,
        loops.len()
    );
    for (index, accepted) in listener.incoming().enumerate() {
        let Ok(tcp) = accepted else { continue };
        match greet(tcp, &config, args.floor.tick_rate) {
            Ok(tcp) => {
                if loops[index % loops.len()]
                    .send(Connection::new(tcp))
                    .is_err()
                {
                    anyhow::bail!("a loop thread stopped");
                }
            }
            Err(error) => eprintln!("handshake failed: {error:#}"),
        }
    }
    Ok(())
}

/// The upgrade and `Hello` → `Welcome`, blocking; returns the socket, non-blocking, for a loop.
fn greet(tcp: TcpStream, config: &ServerConfig, tick_rate: u16) -> anyhow::Result<TcpStream> {
    tcp.set_nodelay(true)?;
    socket2::SockRef::from(&tcp).set_send_buffer_size(config.socket_send_buffer_bytes)?;
    tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let socket = tcp.try_clone()?;
    let mut ws = tokio_tungstenite::tungstenite::accept_hdr_with_config(
        tcp,
        subprotocol_answer()?,
        Some(websocket_config(config.max_message_bytes)),
    )
    .map_err(|error| anyhow::anyhow!("upgrade: {error}"))?;
    loop {
        if let Message::Binary(_hello) = ws.read().context("reading Hello")? {
            break;
        }
    }
    ws.send(Message::Binary(welcome(tick_rate)?.into()))
        .context("sending Welcome")?;
    // The client sends nothing until Welcome, so tungstenite holds no unread bytes: the clone
    // carries on where it stopped. Dropping `ws` closes only its own descriptor.
    socket.set_read_timeout(None)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// One loop thread: every tick, encode the frame once, then write it to and read from each of
/// this loop's connections.
fn run_loop(arrivals: &mpsc::Receiver<Connection>, tick_rate: u16, snapshot: &FloorSnapshot) {
    let period = Duration::from_secs_f64(1.0 / f64::from(tick_rate.max(1)));
    let mut connections: Vec<Connection> = Vec::new();
    let mut encoded = Vec::new();
    let mut frame = Vec::new();
    let mut scratch = [0u8; READ_BYTES];
    let mut due = Instant::now();
    for tick in 1u32.. {
        due += period;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        connections.extend(arrivals.try_iter());
        encoded.clear();
        if snapshot.encode(tick, &mut encoded).is_err() {
            return eprintln!("cannot encode a snapshot");
        }
        frame.clear();
        let binary = FrameHeader {
            opcode: OpCode::Data(Data::Binary),
            ..FrameHeader::default()
        };
        if binary.format(encoded.len() as u64, &mut frame).is_err() {
            return eprintln!("cannot frame a snapshot");
        }
        frame.extend_from_slice(&encoded);
        connections
            .retain_mut(|connection| connection.write(&frame) && connection.read(&mut scratch));
    }
}

/// One client: its socket, the unwritten rest of a frame, and bytes of an incomplete frame.
struct Connection {
    tcp: TcpStream,
    unwritten: Vec<u8>,
    inbox: Vec<u8>,
}

impl Connection {
    fn new(tcp: TcpStream) -> Connection {
        Connection {
            tcp,
            unwritten: Vec::new(),
            inbox: Vec::new(),
        }
    }

    /// Writes `frame`, or skips it while the rest of an earlier one is still unwritten.
    /// `false`: the connection failed.
    fn write(&mut self, frame: &[u8]) -> bool {
        if !self.unwritten.is_empty() {
            match self.tcp.write(&self.unwritten) {
                Ok(n) => drop(self.unwritten.drain(..n)),
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return false,
            }
            if !self.unwritten.is_empty() {
                return true;
            }
        }
        match self.tcp.write(frame) {
            Ok(n) => {
                self.unwritten.extend_from_slice(&frame[n..]);
                true
            }
            Err(error) => error.kind() == ErrorKind::WouldBlock,
        }
    }

    /// Reads what arrived and decodes every complete frame. `false`: closed, failed, or `Leave`.
    fn read(&mut self, scratch: &mut [u8]) -> bool {
        loop {
            match self.tcp.read(scratch) {
                Ok(0) => return false,
                Ok(n) => {
                    self.inbox.extend_from_slice(&scratch[..n]);
                    if n < scratch.len() {
                        break;
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        let mut consumed = 0;
        while consumed < self.inbox.len() {
            let mut cursor = Cursor::new(&self.inbox[consumed..]);
            let (header, length) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(_) => return false,
            };
            if length > MAX_CLIENT_FRAME {
                return false;
            }
            let start = consumed + cursor.position() as usize;
            let end = start + length as usize;
            if end > self.inbox.len() {
                break;
            }
            let payload = &mut self.inbox[start..end];
            if let Some(mask) = header.mask {
                for (i, byte) in payload.iter_mut().enumerate() {
                    *byte ^= mask[i & 3];
                }
            }
            match header.opcode {
                OpCode::Data(Data::Binary) => {
                    // Decode like the server does, so the floor pays for it too.
                    if let Ok(ClientMessage::Leave) = decode_client_message::<ArenaSchema>(payload)
                    {
                        return false;
                    }
                }
                OpCode::Control(Control::Close) => return false,
                _ => {}
            }
            consumed = end;
        }
        self.inbox.drain(..consumed);
        true
    }
}
