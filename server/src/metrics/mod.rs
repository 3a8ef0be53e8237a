//! The server's figures: counted where things happen, shown on `GET /metrics`, summed up in
//! the logs.
//!
//! - [`ServerMetrics`]: every counter and gauge, declared once with prometheus-client's own
//!   types and registered by name; labelled ones take the typed reasons of [`labels`].
//! - [`Exposition`]: the registry behind `GET /metrics`, with the per-room tick series and
//!   what is read at scrape time (rooms, players per room, memory).
//! - [`ClusterMetrics`]: the figures of a cluster node (matchmaker, Redis, leases, seats),
//!   registered only when the node joins a cluster.
//! - [`MetricsSnapshot`]: the counters at one moment, read-only, for programs embedding the
//!   server.
//! - [`process`]: CPU time and resident memory of the process; [`server_stats`]: the
//!   server-wide line logged every stats interval beside the rooms' own.

mod cluster_metrics;
mod exposition;
pub mod labels;
pub mod process;
mod server_metrics;
pub mod server_stats;
mod snapshot;

pub use cluster_metrics::ClusterMetrics;
pub use exposition::{Exposition, RoomSeries, CONTENT_TYPE, OTHER_ROOMS, SCRAPE_CACHE};
pub use labels::{
    ConnectionStage, EndLabel, FailureReason, KickReason, MatchAction, MatchOutcome, RefusalReason,
};
pub use process::{process_cpu_seconds, process_rss_bytes};
pub use server_metrics::{MetricsReader, ServerMetrics};
pub use snapshot::MetricsSnapshot;
