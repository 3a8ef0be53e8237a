//! A connection's write lane: the one path by which bytes reach its socket, shared by the
//! room, which writes each tick's frames straight to the socket from the tick's own threads,
//! and by the session's task, whose handshake, pings, pongs, error and close frames go
//! through tungstenite and from there through the lane ([`LanedTcp`]'s `AsyncWrite`). On a
//! `wss://` connection the lane holds the TLS session too ([`wire`]): the room seals its
//! frames into records as it writes them, and the session reads through it.
//!
//! Why: handing every frame to the session's task through a queue costs a queue hop, a
//! cross-thread wake-up and a task poll per player per tick, more than the frame's own write
//! (BENCHMARKS.md, "The socket path"). Written straight from the tick, a frame the socket
//! takes costs one `write` (and over TLS one record) and nothing else.
//!
//! The lane holds the connection's read side as well ([`inbox`], [`read`]): once a player is
//! in, the room reads the connection at its ticks and takes the inputs itself, so the
//! session's task is not woken per input either; what the room does not take, the session
//! reads through tungstenite as before.
//!
//! Bytes never interleave. Every write holds the lane's lock. A write the socket takes only in
//! part leaves its rest at the head of the lane's [`backlog`] (or, over TLS, sealed inside the
//! session), and nothing new goes to the socket while anything waits: it is appended behind.
//! The session's task writes what waits when the socket turns writable
//! ([`Lane::serve_backlog`]). The backlog is bounded: the room's frames by count, as the
//! session's queue was ([`Lane::send_frame`]), the session's own writes by bytes
//! ([`SESSION_BACKLOG_BYTES`]); past the bound a snapshot is dropped, a message makes the
//! client too slow, a session write waits.

use std::io::{self, IoSlice};
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

mod arrival;
mod backlog;
mod inbox;
mod read;
mod room;
mod stream;
mod wire;

use backlog::Backlog;
pub use inbox::ReadEnd;
use inbox::{ReadMode, ReadSide};
pub(crate) use room::RoomLane;
pub use stream::LanedTcp;
use wire::Wire;

/// Bytes of the session's own writes (tungstenite's frames, HTTP answers) the backlog takes
/// behind unsent bytes before such a write waits for the socket.
const SESSION_BACKLOG_BYTES: usize = 64 * 1024;

/// Chunks handed to one write when draining the backlog.
const DRAIN_SLICES: usize = 16;

/// The longest WebSocket frame header a server writes (no mask): 2 + 8 bytes.
const MAX_HEADER: usize = 10;

/// Frames up to this size (header included) are copied into one buffer and written with one
/// `write`; larger ones go out as two slices with `writev`.
const JOINED_FRAME_BYTES: usize = 2048;

thread_local! {
    /// Where a small frame's header and payload are joined before their `write`.
    static JOINED: std::cell::RefCell<Vec<u8>> =
        std::cell::RefCell::new(Vec::with_capacity(JOINED_FRAME_BYTES));
}

/// How the room's frame fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneSend {
    /// On the socket, or waiting behind earlier bytes.
    Taken,
    /// The backlog already holds as many frames as this kind may wait behind.
    Full,
    /// The connection failed, or the session closed the lane to the room.
    Closed,
}

/// Everything behind the lane's lock.
#[derive(Debug)]
struct LaneState {
    backlog: Backlog,
    wire: Wire,
}

impl LaneState {
    /// Whether anything taken waits for the socket.
    fn waiting(&self) -> bool {
        !self.backlog.is_empty() || self.wire.pending()
    }

    /// Marks the lane failed; the waker of a session's task waiting for work, to wake.
    fn fail(&mut self) -> Option<Waker> {
        self.backlog.failed = true;
        self.backlog.take_drainer()
    }

    /// The waker of a session's task parked on an idle lane, if work now waits: every path
    /// that leaves work waiting wakes it, so waiting work is never left without a writer.
    fn drainer_if_waiting(&mut self) -> Option<Waker> {
        if self.waiting() {
            self.backlog.take_drainer()
        } else {
            None
        }
    }
}

