//! The room's fixed-timestep loop.
//!
//! One task per room. Each tick: admit queued joins, drain every member's inputs and game
//! messages (bounded) and hand them to the game in the order sent, step the game once,
//! capture the world once, deliver the game's messages of this tick, hand each member its
//! snapshot frame with `try_send`, carry out the game's kicks and the end of the room, then
//! retire members whose sessions ended. Nothing here awaits a client: a full queue drops
//! that client's snapshot, and a client that stays behind is disconnected.
//!
//! Messages the game sends during tick T go into each recipient's queue before its snapshot
//! of tick T, so they arrive before snapshot T + 1 and never contradict the state
//! (ARCHITECTURE.md §2.5).
//!
//! A large room builds and hands over its members' frames on several cores (its own thread
//! together with rayon's global pool, see `replication::Execution`); each member is handled
//! by one thread, and the counters are summed afterwards. A room that reads and writes many
//! connections itself spreads that socket work the same way from far fewer members on.

use std::ops::Add;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ticksync_game::{Command, Game, InputContext, Outbox, Recipients};
use ticksync_protocol::codec;
use ticksync_protocol::{EntityId, PlayerId, Schema, ServerMessage, Tick, Welcome};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::directory::{RoomLifecycle, RoomStatus};
use super::member::{Member, MemberQueues};
use super::outlet::{ArrivalClock, Delivery};
use super::resume::{new_resume_token, tokens_match, DetachedPlayers};
use super::room_config::RoomConfig;
use super::stats::{TickStats, TickSummary};
use super::tick_clock::TickClock;
use super::{
    Disconnect, FromClient, JoinRefused, JoinRequest, RoomHandle, JOIN_QUEUE_CAPACITY,
    MAX_JOINS_PER_TICK,
};
use crate::metrics::{KickReason, RoomSeries, ServerMetrics};
use crate::replication::{
    fan_out, Execution, InterestPolicy, ReplicationError, ReplicationSettings, Replicator, Viewer,
};

/// The settings a room runs with, from its [`RoomConfig`].
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub tick_rate_hz: u16,
    pub max_players: usize,
    pub max_inputs_per_tick: usize,
    /// Game messages from one player handed to the game per tick; more wait for the next.
    pub max_messages_per_tick: usize,
    /// Ticks a member may be continuously behind before it is disconnected.
    pub max_ticks_behind: u32,
    pub stats_interval: Duration,
    pub replication: ReplicationSettings,
    /// Ticks a dropped player's entity waits for a `Resume`.
    pub resume_grace_ticks: u32,
}

/// Seconds of world history kept as delta baselines. A client whose acknowledged snapshot
/// is older (a long stall) gets a full snapshot; a second covers ordinary jitter many times
/// over while costing one frame of entity states per tick.
const HISTORY_SECONDS: f64 = 1.0;

impl RoomSettings {
    /// The settings a room configured as `config` runs with: durations in ticks, the area
    /// of interest radius (configured in world units) in the game's position units,
    /// `position_scale` of them per world unit (its entity type declares it).
    pub fn for_room(config: &RoomConfig, position_scale: u32) -> RoomSettings {
        let ticks_behind =
            config.slow_client_timeout.as_secs_f64() * f64::from(config.tick_rate_hz);
        let steps = |units: u32| {
            (f64::from(units) * f64::from(position_scale.max(1))).min(f64::from(i32::MAX)) as i32
        };
        let history_ticks = (HISTORY_SECONDS * f64::from(config.tick_rate_hz)).ceil() as usize;
        RoomSettings {
            tick_rate_hz: config.tick_rate_hz,
            max_players: config.max_players,
            max_inputs_per_tick: config.max_inputs_per_tick,
            max_messages_per_tick: config.max_game_messages_per_tick,
            max_ticks_behind: (ticks_behind.ceil() as u32).max(1),
            resume_grace_ticks: (config.resume_grace.as_secs_f64() * f64::from(config.tick_rate_hz))
                .ceil() as u32,
            stats_interval: config.stats_interval,
            replication: ReplicationSettings {
                history_ticks: history_ticks.max(2),
                interest: config.aoi_radius.map(|radius| InterestPolicy {
                    radius_steps: steps(radius),
                    max_entities: config.aoi_max_entities,
                }),
            },
        }
    }

    pub fn tick_period(&self) -> Duration {
        ticksync_protocol::tick_period(self.tick_rate_hz)
    }
}

