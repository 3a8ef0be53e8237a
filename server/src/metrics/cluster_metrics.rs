//! The figures of a cluster node, each declared once like [`super::ServerMetrics`]'s: the
//! matchmaker's requests by action and outcome and how long they took, whether Redis
//! answers, failed lease renewals, and the seats the upgrade took or refused. Only a node
//! with `[cluster]` settings has them: they are registered on `/metrics` when the node joins
//! a cluster ([`super::Exposition::register_cluster`]), so a single server shows none.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::labels::{Action, MatchAction, MatchLabels, MatchOutcome, Reason, RefusalReason};

/// Matchmaking latency buckets: 250 µs doubling to about 2 s, which brackets one Redis round
/// trip on loopback up to the default `redis_timeout`.
fn matchmaking_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_25, 2.0, 14)
}

fn new_matchmaking_histogram() -> Histogram {
    Histogram::new(matchmaking_buckets())
}

/// The counters and gauges of this node's part in a cluster. Clones share their values.
#[derive(Debug, Clone)]
pub struct ClusterMetrics {
    /// Matchmaker requests, by what they asked for and how they ended.
    requests: Family<MatchLabels, Counter>,
    /// How long the matchmaker took to answer a well-formed request (its Redis work and the
    /// seat's signature; not the time the client took to send its body), by action.
    latency: Family<Action, Histogram>,
    /// 1 while the last call to Redis succeeded, else 0.
    redis_reachable: Gauge,
    /// Lease renewals (heartbeats) that failed: Redis unreachable or erring.
    lease_renewals_failed: Counter,
    /// Seats taken at the WebSocket upgrade.
    seats_redeemed: Counter,
    /// Seats refused at the WebSocket upgrade, and joins without a seat for a room this node
    /// does not run, by reason.
    seats_refused: Family<Reason<RefusalReason>, Counter>,
}

impl Default for ClusterMetrics {
    fn default() -> Self {
        ClusterMetrics::new()
    }
}

