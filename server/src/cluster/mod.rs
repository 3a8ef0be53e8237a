//! Many server processes (nodes) sharing one room directory in Redis, with a matchmaker on
//! every node. Without `[cluster]` settings none of this runs: the server is one node with
//! its rooms in memory ([`crate::room::RoomDirectory`]).
//!
//! - [`settings`]: the `[cluster]` table.
//! - [`redis_directory`]: node registrations and room entries as leases in Redis (a node
//!   that dies vanishes within its lease), the indexes room queries read, and the atomic
//!   seat reservation (one room per name or filters, even when matchmakers race).
//! - [`placement`]: which node a new room goes to (least loaded, within caps).
//! - [`seat`]: the signed, short-lived, single-use seat tokens a node admits players with.
//! - [`heartbeat`]: the task that renews this node's lease and publishes its load and rooms,
//!   re-registers after Redis comes back, and leaves the directory when drained.
//! - [`matchmaking`]: the requests the matchmaker answers (the HTTP side is
//!   `net::matchmake`).

pub(crate) mod heartbeat;
pub(crate) mod matchmaking;
mod placement;
mod redis_directory;
mod seat;
mod settings;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::config::Secret;
use crate::metrics::ClusterMetrics;
use redis_directory::{DirectoryError, RedisDirectory};
use seat::{SeatClaims, SeatLedger, SeatRefusal};
pub use settings::{ClusterSettings, SEAT_SECRET_ENV};

/// What this node remembers of a room it was given seats for: what it publishes with it.
#[derive(Debug, Clone)]
pub(crate) struct HostedRoom {
    pub meta: BTreeMap<String, String>,
    pub private: bool,
    /// When the last seat for it was taken; a room not running yet is kept this long.
    pub seated_at: Instant,
}

/// This node's part in the cluster, shared by the matchmaker, the upgrade and the heartbeat.
pub(crate) struct Cluster {
    pub settings: ClusterSettings,
    secret: Secret,
    pub directory: RedisDirectory,
    ledger: SeatLedger,
    /// The game's name: rooms of other games in the same Redis are apart.
    pub game: String,
    /// Players per room, rooms per node, tick rate: this node's caps.
    pub room_capacity: usize,
    pub max_rooms: usize,
    pub tick_rate_hz: u16,
    hosted: Mutex<HashMap<String, HostedRoom>>,
    /// Seat accounting, see [`Cluster::joined`].
    seats: Mutex<SeatsInFlight>,
    /// The node's cluster figures on `/metrics` (Redis reachable among them).
    pub metrics: ClusterMetrics,
}

/// What this node's part in the cluster is built from, once, at the composition root: the
/// `[cluster]` table and the caps this node publishes with its load.
#[derive(Debug, Clone)]
pub(crate) struct NodeSettings {
    pub cluster: ClusterSettings,
    /// Players per room.
    pub room_capacity: usize,
    /// Rooms this node runs at most.
    pub max_rooms: usize,
    /// The tick rate of this node's rooms.
    pub tick_rate_hz: u16,
}

impl Cluster {
    /// This node's cluster membership; the error says which setting to fix.
    pub fn join(node: NodeSettings, game: &str) -> Result<Arc<Cluster>, String> {
        let settings = node.cluster;
        settings.check()?;
        let secret = settings.resolve_seat_secret()?;
        let directory = RedisDirectory::new(&settings, game).map_err(|error| error.to_string())?;
        Ok(Arc::new(Cluster {
            settings,
            secret,
            directory,
            ledger: SeatLedger::default(),
            game: game.to_owned(),
            room_capacity: node.room_capacity,
            max_rooms: node.max_rooms,
            tick_rate_hz: node.tick_rate_hz,
            hosted: Mutex::new(HashMap::new()),
            seats: Mutex::default(),
            metrics: ClusterMetrics::new(),
        }))
    }

    pub fn node_id(&self) -> &str {
        &self.settings.node_id
    }

    /// Records the outcome of a call to Redis, logging when reachability changes.
    pub(crate) fn note<T>(&self, result: &Result<T, DirectoryError>) {
        let ok = result.is_ok();
        let was = self.metrics.set_redis_reachable(ok);
        match (was, result) {
            (false, Ok(_)) => tracing::info!(
                node = self.node_id(),
                "cluster directory reachable; this node is registered"
            ),
            (true, Err(error)) => {
                tracing::warn!(node = self.node_id(), %error, "cluster directory lost: players in play go on, matchmaking answers 503 until it is back")
            }
            _ => {}
        }
    }

