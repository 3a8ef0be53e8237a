//! Reads from a socket with the moment the kernel received the bytes (`SO_TIMESTAMPNS`), so
//! inputs the room reads at its tick still carry their own arrival time: the input-timing
//! feedback measures how long before the tick an input arrived, not when the room got to it.
//! Where the kernel gives no timestamp, the read's own moment stands in.
//!
//! And, while the room reads a connection, keeps the kernel from waking the socket threads'
//! `epoll` for every input that arrives ([`quiet`]): nobody waits on the socket then.

use std::io;
use std::time::SystemTime;

use tokio::net::TcpStream;

/// Asks the kernel to timestamp what `tcp` receives. Without it reads carry no timestamp.
pub fn enable(tcp: &TcpStream) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{setsockopt, sockopt::ReceiveTimestampns};
        setsockopt(tcp, ReceiveTimestampns, &true).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tcp;
        Ok(())
    }
}

/// Bytes that must wait in a quiet socket before it reports itself readable: far more than
/// a tick's inputs, so the room's reads at its ticks drain it long before.
const QUIET_LOW_WATER: i32 = 64 * 1024;

/// `true`: the socket reports itself readable (and wakes `epoll`) only once
/// [`QUIET_LOW_WATER`] bytes wait, or the peer closed; `false`: as soon as one byte does (the
/// default, for a session that waits on the socket). Non-blocking reads are not affected.
pub fn quiet(tcp: &TcpStream, on: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;

        let value: libc::c_int = if on { QUIET_LOW_WATER } else { 1 };
        // SAFETY: `setsockopt` reads `size_of::<c_int>()` bytes from a pointer to a live
        // `c_int` on this stack frame; the descriptor is the open socket `tcp` owns.
        let result = unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                std::ptr::from_ref(&value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (tcp, on);
        Ok(())
    }
}

/// One non-blocking read into `buf`, for the room (which reads at its ticks, not when told
/// the socket is readable): the bytes read and, if the kernel stamped them, when the last of
/// them arrived (the wall clock's time, as the kernel records it).
pub fn recv(tcp: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
    #[cfg(target_os = "linux")]
    {
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};

        // Room for one `timespec` control message, kept per thread (rooms read from the
        // tick's threads).
        thread_local! {
            static CONTROL: std::cell::RefCell<Vec<u8>> =
                std::cell::RefCell::new(nix::cmsg_space!(nix::sys::time::TimeSpec));
        }
        // Straight to the socket, not through tokio's readiness: a quiet socket never
        // reports itself readable, so tokio would keep answering `WouldBlock` for it.
        CONTROL.with_borrow_mut(|control| {
            let mut iov = [IoSliceMut::new(buf)];
            let received = recvmsg::<()>(
                tcp.as_raw_fd(),
                &mut iov,
                Some(control),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(io::Error::from)?;
            let mut stamp = None;
            if let Ok(messages) = received.cmsgs() {
                for message in messages {
                    if let ControlMessageOwned::ScmTimestampns(time) = message {
                        let since_epoch = std::time::Duration::from(time);
                        stamp = SystemTime::UNIX_EPOCH.checked_add(since_epoch);
                    }
                }
            }
            Ok((received.bytes, stamp))
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        tcp.try_read(buf).map(|read| (read, None))
    }
}
