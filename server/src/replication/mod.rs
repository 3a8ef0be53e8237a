//! Replication: turning the world after a tick into the frames each client receives.
//!
//! Work that is the same for every client (collecting and encoding entity states) is done
//! once per tick; per-client work is only what differs (DESIGN.md §2.3).

mod snapshot;

pub use snapshot::SnapshotBuilder;