/// Connections the room reads and writes itself (`Outlet::Direct`) from which a tick spreads
/// that socket work over cores: its own thread and rayon's pool together, as the replicator
/// does (`fan_out`). Each such member costs a `recvmsg` and a `write` per tick, several µs of
/// system time, far more than its share of an everyone-sees-everyone snapshot, so this is
/// far below `replication::PARALLEL_MIN_CLIENTS_EVERYONE`. On two cores shared with the
/// swarm, 500 players: the tick's p99 about 1 ms shorter, CPU per player-tick within the
/// run-to-run spread; at 200 players the spinning of rayon's idle helpers cost more than the
/// shorter tick was worth (BENCHMARKS.md).
const PARALLEL_MIN_SOCKETS: usize = 256;

/// Members per piece of parallel socket work: a helper preempted mid-piece holds the tick
/// up by at most that many system calls.
const SOCKETS_PER_PIECE: usize = 16;

/// Tick work time from which the next tick runs with [`offload_heavy`].
const HEAVY_TICK: Duration = Duration::from_millis(2);

/// Runs `work` telling tokio that it blocks the thread (`block_in_place`), on a multi-thread
/// runtime; a current-thread runtime (tests) has no other worker to hand tasks to.
fn offload_heavy(work: impl FnOnce()) {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|handle| handle.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// What handing a tick's frames to members came to: summed over members, which a large room
/// serves on several threads at once.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct HandoverTally {
    sent: u64,
    dropped: u64,
    kicked: u64,
}

impl Add for HandoverTally {
    type Output = HandoverTally;

    fn add(self, other: HandoverTally) -> HandoverTally {
        HandoverTally {
            sent: self.sent + other.sent,
            dropped: self.dropped + other.dropped,
            kicked: self.kicked + other.kicked,
        }
    }
}

/// Hands `member` its frame of `tick` without waiting, and disconnects it if it has been
/// behind for `max_ticks_behind` ticks. Touches only this member, so members can be handed
/// their frames from different threads.
fn hand_over<S: Schema>(
    member: &mut Member<S>,
    frame: Result<Bytes, ReplicationError>,
    tick: Tick,
    max_ticks_behind: u32,
) -> HandoverTally {
    let frame = match frame {
        Ok(frame) => frame,
        Err(error) => {
            // Only an encoder bug can get here; skip this client's snapshot rather than stop
            // the room. Its next delta is still against what it acked.
            tracing::error!(%error, tick, "could not build snapshot");
            return HandoverTally::default();
        }
    };
    match member.deliver(frame, tick) {
        Delivery::Queued => HandoverTally {
            sent: 1,
            ..HandoverTally::default()
        },
        Delivery::Dropped => {
            let kicked = member.ticks_behind(tick) >= max_ticks_behind;
            if kicked {
                // Counted in kicks_total and summed up by `net::refusal_log`.
                tracing::debug!(player = %member.player, "disconnecting slow client");
                member.disconnect(Disconnect::TooSlow);
            }
            HandoverTally {
                dropped: 1,
                kicked: u64::from(kicked),
                ..HandoverTally::default()
            }
        }
        Delivery::Gone => HandoverTally::default(),
    }
}

/// A room: one game, its members, and the loop that ticks them.
pub struct Room<G: Game> {
    name: String,
    settings: RoomSettings,
    game: G,
    /// What the game asked for during the current tick.
    outbox: Outbox<G::Schema>,
    tick: Tick,
    next_player: u32,
    members: Vec<Member<G::Schema>>,
    joins: mpsc::Receiver<Box<JoinRequest<G::Schema>>>,
    replicator: Replicator<ticksync_game::EntityOf<G>>,
    detached: DetachedPlayers,
    from_client_scratch: Vec<FromClient<G::Schema>>,
    /// When the previous tick took its inputs (see `Member::record_arrivals`).
    previous_cutoff: Option<Instant>,
    /// Reused by "who sees this entity" queries.
    interest_scratch: Vec<u32>,
    /// Set when the game ended the room, with the reason every player was given.
    ended: Option<String>,
    current_tick: Arc<AtomicU32>,
    stats: TickStats,
    metrics: Arc<ServerMetrics>,
    status: Arc<RoomStatus>,
    /// Prometheus series of this room's tick work time and overruns.
    series: Option<RoomSeries>,
}

impl<G: Game> Room<G> {
    /// Also records every tick's work time and overruns into `series` (for `/metrics`).
    pub fn with_series(mut self, series: RoomSeries) -> Room<G> {
        self.series = Some(series);
        self
    }

