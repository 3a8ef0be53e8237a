//! The network layer: accepting TCP connections, the WebSocket handshake, and sessions.
//!
//! It knows nothing of game rules: a session decodes and validates frames, forwards inputs to
//! its room through a bounded queue, and writes whatever frames the room hands it.

mod close;
mod handshake;
mod listener;
mod session;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::ServerConfig;
use crate::metrics::ServerMetrics;
use crate::room::RoomHandle;

pub use close::SessionEnd;
pub use handshake::{negotiate_subprotocol, websocket_config, SubprotocolError};
pub use listener::accept_loop;

/// What every session needs, shared behind one `Arc`.
#[derive(Debug)]
pub struct SessionContext {
    pub config: ServerConfig,
    pub room: RoomHandle,
    pub metrics: Arc<ServerMetrics>,
    pub shutdown: CancellationToken,
}
