//! The room's reading of a real loopback connection: taking over from the session's
//! tungstenite at a frame boundary, the kernel's arrival stamps, frames left to the session,
//! and the client going away.

use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::super::{LanedTcp, ReadEnd};
use crate::net::limits::{GameMessageBudget, MessageRateLimiter};
use crate::room::ArrivalClock;

/// A masked binary frame, as a client sends it.
fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [7, 1, 9, 3];
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Binary),
        mask: Some(mask),
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    header.format(payload.len() as u64, &mut out).unwrap();
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

/// The server's end (in a lane that reads whole frames, as after an upgrade) and the
/// client's.
async fn pair() -> (LanedTcp, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
    let laned = LanedTcp::plain(accepted.unwrap().0);
    laned.lane().read_whole_frames();
    (laned, client.unwrap())
}

fn rate() -> (MessageRateLimiter, GameMessageBudget) {
    let now = Instant::now();
    (
        MessageRateLimiter::new(1000, Duration::from_secs(10), now),
        GameMessageBudget::new(100, now),
    )
}

/// One read by the room, as at a tick: what it took (payloads starting with `i` are the
/// room's) and when each arrived.
fn pump_once(laned: &LanedTcp, taken: &mut Vec<(Vec<u8>, Instant)>) {
    let clock = ArrivalClock {
        now: Instant::now(),
        wall: SystemTime::now(),
    };
    laned.lane().pump(&clock, &mut |payload, arrived, _| {
        let mine = payload.first() == Some(&b'i');
        if mine {
            taken.push((payload.to_vec(), arrived));
        }
        mine
    });
}

