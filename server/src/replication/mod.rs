//! Replication: what each client knows, and the snapshots that bring it up to date.
//!
//! - [`history`]: the last second of quantized world states, captured once per tick.
//! - [`interest`]: area of interest — which entities a client sees — via the spatial
//!   [`grid`] each captured tick keeps.
//! - `replicator`: per client, a delta snapshot against the view it acknowledged (the
//!   Quake 3 model), with the checksum of the view it must end up with; a large room's
//!   clients are served in parallel.
//! - `snapshot`: one client's snapshot, encoded from the captured tick with per-thread
//!   scratch.
//! - `fan_out`: spreading that per-client work (and a large room's socket work, see
//!   `room::tick_loop`) over the calling thread and rayon's pool.
//!
//! Work that is the same for many clients is done once per tick (capturing the world, entity
//! checksums, and in everyone-sees-everyone mode the delta body per distinct baseline); per
//! client only what differs (ARCHITECTURE.md §2.3).

mod fan_out;
mod grid;
mod history;
mod interest;
mod replicator;
mod snapshot;

pub(crate) use fan_out::fan_out;
pub use interest::InterestPolicy;
pub use replicator::{Execution, ReplicationError, ReplicationSettings, Replicator};
pub use snapshot::Viewer;
