//! A connection as the session and tungstenite see it: an `AsyncRead` and `AsyncWrite` whose
//! writes go through the connection's [`Lane`], which the room can hold too.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls::ServerConnection;

use super::wire::Wire;
use super::Lane;

/// A connection whose writes go through its [`Lane`].
#[derive(Debug, Clone)]
pub struct LanedTcp(Arc<Lane>);

impl LanedTcp {
    /// A plain TCP connection.
    pub fn plain(tcp: TcpStream) -> LanedTcp {
        LanedTcp(Arc::new(Lane::new(tcp, Wire::Plain)))
    }

    /// A TLS connection whose handshake is done.
    pub fn tls(tcp: TcpStream, session: ServerConnection) -> LanedTcp {
        LanedTcp(Arc::new(Lane::new(tcp, Wire::tls(session))))
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
        let read = ready!(self.0.poll_read_into(cx, buf.initialize_unfilled()));
        // A peer that closed reads as end of stream (0 bytes), with or without TLS's
        // close_notify: tungstenite tells a close handshake from a dropped connection.
        match read {
            Ok(read) => buf.advance(read),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {}
            Err(error) => return Poll::Ready(Err(error)),
        }
        Poll::Ready(Ok(()))
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
        let mut state = self.0.lock();
        self.0.drain(&mut state, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.0.poll_close(cx))?;
        let shut = socket2::SockRef::from(&self.0.tcp).shutdown(std::net::Shutdown::Write);
        Poll::Ready(shut.or_else(|error| match error.kind() {
            io::ErrorKind::NotConnected => Ok(()),
            _ => Err(error),
        }))
    }
}
