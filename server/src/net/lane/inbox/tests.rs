//! The read side's sorting, on bytes alone: which frames the room takes, which go to the
//! session and in what order, and how much of a frame the session's tungstenite is given.

use std::time::Duration;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

use super::*;

const MASK: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

/// A client's frame: masked unless `mask` is false.
fn frame(opcode: OpCode, is_final: bool, payload: &[u8], mask: bool) -> Vec<u8> {
    let header = FrameHeader {
        is_final,
        opcode,
        mask: mask.then_some(MASK),
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    header.format(payload.len() as u64, &mut out).unwrap();
    out.extend(
        payload
            .iter()
            .enumerate()
            .map(|(i, b)| if mask { b ^ MASK[i & 3] } else { *b }),
    );
    out
}

fn binary(payload: &[u8]) -> Vec<u8> {
    frame(OpCode::Data(Data::Binary), true, payload, true)
}

/// A read side the room reads, holding `bytes`.
fn room_side(bytes: &[Vec<u8>]) -> ReadSide {
    let mut side = ReadSide::new(ReadMode::Room);
    side.inbox = bytes.concat();
    side.max_payload = 1024;
    side
}

/// Sorts with a room that takes payloads starting with `b'i'`; the payloads it took.
fn sort(side: &mut ReadSide) -> (Sorted, Vec<Vec<u8>>) {
    let mut taken = Vec::new();
    let sorted = side.sort(Instant::now(), &mut Vec::new(), &mut |payload, _| {
        let mine = payload.first() == Some(&b'i');
        if mine {
            taken.push(payload.to_vec());
        }
        mine
    });
    (sorted, taken)
}

/// Everything the session can read now.
fn session_bytes(side: &mut ReadSide) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(n) = side.session_read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn the_room_takes_inputs_and_leaves_the_rest_in_order() {
    let message = binary(b"message");
    let ping = frame(OpCode::Control(Control::Ping), true, b"", true);
    let after = binary(b"i3");
    let mut side = room_side(&[
        binary(b"i1"),
        binary(b"i2"),
        message.clone(),
        ping.clone(),
        after.clone(),
    ]);
    let (sorted, taken) = sort(&mut side);
    assert_eq!(taken, vec![b"i1".to_vec(), b"i2".to_vec()]);
    assert_eq!(
        (sorted.taken, sorted.taken_bytes, sorted.dropped),
        (2, 4, 0)
    );
    assert!(sorted.deferred);
    // The input after a message the session has not handled yet waits behind it.
    assert_eq!(session_bytes(&mut side), [message, ping, after].concat());
    assert_eq!(side.outstanding, 2);
    assert!(side.inbox.is_empty());

    // Once the session handled them, inputs are the room's again.
    side.outstanding = 0;
    side.inbox = binary(b"i4");
    let (_, taken) = sort(&mut side);
    assert_eq!(taken, vec![b"i4".to_vec()]);
}

#[test]
fn an_incomplete_frame_waits_for_its_rest() {
    let whole = binary(b"i1-long-enough");
    let mut side = room_side(&[whole[..5].to_vec()]);
    let (sorted, taken) = sort(&mut side);
    assert!(taken.is_empty() && !sorted.deferred);
    assert_eq!(side.inbox.len(), 5);
    side.inbox.extend_from_slice(&whole[5..]);
    let (_, taken) = sort(&mut side);
    assert_eq!(taken, vec![b"i1-long-enough".to_vec()]);
}

#[test]
fn fragments_unmasked_and_oversized_frames_go_to_the_session() {
    // A fragmented message, with a ping between its fragments: all the session's, and one
    // message once its last fragment is there.
    let first = frame(OpCode::Data(Data::Binary), false, b"i-part", true);
    let ping = frame(OpCode::Control(Control::Ping), true, b"", true);
    let last = frame(OpCode::Data(Data::Continue), true, b"-rest", true);
    let mut side = room_side(&[first.clone(), ping.clone(), last.clone()]);
    let (_, taken) = sort(&mut side);
    assert!(taken.is_empty());
    assert_eq!(side.outstanding, 1);
    assert_eq!(session_bytes(&mut side), [first, ping, last].concat());

    // A client frame without a mask breaks the protocol: tungstenite says so.
    let unmasked = frame(OpCode::Data(Data::Binary), true, b"i1", false);
    let mut side = room_side(std::slice::from_ref(&unmasked));
    let (_, taken) = sort(&mut side);
    assert!(taken.is_empty());
    assert_eq!(session_bytes(&mut side), unmasked);

    // A frame over the size limit, and everything after it, is the session's (which
    // refuses it) even before it is all here.
    let big = binary(&[b'i'; 2000]);
    let mut side = room_side(&[big[..600].to_vec()]);
    let (sorted, taken) = sort(&mut side);
    assert!(taken.is_empty() && sorted.deferred);
    side.inbox = [big[600..].to_vec(), binary(b"i2")].concat();
    sort(&mut side);
    assert_eq!(session_bytes(&mut side), [big, binary(b"i2")].concat());
}

#[test]
fn a_frame_the_room_does_not_take_is_counted_once() {
    let mut side = room_side(&[binary(b"message"), binary(b"i1")]);
    side.rate = Some(MessageRateLimiter::new(
        1,
        Duration::from_secs(60),
        Instant::now(),
    ));
    let (sorted, taken) = sort(&mut side);
    // The message was offered and refused: its token went back, for the session to count.
    assert!(taken.is_empty() && sorted.dropped == 0);
    let rate = side.rate.as_mut().unwrap();
    assert_eq!(rate.check(Instant::now()), RateDecision::Allow);
}

#[test]
fn over_the_rate_inputs_are_dropped_and_a_flood_ends_the_reading() {
    let start = Instant::now();
    let mut side = room_side(&[binary(b"i1"), binary(b"i2"), binary(b"i3")]);
    side.rate = Some(MessageRateLimiter::new(1, Duration::from_secs(60), start));
    let (sorted, taken) = sort(&mut side);
    assert_eq!((taken.len(), sorted.dropped), (1, 2));
    assert_eq!(side.ended, None);

    let mut side = room_side(&[binary(b"i1"), binary(b"i2"), binary(b"i3")]);
    side.rate = Some(MessageRateLimiter::new(1, Duration::ZERO, start));
    let (_, taken) = sort(&mut side);
    assert_eq!(taken.len(), 1);
    assert_eq!(side.ended, Some(ReadEnd::Flooding));
}

#[test]
fn the_session_reads_no_further_than_the_frame_it_is_reading() {
    let hello = binary(b"hello");
    let input = binary(b"i1");
    let mut side = ReadSide::new(ReadMode::Frames);
    side.inbox = [hello.clone(), input.clone()].concat();
    let mut buf = [0u8; 4096];
    // A small read first: the session gets the frame in pieces, never past its end.
    assert_eq!(side.session_read(&mut buf[..3]), Some(3));
    assert!(!side.at_frame_boundary());
    let rest = side.session_read(&mut buf).unwrap();
    assert_eq!(3 + rest, hello.len());
    assert!(side.at_frame_boundary());
    // What follows is still in the inbox, for the room.
    assert_eq!(side.inbox, input);

    // Half a header: nothing yet.
    let mut side = ReadSide::new(ReadMode::Frames);
    side.inbox = binary(&[0; 300])[..2].to_vec();
    assert_eq!(side.session_read(&mut buf), None);
}

#[test]
fn frames_that_came_before_the_close_are_still_sorted() {
    let leave = binary(b"leave");
    let mut side = room_side(&[binary(b"i1"), leave.clone()]);
    side.ended = Some(ReadEnd::PeerGone);
    let (_, taken) = sort(&mut side);
    assert_eq!(taken, vec![b"i1".to_vec()]);
    assert_eq!(session_bytes(&mut side), leave);
}