/// The write lane of one connection.
#[derive(Debug)]
pub struct Lane {
    tcp: TcpStream,
    /// No TLS: reads go to the socket without the write lock.
    plain: bool,
    state: Mutex<LaneState>,
    /// Who reads the connection, and what it read (see [`inbox`]).
    read: Mutex<ReadSide>,
    /// When the lane was made, and when the client was last heard from (milliseconds since),
    /// written by whoever reads.
    created: tokio::time::Instant,
    heard: AtomicU64,
}

impl Lane {
    fn new(tcp: TcpStream, wire: Wire) -> Lane {
        let plain = matches!(wire, Wire::Plain);
        let state = LaneState {
            backlog: Backlog::default(),
            wire,
        };
        Lane {
            tcp,
            plain,
            state: Mutex::new(state),
            read: Mutex::new(ReadSide::new(ReadMode::Passthrough)),
            created: tokio::time::Instant::now(),
            heard: AtomicU64::new(0),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    fn lock(&self) -> MutexGuard<'_, LaneState> {
        // Every change to the state is complete before the next call that could panic, so a
        // poisoned lock is used as it is.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `payload` as one binary WebSocket frame, from any thread, without waiting: to the
    /// socket if nothing waits, the unwritten rest (or the whole frame, if the socket is
    /// full) into the backlog. Refused when `max_waiting` of the room's frames already wait.
    pub fn send_frame(&self, payload: &Bytes, max_waiting: usize) -> LaneSend {
        let mut header = [0u8; MAX_HEADER];
        let header_len = binary_header(payload.len(), &mut header);
        let header = &header[..header_len];
        let mut state = self.lock();
        if state.backlog.failed || state.backlog.closed_to_room {
            return LaneSend::Closed;
        }
        if state.waiting() {
            if state.backlog.frames >= max_waiting {
                return LaneSend::Full;
            }
            state.backlog.push(Bytes::copy_from_slice(header), false);
            state.backlog.push(payload.clone(), true);
            let drainer = state.backlog.take_drainer();
            drop(state);
            wake(drainer);
            return LaneSend::Taken;
        }
        // A small frame goes out as one contiguous buffer (`write`, not `writev`), joined in
        // this thread's scratch buffer (reused, so nothing is allocated or zeroed per frame).
        let whole = header.len() + payload.len();
        let written = if whole <= JOINED_FRAME_BYTES {
            JOINED.with_borrow_mut(|joined| {
                joined.clear();
                joined.extend_from_slice(header);
                joined.extend_from_slice(payload);
                state.wire.write(&self.tcp, &[IoSlice::new(joined)])
            })
        } else {
            let parts = [IoSlice::new(header), IoSlice::new(payload)];
            state.wire.write(&self.tcp, &parts)
        };
        let written = match written {
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => {
                let drainer = state.fail();
                drop(state);
                wake(drainer);
                return LaneSend::Closed;
            }
        };
        if written < header.len() {
            state
                .backlog
                .push(Bytes::copy_from_slice(&header[written..]), false);
            state.backlog.push(payload.clone(), true);
        } else if written < header.len() + payload.len() {
            state
                .backlog
                .push(payload.slice(written - header.len()..), true);
        }
        let drainer = state.drainer_if_waiting();
        drop(state);
        wake(drainer);
        LaneSend::Taken
    }

    /// From now on the room's frames are refused: the session is closing and its last frames
    /// (an error, the close) must be the last on the wire. With `discard`, what waits is
    /// dropped (a client too slow to read it gets its close sooner), but a frame already begun
    /// on the wire is finished all the same.
    pub fn close_to_room(&self, discard: bool) {
        self.leave_reading_to_session();
        let mut state = self.lock();
        state.backlog.closed_to_room = true;
        if discard {
            // Plain TCP may have written the first chunk in part; TLS seals whole chunks.
            let front_begun = matches!(state.wire, Wire::Plain);
            state.backlog.discard_unbegun(front_begun);
        }
    }

    /// Writes what waits as the socket takes it, for as long as the connection lives: the
    /// session's task runs this beside its reader. Returns only when the connection failed.
    pub async fn serve_backlog(&self) -> io::Error {
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            match self.drain(&mut state, cx) {
                Poll::Ready(Ok(())) => {
                    // Polled on every wake-up of the session's task: keep the waker it has.
                    let drainer = &mut state.backlog.drainer;
                    if !drainer.as_ref().is_some_and(|d| d.will_wake(cx.waker())) {
                        *drainer = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
                Poll::Ready(Err(error)) => Poll::Ready(error),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Writes what waits until nothing does (`Ready(Ok)`), the socket is full (`Pending`,
    /// woken when it is writable) or the connection fails.
    fn drain(&self, state: &mut LaneState, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if state.backlog.failed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            let step = match state.wire.write_pending(&self.tcp) {
                Ok(()) if state.backlog.is_empty() => return Poll::Ready(Ok(())),
                Ok(()) => {
                    let mut slices = [IoSlice::new(&[]); DRAIN_SLICES];
                    let count = state.backlog.front_slices(&mut slices);
                    match state.wire.write(&self.tcp, &slices[..count]) {
                        Ok(0) => Err(io::ErrorKind::WriteZero.into()),
                        Ok(written) => {
                            state.backlog.advance(written);
                            Ok(())
                        }
                        Err(error) => Err(error),
                    }
                }
                Err(error) => Err(error),
            };
            match step {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(error) = ready!(self.tcp.poll_write_ready(cx)) {
                        state.backlog.failed = true;
                        return Poll::Ready(Err(error));
                    }
                }
                Err(error) => {
                    state.backlog.failed = true;
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    /// The session's write of `buf` (one or more whole WebSocket frames from tungstenite, or
    /// an HTTP answer): taken whole or not at all, so the room's frames never land inside it.
    fn poll_write_whole(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut state = self.lock();
        if self.drain(&mut state, cx)?.is_pending() {
            // Behind unsent bytes: wait behind them, up to a bound.
            if state.backlog.bytes >= SESSION_BACKLOG_BYTES {
                return Poll::Pending;
            }
            state.backlog.push(Bytes::copy_from_slice(buf), false);
            return Poll::Ready(Ok(buf.len()));
        }
        loop {
            match state.wire.write(&self.tcp, &[IoSlice::new(buf)]) {
                Ok(written) => {
                    state
                        .backlog
                        .push(Bytes::copy_from_slice(&buf[written..]), false);
                    let drainer = state.drainer_if_waiting();
                    drop(state);
                    wake(drainer);
                    return Poll::Ready(Ok(buf.len()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(error) => {
                    let drainer = state.fail();
                    drop(state);
                    wake(drainer);
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    /// Writes what waits, then (TLS) the close_notify alert (sent once, however often this
    /// is polled).
    fn poll_close(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = self.lock();
        ready!(self.drain(&mut state, cx))?;
        state.wire.close();
        self.drain(&mut state, cx)
    }
}

/// Wakes the session's task, if it waits (called with the lane's lock released).
fn wake(drainer: Option<Waker>) {
    if let Some(drainer) = drainer {
        drainer.wake();
    }
}

/// Writes the header of an unmasked, final, binary frame of `len` bytes into `out`; returns
/// its length.
fn binary_header(len: usize, out: &mut [u8; MAX_HEADER]) -> usize {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Binary),
        ..FrameHeader::default()
    };
    let mut cursor = io::Cursor::new(&mut out[..]);
    // A header is at most `MAX_HEADER` bytes, so writing into the array cannot run short.
    match header.format(len as u64, &mut cursor) {
        Ok(()) => cursor.position() as usize,
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests;
