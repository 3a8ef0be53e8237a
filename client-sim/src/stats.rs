//! [`ClientCounters`]: the traffic a client has seen, counted as it happens so a game or a
//! load test can read rates without instrumenting anything itself.

/// Running totals for one connection. Byte counts are WebSocket payload lengths (one
/// protocol message each), not counting WebSocket or TCP framing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCounters {
    /// Payload bytes of every binary frame received, `Welcome` included.
    pub bytes_received: u64,
    /// Payload bytes of every binary frame sent, `Hello` included.
    pub bytes_sent: u64,
    /// Binary frames received.
    pub messages_received: u64,
    /// Binary frames sent.
    pub messages_sent: u64,
    /// `Snapshot` messages received and decoded (discarded ones included).
    pub snapshots_received: u64,
    /// Snapshots applied to the view (and so acknowledgeable).
    pub snapshots_applied: u64,
    /// Snapshots thrown away unread to simulate network loss
    /// ([`crate::ClientOptions::snapshot_loss`]).
    pub snapshots_discarded: u64,
    /// Snapshots that could not be applied: a missing baseline, a delta that did not fit,
    /// or a checksum mismatch ([`crate::ClientError::Desync`]).
    pub desyncs: u64,
    /// `Input` messages sent (each also acknowledges a snapshot).
    pub inputs_sent: u64,
    /// Stand-alone `Ack` messages sent.
    pub acks_sent: u64,
    /// Frames that could not be decoded or were out of place.
    pub malformed_frames: u64,
}

impl ClientCounters {
    pub(crate) fn count_sent(&mut self, payload_len: usize) {
        self.bytes_sent += payload_len as u64;
        self.messages_sent += 1;
    }

    pub(crate) fn count_received(&mut self, payload_len: usize) {
        self.bytes_received += payload_len as u64;
        self.messages_received += 1;
    }
}
