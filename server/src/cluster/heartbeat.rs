//! The lease keeper: every third of the lease, this node renews its registration and its
//! rooms' entries, publishing its load (players, rooms, worst tick p99) and each room's
//! players. Each renewal writes the whole entry, so after Redis lost its data or was
//! unreachable for longer than the lease, the next renewal registers the node again. A
//! draining node is unlisted from room queries at once and leaves the directory when its
//! last player is gone; a node shutting down leaves it before it stops.
//!
//! A node id names one live process: [`register`], at start, refuses a node id another live
//! process holds (see [`DuplicateNode`]), and a renewal never overwrites another process's
//! registration.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::placement::NodeLoad;
use super::redis_directory::{PublishedRoom, Renewal};
use super::Cluster;
use crate::drain::DrainHandle;
use crate::room::{RoomStatus, RoomStatuses};

/// How long after a seat's player joined its room's published count surely includes it.
const SETTLED_AFTER: std::time::Duration = std::time::Duration::from_millis(250);

/// Two live processes were given one node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[cluster] node_id {node:?} is already registered by another live node at {other_url}; give each node its own node_id (or stop the other one)")]
pub struct DuplicateNode {
    pub node: String,
    pub other_url: String,
}

/// This node's load as it publishes it.
fn node_load(cluster: &Cluster, statuses: &[Arc<RoomStatus>], draining: bool) -> NodeLoad {
    NodeLoad {
        id: cluster.node_id().to_owned(),
        url: cluster.settings.public_url.clone(),
        players: statuses
            .iter()
            .map(|room| room.players.load(Ordering::Relaxed))
            .sum(),
        rooms: statuses.len(),
        tick_p99_us: statuses
            .iter()
            .map(|room| room.tick_p99_us.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0),
        tick_budget_us: 1_000_000 / u64::from(cluster.tick_rate_hz.max(1)),
        max_players: cluster.settings.max_players,
        max_rooms: cluster.max_rooms,
        draining,
    }
}

/// Registers this node at start, before it serves anyone. A node id held by another process
/// is this node's only if that process is dead: its lease was renewed every third of the
/// lease while it lived, so this waits (at most a lease) until either the registration
/// expires — a crashed node restarted under its id; this one takes it over — or it is
/// renewed — a live node: [`DuplicateNode`]. With Redis unreachable the node starts anyway
/// (players in play must not depend on Redis) and the first renewal that reaches it
/// registers it, or finds the id held and keeps the node out of the directory.
pub async fn register(cluster: &Cluster, rooms: &dyn RoomStatuses) -> Result<(), DuplicateNode> {
    let poll = (cluster.settings.lease / 10).max(std::time::Duration::from_millis(50));
    let deadline =
        tokio::time::Instant::now() + cluster.settings.lease + cluster.settings.redis_timeout;
    let mut first_seen: Option<String> = None;
    loop {
        let node = node_load(cluster, &rooms.statuses(), false);
        let result = cluster.directory.heartbeat(&node, &[], &[], &[]).await;
        cluster.note(&result);
        let (url, renewed) = match result {
            Ok(Renewal::Renewed { .. }) => return Ok(()),
            Ok(Renewal::Held { url, renewed_ms }) => (url, renewed_ms),
            Err(error) => {
                cluster.metrics.lease_renewal_failed();
                tracing::warn!(node = cluster.node_id(), %error, "could not register in the cluster directory at start; serving anyway, the next renewal registers this node");
                return Ok(());
            }
        };
        let duplicate = DuplicateNode {
            node: cluster.node_id().to_owned(),
            other_url: url,
        };
        match &first_seen {
            None => {
                tracing::info!(node = cluster.node_id(), other = %duplicate.other_url, "this node id is registered by another process; waiting up to a lease to see whether it is alive");
                first_seen = Some(renewed);
            }
            // Renewed since: that process lives.
            Some(first) if *first != renewed => return Err(duplicate),
            Some(_) => {}
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(duplicate);
        }
        tokio::time::sleep(poll).await;
    }
}

