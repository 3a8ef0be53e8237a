//! The rooms of one server: created on first join (up to `max_rooms`), each running its own
//! tick loop on its own task, and retired after staying empty for `empty_room_timeout`.
//!
//! The directory only maps names to [`RoomHandle`]s; it never touches a room's state. A room
//! retires itself: when it has been empty long enough it asks the directory to unlist it
//! and, only if that succeeded, refuses whatever joins are still queued with
//! [`super::JoinRefused::RoomClosed`] and stops. A session refused that way (or one whose
//! join found the queue already closed) asks the directory again and gets a fresh room — so
//! a join never lands in a room that is going away.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use serde::Serialize;
use ticksync_protocol::{Replicated, Schema};

use super::{RoomDefaults, RoomHandle, RoomSettings, TickSummary};

/// Live figures of one room, written by its tick loop and read by `GET /rooms` and
/// `/metrics` (a room's overruns are counted in its metric series, see
/// [`RoomSeries`](crate::metrics::RoomSeries)).
#[derive(Debug)]
pub struct RoomStatus {
    pub name: String,
    pub capacity: usize,
    pub tick_rate_hz: u16,
    /// Players in the room, dropped players waiting to resume included.
    pub players: AtomicUsize,
    /// 99th percentile of tick work time over the last reporting window, in µs.
    pub tick_p99_us: AtomicU64,
    /// 99th percentile of how late ticks started after their due time since the room
    /// started, in µs: what a busy neighbour costs this room.
    pub tick_late_p99_us: AtomicU64,
}

impl RoomStatus {
    pub fn new(name: &str, settings: &RoomSettings) -> RoomStatus {
        RoomStatus {
            name: name.to_owned(),
            capacity: settings.max_players,
            tick_rate_hz: settings.tick_rate_hz,
            players: AtomicUsize::new(0),
            tick_p99_us: AtomicU64::new(0),
            tick_late_p99_us: AtomicU64::new(0),
        }
    }

    /// The room as `GET /rooms` lists it.
    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            name: self.name.clone(),
            players: self.players.load(Ordering::Relaxed),
            capacity: self.capacity,
            tick_rate_hz: self.tick_rate_hz,
            tick_p99_ms: self.tick_p99_us.load(Ordering::Relaxed) as f64 / 1000.0,
            tick_late_p99_ms: self.tick_late_p99_us.load(Ordering::Relaxed) as f64 / 1000.0,
        }
    }
}

/// One entry of `GET /rooms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomInfo {
    pub name: String,
    pub players: usize,
    pub capacity: usize,
    pub tick_rate_hz: u16,
    /// Tick work time, 99th percentile over the last stats interval, in milliseconds.
    pub tick_p99_ms: f64,
    /// How late ticks started after their due time, 99th percentile since the room
    /// started, in milliseconds.
    pub tick_late_p99_ms: f64,
}

/// Why no room could be found or made for a join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoRoom {
    #[error(
        "room {name:?} does not exist and the server already runs its maximum of {max_rooms} rooms"
    )]
    LimitReached { name: String, max_rooms: usize },
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("could not start room {name:?}: {reason}")]
    StartFailed { name: String, reason: String },
}

/// Starts a room's task: called by the directory, under its lock, with the room's name, its
/// settings, its status to publish into, and the lifecycle the room retires itself with.
pub type RoomStarter<S> =
    dyn Fn(RoomLaunch) -> Result<RoomHandle<S>, String> + Send + Sync + 'static;

/// Everything a new room needs from the directory.
pub struct RoomLaunch {
    pub name: String,
    pub settings: RoomSettings,
    pub status: Arc<RoomStatus>,
    pub lifecycle: RoomLifecycle,
}

/// The live figures of every room, whatever the game: what `/metrics` reads.
pub trait RoomStatuses: Send + Sync {
    fn statuses(&self) -> Vec<Arc<RoomStatus>>;
}

impl<S: Schema> RoomStatuses for RoomDirectory<S> {
    fn statuses(&self) -> Vec<Arc<RoomStatus>> {
        RoomDirectory::statuses(self)
    }
}

