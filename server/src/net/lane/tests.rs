//! The write lane against real loopback sockets: frames arrive whole and in order whatever
//! the socket takes at once, the room's frames wait only up to their bound, the session's
//! writes never land inside a frame, and closing the lane to the room keeps a begun frame
//! whole.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use super::*;

/// A connected pair on loopback: the server's end in a lane, with a small send buffer, and
/// the client's end with a small receive buffer, so a client that does not read fills the
/// socket after a few kilobytes.
async fn pair() -> (LanedTcp, TcpStream) {
    let (server, client) = sockets().await;
    (LanedTcp::plain(server), client)
}

/// The sockets of [`pair`]: the server's end and the client's.
async fn sockets() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(socket.connect(address), listener.accept());
    let (server, _) = accepted.unwrap();
    socket2::SockRef::from(&server)
        .set_send_buffer_size(4096)
        .unwrap();
    (server, client.unwrap())
}

/// `len` bytes that start with `seq`.
fn payload(seq: u32, len: usize) -> Bytes {
    let mut bytes = vec![(seq % 251) as u8; len];
    bytes[..4].copy_from_slice(&seq.to_be_bytes());
    Bytes::from(bytes)
}

/// A whole text frame, as tungstenite would hand the lane one of the session's messages.
fn text_frame(text: &str) -> Vec<u8> {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let mut frame = Vec::new();
    header.format(text.len() as u64, &mut frame).unwrap();
    frame.extend_from_slice(text.as_bytes());
    frame
}

