//! `GET /metrics`: the server's figures in the Prometheus/OpenMetrics text format, built with
//! the `prometheus-client` crate.
//!
//! The registry holds:
//! - the counters and gauges of [`ServerMetrics`], registered by their owner (the hot paths
//!   bump the very atomics the page reads);
//! - per-room tick-duration histograms and overrun counters, updated by each room's tick
//!   loop (a room's series is removed when the room closes);
//! - with `[cluster]` settings, the node's [`ClusterMetrics`] (matchmaker, Redis, seats);
//! - a collector for what is state rather than a count — open rooms, players per room, the
//!   process's resident memory — read at scrape time.
//!
//! A scrape costs the same with 1 or 1,000 rooms: only the rooms the operator named (the
//! default room and the `[rooms.NAME]` sections) get series of their own; every room a client
//! made by naming it in its URL is summed into the series `room="(other)"`. Room names chosen
//! by clients would otherwise be label values chosen by clients: a page that grows with every
//! room (1.2 MB at 1,000 rooms) and a series churn for Prometheus. [`Exposition::scrape`]
//! also renders at most once per [`SCRAPE_CACHE`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::cluster_metrics::ClusterMetrics;
use super::process::process_rss_bytes;
use super::server_metrics::ServerMetrics;
use crate::room::RoomStatuses;

/// Label value of the per-room series shared by every room the configuration does not name.
/// Not a valid room name, so no room's own series can be mistaken for it.
pub const OTHER_ROOMS: &str = "(other)";

/// How long a rendered page is served again before it is rendered anew.
pub const SCRAPE_CACHE: Duration = Duration::from_secs(1);

/// Labels of per-room series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoomLabel {
    room: String,
}

/// Tick-duration buckets: 50 µs doubling to about 400 ms, which brackets a 33 ms tick budget
/// from an idle room to a badly overloaded one.
fn tick_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_05, 2.0, 14)
}

fn new_tick_histogram() -> Histogram {
    Histogram::new(tick_buckets())
}

/// The Prometheus registry of one server, behind `GET /metrics`.
#[derive(Debug)]
pub struct Exposition {
    registry: Mutex<Registry>,
    tick_duration: Family<RoomLabel, Histogram>,
    tick_overruns: Family<RoomLabel, Counter>,
    /// Rooms with series of their own.
    named_rooms: Arc<BTreeSet<String>>,
    rooms: Arc<OnceLock<Weak<dyn RoomStatuses>>>,
    /// The last page rendered, and when.
    cached: Mutex<Option<(Instant, String)>>,
}

/// The series a room's tick loop updates.
#[derive(Debug, Clone)]
pub struct RoomSeries {
    /// Work time of each tick, in seconds.
    pub tick_duration: Histogram,
    /// Ticks whose work took longer than the tick period.
    pub tick_overruns: Counter,
}

/// The `room` label of room `name`'s series.
fn room_label(named_rooms: &BTreeSet<String>, name: &str) -> RoomLabel {
    let room = if named_rooms.contains(name) {
        name
    } else {
        OTHER_ROOMS
    };
    RoomLabel {
        room: room.to_owned(),
    }
}

impl Exposition {
    /// A registry of `metrics` where every room shares the `(other)` series.
    pub fn new(metrics: &ServerMetrics) -> Exposition {
        Exposition::with_named_rooms(metrics, std::iter::empty::<String>())
    }