/// What a room's lifecycle reaches in its directory, whatever the game.
trait Entries: Send + Sync {
    fn unlist(&self, name: &str, id: u64) -> bool;
    fn record_finished(&self, name: String, summary: TickSummary);
}

/// How a room leaves the directory.
#[derive(Clone)]
pub struct RoomLifecycle {
    directory: Weak<dyn Entries>,
    name: String,
    id: u64,
    /// `None`: the room is permanent (the default room).
    pub close_when_empty_for: Option<std::time::Duration>,
}

impl RoomLifecycle {
    /// Unlists the room. `false` when it was already unlisted or replaced, in which case the
    /// room must not accept anyone any more either.
    pub fn retire(&self) -> bool {
        self.directory
            .upgrade()
            .is_some_and(|directory| directory.unlist(&self.name, self.id))
    }

    /// Records the room's final figures for the server's summary.
    pub fn finished(&self, summary: TickSummary) {
        if let Some(directory) = self.directory.upgrade() {
            directory.record_finished(self.name.clone(), summary);
        }
    }
}

impl std::fmt::Debug for RoomLifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomLifecycle")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("close_when_empty_for", &self.close_when_empty_for)
            .finish()
    }
}

struct ListedRoom<S: Schema> {
    id: u64,
    handle: RoomHandle<S>,
}

/// Every room of the server, by name.
pub struct RoomDirectory<S: Schema> {
    rooms: Mutex<HashMap<String, ListedRoom<S>>>,
    /// Final figures of the rooms that stopped most recently, at most `max_rooms` of them:
    /// every room open at shutdown (the default room among them) fits, and a server that
    /// churns through rooms for months does not keep a line for each.
    finished: Mutex<VecDeque<(String, TickSummary)>>,
    next_id: AtomicU64,
    defaults: RoomDefaults,
    starter: Box<RoomStarter<S>>,
    /// Called with a room's name when it is unlisted, under the directory's lock, so a room
    /// of the same name created right after starts afresh (e.g. its metric series).
    on_unlist: Box<dyn Fn(&str) + Send + Sync>,
    closed: std::sync::atomic::AtomicBool,
}

impl<S: Schema> Entries for RoomDirectory<S> {
    fn unlist(&self, name: &str, id: u64) -> bool {
        RoomDirectory::unlist(self, name, id)
    }

    fn record_finished(&self, name: String, summary: TickSummary) {
        RoomDirectory::record_finished(self, name, summary);
    }
}

