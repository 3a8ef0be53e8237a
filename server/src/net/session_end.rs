//! How a session ends: one [`EndReason`] per way a session can end, which alone decides the
//! error sent first (if any), the close code (through the protocol's one
//! [`ErrorCode::close_code`] table), whether the player may `Resume`, the log and metric
//! label, and which kick counter it counts in. [`SessionEnd`] is a reason with the human
//! text that goes with it.

use ticksync_protocol::close_code;
use ticksync_protocol::ErrorCode;

use crate::metrics::{EndLabel, KickReason};

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The peer closed or the connection dropped: there is nobody to send a close frame to.
    PeerGone,
    /// The client said `Leave`.
    Left,
    /// The server is shutting down.
    ShuttingDown,
    /// A frame did not decode as a client message.
    Malformed,
    /// A frame or message over the size limits.
    TooLarge,
    /// A text frame on the bincode subprotocol.
    TextFrameOnBincode,
    /// A binary frame on the JSON subprotocol.
    BinaryFrameOnJson,
    /// A message out of order: anything before `Hello`/`Resume`, or a second one.
    UnexpectedMessage,
    /// `Hello`/`Resume` named another envelope version.
    UnsupportedVersion,
    /// A well-formed `Hello`/`Resume` with refused content.
    InvalidHello,
    /// No `Hello` within the handshake timeout.
    NoHelloInTime,
    /// Nothing received for the idle timeout.
    IdleTimeout,
    /// Too many frames for too long.
    Flooding,
    /// More game messages than the budget or the room's queue takes.
    TooManyMessages,
    /// The room found the client too far behind reading snapshots.
    TooSlow,
    /// The room has no free player slot.
    RoomFull,
    /// The resume token is unknown, used or past its grace period.
    ResumeRefused,
    /// The room does not exist and no more rooms can be created.
    NoRoomAvailable,
    /// The game refused the player at join.
    JoinRefused,
    /// The game removed the player.
    Kicked,
    /// The game ended the room.
    RoomEnded,
    /// A newer connection resumed this player.
    Replaced,
    /// An unexpected server-side failure.
    Internal,
}

impl EndReason {
    /// The `Error` sent before the close frame; `None` when none is (a peer gone, `Leave`).
    pub fn error_code(self) -> Option<ErrorCode> {
        Some(match self {
            EndReason::PeerGone | EndReason::Left => return None,
            EndReason::ShuttingDown => ErrorCode::ServerShuttingDown,
            EndReason::Malformed => ErrorCode::MalformedMessage,
            EndReason::TooLarge => ErrorCode::MessageTooLarge,
            EndReason::TextFrameOnBincode => ErrorCode::UnexpectedTextFrame,
            EndReason::BinaryFrameOnJson => ErrorCode::UnexpectedBinaryFrame,
            EndReason::UnexpectedMessage => ErrorCode::UnexpectedMessage,
            EndReason::UnsupportedVersion => ErrorCode::UnsupportedProtocolVersion,
            EndReason::InvalidHello => ErrorCode::InvalidHello,
            EndReason::NoHelloInTime | EndReason::IdleTimeout => ErrorCode::IdleTimeout,
            EndReason::Flooding => ErrorCode::Flooding,
            EndReason::TooManyMessages => ErrorCode::TooManyMessages,
            EndReason::TooSlow => ErrorCode::TooSlow,
            EndReason::RoomFull => ErrorCode::RoomFull,
            EndReason::ResumeRefused => ErrorCode::ResumeRefused,
            EndReason::NoRoomAvailable => ErrorCode::NoRoomAvailable,
            EndReason::JoinRefused => ErrorCode::JoinRefused,
            EndReason::Kicked => ErrorCode::Kicked,
            EndReason::RoomEnded => ErrorCode::RoomEnded,
            EndReason::Replaced => ErrorCode::Replaced,
            EndReason::Internal => ErrorCode::Internal,
        })
    }

    /// The WebSocket close code; `None` when there is nobody to send one to.
    pub fn close_code(self) -> Option<u16> {
        match self {
            EndReason::PeerGone => None,
            EndReason::Left => Some(close_code::NORMAL),
            reason => reason.error_code().and_then(ErrorCode::close_code),
        }
    }