/// Reads until `count` whole frames have arrived (over plain TCP or TLS); their opcodes and
/// payloads. Panics on a frame that does not parse (bytes torn or interleaved) or a connection
/// that ends first.
async fn read_frames<R: AsyncRead + Unpin>(client: &mut R, count: usize) -> Vec<(OpCode, Vec<u8>)> {
    let (mut buffer, mut frames) = (Vec::new(), Vec::new());
    loop {
        loop {
            let mut cursor = io::Cursor::new(&buffer[..]);
            let Some((header, len)) = FrameHeader::parse(&mut cursor).unwrap() else {
                break;
            };
            let start = cursor.position() as usize;
            let end = start + len as usize;
            if buffer.len() < end {
                break;
            }
            frames.push((header.opcode, buffer[start..end].to_vec()));
            buffer.drain(..end);
        }
        if frames.len() >= count {
            assert!(buffer.is_empty(), "bytes after the last frame");
            return frames;
        }
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(Duration::from_secs(10), client.read(&mut chunk))
            .await
            .expect("frames in time")
            .unwrap();
        assert!(read > 0, "connection ended after {} frames", frames.len());
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Sends the room's frames of `len` bytes until the lane refuses one (at most `limit`);
/// how many it took.
fn fill(lane: &Lane, len: usize, max_waiting: usize, limit: u32) -> u32 {
    for seq in 0..limit {
        match lane.send_frame(&payload(seq, len), max_waiting) {
            LaneSend::Taken => {}
            LaneSend::Full => return seq,
            LaneSend::Closed => panic!("lane closed"),
        }
    }
    panic!("the lane took {limit} frames from a client that does not read");
}

/// Hands the room's frames of `sizes` to the lane (each starting with its index), all taken.
fn send_each(lane: &Lane, sizes: &[usize]) {
    for (seq, len) in sizes.iter().enumerate() {
        assert_eq!(
            lane.send_frame(&payload(seq as u32, *len), 8),
            LaneSend::Taken
        );
    }
}

fn waiting_frames(lane: &Lane) -> usize {
    lane.lock().backlog.frames
}

#[tokio::test]
async fn frames_of_every_header_size_arrive_whole() {
    let (server, mut client) = pair().await;
    let lane = server.lane().clone();
    let sizes = [10, 200, 70_000];
    send_each(&lane, &sizes);
    // The large frame does not fit the small socket: its rest waits for the session's task.
    let serving = tokio::spawn(async move { lane.serve_backlog().await });
    let frames = read_frames(&mut client, sizes.len()).await;
    for (seq, (opcode, bytes)) in frames.iter().enumerate() {
        assert_eq!(*opcode, OpCode::Data(Data::Binary));
        assert_eq!(bytes[..], payload(seq as u32, sizes[seq])[..]);
    }
    serving.abort();
}

#[tokio::test]
async fn a_client_that_does_not_read_gets_a_bounded_backlog_then_everything_in_order() {
    let (mut server, mut client) = pair().await;
    let lane = server.lane().clone();
    let taken = fill(&lane, 1000, 4, 10_000);
    assert_eq!(
        waiting_frames(&lane),
        4,
        "the bound counts the room's frames"
    );
    // A message may use the places a snapshot may not.
    assert_eq!(lane.send_frame(&payload(taken, 1000), 6), LaneSend::Taken);
    // The session's own write goes behind, whole, without waiting for the socket.
    let own = text_frame("the session's own frame");
    tokio::time::timeout(Duration::from_secs(5), server.write_all(&own))
        .await
        .expect("a small session write does not wait behind a backlog")
        .unwrap();
    let serving = tokio::spawn(async move { lane.serve_backlog().await });
    let frames = read_frames(&mut client, taken as usize + 2).await;
    for (seq, (opcode, bytes)) in frames[..=taken as usize].iter().enumerate() {
        assert_eq!(*opcode, OpCode::Data(Data::Binary));
        assert_eq!(bytes[..], payload(seq as u32, 1000)[..], "frame {seq}");
    }
    let (opcode, bytes) = &frames[taken as usize + 1];
    assert_eq!(*opcode, OpCode::Data(Data::Text));
    assert_eq!(bytes[..], b"the session's own frame"[..]);
    serving.abort();
}

#[tokio::test]
async fn closing_the_lane_to_the_room_discards_waiting_frames_but_finishes_a_begun_one() {
    let (mut server, mut client) = pair().await;
    let lane = server.lane().clone();
    let taken = fill(&lane, 1500, 8, 10_000);
    lane.close_to_room(true);
    assert_eq!(lane.send_frame(&payload(taken, 10), 8), LaneSend::Closed);
    assert!(waiting_frames(&lane) <= 1, "only a begun frame is kept");
    let close = text_frame("closing");
    server.write_all(&close).await.unwrap();
    let serving = tokio::spawn(async move { lane.serve_backlog().await });
    // Whatever arrives parses as whole frames: the room's, in order and fewer than taken,
    // then the session's last.
    let mut frames = Vec::new();
    while frames.last().map(|(opcode, _)| *opcode) != Some(OpCode::Data(Data::Text)) {
        frames.extend(read_frames(&mut client, 1).await);
    }
    let room_frames = frames.len() - 1;
    assert!(
        room_frames < taken as usize,
        "waiting frames were discarded"
    );
    for (seq, (_, bytes)) in frames[..room_frames].iter().enumerate() {
        assert_eq!(bytes[..], payload(seq as u32, 1500)[..], "frame {seq}");
    }
    serving.abort();
}

#[tokio::test]
async fn a_reset_connection_fails_the_lane_and_its_backlog_service() {
    let (server, client) = pair().await;
    let lane = server.lane().clone();
    // A peer that resets the connection (SO_LINGER 0, then close).
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    let mut closed = false;
    for seq in 0..1000 {
        if lane.send_frame(&payload(seq, 100), 8) == LaneSend::Closed {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(closed, "writes to a reset connection fail");
    tokio::time::timeout(Duration::from_secs(5), lane.serve_backlog())
        .await
        .expect("the backlog service ends when the connection failed");
}

/// A connected pair over TLS on loopback: the server's end in a lane that holds the TLS
/// session (handshake done by tokio-rustls, as the listener does), with small socket buffers
/// as in [`pair`]; the client's end a tokio-rustls stream that trusts the generated
/// certificate.
pub(super) async fn tls_pair() -> (LanedTcp, tokio_rustls::client::TlsStream<TcpStream>) {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let path = std::env::temp_dir().join(format!(
        "ticksync-lane-test-{}-{:?}.pem",
        std::process::id(),
        std::thread::current().id()
    ));
    let (acceptor, _certificate) = crate::net::tls::dev_acceptor(&path).unwrap();
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(&path).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let _ = std::fs::remove_file(&path);
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let (tcp, client) = sockets().await;
    let name = ServerName::try_from("localhost").unwrap();
    let (accepted, connected) = tokio::join!(acceptor.accept(tcp), connector.connect(name, client));
    let (tcp, session) = accepted.unwrap().into_inner();
    (LanedTcp::tls(tcp, session), connected.unwrap())
}

#[tokio::test]
async fn over_tls_the_room_s_and_the_session_s_frames_arrive_whole_and_in_order() {
    let (mut server, mut client) = tls_pair().await;
    let lane = server.lane().clone();
    // Small, medium, and larger than the socket buffers and a TLS record: part of it waits
    // sealed inside the session for the backlog's service.
    let sizes = [10, 200, 70_000];
    send_each(&lane, &sizes);
    // While sealed bytes wait, the room's next frames wait in the backlog, bounded.
    let taken = fill(&lane, 1000, 4, 10_000);
    let own = text_frame("the session's own frame");
    tokio::time::timeout(Duration::from_secs(5), server.write_all(&own))
        .await
        .expect("a small session write does not wait behind a backlog")
        .unwrap();
    let serving = tokio::spawn({
        let lane = lane.clone();
        async move { lane.serve_backlog().await }
    });
    let frames = read_frames(&mut client, sizes.len() + taken as usize + 1).await;
    for (seq, len) in sizes.iter().enumerate() {
        assert_eq!(frames[seq].0, OpCode::Data(Data::Binary));
        assert_eq!(frames[seq].1[..], payload(seq as u32, *len)[..]);
    }
    for seq in 0..taken as usize {
        assert_eq!(
            frames[sizes.len() + seq].1[..],
            payload(seq as u32, 1000)[..]
        );
    }
    let (opcode, bytes) = frames.last().unwrap();
    assert_eq!(*opcode, OpCode::Data(Data::Text));
    assert_eq!(bytes[..], b"the session's own frame"[..]);

    // And the other way: what the client sends is opened by the lane.
    client.write_all(b"an input").await.unwrap();
    client.flush().await.unwrap();
    let mut received = [0u8; 8];
    tokio::time::timeout(Duration::from_secs(5), server.read_exact(&mut received))
        .await
        .expect("the client's bytes in time")
        .unwrap();
    assert_eq!(&received, b"an input");
    serving.abort();
}

#[tokio::test]
async fn over_tls_a_closed_session_reads_as_the_end_of_the_stream() {
    let (mut server, mut client) = tls_pair().await;
    client.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), server.read_to_end(&mut rest))
        .await
        .expect("the end in time");
    assert_eq!(read.unwrap(), 0);
    // Our side closes with a close_notify the client reads as a clean end.
    server.shutdown().await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest))
        .await
        .expect("the end in time");
    assert_eq!(read.unwrap(), 0);
}