/// Pumps until `want` payloads were taken (or the reading ended).
async fn pump_until(laned: &LanedTcp, want: usize) -> Vec<(Vec<u8>, Instant)> {
    let mut taken = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while taken.len() < want && laned.lane().read_end().is_none() {
        assert!(Instant::now() < deadline, "took {taken:?} only");
        pump_once(laned, &mut taken);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    taken
}

/// The greeting and an input right behind it, in one write: the session reads the greeting,
/// the room takes over and finds the input waiting in the lane, not in tungstenite.
async fn greet_and_hand_over<C: AsyncWrite + Unpin>(
    laned: &LanedTcp,
    client: &mut C,
    ws: &mut WebSocketStream<LanedTcp>,
) {
    client
        .write_all(&[client_frame(b"hello"), client_frame(b"i1")].concat())
        .await
        .unwrap();
    client.flush().await.unwrap();
    let hello = ws.next().await.unwrap().unwrap();
    assert_eq!(hello, Message::Binary(b"hello".to_vec().into()));
    assert!(laned.lane().enter_room(rate(), 1024).is_ok());
    let taken = pump_until(laned, 1).await;
    assert_eq!(taken[0].0, b"i1");
}

#[tokio::test]
async fn the_room_takes_over_after_the_greeting_with_arrival_stamps() {
    let (laned, mut client) = pair().await;
    let mut ws = WebSocketStream::from_raw_socket(laned.clone(), Role::Server, None).await;
    let sent = Instant::now();
    greet_and_hand_over(&laned, &mut client, &mut ws).await;

    // Read later than it arrived, it still carries its arrival.
    client.write_all(&client_frame(b"i2")).await.unwrap();
    let arrived_by = Instant::now();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let taken = pump_until(&laned, 1).await;
    let (payload, arrived) = &taken[0];
    assert_eq!(payload, b"i2");
    assert!(*arrived >= sent, "stamped before it was sent");
    if cfg!(target_os = "linux") {
        assert!(
            *arrived <= arrived_by + Duration::from_millis(30),
            "stamped {:?} after it was written",
            arrived.saturating_duration_since(arrived_by)
        );
    }
}

/// The session's next message, within 10 s: a binary one carrying `payload`.
async fn expect_message(ws: &mut WebSocketStream<LanedTcp>, payload: &[u8]) {
    let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap();
    assert_eq!(
        next.unwrap().unwrap(),
        Message::Binary(payload.to_vec().into())
    );
}

#[tokio::test]
async fn frames_the_room_leaves_reach_the_session_in_order() {
    let (laned, mut client) = pair().await;
    let lane = laned.lane().clone();
    let mut ws = WebSocketStream::from_raw_socket(laned.clone(), Role::Server, None).await;
    assert!(lane.enter_room(rate(), 1024).is_ok());
    let frames = [
        client_frame(b"i1"),
        client_frame(b"chat"),
        client_frame(b"i2"),
    ];
    client.write_all(&frames.concat()).await.unwrap();
    let taken = pump_until(&laned, 1).await;
    assert_eq!(taken.len(), 1);
    // The message, then the input behind it: both the session's, in order.
    expect_message(&mut ws, b"chat").await;
    lane.message_handled();
    expect_message(&mut ws, b"i2").await;
    lane.message_handled();
    // Nothing waits for the session any more: the next input is the room's again.
    client.write_all(&client_frame(b"i3")).await.unwrap();
    let taken = pump_until(&laned, 1).await;
    assert_eq!(taken[0].0, b"i3");
}

#[tokio::test]
async fn a_client_gone_ends_the_reading_and_the_session_sees_the_end() {
    let (laned, client) = pair().await;
    let lane = laned.lane().clone();
    let mut ws = WebSocketStream::from_raw_socket(laned.clone(), Role::Server, None).await;
    assert!(lane.enter_room(rate(), 1024).is_ok());
    drop(client);
    let taken = pump_until(&laned, 1).await;
    assert!(taken.is_empty());
    assert_eq!(lane.read_end(), Some(ReadEnd::PeerGone));
    let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap();
    assert!(!matches!(next, Some(Ok(_))), "{next:?}");
}

#[tokio::test]
async fn a_session_mid_frame_keeps_the_reading() {
    let (laned, mut client) = pair().await;
    let lane = laned.lane().clone();
    let frame = client_frame(&[b'x'; 100]);
    client.write_all(&frame[..20]).await.unwrap();
    // The session's tungstenite has read into a frame it has not finished.
    let mut buf = [0u8; 64];
    let read = tokio::io::AsyncReadExt::read(&mut laned.clone(), &mut buf)
        .await
        .unwrap();
    assert!(read > 0 && read < frame.len());
    assert!(lane.enter_room(rate(), 1024).is_err());
}

#[tokio::test]
async fn over_tls_the_room_reads_too() {
    let (laned, mut client) = super::super::tests::tls_pair().await;
    let lane = laned.lane().clone();
    lane.read_whole_frames();
    let mut ws = WebSocketStream::from_raw_socket(laned.clone(), Role::Server, None).await;
    greet_and_hand_over(&laned, &mut client, &mut ws).await;
    // A message goes to the session, opened from its record by the room.
    client.write_all(&client_frame(b"chat")).await.unwrap();
    client.flush().await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            pump_once(&laned, &mut Vec::new());
            tokio::select! {
                next = ws.next() => return next,
                () = tokio::time::sleep(Duration::from_millis(5)) => {}
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(
        next.unwrap().unwrap(),
        Message::Binary(b"chat".to_vec().into())
    );
    lane.message_handled();
    // The client goes (reset: it never read the server's session tickets): the room's
    // reading ends.
    drop(client);
    assert!(pump_until(&laned, 1).await.is_empty());
    let end = lane.read_end();
    assert!(
        matches!(end, Some(ReadEnd::PeerGone | ReadEnd::Failed(_))),
        "{end:?}"
    );
}

#[tokio::test]
async fn bytes_that_arrived_while_the_room_read_reach_the_session_after_it() {
    let (laned, mut client) = pair().await;
    let lane = laned.lane().clone();
    // The session has read everything there was (so the runtime no longer counts the
    // socket as readable) when the room takes over.
    let mut buf = [0u8; 16];
    let waited = Duration::from_millis(20);
    let mut reader = laned.clone();
    let read = tokio::io::AsyncReadExt::read(&mut reader, &mut buf);
    assert!(
        tokio::time::timeout(waited, read).await.is_err(),
        "nothing to read yet"
    );
    let mut ws = WebSocketStream::from_raw_socket(laned.clone(), Role::Server, None).await;
    assert!(lane.enter_room(rate(), 1024).is_ok());
    // Arrives while the socket is quiet (it tells nobody), and the room does not read it.
    client.write_all(&client_frame(b"bye")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The session reads again (as it does when it closes): it gets what is there.
    lane.leave_reading_to_session();
    let next = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    let next = next.expect("the session is told of bytes that came while the room read");
    assert_eq!(
        next.unwrap().unwrap(),
        Message::Binary(b"bye".to_vec().into())
    );
}