    /// Whether the player may take its entity back with `Resume`: yes when the connection
    /// was lost, went silent or fell behind (a network problem); no after `Leave`, a kick for
    /// misbehaviour, a replacement or a shutdown.
    pub fn allows_resume(self) -> bool {
        matches!(
            self,
            EndReason::PeerGone
                | EndReason::IdleTimeout
                | EndReason::NoHelloInTime
                | EndReason::TooSlow
        )
    }

    /// Short label for logs and the `reason` label of `ticksync_disconnects_total` and
    /// `ticksync_handshake_failures_total` (spaces become underscores there). One label per
    /// close code, as operators' dashboards know them.
    pub fn label(self) -> EndLabel {
        if self == EndReason::NoHelloInTime {
            return EndLabel::NoHelloInTime;
        }
        match self.close_code() {
            None => EndLabel::PeerGone,
            Some(code) => match code {
                close_code::NORMAL => EndLabel::Left,
                close_code::GOING_AWAY => EndLabel::ShuttingDown,
                close_code::PROTOCOL_ERROR => EndLabel::ProtocolError,
                close_code::UNSUPPORTED_DATA => EndLabel::UnsupportedData,
                close_code::POLICY_VIOLATION => EndLabel::PolicyViolation,
                close_code::MESSAGE_TOO_BIG => EndLabel::MessageTooBig,
                close_code::UNSUPPORTED_VERSION => EndLabel::UnsupportedVersion,
                close_code::ROOM_FULL => EndLabel::RoomFull,
                close_code::IDLE_TIMEOUT => EndLabel::IdleTimeout,
                close_code::RESUME_REFUSED => EndLabel::ResumeRefused,
                close_code::REPLACED => EndLabel::Replaced,
                close_code::NO_ROOM_AVAILABLE => EndLabel::NoRoomAvailable,
                _ => EndLabel::Closed,
            },
        }
    }

    /// The kick counter this end counts in, if it is a kick the session decided.
    pub fn kick(self) -> Option<KickReason> {
        match self {
            EndReason::IdleTimeout => Some(KickReason::Idle),
            EndReason::Flooding => Some(KickReason::Flood),
            EndReason::Malformed
            | EndReason::TooLarge
            | EndReason::TextFrameOnBincode
            | EndReason::BinaryFrameOnJson
            | EndReason::UnexpectedMessage
            | EndReason::InvalidHello => Some(KickReason::Protocol),
            _ => None,
        }
    }
}

/// The outcome of a session: why, and the text for the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    pub reason: EndReason,
    /// Sent as the close frame's reason (and the `Error`'s message) and logged; kept under
    /// 123 bytes (the limit of a close frame's reason).
    detail: String,
}

/// A close frame's reason may hold at most 123 bytes.
const MAX_CLOSE_REASON_BYTES: usize = 123;

impl SessionEnd {
    /// A session ended for `reason`, with `detail` for the peer.
    pub fn new(reason: EndReason, detail: impl Into<String>) -> SessionEnd {
        SessionEnd {
            reason,
            detail: truncate_reason(detail.into()),
        }
    }

    /// The peer closed or the connection dropped.
    pub fn peer_gone() -> SessionEnd {
        SessionEnd::new(EndReason::PeerGone, "")
    }

    /// The client said `Leave`.
    pub fn normal() -> SessionEnd {
        SessionEnd::new(EndReason::Left, "goodbye")
    }

    /// The server is shutting down.
    pub fn going_away() -> SessionEnd {
        SessionEnd::new(EndReason::ShuttingDown, "server shutting down")
    }

    /// The text for the peer (and the log).
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// See [`EndReason::allows_resume`].
    pub fn allows_resume(&self) -> bool {
        self.reason.allows_resume()
    }

    /// See [`EndReason::label`].
    pub fn label(&self) -> EndLabel {
        self.reason.label()
    }
}