/// Runs until `shutdown`, then removes this node from the directory.
pub async fn run(
    cluster: Arc<Cluster>,
    rooms: Arc<dyn RoomStatuses>,
    draining: DrainHandle,
    shutdown: CancellationToken,
) {
    let period = cluster.settings.lease / 3;
    let mut published: HashSet<String> = HashSet::new();
    let mut left = false;
    let mut settled: Vec<(String, String)> = Vec::new();
    // The URL of another live process holding this node id, once a renewal found one.
    let mut held_by: Option<String> = None;
    loop {
        // Seats whose players joined a while ago: the counts read next include them (a
        // room publishes its count in the tick that admits the player).
        settled.extend(cluster.settled_seats(SETTLED_AFTER));
        let statuses = rooms.statuses();
        let running: HashSet<String> = statuses.iter().map(|room| room.name.clone()).collect();
        cluster.forget_rooms_except(&|name| running.contains(name));
        let players: usize = statuses
            .iter()
            .map(|room| room.players.load(Ordering::Relaxed))
            .sum();
        let is_draining = draining.is_draining();
        if is_draining && players == 0 {
            if !left {
                let names: Vec<String> = published.union(&running).cloned().collect();
                let result = cluster.directory.leave(cluster.node_id(), &names).await;
                cluster.note(&result);
                if result.is_ok() {
                    tracing::info!(
                        node = cluster.node_id(),
                        "drained: this node left the cluster directory"
                    );
                    left = true;
                    published.clear();
                }
            }
        } else {
            left = false;
            let hosted = cluster.hosted_rooms();
            let node = node_load(&cluster, &statuses, is_draining);
            let entries: Vec<PublishedRoom> = statuses
                .iter()
                .map(|room| {
                    let hosted = hosted.get(&room.name);
                    let meta = hosted.map(|h| h.meta.clone()).unwrap_or_default();
                    PublishedRoom {
                        name: room.name.clone(),
                        players: room.players.load(Ordering::Relaxed),
                        capacity: room.capacity,
                        game: cluster.game.clone(),
                        meta: serde_json::to_string(&meta).unwrap_or_else(|_| "{}".to_owned()),
                        private: hosted.is_some_and(|h| h.private),
                        idx: cluster.directory.index_keys(&meta),
                    }
                })
                .collect();
            let gone: Vec<String> = published.difference(&running).cloned().collect();
            let result = cluster
                .directory
                .heartbeat(&node, &entries, &gone, &settled)
                .await;
            cluster.note(&result);
            match result {
                Ok(Renewal::Renewed { conflicts }) => {
                    held_by = None;
                    settled.clear();
                    published = running;
                    for room in conflicts {
                        tracing::warn!(node = cluster.node_id(), room, "another live node holds this room in the directory; this node's copy is not listed");
                    }
                }
                Ok(Renewal::Held { url, .. }) => {
                    cluster.metrics.lease_renewal_failed();
                    if held_by.as_ref() != Some(&url) {
                        tracing::error!(
                            node = cluster.node_id(),
                            other = %url,
                            "{}; this node stays out of the directory (its players play on) until that node is gone",
                            DuplicateNode { node: cluster.node_id().to_owned(), other_url: url.clone() }
                        );
                    }
                    held_by = Some(url);
                }
                Err(_) => cluster.metrics.lease_renewal_failed(),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = shutdown.cancelled() => break,
        }
    }
    let mut names: Vec<String> = published.into_iter().collect();
    names.extend(rooms.statuses().iter().map(|room| room.name.clone()));
    let result = cluster.directory.leave(cluster.node_id(), &names).await;
    match result {
        Ok(()) => tracing::info!(node = cluster.node_id(), "left the cluster directory"),
        Err(error) => {
            tracing::warn!(node = cluster.node_id(), %error, "could not leave the cluster directory; its entries expire with their lease")
        }
    }
}