impl ClusterMetrics {
    pub fn new() -> ClusterMetrics {
        let metrics = ClusterMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(new_matchmaking_histogram as fn() -> _),
            redis_reachable: Gauge::default(),
            lease_renewals_failed: Counter::default(),
            seats_redeemed: Counter::default(),
            seats_refused: Family::default(),
        };
        // The success series exist from the start, at 0, so a rate over them is defined
        // before the first request.
        for (action, outcome) in [
            (MatchAction::Join, MatchOutcome::Seated),
            (MatchAction::Create, MatchOutcome::Seated),
            (MatchAction::JoinOrCreate, MatchOutcome::Seated),
            (MatchAction::Rooms, MatchOutcome::Listed),
        ] {
            let _ = metrics
                .requests
                .get_or_create(&MatchLabels { action, outcome });
        }
        metrics
    }

    /// Registers every metric of a cluster node on the page, by its name and help text.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "ticksync_matchmaking_requests",
            "Matchmaker requests on this node, by action and outcome",
            self.requests.clone(),
        );
        registry.register(
            "ticksync_matchmaking_duration_seconds",
            "Time this node's matchmaker took to answer a well-formed request, by action",
            self.latency.clone(),
        );
        registry.register(
            "ticksync_cluster_redis_reachable",
            "1 while the last call to the cluster's Redis succeeded, else 0",
            self.redis_reachable.clone(),
        );
        registry.register(
            "ticksync_cluster_lease_renewals_failed",
            "Renewals of this node's lease in Redis that failed",
            self.lease_renewals_failed.clone(),
        );
        registry.register(
            "ticksync_cluster_seats_redeemed",
            "Seat tokens this node took at the WebSocket upgrade",
            self.seats_redeemed.clone(),
        );
        registry.register(
            "ticksync_cluster_seats_refused",
            "Joins this node refused at the WebSocket upgrade for their seat, by reason",
            self.seats_refused.clone(),
        );
    }

    /// Counts a matchmaker request.
    pub fn matchmaking(&self, action: MatchAction, outcome: MatchOutcome) {
        self.requests
            .get_or_create(&MatchLabels { action, outcome })
            .inc();
    }

    /// Records how long a well-formed matchmaker request took to answer.
    pub fn matchmaking_took(&self, action: MatchAction, took: Duration) {
        self.latency
            .get_or_create(&Action(action))
            .observe(took.as_secs_f64());
    }

    /// Sets whether Redis answered the last call; returns whether it had answered the one
    /// before.
    pub fn set_redis_reachable(&self, reachable: bool) -> bool {
        self.redis_reachable.set(i64::from(reachable)) == 1
    }

    /// Whether Redis answered the last call.
    pub fn redis_reachable(&self) -> bool {
        self.redis_reachable.get() == 1
    }

    /// Counts a failed lease renewal.
    pub fn lease_renewal_failed(&self) {
        self.lease_renewals_failed.inc();
    }

    /// Counts a seat taken at the upgrade.
    pub fn seat_redeemed(&self) {
        self.seats_redeemed.inc();
    }

    /// Counts a seat refused at the upgrade.
    pub fn seat_refused(&self, reason: RefusalReason) {
        self.seats_refused.get_or_create(&Reason(reason)).inc();
    }

    /// The count of matchmaker requests for `action` that ended with `outcome`.
    pub fn requests(&self, action: MatchAction, outcome: MatchOutcome) -> u64 {
        self.requests
            .get(&MatchLabels { action, outcome })
            .map_or(0, |counter| counter.get())
    }

    /// Seats taken, and refused for `reason`.
    pub fn seats(&self, refused: RefusalReason) -> (u64, u64) {
        let refusals = self
            .seats_refused
            .get(&Reason(refused))
            .map_or(0, |counter| counter.get());
        (self.seats_redeemed.get(), refusals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_count_apart_and_render_with_their_labels() {
        let metrics = ClusterMetrics::new();
        metrics.matchmaking(MatchAction::JoinOrCreate, MatchOutcome::Seated);
        metrics.matchmaking(MatchAction::Join, MatchOutcome::NoNode);
        metrics.matchmaking(MatchAction::Join, MatchOutcome::NoNode);
        metrics.matchmaking_took(MatchAction::Join, Duration::from_millis(3));
        assert!(!metrics.set_redis_reachable(true));
        assert!(metrics.set_redis_reachable(false));
        metrics.lease_renewal_failed();
        metrics.seat_redeemed();
        metrics.seat_refused(RefusalReason::SeatUsed);
        assert_eq!(metrics.requests(MatchAction::Join, MatchOutcome::NoNode), 2);
        assert_eq!(metrics.requests(MatchAction::Join, MatchOutcome::Seated), 0);
        assert_eq!(metrics.seats(RefusalReason::SeatUsed), (1, 1));
        assert!(!metrics.redis_reachable());

        let mut registry = Registry::default();
        metrics.register(&mut registry);
        let mut page = String::new();
        prometheus_client::encoding::text::encode(&mut page, &registry).unwrap();
        for line in [
            "ticksync_matchmaking_requests_total{action=\"join_or_create\",outcome=\"seated\"} 1",
            "ticksync_matchmaking_requests_total{action=\"join\",outcome=\"no_node\"} 2",
            "ticksync_matchmaking_requests_total{action=\"rooms\",outcome=\"listed\"} 0",
            "ticksync_matchmaking_duration_seconds_count{action=\"join\"} 1",
            "ticksync_cluster_redis_reachable 0",
            "ticksync_cluster_lease_renewals_failed_total 1",
            "ticksync_cluster_seats_redeemed_total 1",
            "ticksync_cluster_seats_refused_total{reason=\"seat_used\"} 1",
        ] {
            assert!(page.lines().any(|l| l == line), "no {line:?} in\n{page}");
        }
    }
}
