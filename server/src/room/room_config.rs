//! What the room layer takes from the configuration, and nothing more: [`RoomConfig`], one
//! room's settings in the configuration's units, and [`RoomDefaults`], what the directory
//! needs to open rooms (the server-wide room settings, each named room's own, the default
//! room, the room limit). The composition root builds them once from the server's
//! configuration (`crate::layer_settings`); a room turns its `RoomConfig` into the
//! [`RoomSettings`](super::RoomSettings) it runs with, in ticks and position units.

use std::collections::BTreeMap;
use std::time::Duration;

/// One room's settings, as configured (durations, world units).
#[derive(Debug, Clone, PartialEq)]
pub struct RoomConfig {
    pub tick_rate_hz: u16,
    pub max_players: usize,
    pub max_inputs_per_tick: usize,
    pub max_game_messages_per_tick: usize,
    /// How long a member may stay behind before it is disconnected.
    pub slow_client_timeout: Duration,
    /// How long a dropped player's entity waits for a `Resume`.
    pub resume_grace: Duration,
    pub stats_interval: Duration,
    /// Area of interest radius in world units; `None`: everyone sees everyone.
    pub aoi_radius: Option<u32>,
    pub aoi_max_entities: Option<usize>,
}

/// What the room directory opens rooms with.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomDefaults {
    /// The room a client joins without naming one; it never retires.
    pub default_room: String,
    /// Whether the directory opens the default room at start (not in a cluster, where the
    /// matchmaker places every room).
    pub open_default_room: bool,
    /// Rooms open at once at most.
    pub max_rooms: usize,
    /// How long a room other than the default one stays open while empty.
    pub empty_room_timeout: Duration,
    /// The settings of a room without a section of its own.
    pub room: RoomConfig,
    /// The settings of the rooms the configuration names (`[rooms.NAME]`), overrides applied.
    pub named_rooms: BTreeMap<String, RoomConfig>,
}

impl RoomDefaults {
    /// The settings of room `name`: its own section's, else the server-wide ones.
    pub fn room_config(&self, name: &str) -> &RoomConfig {
        self.named_rooms.get(name).unwrap_or(&self.room)
    }
}
