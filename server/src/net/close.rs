//! How a session ends: the close code, the reason sent in the close frame, and the error
//! message (if any) sent just before it.

use ticksync_protocol::close_code;
use ticksync_protocol::ErrorCode;

/// The outcome of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The peer closed or the connection dropped: there is nobody to send a close frame to.
    PeerGone,
    /// The server closes the connection.
    Close {
        /// WebSocket close code (see [`close_code`]).
        code: u16,
        /// Sent as the close frame's reason and logged; kept under 123 bytes (the limit of a
        /// close frame's reason).
        reason: String,
        /// Sent as an `Error` message before the close frame, when set.
        error: Option<ErrorCode>,
    },
}

/// A close frame's reason may hold at most 123 bytes.
const MAX_CLOSE_REASON_BYTES: usize = 123;

impl SessionEnd {
    /// A close with an error message first.
    pub fn error(error: ErrorCode, code: u16, reason: impl Into<String>) -> SessionEnd {
        SessionEnd::Close {
            code,
            reason: truncate_reason(reason.into()),
            error: Some(error),
        }
    }

    /// The client said `Leave`.
    pub fn normal() -> SessionEnd {
        SessionEnd::Close {
            code: close_code::NORMAL,
            reason: "goodbye".into(),
            error: None,
        }
    }

    /// The server is shutting down.
    pub fn going_away() -> SessionEnd {
        SessionEnd::error(
            ErrorCode::ServerShuttingDown,
            close_code::GOING_AWAY,
            "server shutting down",
        )
    }

    /// Whether the player may take its entity back with `Resume`: yes when the connection
    /// was lost, went silent or fell behind (a network problem); no after `Leave`, a kick for
    /// misbehaviour, a replacement or a shutdown.
    pub fn allows_resume(&self) -> bool {
        match self {
            SessionEnd::PeerGone => true,
            SessionEnd::Close { code, error, .. } => {
                *code == close_code::IDLE_TIMEOUT || *error == Some(ErrorCode::TooSlow)
            }
        }
    }

    /// Short label for logs.
    pub fn label(&self) -> &'static str {
        match self {
            SessionEnd::PeerGone => "peer gone",
            SessionEnd::Close { code, .. } => match *code {
                close_code::NORMAL => "left",
                close_code::GOING_AWAY => "server shutting down",
                close_code::PROTOCOL_ERROR => "protocol error",
                close_code::UNSUPPORTED_DATA => "unsupported data",
                close_code::POLICY_VIOLATION => "policy violation",
                close_code::MESSAGE_TOO_BIG => "message too big",
                close_code::UNSUPPORTED_VERSION => "unsupported version",
                close_code::ROOM_FULL => "room full",
                close_code::IDLE_TIMEOUT => "idle timeout",
                close_code::RESUME_REFUSED => "resume refused",
                close_code::REPLACED => "replaced by a resumed session",
                close_code::NO_ROOM_AVAILABLE => "no room available",
                _ => "closed",
            },
        }
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

    #[test]
    fn long_reasons_are_cut_on_a_char_boundary() {
        let end = SessionEnd::error(
            ErrorCode::Internal,
            close_code::INTERNAL_ERROR,
            "é".repeat(100),
        );
        let SessionEnd::Close { reason, .. } = end else {
            panic!()
        };
        assert!(reason.len() <= MAX_CLOSE_REASON_BYTES);
        assert!(reason.chars().all(|c| c == 'é'));
    }
}
