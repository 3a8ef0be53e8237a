//! The label values of the server's labelled metrics, as types: every reason a kick, a
//! disconnect or a failed connection can be counted under is a variant here, so a label value
//! cannot be misspelt at a call site, and the log summary can walk every reason.
//!
//! On the `/metrics` page a label value is the reason's text with spaces as underscores
//! (`token forged` → `token_forged`); in logs the text itself.

use prometheus_client::encoding::{
    EncodeLabelSet, EncodeLabelValue, LabelSetEncoder, LabelValueEncoder,
};
use strum::IntoEnumIterator;

/// Why the server kicked a session (`ticksync_kicks_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
#[strum(serialize_all = "snake_case")]
pub enum KickReason {
    /// A protocol violation: a bad frame, a wrong message, one too large.
    Protocol,
    /// Fell behind reading snapshots (counted by the room).
    Slow,
    /// Silent for the idle timeout.
    Idle,
    /// Flooded.
    Flood,
}

/// How a session ended, grouped as its close code groups it
/// (`ticksync_disconnects_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
pub enum EndLabel {
    #[strum(serialize = "peer gone")]
    PeerGone,
    #[strum(serialize = "left")]
    Left,
    #[strum(serialize = "server shutting down")]
    ShuttingDown,
    #[strum(serialize = "protocol error")]
    ProtocolError,
    #[strum(serialize = "unsupported data")]
    UnsupportedData,
    #[strum(serialize = "policy violation")]
    PolicyViolation,
    #[strum(serialize = "message too big")]
    MessageTooBig,
    #[strum(serialize = "unsupported version")]
    UnsupportedVersion,
    #[strum(serialize = "room full")]
    RoomFull,
    #[strum(serialize = "idle timeout")]
    IdleTimeout,
    #[strum(serialize = "no hello in time")]
    NoHelloInTime,
    #[strum(serialize = "resume refused")]
    ResumeRefused,
    #[strum(serialize = "replaced by a resumed session")]
    Replaced,
    #[strum(serialize = "no room available")]
    NoRoomAvailable,
    /// Every other close (internal error, join refused, kicked, room ended).
    #[strum(serialize = "closed")]
    Closed,
}

/// Why an admission check refused a WebSocket upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
pub enum RefusalReason {
    #[strum(serialize = "wrong path")]
    WrongPath,
    #[strum(serialize = "subprotocol")]
    Subprotocol,
    #[strum(serialize = "schema mismatch")]
    SchemaMismatch,
    #[strum(serialize = "room name")]
    RoomName,
    #[strum(serialize = "origin")]
    Origin,
    #[strum(serialize = "token missing")]
    TokenMissing,
    #[strum(serialize = "token expired")]
    TokenExpired,
    #[strum(serialize = "token forged")]
    TokenForged,
    #[strum(serialize = "token wrong room")]
    TokenWrongRoom,
    #[strum(serialize = "token malformed")]
    TokenMalformed,
    /// In a cluster: the seat token's signature or form is bad.
    #[strum(serialize = "seat invalid")]
    SeatInvalid,
    #[strum(serialize = "seat expired")]
    SeatExpired,
    /// The seat is for another node.
    #[strum(serialize = "seat wrong node")]
    SeatWrongNode,
    #[strum(serialize = "seat wrong room")]
    SeatWrongRoom,
    /// The seat was used already.
    #[strum(serialize = "seat used")]
    SeatUsed,
    /// A join without a seat for a room this node does not host.
    #[strum(serialize = "no seat")]
    NoSeat,
}

impl RefusalReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A step of a connection before its session that failed on its own (not a refusal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
pub enum ConnectionStage {
    #[strum(serialize = "tls")]
    Tls,
    #[strum(serialize = "tls timeout")]
    TlsTimeout,
    #[strum(serialize = "bad http request")]
    BadHttpRequest,
    #[strum(serialize = "http timeout")]
    HttpTimeout,
    /// Refused with 503 while the server drains.
    #[strum(serialize = "draining")]
    Draining,
    #[strum(serialize = "malformed upgrade")]
    MalformedUpgrade,
    #[strum(serialize = "websocket upgrade")]
    WebsocketUpgrade,
    #[strum(serialize = "websocket upgrade timeout")]
    WebsocketUpgradeTimeout,
}

/// Why a connection failed before its session started
/// (`ticksync_handshake_failures_total{reason}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// TLS, HTTP or the upgrade failed.
    Stage(ConnectionStage),
    /// An admission check refused the upgrade.
    Refused(RefusalReason),
    /// Upgraded, but the greeting ended before `Welcome`.
    Greeting(EndLabel),
}