    fn hosted(&self) -> MutexGuard<'_, HashMap<String, HostedRoom>> {
        self.hosted
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What this node remembers of its rooms.
    pub fn hosted_rooms(&self) -> HashMap<String, HostedRoom> {
        self.hosted().clone()
    }

    /// Forgets rooms that neither run here nor had a seat taken within a seat's lifetime.
    pub fn forget_rooms_except(&self, running: &dyn Fn(&str) -> bool) {
        let ttl = self.settings.seat_ttl;
        self.hosted()
            .retain(|name, room| running(name) || room.seated_at.elapsed() < ttl);
    }

    /// Signs a seat.
    pub fn mint_seat(&self, claims: &SeatClaims) -> Result<String, String> {
        seat::mint(&self.secret, claims)
    }

    /// Admission in a cluster, checked before the WebSocket upgrade: a request with
    /// `seat=` must carry a valid, unused seat for this node and its `room=`; one without
    /// may only join a room this node already hosts (a player resuming after a drop).
    pub fn admit(
        self: &Arc<Self>,
        room: &str,
        seat_token: Option<&str>,
        hosts: impl Fn(&str) -> bool,
    ) -> Result<(), SeatRefusal> {
        let claims = match self.check_seat(room, seat_token, hosts) {
            Ok(Some(claims)) => claims,
            Ok(None) => return Ok(()),
            Err(refusal) => {
                self.metrics.seat_refused(refusal.label());
                return Err(refusal);
            }
        };
        self.metrics.seat_redeemed();
        self.hosted().insert(
            claims.room.clone(),
            HostedRoom {
                meta: claims.meta,
                private: claims.private,
                seated_at: Instant::now(),
            },
        );
        self.lock_seats()
            .admitted(&claims.room, claims.jti, claims.exp);
        Ok(())
    }

    /// The claims of a valid seat taken now; `None` for a join without a seat into a room
    /// this node runs.
    fn check_seat(
        &self,
        room: &str,
        seat_token: Option<&str>,
        hosts: impl Fn(&str) -> bool,
    ) -> Result<Option<SeatClaims>, SeatRefusal> {
        let Some(token) = seat_token else {
            return if hosts(room) {
                Ok(None)
            } else {
                Err(SeatRefusal::NoSeat {
                    room: room.to_owned(),
                })
            };
        };
        let claims = seat::verify(&self.secret, token, self.node_id(), room)?;
        if !self.ledger.take(&claims.jti, claims.exp) {
            return Err(SeatRefusal::Used);
        }
        Ok(Some(claims))
    }

    fn lock_seats(&self) -> MutexGuard<'_, SeatsInFlight> {
        self.seats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A player who came with a seat joined `room`. One of the room's admitted seats stops
    /// counting as reserved at the next renewal, once the room's published player count
    /// includes the player: a seat counts exactly once, as reserved or as a player, and
    /// racing reservations never fill a room past its capacity.
    pub fn joined(&self, room: &str) {
        self.lock_seats().joined(room);
    }

    /// Seats whose players joined at least `settled` ago, as (room, seat id), forgotten here.
    pub fn settled_seats(&self, settled: std::time::Duration) -> Vec<(String, String)> {
        self.lock_seats().settled(settled)
    }
}

/// Seats this node admitted: waiting for their player's join, then joined and waiting for
/// the room's published count to include the player.
#[derive(Debug, Default)]
struct SeatsInFlight {
    /// Per room, seat ids with their expiry (Unix seconds).
    admitted: HashMap<String, VecDeque<(String, u64)>>,
    joined: Vec<(String, String, Instant)>,
}

impl SeatsInFlight {
    fn admitted(&mut self, room: &str, jti: String, exp: u64) {
        let now = seat::unix_now();
        let queue = self.admitted.entry(room.to_owned()).or_default();
        // Seats whose player never joined (a failed handshake) expire from the directory by
        // themselves; here too.
        queue.retain(|(_, expiry)| *expiry >= now);
        queue.push_back((jti, exp));
    }

    fn joined(&mut self, room: &str) {
        // Any seat of the room will do: they count alike.
        if let Some(queue) = self.admitted.get_mut(room) {
            if let Some((jti, _)) = queue.pop_front() {
                self.joined.push((room.to_owned(), jti, Instant::now()));
            }
            if queue.is_empty() {
                self.admitted.remove(room);
            }
        }
    }

    fn settled(&mut self, settled: std::time::Duration) -> Vec<(String, String)> {
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.joined)
            .into_iter()
            .partition(|(_, _, at)| at.elapsed() >= settled);
        self.joined = waiting;
        done.into_iter().map(|(room, jti, _)| (room, jti)).collect()
    }
}
