//! The composition root's split of the configuration: each layer gets only the settings it
//! needs, built once here from [`ServerConfig`] — the room layer its [`RoomDefaults`], the
//! network layer its [`SessionLimits`] and [`AdmissionPolicy`], the cluster its
//! [`NodeSettings`].

use crate::cluster::NodeSettings;
use crate::config::ServerConfig;
use crate::net::{AdmissionPolicy, SessionLimits};
use crate::room::{RoomConfig, RoomDefaults};

/// The bounds of connections and sessions.
pub fn session_limits(config: &ServerConfig) -> SessionLimits {
    SessionLimits {
        max_connections: config.max_connections,
        socket_send_buffer_bytes: config.socket_send_buffer_bytes,
        handshake_timeout: config.handshake_timeout,
        max_message_bytes: config.max_message_bytes,
        input_queue_capacity: config.input_queue_capacity,
        outbound_queue_capacity: config.outbound_queue_capacity,
        max_messages_per_second: config.max_messages_per_second,
        flood_timeout: config.flood_timeout,
        max_game_messages_per_second: config.max_game_messages_per_second,
        idle_timeout: config.idle_timeout,
    }
}

/// The admission checks of an upgrade.
pub fn admission_policy(config: &ServerConfig) -> AdmissionPolicy {
    AdmissionPolicy {
        default_room: config.default_room.clone(),
        allowed_origins: config.allowed_origins.clone(),
        require_origin: config.require_origin,
        token_secret: config.token_secret.clone(),
    }
}

/// This node's cluster settings and the caps it publishes; `None` without `[cluster]`.
pub fn node_settings(config: &ServerConfig) -> Option<NodeSettings> {
    config.cluster.as_ref().map(|cluster| NodeSettings {
        cluster: cluster.clone(),
        room_capacity: config.max_players,
        max_rooms: config.max_rooms,
        tick_rate_hz: config.tick_rate_hz,
    })
}

/// What the room directory opens rooms with.
pub fn room_defaults(config: &ServerConfig) -> RoomDefaults {
    RoomDefaults {
        default_room: config.default_room.clone(),
        open_default_room: config.cluster.is_none(),
        max_rooms: config.max_rooms,
        empty_room_timeout: config.empty_room_timeout,
        room: room_config(config),
        named_rooms: config
            .rooms
            .keys()
            .map(|name| (name.clone(), room_config(&config.room_config(name))))
            .collect(),
    }
}

/// The room settings of `config` (a room's own, once `ServerConfig::room_config` applied its
/// section).
fn room_config(config: &ServerConfig) -> RoomConfig {
    RoomConfig {
        tick_rate_hz: config.tick_rate_hz,
        max_players: config.max_players,
        max_inputs_per_tick: config.max_inputs_per_tick,
        max_game_messages_per_tick: config.max_game_messages_per_tick,
        slow_client_timeout: config.slow_client_timeout,
        resume_grace: config.resume_grace,
        stats_interval: config.stats_interval,
        aoi_radius: config.aoi_radius,
        aoi_max_entities: config.aoi_max_entities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RoomOverrides;

    #[test]
    fn a_named_room_gets_its_section_on_top_of_the_server_wide_settings() {
        let mut config = ServerConfig {
            tick_rate_hz: 20,
            max_players: 50,
            ..ServerConfig::default()
        };
        config.rooms.insert(
            "duel".to_owned(),
            RoomOverrides {
                max_players: Some(2),
                ..RoomOverrides::default()
            },
        );
        let defaults = room_defaults(&config);
        assert_eq!(defaults.room_config("lobby").max_players, 50);
        let duel = defaults.room_config("duel");
        assert_eq!((duel.max_players, duel.tick_rate_hz), (2, 20));
        assert_eq!(defaults.default_room, config.default_room);
        assert!(defaults.open_default_room);
    }
}
