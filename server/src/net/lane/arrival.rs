//! Reads from a socket with the moment the kernel received the bytes (`SO_TIMESTAMPNS`), so
//! inputs the room reads at its tick still carry their own arrival time: the input-timing
//! feedback measures how long before the tick an input arrived, not when the room got to it.
//! Where the kernel gives no timestamp, the read's own moment stands in.

use std::io;
use std::time::SystemTime;

use tokio::io::Interest;
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

/// One non-blocking read into `buf`: the bytes read and, if the kernel stamped them, when
/// the last of them arrived (the wall clock's time, as the kernel records it).
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
        CONTROL.with_borrow_mut(|control| {
            tcp.try_io(Interest::READABLE, || {
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
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        tcp.try_read(buf).map(|read| (read, None))
    }
}
