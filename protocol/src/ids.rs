//! The numbers that name things on the wire: ticks (and how long one lasts), input sequence
//! numbers, entities and players. A leaf module: the messages, the sync machinery and the
//! replicated state all name these, and none of them is needed to define them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A simulation step number. The room's first tick is 1, so 0 can mean "none" (no
/// acknowledgement yet, no baseline); at 30 Hz a `u32` lasts 4.5 years, so wrap-around is not
/// handled.
pub type Tick = u32;

/// An input sequence number chosen by the client: 1 for the first input, then +1 each.
/// 0 means "no input applied yet" in [`Snapshot::last_input_seq`](crate::Snapshot::last_input_seq).
pub type InputSeq = u32;

/// The id of a replicated entity: small, never reused within a room's lifetime, so it costs
/// one to three bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntityId(pub u32);

impl std::fmt::Display for EntityId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A player in a room: assigned at join, never reused within the room's lifetime. A player
/// may control an entity, several, or none (a spectator, a card game's seat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PlayerId(pub u32);

impl std::fmt::Display for PlayerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// Ticks from `baseline_tick` to `tick`: how far dead reckoning advances a baseline state.
/// A full snapshot (baseline 0) is applied to nothing, so it needs none; a baseline that is
/// not older than the tick (which no correct server sends) counts as 0.
pub fn ticks_between(baseline_tick: Tick, tick: Tick) -> u32 {
    if baseline_tick == 0 {
        0
    } else {
        tick.saturating_sub(baseline_tick)
    }
}

/// Time between ticks at `tick_rate_hz`: the one definition the server's rooms, its
/// configuration and the clients share. A rate of 0 (which a client must not trust into a
/// division by zero) is read as 1.
pub fn tick_period(tick_rate_hz: u16) -> Duration {
    Duration::from_secs(1) / u32::from(tick_rate_hz.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_period_follows_the_rate_and_survives_zero() {
        assert_eq!(tick_period(30), Duration::from_nanos(33_333_333));
        assert_eq!(tick_period(240), Duration::from_nanos(4_166_666));
        assert_eq!(tick_period(0), Duration::from_secs(1));
    }
}
