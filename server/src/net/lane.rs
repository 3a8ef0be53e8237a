//! A plain TCP connection's write lane: the one path by which bytes reach its socket, shared
//! by the room, which writes each tick's frames straight to the socket from the tick's own
//! threads, and by the session's task, whose handshake, pings, pongs, error and close frames
//! go through tungstenite and from there through the lane ([`LanedTcp`]'s `AsyncWrite`).
//!
//! Why: handing every frame to the session's task through a queue costs a queue hop, a
//! cross-thread wake-up and a task poll per player per tick, more than the frame's own write
//! (BENCHMARKS.md, "The socket path"). Written straight from the tick, a frame the socket
//! takes costs one `writev` and nothing else.
//!
//! Bytes never interleave. Every write holds the lane's lock. A write the socket takes only in
//! part leaves its rest at the head of the lane's backlog, and nothing new goes to the socket
//! while the backlog holds anything: it is appended behind. The session's task drains the
//! backlog when the socket turns writable ([`Lane::serve_backlog`]). The backlog is bounded:
//! the room's frames by count, as the session's queue was ([`Lane::send_frame`]), the
//! session's own writes by bytes ([`SESSION_BACKLOG_BYTES`]); past the bound a snapshot is
//! dropped, a message makes the client too slow, a session write waits.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use ticksync_protocol::PlayerId;

use super::FaultInjector;
use crate::metrics::ServerMetrics;
use crate::room::{Delivery, DirectOutlet};

/// Bytes of the session's own writes (tungstenite's frames, HTTP answers) the backlog takes
/// behind unsent bytes before such a write waits for the socket.
const SESSION_BACKLOG_BYTES: usize = 64 * 1024;

/// Chunks handed to one `writev` when draining the backlog.
const DRAIN_SLICES: usize = 16;

/// The longest WebSocket frame header a server writes (no mask): 2 + 8 bytes.
const MAX_HEADER: usize = 10;

/// How the room's frame fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneSend {
    /// On the socket, or waiting in the backlog behind earlier bytes.
    Taken,
    /// The backlog already holds as many frames as this kind may wait behind.
    Full,
    /// The connection failed, or the session closed the lane to the room.
    Closed,
}

/// One chunk waiting to be written, and whether it ends one of the room's frames (counted
/// against the backlog's frame bound until it is written).
#[derive(Debug)]
struct Chunk {
    bytes: Bytes,
    ends_frame: bool,
}

/// What waits to be written, and the lane's state.
#[derive(Debug, Default)]
struct Backlog {
    chunks: VecDeque<Chunk>,
    /// The room's frames in `chunks`.
    frames: usize,
    /// Bytes in `chunks`.
    bytes: usize,
    /// The session said the room may no longer write (it is closing).
    closed_to_room: bool,
    /// A write failed: the connection is gone.
    failed: bool,
    /// The session's task, waiting for the backlog to fill or the lane to fail.
    drainer: Option<Waker>,
}

impl Backlog {
    fn push(&mut self, bytes: Bytes, ends_frame: bool) {
        if bytes.is_empty() {
            return;
        }
        self.bytes += bytes.len();
        self.frames += usize::from(ends_frame);
        self.chunks.push_back(Chunk { bytes, ends_frame });
    }

    /// Marks `written` bytes from the front as written.
    fn advance(&mut self, mut written: usize) {
        self.bytes -= written;
        while written > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if written < front.bytes.len() {
                front.bytes.advance(written);
                return;
            }
            written -= front.bytes.len();
            self.frames -= usize::from(front.ends_frame);
            self.chunks.pop_front();
        }
    }

    /// The waker to wake after the lock is released, if the backlog just gained work (or the
    /// lane failed) and the session's task waits for it.
    fn take_drainer(&mut self) -> Option<Waker> {
        self.drainer.take()
    }
}

/// The write lane of one plain TCP connection.
#[derive(Debug)]
pub struct Lane {
    tcp: TcpStream,
    backlog: Mutex<Backlog>,
}