impl<S: Schema> RoomDirectory<S> {
    /// A directory that starts rooms with `starter`; the default room is started right away
    /// and never retires.
    pub fn new(
        defaults: RoomDefaults,
        starter: Box<RoomStarter<S>>,
        on_unlist: Box<dyn Fn(&str) + Send + Sync>,
    ) -> Result<Arc<RoomDirectory<S>>, NoRoom> {
        let directory = Arc::new(RoomDirectory {
            rooms: Mutex::new(HashMap::new()),
            finished: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(1),
            defaults,
            starter,
            on_unlist,
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        // In a cluster every room, the default one too, is placed by the matchmaker.
        if directory.defaults.open_default_room {
            let default_room = directory.defaults.default_room.clone();
            directory.handle_for(&default_room)?;
        }
        Ok(directory)
    }

    /// The room called `name`, started now if it does not exist yet.
    pub fn handle_for(self: &Arc<Self>, name: &str) -> Result<RoomHandle<S>, NoRoom> {
        if self.closed.load(Ordering::Relaxed) {
            return Err(NoRoom::ShuttingDown);
        }
        let mut rooms = self.lock_rooms();
        if let Some(listed) = rooms.get(name) {
            return Ok(listed.handle.clone());
        }
        if rooms.len() >= self.defaults.max_rooms {
            return Err(NoRoom::LimitReached {
                name: name.to_owned(),
                max_rooms: self.defaults.max_rooms,
            });
        }
        let position_scale = S::Entity::description().position_scale;
        let settings = RoomSettings::for_room(self.defaults.room_config(name), position_scale);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let permanent = name == self.defaults.default_room;
        let launch = RoomLaunch {
            name: name.to_owned(),
            status: Arc::new(RoomStatus::new(name, &settings)),
            settings,
            lifecycle: RoomLifecycle {
                directory: {
                    let entries: Arc<dyn Entries> = self.clone();
                    Arc::downgrade(&entries)
                },
                name: name.to_owned(),
                id,
                close_when_empty_for: (!permanent).then_some(self.defaults.empty_room_timeout),
            },
        };
        let handle = (self.starter)(launch).map_err(|reason| NoRoom::StartFailed {
            name: name.to_owned(),
            reason,
        })?;
        // At debug: anyone can open a room by naming it.
        tracing::debug!(room = name, rooms = rooms.len() + 1, "room created");
        rooms.insert(
            name.to_owned(),
            ListedRoom {
                id,
                handle: handle.clone(),
            },
        );
        Ok(handle)
    }

    fn unlist(&self, name: &str, id: u64) -> bool {
        let mut rooms = self.lock_rooms();
        if rooms.get(name).is_some_and(|listed| listed.id == id) {
            rooms.remove(name);
            (self.on_unlist)(name);
            tracing::debug!(room = name, rooms = rooms.len(), "empty room closed");
            true
        } else {
            false
        }
    }

    /// Whether room `name` is open here.
    pub fn hosts(&self, name: &str) -> bool {
        self.lock_rooms().contains_key(name)
    }

    /// Every open room, sorted by name.
    pub fn list(&self) -> Vec<RoomInfo> {
        let mut rooms: Vec<RoomInfo> = self
            .lock_rooms()
            .values()
            .map(|listed| listed.handle.status.info())
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        rooms
    }

    /// The live status of every open room.
    pub fn statuses(&self) -> Vec<Arc<RoomStatus>> {
        self.lock_rooms()
            .values()
            .map(|listed| listed.handle.status.clone())
            .collect()
    }

    /// Refuses new rooms from now on (shutdown); open rooms stop on the shutdown token.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Final figures of the rooms that stopped, in the order they stopped: the last
    /// `max_rooms` of them (so at shutdown, every room that was open).
    pub fn finished_rooms(&self) -> Vec<(String, TickSummary)> {
        self.lock_finished().iter().cloned().collect()
    }

    fn record_finished(&self, name: String, summary: TickSummary) {
        let mut finished = self.lock_finished();
        while finished.len() >= self.defaults.max_rooms {
            finished.pop_front();
        }
        finished.push_back((name, summary));
    }

    // A panic while holding these locks cannot leave the maps half-updated (every critical
    // section is a single insert, remove or read), so a poisoned lock is still usable.
    fn lock_rooms(&self) -> MutexGuard<'_, HashMap<String, ListedRoom<S>>> {
        self.rooms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_finished(&self) -> MutexGuard<'_, VecDeque<(String, TickSummary)>> {
        self.finished
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync_protocol::testing::TokenSchema;
    use tokio::sync::mpsc;

    /// A directory whose rooms are handles with nobody behind them.
    fn directory(max_rooms: usize) -> Arc<RoomDirectory<TokenSchema>> {
        let config = crate::layer_settings::room_defaults(&crate::ServerConfig {
            max_rooms,
            ..crate::ServerConfig::default()
        });
        let starter = |launch: RoomLaunch| {
            let (joins, _) = mpsc::channel(1);
            Ok(RoomHandle {
                joins,
                current_tick: Arc::default(),
                status: launch.status,
            })
        };
        RoomDirectory::new(config, Box::new(starter), Box::new(|_: &str| {})).unwrap()
    }

    #[test]
    fn the_finished_rooms_are_bounded_by_the_room_limit() {
        let directory = directory(3);
        for i in 0..1_000u64 {
            let entries: Arc<dyn Entries> = directory.clone();
            let lifecycle = RoomLifecycle {
                directory: Arc::downgrade(&entries),
                name: format!("room-{i}"),
                id: i,
                close_when_empty_for: None,
            };
            let summary = TickSummary {
                ticks: i,
                ..TickSummary::default()
            };
            lifecycle.finished(summary);
        }
        let finished = directory.finished_rooms();
        let names: Vec<&str> = finished.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["room-997", "room-998", "room-999"]);
    }
}
