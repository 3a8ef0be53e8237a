//! [`DrainHandle`]: the switch that starts a drain before a shutdown. Once it is on,
//! `GET /readyz` answers 503 and new WebSocket upgrades are refused with 503 while the
//! players already in play on; a load balancer watching `/readyz` stops sending players, and
//! in a cluster the node is unlisted from room queries. A drain is never undone: the
//! shutdown token ends what is left.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Starts a drain and tells whether one started. Cheap to clone; every clone is the same
/// switch.
#[derive(Debug, Clone, Default)]
pub struct DrainHandle(Arc<AtomicBool>);

impl DrainHandle {
    /// Starts draining (again is harmless).
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clone_is_the_same_switch() {
        let drain = DrainHandle::default();
        let seen_by_the_server = drain.clone();
        assert!(!seen_by_the_server.is_draining());
        drain.start();
        assert!(seen_by_the_server.is_draining());
    }
}
