//! The sync machinery, I/O-free and written once: the server, every Rust client, the fuzz
//! targets and the test models all call it, so "which baseline", "how many ticks to dead
//! reckon" and "apply a snapshot" have one answer each.
//!
//! - [`history`]: the server's ring of recent captured ticks, found by tick.
//! - [`baseline_tick`]: the baseline rule (ARCHITECTURE.md §2.2).
//! - [`view`]: the client's held views and the step that applies a snapshot to them.

pub mod history;
pub mod view;

pub use crate::ids::ticks_between;
use crate::ids::Tick;

pub use history::History;
pub use view::{DesyncReason, ViewStore};

/// The baseline rule: a client that acknowledged `acked_tick` gets a delta against that
/// tick if it is older than `current_tick` and still `held` by the server's history;
/// otherwise a full snapshot (`None`). The client acknowledged only what it applied, so it
/// always holds the baseline, and a lost snapshot never corrupts it.
pub fn baseline_tick(
    acked_tick: Tick,
    current_tick: Tick,
    held: impl FnOnce(Tick) -> bool,
) -> Option<Tick> {
    (acked_tick != 0 && acked_tick < current_tick && held(acked_tick)).then_some(acked_tick)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_rule() {
        let held = |tick: Tick| (10..=20).contains(&tick);
        assert_eq!(baseline_tick(0, 21, held), None, "nothing acknowledged");
        assert_eq!(baseline_tick(15, 21, held), Some(15));
        assert_eq!(baseline_tick(5, 21, held), None, "left the history");
        assert_eq!(baseline_tick(21, 21, held), None, "not older than the tick");
        assert_eq!(baseline_tick(25, 21, held), None, "from the future");
        assert_eq!(ticks_between(0, 50), 0);
        assert_eq!(ticks_between(47, 50), 3);
        assert_eq!(ticks_between(60, 50), 0);
    }
}
