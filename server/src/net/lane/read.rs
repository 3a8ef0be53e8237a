//! Reading a laned connection: the session's reads (tungstenite's, through [`super::LanedTcp`])
//! and the room's ([`Lane::pump`]), and the hand-over between them (see [`super::inbox`]).

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::MutexGuard;
use std::task::{ready, Context, Poll};
use std::time::SystemTime;

use tokio::time::Instant;

use super::inbox::{ReadEnd, ReadMode, ReadSide, Sorted};
use super::{arrival, wake, Lane};
use crate::net::limits::{GameMessageBudget, MessageRateLimiter, RateDecision};
use crate::room::ArrivalClock;

/// What the room does with a frame's payload, given when it arrived and the game message
/// budget: whether it took it.
pub type TakeFrame<'a> = dyn FnMut(&[u8], Instant, &mut Option<GameMessageBudget>) -> bool + 'a;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;

/// The room stops reading a connection while this much waits for its session (which reads
/// it through tungstenite): past it the socket's own buffer holds the client back.
const DEFERRED_LIMIT: usize = 64 * 1024;

thread_local! {
    /// Where the room unmasks a frame's payload before offering it.
    static PAYLOAD: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Lane {
    fn read_side(&self) -> MutexGuard<'_, ReadSide> {
        // As with the write lock: every change is complete before anything that could panic.
        self.read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// When the lane was made: the reference of [`Lane::heard`].
    pub fn created(&self) -> Instant {
        self.created
    }

    /// Milliseconds from [`Lane::created`] to the last time the client was heard from.
    pub fn heard(&self) -> &AtomicU64 {
        &self.heard
    }

    /// From now on (a WebSocket upgrade whose request came alone, with nothing after it)
    /// the session reads whole frames at most, so the room can take the reading over at a
    /// frame boundary.
    pub fn read_whole_frames(&self) {
        let mut read = self.read_side();
        if read.mode == ReadMode::Passthrough && read.inbox.is_empty() {
            read.mode = ReadMode::Frames;
        }
    }

    /// The room reads the connection from its next tick, if the session has read up to a
    /// frame boundary; the session's message rate limit and game message budget go with it
    /// (and then count the frames of both). Returns them when the session keeps reading.
    pub fn enter_room(
        &self,
        limits: (MessageRateLimiter, GameMessageBudget),
        max_payload: usize,
    ) -> Result<(), (MessageRateLimiter, GameMessageBudget)> {
        let mut read = self.read_side();
        if read.mode != ReadMode::Frames || !read.at_frame_boundary() {
            read.mode = ReadMode::Passthrough;
            return Err(limits);
        }
        let (rate, budget) = limits;
        if let Err(error) = arrival::enable(&self.tcp) {
            tracing::debug!(%error, "no receive timestamps: inputs are stamped when read");
        }
        if let Err(error) = arrival::quiet(&self.tcp, true) {
            tracing::debug!(%error, "could not keep the socket from waking epoll per input");
        }
        read.mode = ReadMode::Room;
        read.rate = Some(rate);
        read.budget = Some(budget);
        read.max_payload = max_payload;
        Ok(())
    }

    /// The session reads everything from now on (the rate limit and the budget stay here,
    /// where its reader counts against them).
    pub fn leave_reading_to_session(&self) {
        let mut read = self.read_side();
        if read.mode == ReadMode::Room {
            // The session waits on the socket again: it must say when a byte is there.
            if let Err(error) = arrival::quiet(&self.tcp, false) {
                tracing::debug!(%error, "could not restore the socket's read wake-ups");
            }
            // What came while the socket was quiet woke nobody: the session reads it from
            // the inbox (the peer closing, by contrast, always wakes the runtime).
            if read.ended.is_none() {
                self.fill_inbox(&mut read);
            }
        }
        read.mode = ReadMode::Passthrough;
    }

    /// Why the room's reading ended, if it did.
    pub fn read_end(&self) -> Option<ReadEnd> {
        self.read_side().ended
    }

    /// The session handled a data message the room left it: once none wait, the room takes
    /// inputs again.
    pub fn message_handled(&self) {
        let mut read = self.read_side();
        read.outstanding = read.outstanding.saturating_sub(1);
    }

    /// Counts a message the session read against the rate limit, if the room holds it.
    pub fn check_rate(&self, now: Instant) -> Option<RateDecision> {
        self.read_side().rate.as_mut().map(|rate| rate.check(now))
    }

    /// Takes a game message's token from the budget, if the room holds it.
    pub fn take_message_budget(&self, now: Instant) -> Option<bool> {
        self.read_side()
            .budget
            .as_mut()
            .map(|budget| budget.take(now))
    }

    /// The room's read, at its tick: whatever the socket has, sorted (see
    /// [`ReadSide::sort`]); `take` gets each payload it may take and when it arrived.
    /// Does nothing unless the room reads this connection.
    pub fn pump(&self, clock: &ArrivalClock, take: &mut TakeFrame<'_>) -> Sorted {
        let mut read = self.read_side();
        if read.mode != ReadMode::Room || read.ended.is_some() {
            return Sorted::default();
        }
        let (got, stamp) = self.fill_inbox(&mut read);
        if !got && read.ended.is_none() && read.inbox.is_empty() {
            return Sorted::default();
        }
        let arrived = stamp.map_or(clock.now, |stamp| clock.instant_of(stamp));
        if got {
            let heard = clock.now.saturating_duration_since(self.created);
            self.heard
                .store(heard.as_millis() as u64, Ordering::Relaxed);
        }
        let sorted = PAYLOAD.with_borrow_mut(|payload| {
            read.sort(clock.now, payload, &mut |frame, budget| {
                take(frame, arrived, budget)
            })
        });
        let waiter = if sorted.deferred || read.ended.is_some() {
            read.waker.take()
        } else {
            None
        };
        drop(read);
        wake(waiter);
        sorted
    }

    /// Reads what the socket has into the inbox, bounded (see [`DEFERRED_LIMIT`]), straight
    /// from the socket (through TLS, if any): whether anything came, and the kernel's stamp
    /// of the last bytes. A closed or failed connection ends the reading.
    fn fill_inbox(&self, read: &mut ReadSide) -> (bool, Option<SystemTime>) {
        let mut chunk = [0u8; READ_CHUNK];
        let (mut got, mut stamp) = (false, None);
        while read.deferred_len() < DEFERRED_LIMIT && read.inbox.len() < DEFERRED_LIMIT {
            let received = if self.plain {
                arrival::recv(&self.tcp, &mut chunk)
            } else {
                self.through_wire(|wire| wire.read_stamped(&self.tcp, &mut chunk))
            };
            match received {
                // The peer's TLS close_notify, or its TCP close (with or without one).
                Ok((0, _)) => {
                    read.ended = Some(ReadEnd::PeerGone);
                    break;
                }
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    read.ended = Some(ReadEnd::PeerGone);
                    break;
                }
                Ok((n, at)) => {
                    read.inbox.extend_from_slice(&chunk[..n]);
                    got = true;
                    stamp = at.or(stamp);
                    if n < chunk.len() {
                        break;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    read.ended = Some(ReadEnd::Failed(error.kind()));
                    break;
                }
            }
        }
        (got, stamp)
    }

    /// The session's read: frames the room left it, the inbox, or the socket (through TLS,
    /// if any).
    pub(super) fn poll_read_into(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut read = self.read_side();
            if let Some(n) = read.session_read(buf) {
                return Poll::Ready(Ok(n));
            }
            match read.mode {
                ReadMode::Room => {
                    return match read.ended {
                        Some(ReadEnd::PeerGone) => Poll::Ready(Ok(0)),
                        Some(ReadEnd::Failed(kind)) => Poll::Ready(Err(kind.into())),
                        Some(ReadEnd::Flooding) => Poll::Ready(Err(io::Error::other(
                            "message flood (the session reads why from the lane)",
                        ))),
                        None => {
                            let waker = &mut read.waker;
                            if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                                *waker = Some(cx.waker().clone());
                            }
                            Poll::Pending
                        }
                    };
                }
                ReadMode::Frames => {
                    let mut chunk = [0u8; READ_CHUNK];
                    match self.try_read_wire(&mut chunk) {
                        Ok(n) if n == 0 && read.inbox.is_empty() => return Poll::Ready(Ok(0)),
                        // The peer closed inside a frame: tungstenite gets what there is.
                        Ok(0) => read.mode = ReadMode::Passthrough,
                        Ok(n) => read.inbox.extend_from_slice(&chunk[..n]),
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            drop(read);
                            ready!(self.tcp.poll_read_ready(cx))?;
                        }
                        Err(error) => return Poll::Ready(Err(error)),
                    }
                }
                ReadMode::Passthrough => {
                    drop(read);
                    return self.poll_read_socket(cx, buf);
                }
            }
        }
    }

    /// What the socket (through TLS, if any) has for `buf`.
    fn poll_read_socket(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            match self.try_read_wire(buf) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.tcp.poll_read_ready(cx))?;
                }
                read => return Poll::Ready(read),
            }
        }
    }

    /// One non-blocking read through the wire: plain, without the write lock; over TLS,
    /// opening records under it.
    fn try_read_wire(&self, buf: &mut [u8]) -> io::Result<usize> {
        if self.plain {
            return self.tcp.try_read(buf);
        }
        self.through_wire(|wire| wire.read(&self.tcp, buf))
    }

    /// A read through the TLS session, under the write lock. TLS may have records of its own
    /// to send afterwards (an alert, a key update): the session's task is woken for them.
    fn through_wire<R>(&self, read: impl FnOnce(&mut super::wire::Wire) -> R) -> R {
        let mut state = self.lock();
        let result = read(&mut state.wire);
        let drainer = state.drainer_if_waiting();
        drop(state);
        wake(drainer);
        result
    }
}

#[cfg(test)]
mod tests;
