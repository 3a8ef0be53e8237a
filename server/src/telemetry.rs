//! `GET /metrics`: the server's figures in the Prometheus/OpenMetrics text format, built with
//! the `prometheus-client` crate.
//!
//! Two kinds of metric live here:
//! - per-room tick-duration histograms, owned by the registry and observed by each room's
//!   tick loop (a room's series is removed when the room closes);
//! - everything else — players, rooms, connections, bytes, snapshots, kicks and handshake
//!   failures by reason — read at scrape time from the lock-free counters the hot paths
//!   already bump ([`ServerMetrics`], [`RoomStatus`](crate::room::RoomStatus)), by a collector. The hot paths do not
//!   pay for Prometheus at all.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::metrics::{process_rss_bytes, ServerMetrics};
use crate::room::{RoomStatus, RoomStatuses};

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

/// The Prometheus registry of one server.
#[derive(Debug)]
pub struct Telemetry {
    registry: Mutex<Registry>,
    tick_duration: Family<RoomLabel, Histogram>,
    sources: Arc<OnceLock<Sources>>,
}

/// What the collector reads at scrape time.
struct Sources {
    metrics: Arc<ServerMetrics>,
    rooms: Weak<dyn RoomStatuses>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Telemetry::new()
    }
}

impl Telemetry {
    pub fn new() -> Telemetry {
        let mut registry = Registry::default();
        let tick_duration =
            Family::<RoomLabel, Histogram>::new_with_constructor(new_tick_histogram as fn() -> _);
        registry.register(
            "ticksync_tick_duration_seconds",
            "Work time of one tick, per room",
            tick_duration.clone(),
        );
        let sources = Arc::new(OnceLock::new());
        registry.register_collector(Box::new(CounterCollector {
            sources: sources.clone(),
        }));
        Telemetry {
            registry: Mutex::new(registry),
            tick_duration,
            sources,
        }
    }

    /// Connects the collector to the counters it reports (once, when the server is built).
    pub fn attach(&self, metrics: Arc<ServerMetrics>, rooms: Arc<dyn RoomStatuses>) {
        let _ = self.sources.set(Sources {
            metrics,
            rooms: Arc::downgrade(&rooms),
        });
    }

    /// The tick-duration histogram of room `name`, for its tick loop to observe.
    pub fn room_tick_histogram(&self, name: &str) -> Histogram {
        self.tick_duration.get_or_create_owned(&RoomLabel {
            room: name.to_owned(),
        })
    }

    /// Drops a closed room's series.
    pub fn forget_room(&self, name: &str) {
        self.tick_duration.remove(&RoomLabel {
            room: name.to_owned(),
        });
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

/// Content type of [`Telemetry::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug)]
struct CounterCollector {
    sources: Arc<OnceLock<Sources>>,
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
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

/// One metric family: a sample of `metric(value)` per `(label value, value)` entry, labelled
/// `label`.
fn family<V, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    entries: impl IntoIterator<Item = (String, V)>,
    metric: impl Fn(V) -> M,
    kind: prometheus_client::metrics::MetricType,
) -> Result<(), std::fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (label_value, value) in entries {
        let labels = [(label, label_value.as_str())];
        metric(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One counter with a `reason` label per entry.
fn counter_by_reason(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: Vec<(String, u64)>,
) -> Result<(), std::fmt::Error> {
    let kind = ConstCounter::new(0u64).metric_type();
    family(
        encoder,
        name,
        help,
        "reason",
        values,
        ConstCounter::new,
        kind,
    )
}

impl Collector for CounterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(sources) = self.sources.get() else {
            return Ok(());
        };
        let m = &sources.metrics;
        let get = ServerMetrics::get;
        let e = &mut encoder;
        gauge(
            e,
            "ticksync_players",
            "Players in rooms, dropped players waiting to resume included",
            get(&m.players) as i64,
        )?;
        gauge(
            e,
            "ticksync_connections_open",
            "Open TCP connections",
            get(&m.connections_open) as i64,
        )?;
        let counters = [
            (
                "ticksync_connections_accepted",
                "TCP connections accepted",
                &m.connections_accepted,
            ),
            (
                "ticksync_connections_refused",
                "Connections closed at accept by the total or per-IP limit",
                &m.connections_refused,
            ),
            (
                "ticksync_bytes_in",
                "WebSocket payload bytes received",
                &m.bytes_in,
            ),
            (
                "ticksync_bytes_out",
                "WebSocket payload bytes sent",
                &m.bytes_out,
            ),
            (
                "ticksync_snapshots_sent",
                "Snapshots queued to sessions",
                &m.snapshots_sent,
            ),
            (
                "ticksync_snapshots_dropped",
                "Snapshots dropped because a client's queue was full",
                &m.snapshots_dropped,
            ),
            (
                "ticksync_inputs_dropped",
                "Inputs dropped (queue full or sequence already seen)",
                &m.inputs_dropped,
            ),
            (
                "ticksync_inputs_missed_tick",
                "Inputs that missed their tick (shared a tick with a newer input of their client)",
                &m.inputs_missed_tick,
            ),
            (
                "ticksync_messages_dropped",
                "Client messages dropped by the rate limit",
                &m.messages_dropped,
            ),
        ];
        for (name, help, value) in counters {
            counter(e, name, help, get(value))?;
        }
        counter_by_reason(
            e,
            "ticksync_kicks",
            "Sessions closed by the server for misbehaviour, by reason",
            vec![
                ("protocol".to_owned(), get(&m.kicks_protocol)),
                ("slow".to_owned(), get(&m.kicks_slow)),
                ("idle".to_owned(), get(&m.kicks_idle)),
                ("flood".to_owned(), get(&m.kicks_flood)),
            ],
        )?;
        counter_by_reason(
            e,
            "ticksync_disconnects",
            "Sessions ended, by reason",
            m.disconnects.snapshot(),
        )?;
        counter_by_reason(
            e,
            "ticksync_handshake_failures",
            "Connections that failed before a session started, by reason",
            m.handshake_failures_by_reason.snapshot(),
        )?;
        if let Some(rss) = process_rss_bytes() {
            gauge(
                e,
                "ticksync_resident_memory_bytes",
                "Resident set size of the server process",
                rss as i64,
            )?;
        }
        let Some(rooms) = sources.rooms.upgrade() else {
            return Ok(());
        };
        let statuses = rooms.statuses();
        gauge(e, "ticksync_rooms", "Open rooms", statuses.len() as i64)?;
        let per_room = |value: fn(&RoomStatus) -> u64| {
            statuses
                .iter()
                .map(move |status| (status.name.clone(), value(status)))
        };
        family(
            e,
            "ticksync_room_players",
            "Players per room",
            "room",
            per_room(|status| status.players.load(Ordering::Relaxed) as u64),
            |players| ConstGauge::new(players as i64),
            ConstGauge::new(0i64).metric_type(),
        )?;
        family(
            e,
            "ticksync_tick_overruns",
            "Ticks whose work took longer than the tick period, per room",
            "room",
            per_room(|status| status.overruns.load(Ordering::Relaxed)),
            ConstCounter::new,
            ConstCounter::new(0u64).metric_type(),
        )?;
        Ok(())
    }
}