impl KickReason {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl EndLabel {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Stage(stage) => stage.into(),
            FailureReason::Refused(reason) => reason.into(),
            FailureReason::Greeting(end) => end.into(),
        }
    }

    /// Every reason, for the log summary's walk over the counts.
    pub fn all() -> impl Iterator<Item = FailureReason> {
        ConnectionStage::iter()
            .map(FailureReason::Stage)
            .chain(RefusalReason::iter().map(FailureReason::Refused))
            .chain(EndLabel::iter().map(FailureReason::Greeting))
    }
}

/// What a matchmaker request asked for (`ticksync_matchmaking_requests_total{action}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
pub enum MatchAction {
    #[strum(serialize = "join")]
    Join,
    #[strum(serialize = "create")]
    Create,
    #[strum(serialize = "join or create")]
    JoinOrCreate,
    /// `GET /matchmake/rooms`.
    #[strum(serialize = "rooms")]
    Rooms,
    /// A path under `/matchmake/` the matchmaker does not answer.
    #[strum(serialize = "unknown")]
    Unknown,
}

/// How a matchmaker request ended (`ticksync_matchmaking_requests_total{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumIter)]
pub enum MatchOutcome {
    /// A seat reservation was given.
    #[strum(serialize = "seated")]
    Seated,
    /// A room listing was given.
    #[strum(serialize = "listed")]
    Listed,
    /// The room is full (409).
    #[strum(serialize = "full")]
    Full,
    /// `create` named a room that exists (409).
    #[strum(serialize = "exists")]
    Exists,
    /// The room's node is draining (503).
    #[strum(serialize = "draining")]
    Draining,
    /// No node is open and under its caps (503).
    #[strum(serialize = "no node")]
    NoNode,
    /// Redis is unreachable or answered nonsense (503).
    #[strum(serialize = "unavailable")]
    Unavailable,
    /// The request was malformed: method, path, length, body (4xx).
    #[strum(serialize = "bad request")]
    BadRequest,
    /// The seat could not be signed (500).
    #[strum(serialize = "error")]
    Error,
}

/// The labels of `ticksync_matchmaking_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MatchLabels {
    pub action: MatchAction,
    pub outcome: MatchOutcome,
}

impl EncodeLabelSet for MatchLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        (
            [("action", LabelValue(self.action))],
            [("outcome", LabelValue(self.outcome))],
        )
            .encode(encoder)
    }
}

/// The `action` label of the matchmaking latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Action(pub MatchAction);

impl EncodeLabelSet for Action {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        [("action", LabelValue(self.0))].encode(encoder)
    }
}

/// The `reason` label of a labelled metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason<R: LabelText>(pub R);

impl<R: LabelText> EncodeLabelSet for Reason<R> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        [("reason", LabelValue(self.0))].encode(encoder)
    }
}

/// A reason as a label value: its text with spaces as underscores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelValue<R>(pub R);

/// A reason with a text.
pub trait LabelText: Copy + std::fmt::Debug + Eq + std::hash::Hash + Send + Sync + 'static {
    fn text(self) -> &'static str;
}

impl LabelText for KickReason {
    fn text(self) -> &'static str {
        self.as_str()
    }
}

impl LabelText for EndLabel {
    fn text(self) -> &'static str {
        self.as_str()
    }
}

impl LabelText for FailureReason {
    fn text(self) -> &'static str {
        self.as_str()
    }
}

impl LabelText for RefusalReason {
    fn text(self) -> &'static str {
        self.as_str()
    }
}

impl LabelText for MatchAction {
    fn text(self) -> &'static str {
        self.into()
    }
}

impl LabelText for MatchOutcome {
    fn text(self) -> &'static str {
        self.into()
    }
}

impl<R: LabelText> EncodeLabelValue for LabelValue<R> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        use std::fmt::Write;
        for (i, word) in self.0.text().split(' ').enumerate() {
            if i > 0 {
                encoder.write_char('_')?;
            }
            encoder.write_str(word)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_failure_reason_has_its_own_text() {
        let texts: Vec<&str> = FailureReason::all().map(FailureReason::as_str).collect();
        let distinct: BTreeSet<&str> = texts.iter().copied().collect();
        assert_eq!(texts.len(), distinct.len(), "{texts:?}");
        assert!(texts.contains(&"token forged"));
        assert!(texts.contains(&"no hello in time"));
        assert_eq!(KickReason::Slow.as_str(), "slow");
        assert_eq!(EndLabel::Replaced.as_str(), "replaced by a resumed session");
    }
}
