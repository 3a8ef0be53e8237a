//! [`ClientCounters`]: the traffic a client has seen, counted as it happens so a game or a
//! load test can read rates without instrumenting anything itself.

/// Running totals for one connection. Byte counts are WebSocket payload lengths (one
/// protocol message each), not counting WebSocket or TCP framing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCounters {
    /// Payload bytes of every data frame received, `Welcome` included.
    pub bytes_received: u64,
    /// Payload bytes of every data frame sent, `Hello` included.
    pub bytes_sent: u64,
    /// Data frames (protocol messages) received.
    pub messages_received: u64,
    /// Data frames (protocol messages) sent.
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
    /// The game's own messages sent ([`crate::Client::send_message`]).
    pub game_messages_sent: u64,
    /// The game's own messages received ([`crate::ClientEvent::Message`]).
    pub game_messages_received: u64,
    /// Frames that could not be decoded or were out of place.
    pub malformed_frames: u64,
    /// Server ticks skipped between consecutive snapshots received (see [`tick_gap`]):
    /// snapshots the server dropped for this client, or never sent.
    pub tick_gaps: u64,
    /// Inputs the server reported as having missed their tick (a negative
    /// `Snapshot::input_margin_100us`, counted once per input).
    pub inputs_missed_tick: u64,
}

/// Ticks missing between a snapshot of `previous` and the next one received, of `tick`:
/// `tick - previous - 1`. Nothing before the first snapshot (`previous` 0) and nothing for a
/// tick that is not newer (a confused server; the view store reports that as a desync).
pub fn tick_gap(previous: u32, tick: u32) -> u64 {
    if previous == 0 || tick <= previous {
        return 0;
    }
    u64::from(tick - previous - 1)
}

impl ClientCounters {
    /// Adds `other`'s totals to these (a bot's sessions, summed).
    pub fn accumulate(&mut self, other: &ClientCounters) {
        self.bytes_received += other.bytes_received;
        self.bytes_sent += other.bytes_sent;
        self.messages_received += other.messages_received;
        self.messages_sent += other.messages_sent;
        self.snapshots_received += other.snapshots_received;
        self.snapshots_applied += other.snapshots_applied;
        self.snapshots_discarded += other.snapshots_discarded;
        self.desyncs += other.desyncs;
        self.inputs_sent += other.inputs_sent;
        self.acks_sent += other.acks_sent;
        self.game_messages_sent += other.game_messages_sent;
        self.game_messages_received += other.game_messages_received;
        self.malformed_frames += other.malformed_frames;
        self.tick_gaps += other.tick_gaps;
        self.inputs_missed_tick += other.inputs_missed_tick;
    }

    pub(crate) fn count_sent(&mut self, payload_len: usize) {
        self.bytes_sent += payload_len as u64;
        self.messages_sent += 1;
    }

    pub(crate) fn count_received(&mut self, payload_len: usize) {
        self.bytes_received += payload_len as u64;
        self.messages_received += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::tick_gap;

    #[test]
    fn tick_gaps_count_the_ticks_never_received() {
        assert_eq!(tick_gap(0, 17), 0, "the first snapshot has no predecessor");
        assert_eq!(tick_gap(5, 6), 0);
        assert_eq!(tick_gap(5, 9), 3);
        assert_eq!(tick_gap(9, 9), 0);
        assert_eq!(tick_gap(9, 4), 0);
        let ticks = [3, 4, 7, 8, 12];
        let total: u64 = ticks.windows(2).map(|w| tick_gap(w[0], w[1])).sum();
        assert_eq!(total, 2 + 3);
    }
}