impl Lane {
    pub fn new(tcp: TcpStream) -> Lane {
        Lane {
            tcp,
            backlog: Mutex::new(Backlog::default()),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    fn lock(&self) -> MutexGuard<'_, Backlog> {
        // A panic while holding the lock cannot leave the backlog torn (every change is
        // complete before the next call), so a poisoned lock is used as it is.
        self.backlog
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Writes `payload` as one binary WebSocket frame, from any thread, without waiting: to the
    /// socket if the backlog is empty, the unwritten rest (or the whole frame, if the socket
    /// is full) into the backlog. Refused when `max_waiting` of the room's frames already wait.
    pub fn send_frame(&self, payload: &Bytes, max_waiting: usize) -> LaneSend {
        let mut header = [0u8; MAX_HEADER];
        let header_len = binary_header(payload.len(), &mut header);
        let header = &header[..header_len];
        let mut backlog = self.lock();
        if backlog.failed || backlog.closed_to_room {
            return LaneSend::Closed;
        }
        if !backlog.chunks.is_empty() {
            if backlog.frames >= max_waiting {
                return LaneSend::Full;
            }
            backlog.push(Bytes::copy_from_slice(header), false);
            backlog.push(payload.clone(), true);
            return LaneSend::Taken;
        }
        let whole = header.len() + payload.len();
        let written = match self
            .tcp
            .try_write_vectored(&[IoSlice::new(header), IoSlice::new(payload)])
        {
            Ok(written) if written == whole => return LaneSend::Taken,
            Ok(written) => written,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => 0,
            Err(_) => {
                backlog.failed = true;
                let drainer = backlog.take_drainer();
                drop(backlog);
                wake(drainer);
                return LaneSend::Closed;
            }
        };
        if written < header.len() {
            backlog.push(Bytes::copy_from_slice(&header[written..]), false);
            backlog.push(payload.clone(), true);
        } else {
            backlog.push(payload.slice(written - header.len()..), true);
        }
        let drainer = backlog.take_drainer();
        drop(backlog);
        wake(drainer);
        LaneSend::Taken
    }

    /// From now on the room's frames are refused: the session is closing and its last frames
    /// (an error, the close) must be the last on the wire. With `discard`, the room's frames
    /// still waiting are dropped (a client too slow to read them gets its close sooner); a
    /// frame already begun on the wire is finished all the same.
    pub fn close_to_room(&self, discard: bool) {
        let mut backlog = self.lock();
        backlog.closed_to_room = true;
        if discard {
            let mut kept = VecDeque::new();
            let mut begun = true;
            while let Some(chunk) = backlog.chunks.pop_front() {
                if begun {
                    begun = !chunk.ends_frame;
                    kept.push_back(chunk);
                }
            }
            backlog.frames = kept.iter().filter(|chunk| chunk.ends_frame).count();
            backlog.bytes = kept.iter().map(|chunk| chunk.bytes.len()).sum();
            backlog.chunks = kept;
        }
    }

    /// Writes the backlog as the socket takes it, for as long as the connection lives: the
    /// session's task runs this beside its reader. Returns only when the connection failed.
    pub async fn serve_backlog(&self) -> io::Error {
        std::future::poll_fn(|cx| {
            let mut backlog = self.lock();
            match self.drain(&mut backlog, cx) {
                Poll::Ready(Ok(())) => {
                    // Polled on every wake-up of the session's task: keep the waker it has.
                    if !backlog
                        .drainer
                        .as_ref()
                        .is_some_and(|drainer| drainer.will_wake(cx.waker()))
                    {
                        backlog.drainer = Some(cx.waker().clone());
                    }
                    Poll::Pending
                }
                Poll::Ready(Err(error)) => Poll::Ready(error),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Writes the backlog until it is empty (`Ready(Ok)`), the socket is full (`Pending`, woken
    /// when it is writable) or the connection fails.
    fn drain(&self, backlog: &mut Backlog, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if backlog.failed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            if backlog.chunks.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let mut slices = [IoSlice::new(&[]); DRAIN_SLICES];
            let mut count = 0;
            for (slice, chunk) in slices.iter_mut().zip(&backlog.chunks) {
                *slice = IoSlice::new(&chunk.bytes);
                count += 1;
            }
            match self.tcp.try_write_vectored(&slices[..count]) {
                Ok(0) => backlog.failed = true,
                Ok(written) => backlog.advance(written),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(error) = ready!(self.tcp.poll_write_ready(cx)) {
                        backlog.failed = true;
                        return Poll::Ready(Err(error));
                    }
                }
                Err(error) => {
                    backlog.failed = true;
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    /// The session's write of `buf` (one or more whole WebSocket frames from tungstenite, or
    /// an HTTP answer): taken whole or not at all, so the room's frames never land inside it.
    fn poll_write_whole(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut backlog = self.lock();
        let drained = self.drain(&mut backlog, cx)?;
        if drained.is_pending() {
            // Behind unsent bytes: wait behind them, up to a bound.
            if backlog.bytes >= SESSION_BACKLOG_BYTES {
                return Poll::Pending;
            }
            backlog.push(Bytes::copy_from_slice(buf), false);
            return Poll::Ready(Ok(buf.len()));
        }
        loop {
            match self.tcp.try_write(buf) {
                Ok(written) => {
                    backlog.push(Bytes::copy_from_slice(&buf[written..]), false);
                    let drainer = (written < buf.len())
                        .then(|| backlog.take_drainer())
                        .flatten();
                    drop(backlog);
                    wake(drainer);
                    return Poll::Ready(Ok(buf.len()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_write_ready(cx))?;
                }
                Err(error) => {
                    backlog.failed = true;
                    return Poll::Ready(Err(error));
                }
            }
        }
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

/// A plain TCP connection whose writes go through its [`Lane`], which the room can hold too.
#[derive(Debug, Clone)]
pub struct LanedTcp(Arc<Lane>);

impl LanedTcp {
    pub fn new(tcp: TcpStream) -> LanedTcp {
        LanedTcp(Arc::new(Lane::new(tcp)))
    }

    pub fn lane(&self) -> &Arc<Lane> {
        &self.0
    }
}

impl AsyncRead for LanedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let tcp = &self.0.tcp;
        loop {
            ready!(tcp.poll_read_ready(cx))?;
            match tcp.try_read(buf.initialize_unfilled()) {
                Ok(read) => {
                    buf.advance(read);
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; `try_read` cleared it, so the next poll waits.
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl AsyncWrite for LanedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.0.poll_write_whole(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut backlog = self.0.lock();
        self.0.drain(&mut backlog, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        {
            let mut backlog = self.0.lock();
            ready!(self.0.drain(&mut backlog, cx))?;
        }
        let shut = socket2::SockRef::from(&self.0.tcp).shutdown(std::net::Shutdown::Write);
        Poll::Ready(shut.or_else(|error| match error.kind() {
            io::ErrorKind::NotConnected => Ok(()),
            _ => Err(error),
        }))
    }
}

/// The room's side of a lane: the member's frames, written from the tick.
#[derive(Clone)]
pub(crate) struct RoomLane {
    pub lane: Arc<Lane>,
    pub metrics: Arc<ServerMetrics>,
    /// Test hook that loses frames on their way (see [`FaultInjector`]).
    pub faults: Option<Arc<dyn FaultInjector>>,
}

impl std::fmt::Debug for RoomLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomLane")
            .field("lane", &self.lane)
            .finish()
    }
}

impl DirectOutlet for RoomLane {
    fn send(&self, player: PlayerId, frame: &Bytes, max_waiting: usize) -> Delivery {
        if self
            .faults
            .as_ref()
            .is_some_and(|faults| faults.drop_frame(player, frame))
        {
            // Lost on the way, as a lossy network would lose it.
            return Delivery::Queued;
        }
        match self.lane.send_frame(frame, max_waiting) {
            LaneSend::Taken => {
                self.metrics.bytes_out.inc_by(frame.len() as u64);
                Delivery::Queued
            }
            LaneSend::Full => Delivery::Dropped,
            LaneSend::Closed => Delivery::Gone,
        }
    }
}

#[cfg(test)]
mod tests;
