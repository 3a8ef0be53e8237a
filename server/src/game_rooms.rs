//! [`GameRooms`]: how the server starts a room of its game when the room directory asks for
//! one (the default room at bind, any other on its first join): the game's context from the
//! room's settings and the game's own settings for it, the game from the game's factory, the
//! room with its metric series, and its task on the tick runtime.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use ticksync_game::{Game, RoomContext};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ConfigError, ServerConfig};
use crate::metrics::{Exposition, ServerMetrics};
use crate::room::{Room, RoomHandle, RoomLaunch};

/// The game's settings for room `name`: `[game]` with the room's `[rooms.NAME.game]` on top,
/// deserialized into the game's own type.
pub fn game_settings<T: DeserializeOwned>(
    config: &ServerConfig,
    name: &str,
) -> Result<T, ConfigError> {
    let table = config.room_config(name).game;
    let section = if config
        .rooms
        .get(name)
        .is_some_and(|room| !room.game.is_empty())
    {
        format!("[game] with [rooms.{name}.game]")
    } else {
        "[game]".to_owned()
    };
    toml::Value::Table(table)
        .try_into()
        .map_err(|error: toml::de::Error| ConfigError::Game {
            section,
            message: error.to_string().trim().replace('\n', " "),
        })
}

/// Checks that every room the configuration names (the default one included) has game
/// settings that read, before anyone connects.
pub fn check_game_settings<G: Game>(config: &ServerConfig) -> Result<(), ConfigError> {
    game_settings::<G::Settings>(config, &config.default_room)?;
    for name in config.rooms.keys() {
        game_settings::<G::Settings>(config, name)?;
    }
    Ok(())
}

/// Starts rooms of game `G`, each with a game made by `make_game`.
pub struct GameRooms<G, F> {
    pub config: Arc<ServerConfig>,
    pub make_game: F,
    pub metrics: Arc<ServerMetrics>,
    pub exposition: Arc<Exposition>,
    pub shutdown: CancellationToken,
    pub room_tasks: TaskTracker,
    /// The tick runtime's handle; `None`: rooms run on the caller's runtime.
    pub tick_runtime: Option<Handle>,
    pub game: PhantomData<fn() -> G>,
}

impl<G, F> GameRooms<G, F>
where
    G: Game,
    F: Fn(&RoomContext<G::Settings>) -> G + Send + Sync + 'static,
{
    /// Starts the room `launch` describes; the error says why it could not.
    pub fn start(&self, launch: RoomLaunch) -> Result<RoomHandle<G::Schema>, String> {
        let RoomLaunch {
            name,
            settings,
            status,
            lifecycle,
        } = launch;
        let context = RoomContext {
            name: name.clone(),
            tick_rate_hz: settings.tick_rate_hz,
            max_players: settings.max_players,
            settings: game_settings::<G::Settings>(&self.config, &name)
                .map_err(|error| error.to_string())?,
        };
        let game = (self.make_game)(&context);
        let (room, handle) = Room::new(settings, game, self.metrics.clone(), status)
            .map_err(|error| error.to_string())?;
        let room = room.with_series(self.exposition.room_series(&name));
        let run = room.run(self.shutdown.clone(), lifecycle);
        match &self.tick_runtime {
            Some(runtime) => self.room_tasks.spawn_on(run, runtime),
            None => self.room_tasks.spawn(run),
        };
        Ok(handle)
    }
}