/// Cuts a reason to fit a close frame without splitting a UTF-8 character.
fn truncate_reason(mut reason: String) -> String {
    if reason.len() > MAX_CLOSE_REASON_BYTES {
        let mut cut = MAX_CLOSE_REASON_BYTES;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [EndReason; 23] = [
        EndReason::PeerGone,
        EndReason::Left,
        EndReason::ShuttingDown,
        EndReason::Malformed,
        EndReason::TooLarge,
        EndReason::TextFrameOnBincode,
        EndReason::BinaryFrameOnJson,
        EndReason::UnexpectedMessage,
        EndReason::UnsupportedVersion,
        EndReason::InvalidHello,
        EndReason::NoHelloInTime,
        EndReason::IdleTimeout,
        EndReason::Flooding,
        EndReason::TooManyMessages,
        EndReason::TooSlow,
        EndReason::RoomFull,
        EndReason::ResumeRefused,
        EndReason::NoRoomAvailable,
        EndReason::JoinRefused,
        EndReason::Kicked,
        EndReason::RoomEnded,
        EndReason::Replaced,
        EndReason::Internal,
    ];

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let end = SessionEnd::new(EndReason::Internal, "é".repeat(100));
        assert!(end.detail().len() <= MAX_CLOSE_REASON_BYTES);
        assert!(end.detail().chars().all(|c| c == 'é'));
    }

    #[test]
    fn every_end_but_a_lost_peer_has_a_close_code_and_every_error_its_table_code() {
        for reason in ALL {
            match reason {
                EndReason::PeerGone => assert_eq!(reason.close_code(), None),
                EndReason::Left => {
                    assert_eq!(reason.close_code(), Some(close_code::NORMAL));
                    assert_eq!(reason.error_code(), None);
                }
                _ => {
                    let error = reason.error_code().expect("an error");
                    assert_eq!(reason.close_code(), error.close_code(), "{reason:?}");
                }
            }
        }
    }

    #[test]
    fn ends_keep_the_close_codes_and_labels_they_had() {
        let cases = [
            (
                EndReason::TooSlow,
                close_code::POLICY_VIOLATION,
                "policy violation",
            ),
            (
                EndReason::Flooding,
                close_code::POLICY_VIOLATION,
                "policy violation",
            ),
            (
                EndReason::Malformed,
                close_code::PROTOCOL_ERROR,
                "protocol error",
            ),
            (
                EndReason::InvalidHello,
                close_code::PROTOCOL_ERROR,
                "protocol error",
            ),
            (
                EndReason::TextFrameOnBincode,
                close_code::UNSUPPORTED_DATA,
                "unsupported data",
            ),
            (
                EndReason::NoHelloInTime,
                close_code::IDLE_TIMEOUT,
                "no hello in time",
            ),
            (
                EndReason::IdleTimeout,
                close_code::IDLE_TIMEOUT,
                "idle timeout",
            ),
            (
                EndReason::Replaced,
                close_code::REPLACED,
                "replaced by a resumed session",
            ),
            (EndReason::Kicked, close_code::KICKED, "closed"),
            (EndReason::JoinRefused, close_code::JOIN_REFUSED, "closed"),
            (EndReason::RoomEnded, close_code::ROOM_ENDED, "closed"),
            (EndReason::Internal, close_code::INTERNAL_ERROR, "closed"),
            (
                EndReason::ShuttingDown,
                close_code::GOING_AWAY,
                "server shutting down",
            ),
        ];
        for (reason, code, label) in cases {
            assert_eq!(reason.close_code(), Some(code), "{reason:?}");
            assert_eq!(reason.label().as_str(), label, "{reason:?}");
        }
        assert_eq!(EndReason::PeerGone.label().as_str(), "peer gone");
        assert_eq!(EndReason::Left.label().as_str(), "left");
    }

    #[test]
    fn only_network_trouble_allows_a_resume() {
        let resumable: Vec<EndReason> = ALL.into_iter().filter(|r| r.allows_resume()).collect();
        assert_eq!(
            resumable,
            [
                EndReason::PeerGone,
                EndReason::NoHelloInTime,
                EndReason::IdleTimeout,
                EndReason::TooSlow
            ]
        );
    }

    #[test]
    fn kicks_count_by_kind() {
        assert_eq!(EndReason::IdleTimeout.kick(), Some(KickReason::Idle));
        assert_eq!(EndReason::Flooding.kick(), Some(KickReason::Flood));
        assert_eq!(
            EndReason::BinaryFrameOnJson.kick(),
            Some(KickReason::Protocol)
        );
        assert_eq!(EndReason::TooLarge.kick(), Some(KickReason::Protocol));
        for not_a_kick in [
            EndReason::TooSlow,
            EndReason::TooManyMessages,
            EndReason::Left,
            EndReason::PeerGone,
            EndReason::Kicked,
        ] {
            assert_eq!(not_a_kick.kick(), None, "{not_a_kick:?}");
        }
    }
}
