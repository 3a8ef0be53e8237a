//! What a lane's bytes pass through between the room or the session and the socket: nothing
//! (plain TCP), or a TLS session (rustls) that the lane seals and opens records with itself,
//! on whichever thread writes or reads, so an encrypted connection can be written from the
//! tick as a plain one is.
//!
//! Bytes a TLS session has sealed but the socket has not taken wait inside the session
//! ([`Wire::pending`]); the lane writes them before anything else.

use std::io::{self, IoSlice, Read, Write};
use std::time::SystemTime;

use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConnection;

use super::arrival;

/// The socket as a `Read` and `Write` that never block: `WouldBlock` where they would.
struct Nonblocking<'a>(&'a TcpStream);

impl Read for Nonblocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

/// The socket as a `Read` that never blocks and keeps the kernel's receive timestamp of the
/// last bytes it read.
struct Stamped<'a> {
    tcp: &'a TcpStream,
    stamp: Option<SystemTime>,
}

impl Read for Stamped<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (read, stamp) = arrival::recv(self.tcp, buf)?;
        self.stamp = stamp.or(self.stamp);
        Ok(read)
    }
}

impl Write for Nonblocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A lane's way to its socket.
#[derive(Debug)]
pub(super) enum Wire {
    Plain,
    /// A TLS session whose handshake is done.
    Tls(Box<ServerConnection>),
}

impl Wire {
    /// A TLS session, sealing whatever it is given: the lane bounds what waits, not rustls.
    pub(super) fn tls(mut session: ServerConnection) -> Wire {
        session.set_buffer_limit(None);
        Wire::Tls(Box::new(session))
    }

    /// Whether bytes already taken wait inside the wire (sealed records the socket has not
    /// taken yet).
    pub(super) fn pending(&self) -> bool {
        match self {
            Wire::Plain => false,
            Wire::Tls(session) => session.wants_write(),
        }
    }

    /// Writes what waits inside the wire; `WouldBlock` when the socket is full first.
    pub(super) fn write_pending(&mut self, tcp: &TcpStream) -> io::Result<()> {
        if let Wire::Tls(session) = self {
            while session.wants_write() {
                if session.write_tls(&mut Nonblocking(tcp))? == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
            }
        }
        Ok(())
    }

    /// Takes bytes from `parts`, in order, and returns how many: plain, what the socket
    /// takes at once (`WouldBlock`: none); TLS, all of them, sealed into records, of which
    /// the socket gets what it takes and the rest waits inside the wire.
    pub(super) fn write(&mut self, tcp: &TcpStream, parts: &[IoSlice<'_>]) -> io::Result<usize> {
        let Wire::Tls(session) = self else {
            return match parts {
                [one] => tcp.try_write(one),
                _ => tcp.try_write_vectored(parts),
            };
        };
        // One record for all the parts (a frame's header and payload together). Without a
        // buffer limit rustls takes every byte; a part taken would tear the frame, so the
        // lane fails rather than go on.
        let whole: usize = parts.iter().map(|part| part.len()).sum();
        let taken = session.writer().write_vectored(parts)?;
        if taken != whole {
            return Err(io::Error::other(format!(
                "the TLS session took {taken} of {whole} bytes"
            )));
        }
        match self.write_pending(tcp) {
            Err(error) if error.kind() != io::ErrorKind::WouldBlock => Err(error),
            _ => Ok(taken),
        }
    }

    /// Reads into `buf`: how many bytes (0: the peer closed), or `WouldBlock` when the
    /// socket has nothing yet. A TLS session may have records of its own to send afterwards
    /// (an alert, a key update): see [`Wire::pending`].
    pub(super) fn read(&mut self, tcp: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Plain => tcp.try_read(buf),
            Wire::Tls(session) => open(session, tcp, &mut Nonblocking(tcp), buf),
        }
    }

    /// Reads into `buf` as [`Wire::read`] does, straight from the socket (the room's read,
    /// see [`arrival::recv`]), with the kernel's receive timestamp of the last bytes taken
    /// from the socket, if it gave one.
    pub(super) fn read_stamped(
        &mut self,
        tcp: &TcpStream,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<SystemTime>)> {
        let Wire::Tls(session) = self else {
            return arrival::recv(tcp, buf);
        };
        let mut socket = Stamped { tcp, stamp: None };
        let read = open(session, tcp, &mut socket, buf)?;
        Ok((read, socket.stamp))
    }

    /// Starts closing a TLS session: its close_notify alert waits inside the wire.
    pub(super) fn close(&mut self) {
        if let Wire::Tls(session) = self {
            session.send_close_notify();
        }
    }
}

/// Opens what `session` has (reading records from `socket` until there is something) into
/// `buf`: how many bytes (0: the peer's close_notify, or its TCP close without one), or
/// `WouldBlock` when the socket has no whole record yet.
fn open(
    session: &mut ServerConnection,
    tcp: &TcpStream,
    socket: &mut impl Read,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match session.reader().read(buf) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            done => return done,
        }
        // Nothing opened yet: read records (`WouldBlock` when the socket has none).
        session.read_tls(socket)?;
        if let Err(error) = session.process_new_packets() {
            // rustls queued an alert for the peer: best effort, the session fails anyway.
            let _ = session.write_tls(&mut Nonblocking(tcp));
            return Err(io::Error::new(io::ErrorKind::InvalidData, error));
        }
    }
}