    /// A room with no members, and the handle sessions use to join it.
    pub fn new(
        settings: RoomSettings,
        game: G,
        metrics: Arc<ServerMetrics>,
        status: Arc<RoomStatus>,
    ) -> Result<(Room<G>, RoomHandle<G::Schema>), hdrhistogram::CreationError> {
        let (join_tx, join_rx) = mpsc::channel(JOIN_QUEUE_CAPACITY);
        let current_tick = Arc::new(AtomicU32::new(0));
        let stats = TickStats::new(
            settings.tick_period(),
            settings.stats_interval,
            status.clone(),
        )?;
        let replicator = Replicator::new(settings.replication);
        let room = Room {
            name: status.name.clone(),
            settings,
            game,
            outbox: Outbox::new(),
            tick: 0,
            next_player: 1,
            members: Vec::new(),
            joins: join_rx,
            replicator,
            detached: DetachedPlayers::default(),
            from_client_scratch: Vec::new(),
            previous_cutoff: None,
            interest_scratch: Vec::new(),
            ended: None,
            current_tick: current_tick.clone(),
            stats,
            metrics,
            status: status.clone(),
            series: None,
        };
        let handle = RoomHandle {
            joins: join_tx,
            current_tick,
            status,
        };
        Ok((room, handle))
    }

