//! [`BotDriver`]: plugs any [`Bot`] into a connection as a [`ClientHandler`] — one input
//! (and at most one game message) per server tick, the server's frames passed on to the
//! bot, snapshots and desyncs counted for the live progress — and leaves at the end of the
//! run, noting what the connection had measured by then.

use std::sync::Arc;
use std::time::Instant;

use ticksync_client::{Client, ClientCounters, ClientError, ClientHandler};
use ticksync_protocol::{Schema, Snapshot, Welcome};
use tracing::{debug, warn};

use crate::bot::{Bot, Turn};
use crate::live::LiveStats;

/// Shorthand for the schema a bot plays.
type SchemaOf<B> = <B as Bot>::Schema;

/// A bot playing until `leave_at`, as a [`ClientHandler`].
#[derive(Debug)]
pub struct BotDriver<B: Bot> {
    bot: B,
    leave_at: Instant,
    left: Option<BotDeparture>,
    /// Where the swarm's live progress counts snapshots and desyncs.
    live: Option<Arc<LiveStats>>,
}

/// What a bot measured up to the moment it left.
#[derive(Debug, Clone, Copy)]
pub struct BotDeparture {
    pub at: Instant,
    pub counters: ClientCounters,
}

impl<B: Bot> BotDriver<B> {
    /// Drives `bot` until `leave_at`.
    pub fn new(bot: B, leave_at: Instant) -> Self {
        BotDriver {
            bot,
            leave_at,
            left: None,
            live: None,
        }
    }

    /// Counts snapshots and desyncs into `live` as they happen.
    pub fn report_to(mut self, live: Arc<LiveStats>) -> Self {
        self.live = Some(live);
        self
    }

    /// When and with what totals the bot sent `Leave`; `None` if it never did (its
    /// connection ended first).
    pub fn departure(&self) -> Option<BotDeparture> {
        self.left
    }

    /// The bot.
    pub fn bot(&self) -> &B {
        &self.bot
    }

    async fn leave(
        &mut self,
        client: &mut Client<SchemaOf<B>>,
        now: Instant,
    ) -> Result<(), ClientError> {
        self.left = Some(BotDeparture {
            at: now,
            counters: client.counters(),
        });
        client.leave().await
    }
}

impl<B: Bot> ClientHandler<SchemaOf<B>> for BotDriver<B> {
    async fn on_open(
        &mut self,
        _client: &mut Client<SchemaOf<B>>,
        welcome: &Welcome,
    ) -> Result<(), ClientError> {
        self.bot.on_welcome(welcome);
        Ok(())
    }

    async fn on_tick(&mut self, client: &mut Client<SchemaOf<B>>) -> Result<(), ClientError> {
        if self.left.is_some() {
            return Ok(());
        }
        let now = Instant::now();
        if now >= self.leave_at {
            return self.leave(client, now).await;
        }
        let (input, message) = {
            let turn = Turn::of(client, now);
            (self.bot.next_input(&turn), self.bot.next_message(&turn))
        };
        if let Some(input) = input {
            client.send_input(input).await?;
        }
        if let Some(message) = message {
            client.send_message(message).await?;
        }
        Ok(())
    }

    async fn on_snapshot(
        &mut self,
        client: &mut Client<SchemaOf<B>>,
        snapshot: &Snapshot<<SchemaOf<B> as Schema>::Entity>,
    ) -> Result<(), ClientError> {
        if let Some(live) = &self.live {
            live.snapshot();
        }
        self.bot.on_snapshot(snapshot, client.view());
        Ok(())
    }

    async fn on_message(
        &mut self,
        _client: &mut Client<SchemaOf<B>>,
        message: &<SchemaOf<B> as Schema>::ServerMessage,
    ) -> Result<(), ClientError> {
        self.bot.on_message(message);
        Ok(())
    }

    /// Desyncs are counted and reported by the swarm, and a thousand bots desyncing at once
    /// would drown the log in warnings; they are logged at debug level only.
    fn on_error(&mut self, error: &ClientError) {
        match error {
            ClientError::Desync { .. } => {
                if let Some(live) = &self.live {
                    live.desync();
                }
                debug!(%error, "bot desynced")
            }
            _ => warn!(%error, "could not handle a frame from the server"),
        }
    }
}