    /// A registry of `metrics` where the rooms in `named_rooms` have series of their own
    /// (the server passes its default room and the rooms of its `[rooms.NAME]` sections).
    pub fn with_named_rooms(
        metrics: &ServerMetrics,
        named_rooms: impl IntoIterator<Item = impl Into<String>>,
    ) -> Exposition {
        let named_rooms: Arc<BTreeSet<String>> =
            Arc::new(named_rooms.into_iter().map(Into::into).collect());
        let mut registry = Registry::default();
        let tick_duration =
            Family::<RoomLabel, Histogram>::new_with_constructor(new_tick_histogram as fn() -> _);
        registry.register(
            "ticksync_tick_duration_seconds",
            "Work time of one tick (with the frames it writes to connections), per named room; other rooms together as room=\"(other)\"",
            tick_duration.clone(),
        );
        let tick_overruns = Family::<RoomLabel, Counter>::default();
        registry.register(
            "ticksync_tick_overruns",
            "Ticks whose work took longer than the tick period, per named room; other rooms together as room=\"(other)\"",
            tick_overruns.clone(),
        );
        metrics.register(&mut registry);
        let rooms = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(StateCollector {
            rooms: rooms.clone(),
            named_rooms: named_rooms.clone(),
        }));
        Exposition {
            registry: Mutex::new(registry),
            tick_duration,
            tick_overruns,
            named_rooms,
            rooms,
            cached: Mutex::new(None),
        }
    }

    /// Adds a cluster node's figures to the page (once, when the node joins its cluster).
    pub fn register_cluster(&self, metrics: &ClusterMetrics) {
        let mut registry = self
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        metrics.register(&mut registry);
    }

    /// Connects the collector to the rooms it reports (once, when the server is built).
    pub fn attach(&self, rooms: Arc<dyn RoomStatuses>) {
        let _ = self.rooms.set(Arc::downgrade(&rooms));
    }

    /// The series of room `name`, for its tick loop to update: its own for a named room, the
    /// shared `(other)` ones for any other.
    pub fn room_series(&self, name: &str) -> RoomSeries {
        let label = room_label(&self.named_rooms, name);
        RoomSeries {
            tick_duration: self.tick_duration.get_or_create_owned(&label),
            tick_overruns: self.tick_overruns.get_or_create_owned(&label),
        }
    }

    /// Drops a closed named room's series (a room of that name opened later starts afresh);
    /// the shared `(other)` series stay.
    pub fn forget_room(&self, name: &str) {
        if self.named_rooms.contains(name) {
            let label = room_label(&self.named_rooms, name);
            self.tick_duration.remove(&label);
            self.tick_overruns.remove(&label);
        }
    }

    /// The exposition, rendered at most once per [`SCRAPE_CACHE`]: a scrape flood costs one
    /// render a second plus the copies.
    pub fn scrape(&self) -> String {
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &*cached {
            Some((at, page)) if at.elapsed() < SCRAPE_CACHE => page.clone(),
            _ => {
                let page = self.render();
                *cached = Some((Instant::now(), page.clone()));
                page
            }
        }
    }

    /// The whole exposition, in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Writing into a String cannot fail; an encoder error would only truncate the page.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            tracing::error!(%error, "could not encode metrics");
        }
        text
    }
}

/// Content type of [`Exposition::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reads, at scrape time, what is state rather than a count: rooms, their players, memory.
#[derive(Debug)]
struct StateCollector {
    rooms: Arc<OnceLock<Weak<dyn RoomStatuses>>>,
    named_rooms: Arc<BTreeSet<String>>,
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let e = &mut encoder;
        if let Some(rss) = process_rss_bytes() {
            gauge(
                e,
                "ticksync_resident_memory_bytes",
                "Resident set size of the server process",
                rss as i64,
            )?;
        }
        let Some(rooms) = self.rooms.get().and_then(Weak::upgrade) else {
            return Ok(());
        };
        let statuses = rooms.statuses();
        gauge(e, "ticksync_rooms", "Open rooms", statuses.len() as i64)?;
        let mut players = BTreeMap::from([(OTHER_ROOMS.to_owned(), 0i64)]);
        for status in &statuses {
            let label = room_label(&self.named_rooms, &status.name).room;
            *players.entry(label).or_default() += status.players.load(Ordering::Relaxed) as i64;
        }
        let kind = ConstGauge::new(0i64).metric_type();
        let mut family = e.encode_descriptor(
            "ticksync_room_players",
            "Players per named room; other rooms together as room=\"(other)\"",
            None,
            kind,
        )?;
        for (room, count) in players {
            let labels = [("room", room.as_str())];
            ConstGauge::new(count).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