    /// Runs ticks until `shutdown` is cancelled — or, for a room that closes when empty,
    /// until it has been empty long enough and the directory unlisted it — then tells every
    /// member to close and returns the run's tick figures.
    pub async fn run(
        mut self,
        shutdown: CancellationToken,
        lifecycle: RoomLifecycle,
    ) -> TickSummary {
        let period = self.settings.tick_period();
        let dt = period.as_secs_f32();
        let mut clock = TickClock::new(period, Instant::now());
        let room = self.status.name.clone();
        tracing::debug!(%room, tick_rate_hz = self.settings.tick_rate_hz, "room started");
        let mut empty_since: Option<Instant> = None;
        let mut last_work = Duration::ZERO;
        let refusal = loop {
            let (skipped, late) = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break JoinRefused::ShuttingDown,
                woken = clock.wait() => woken,
            };
            let started = Instant::now();
            if last_work >= HEAVY_TICK {
                // A heavy tick holds this worker thread for milliseconds: let tokio move the
                // worker's other tasks (small rooms, sessions) to another thread first, so a
                // large room cannot delay a small room's tick. That includes the time this
                // thread waits for rayon's pool (separate from tokio's threads) to build a
                // large room's frames.
                offload_heavy(|| self.tick(dt));
            } else {
                self.tick(dt);
            }
            last_work = started.elapsed();
            self.stats.record(last_work, skipped, late);
            if let Some(series) = &self.series {
                series.tick_duration.observe(last_work.as_secs_f64());
                if last_work > period {
                    series.tick_overruns.inc();
                }
            }
            self.stats.maybe_log(self.members.len());
            if self.ended.is_some() {
                // The game ended the room: it leaves the directory now, so the next join of
                // this name starts a new game.
                lifecycle.retire();
                break JoinRefused::RoomClosed;
            }
            if let Some(limit) = lifecycle.close_when_empty_for {
                if self.members.is_empty() && self.detached.count() == 0 {
                    let since = *empty_since.get_or_insert(started);
                    if started.duration_since(since) >= limit && lifecycle.retire() {
                        break JoinRefused::RoomClosed;
                    }
                } else {
                    empty_since = None;
                }
            }
        };
        // A room that closed empty says so at debug (anyone can open and leave rooms); at
        // shutdown every room reports its run at info.
        let level_info = refusal == JoinRefused::ShuttingDown;
        self.close_all(refusal);
        let summary = self.stats.summary();
        lifecycle.finished(summary.clone());
        macro_rules! stopped {
            ($level:ident) => {
                tracing::$level!(
                    %room,
                    ticks = summary.ticks,
                    overruns = summary.overruns,
                    skipped_ticks = summary.skipped_ticks,
                    tick_p50_us = summary.tick_p50_us,
                    tick_p99_us = summary.tick_p99_us,
                    tick_max_us = summary.tick_max_us,
                    tick_late_p99_us = summary.tick_late_p99_us,
                    tick_late_max_us = summary.tick_late_max_us,
                    "room stopped"
                )
            };
        }
        if level_info {
            stopped!(info);
        } else {
            stopped!(debug);
        }
        summary
    }

    /// One whole tick. Public within the crate so tests can drive a room without a clock.
    pub(crate) fn tick(&mut self, dt: f32) {
        self.admit_joins();
        // The members stay the same from here until the commands are carried out.
        let sockets = self.socket_execution();
        self.apply_from_clients(sockets);
        self.game.step(dt, &mut self.outbox);
        self.tick = self.tick.wrapping_add(1);
        self.replicate(sockets);
        self.carry_out_commands();
        self.retire_departed();
        self.current_tick.store(self.tick, Ordering::Relaxed);
    }

    fn admit_joins(&mut self) {
        for _ in 0..MAX_JOINS_PER_TICK {
            let Ok(request) = self.joins.try_recv() else {
                break;
            };
            let JoinRequest {
                player_name,
                claims,
                resume_token,
                from_client,
                outlet,
                disconnect,
                shared,
                reply,
            } = *request;
            let (player, entity, resumed) = match &resume_token {
                Some(token) => match self.take_over(token) {
                    Some((player, entity)) => (player, entity, true),
                    None => {
                        let _ = reply.send(Err(JoinRefused::ResumeRefused));
                        continue;
                    }
                },
                None => {
                    // Dropped players waiting to be resumed still hold their place.
                    if self.members.len() + self.detached.count() >= self.settings.max_players {
                        let refused = JoinRefused::RoomFull {
                            capacity: self.settings.max_players,
                        };
                        let _ = reply.send(Err(refused));
                        continue;
                    }
                    let player = PlayerId(self.next_player);
                    let asked = ticksync_game::JoinRequest {
                        player,
                        name: &player_name,
                        claims: claims.as_ref(),
                        room: &self.name,
                    };
                    match self.game.join(&asked, &mut self.outbox) {
                        Ok(entity) => {
                            self.next_player = self.next_player.saturating_add(1);
                            (player, entity, false)
                        }
                        Err(refusal) => {
                            tracing::debug!(room = %self.name, name = %player_name, reason = %refusal.reason, "the game refused a join");
                            let _ = reply.send(Err(JoinRefused::Game(refusal.reason)));
                            continue;
                        }
                    }
                }
            };
            let resume_token = new_resume_token();
            let welcome = Welcome {
                player_id: player,
                entity_id: entity,
                tick_rate_hz: self.settings.tick_rate_hz,
                tick: self.tick,
                resume_token: resume_token.clone(),
                resumed,
            };
            // The `Welcome` goes out through the member's outlet, ahead of anything the room
            // hands it: a room that writes to the connection itself could otherwise put a
            // snapshot on the wire before the session wrote the `Welcome`.
            let welcome_frame =
                codec::encode(&ServerMessage::<G::Schema>::Welcome(welcome.clone()));
            if reply.send(Ok(welcome)).is_err() {
                // The session gave up while queued: treat it like a dropped connection, so a
                // resumed player is not lost to a client that retries.
                shared.end_resumable();
                self.detached.detach(
                    player,
                    entity,
                    resume_token,
                    shared,
                    self.tick,
                    self.settings.resume_grace_ticks,
                );
                continue;
            }
            tracing::debug!(%player, name = %player_name, resumed, "player joined");
            let queues = MemberQueues {
                from_client,
                outlet,
                disconnect,
                shared,
            };
            let mut member = Member::new(player, entity, queues, resume_token);
            match welcome_frame {
                Ok(frame) => member.deliver_message(Bytes::from(frame)),
                Err(error) => {
                    tracing::error!(%error, %player, "could not encode Welcome");
                    member.disconnect(Disconnect::ShuttingDown);
                }
            }
            self.members.push(member);
        }
        self.publish_player_count();
    }

    /// The player (and its entity) a resume token belongs to: a dropped player's, or — when
    /// the old connection has not been noticed as dropped yet — a current member's, whose
    /// session is then closed as replaced.
    fn take_over(&mut self, token: &str) -> Option<(PlayerId, Option<EntityId>)> {
        if let Some(detached) = self.detached.take(token) {
            return Some((detached.player, detached.entity));
        }
        let member = self
            .members
            .iter_mut()
            .find(|member| !member.departed && tokens_match(&member.resume_token, token))?;
        member.transferred = true;
        member.disconnect(Disconnect::Replaced);
        Some((member.player, member.entity))
    }

    /// Publishes the room's player count, and moves the server-wide count by the change.
    fn publish_player_count(&self) {
        let players = self
            .members
            .iter()
            .filter(|member| !member.departed)
            .count()
            + self.detached.count();
        let before = self.status.players.swap(players, Ordering::Relaxed);
        // Player counts are far below i64::MAX.
        self.metrics.players.inc_by(players as i64 - before as i64);
    }

    /// Hands every member's inputs and game messages to the game, in the order sent.
    /// `sockets`: where the connections the room reads itself are read.
    fn apply_from_clients(&mut self, sockets: Execution) {
        let (max_inputs, max_messages) = (
            self.settings.max_inputs_per_tick,
            self.settings.max_messages_per_tick,
        );
        // One clock reading per tick: the moment this tick takes its inputs, against which
        // every member's arrivals are measured.
        let cutoff = Instant::now();
        let previous_cutoff = self
            .previous_cutoff
            .replace(cutoff)
            .unwrap_or_else(|| cutoff - self.settings.tick_period());
        let mut missed = 0;
        // The kernel stamps what it receives by the wall clock: one reading of both clocks
        // turns those stamps into instants for every member.
        let clock = ArrivalClock {
            now: cutoff,
            wall: std::time::SystemTime::now(),
        };
        let tick = self.tick;
        match sockets {
            Execution::Sequential => self
                .members
                .iter()
                .for_each(|m| m.read_inputs(&clock, tick)),
            Execution::Parallel => {
                fan_out(&mut self.members, SOCKETS_PER_PIECE, |_, members| {
                    members.iter().for_each(|m| m.read_inputs(&clock, tick));
                    members.len()
                });
            }
        }
        for member in &mut self.members {
            member.drain(max_inputs, max_messages, &mut self.from_client_scratch);
            missed += member.record_arrivals(cutoff, previous_cutoff);
            for item in self.from_client_scratch.drain(..) {
                match item {
                    FromClient::Input { input, .. } => {
                        let context = InputContext {
                            player: member.player,
                            seq: input.seq,
                            // The newest snapshot produced so far is `self.tick`; a claim
                            // beyond it is a lie and counts as that.
                            ack_tick: input.ack_tick.min(self.tick),
                            tick: self.tick.wrapping_add(1),
                        };
                        self.game.input(context, &input.payload)
                    }
                    FromClient::Message(message) => {
                        self.game.message(member.player, message, &mut self.outbox)
                    }
                }
            }
        }
        self.metrics.inputs_missed_tick.inc_by(missed);
    }

    /// Captures the world, then delivers this tick's game messages and hands every member its
    /// snapshot — messages first, so they arrive before the next tick's snapshot.
    /// `sockets`: where the frames of the connections the room writes itself are written.
    fn replicate(&mut self, sockets: Execution) {
        // Nobody to send the world to, nobody to keep baselines for: an empty room keeps no
        // history (the first snapshot of whoever joins next is a full one anyway), and what
        // the game said reaches nobody.
        if self.members.is_empty() {
            self.outbox.drain_messages();
            return;
        }
        self.replicator
            .capture(self.tick, |out| self.game.write_entities(out));
        self.deliver_messages();
        let execution = match sockets {
            Execution::Parallel => Execution::Parallel,
            Execution::Sequential => self.replicator.execution_for(self.members.len()),
        };
        self.serve_members(execution);
    }

    /// Where this tick reads and writes the connections the room serves itself: across cores
    /// from [`PARALLEL_MIN_SOCKETS`] of them on, when rayon's pool has more than one thread.
    fn socket_execution(&self) -> Execution {
        // Counted only in a room large enough to matter, so a small room never starts
        // rayon's pool.
        if self.members.len() < PARALLEL_MIN_SOCKETS || rayon::current_num_threads() < 2 {
            return Execution::Sequential;
        }
        let sockets = self.members.iter().filter(|m| m.is_direct()).count();
        if sockets >= PARALLEL_MIN_SOCKETS {
            Execution::Parallel
        } else {
            Execution::Sequential
        }
    }

    /// Delivers what the game sent this tick (and at joins and leaves since the last tick),
    /// each message encoded once and shared by its recipients.
    fn deliver_messages(&mut self) {
        let messages: Vec<_> = self.outbox.drain_messages().collect();
        for (recipients, message) in messages {
            let frame = match codec::encode(&ServerMessage::<G::Schema>::Message(message)) {
                Ok(frame) => Bytes::from(frame),
                Err(error) => {
                    tracing::error!(%error, room = %self.name, "could not encode a game message");
                    continue;
                }
            };
            for member in &mut self.members {
                let to_member = match recipients {
                    Recipients::Player(player) => member.player == player,
                    Recipients::All => true,
                    Recipients::AllExcept(player) => member.player != player,
                    Recipients::Seeing(entity) => {
                        self.replicator
                            .sees(member.entity, entity, &mut self.interest_scratch)
                    }
                };
                if to_member {
                    member.deliver_message(frame.clone());
                }
            }
        }
    }

    /// Carries out the game's kicks and the end of the room.
    fn carry_out_commands(&mut self) {
        let commands: Vec<Command> = self.outbox.drain_commands().collect();
        for command in commands {
            match command {
                Command::Kick { player, reason } => {
                    if let Some(member) = self.members.iter_mut().find(|m| m.player == player) {
                        tracing::debug!(%player, %reason, "the game kicked a player");
                        member.shared.end_final();
                        member.disconnect(Disconnect::Kicked(reason));
                    }
                }
                Command::EndRoom { reason } => {
                    tracing::info!(room = %self.name, %reason, "the game ended the room");
                    for member in &mut self.members {
                        member.shared.end_final();
                        member.disconnect(Disconnect::RoomEnded(reason.clone()));
                    }
                    self.ended = Some(reason);
                }
            }
        }
    }

    /// Builds this tick's frame for every member still here and hands it over; a large room
    /// does it across cores (see [`Execution`]), with the same frames.
    fn serve_members(&mut self, execution: Execution) {
        let (tick, max_ticks_behind) = (self.tick, self.settings.max_ticks_behind);
        let served = self.replicator.serve(
            &mut self.members,
            execution,
            |member| {
                (!member.departed).then(|| Viewer {
                    entity: member.entity,
                    acked_tick: member.acked_tick(),
                    last_input_seq: member.last_input_seq,
                    input_margin_100us: member.input_margin_100us,
                })
            },
            |member, frame| hand_over(member, frame, tick, max_ticks_behind),
        );
        match served {
            Ok(handover) => {
                self.metrics.snapshots_sent.inc_by(handover.sent);
                self.metrics.snapshots_dropped.inc_by(handover.dropped);
                if handover.kicked > 0 {
                    self.metrics.kicked(KickReason::Slow, handover.kicked);
                }
            }
            // `replicate` captured just before: cannot happen.
            Err(error) => tracing::error!(%error, tick, "could not build snapshots"),
        }
    }

    /// Removes members whose sessions ended: a dropped connection waits in the resume
    /// grace period, anything else leaves the game now.
    fn retire_departed(&mut self) {
        let (game, detached, outbox) = (&mut self.game, &mut self.detached, &mut self.outbox);
        let (tick, grace) = (self.tick, self.settings.resume_grace_ticks);
        let mut index = 0;
        while index < self.members.len() {
            if !self.members[index].departed {
                index += 1;
                continue;
            }
            let mut member = self.members.swap_remove(index);
            if member.transferred {
                continue;
            }
            if member.shared.is_final() || grace == 0 {
                tracing::debug!(player = %member.player, "player left");
                // A session still reading (the room read its `Leave`) closes normally; one
                // already gone, or already told why, hears nothing.
                member.disconnect(Disconnect::Left);
                game.leave(member.player, outbox);
            } else {
                tracing::debug!(player = %member.player, grace_ticks = grace, "player dropped; waiting for a resume");
                // The room may see the connection gone (a failed write) before the session
                // does: the session must then end as dropped too, not as if the room had
                // stopped, which would end the player for good.
                member.disconnect(Disconnect::ConnectionLost);
                detached.detach(
                    member.player,
                    member.entity,
                    member.resume_token,
                    member.shared,
                    tick,
                    grace,
                );
            }
        }
        detached.expire(tick, |player| {
            tracing::debug!(%player, "resume grace over; player removed");
            game.leave(player, outbox);
        });
        self.publish_player_count();
    }

    /// Ends every session and refuses queued joins with `refusal`.
    fn close_all(&mut self, refusal: JoinRefused) {
        for member in &mut self.members {
            member.shared.end_final();
            member.disconnect(Disconnect::ShuttingDown);
        }
        self.retire_departed();
        let (game, outbox) = (&mut self.game, &mut self.outbox);
        self.detached.clear(|player| game.leave(player, outbox));
        self.game.closed();
        // Refuse whoever is still waiting to join.
        self.joins.close();
        while let Ok(request) = self.joins.try_recv() {
            let _ = request.reply.send(Err(refusal.clone()));
        }
    }
}

#[cfg(test)]
mod tests;
