//! What the network layer takes from the configuration, and nothing more, built once at the
//! composition root (`crate::layer_settings`): [`SessionLimits`], the bounds every
//! connection and session runs under, and [`AdmissionPolicy`], what an upgrade must show to
//! be let in.

use std::time::Duration;

use crate::config::Secret;

/// The bounds of connections and sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLimits {
    /// Connections open at once at most.
    pub max_connections: usize,
    /// `SO_SNDBUF` of each accepted socket.
    pub socket_send_buffer_bytes: usize,
    /// Time from accept to `Welcome`.
    pub handshake_timeout: Duration,
    /// Largest WebSocket message (and frame) read.
    pub max_message_bytes: usize,
    /// Inputs and game messages queued from a session to its room.
    pub input_queue_capacity: usize,
    /// Snapshots queued from the room to a session (the message reserve comes on top).
    pub outbound_queue_capacity: usize,
    /// Frames a client may send per second before they are dropped...
    pub max_messages_per_second: u32,
    /// ...and for how long before it is closed for flooding.
    pub flood_timeout: Duration,
    /// Game messages a client may send per second.
    pub max_game_messages_per_second: u32,
    /// Silence after which a session is closed.
    pub idle_timeout: Duration,
}

/// The admission checks of a WebSocket upgrade.
#[derive(Debug, Clone)]
pub struct AdmissionPolicy {
    /// The room of an upgrade that names none.
    pub default_room: String,
    /// Origins a browser may connect from; empty: any.
    pub allowed_origins: Vec<String>,
    /// Whether an upgrade without an `Origin` (a native client) is refused.
    pub require_origin: bool,
    /// With a secret, every upgrade needs a join token signed with it.
    pub token_secret: Option<Secret>,
}
