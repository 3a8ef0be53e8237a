//! The shooter's rules: two teams of fighters move, aim and fire hitscan shots; a shot is
//! judged against the world its shooter saw (lag compensation, [`crate::rewind`]); hits
//! take health, a fighter at 0 dies and respawns after a delay; a round ends when a team
//! reaches its kills or the time runs out, and the room announces the result, then restarts
//! after an intermission or ends.
//!
//! Each tick: inputs set every fighter's move direction and aim and queue its shots (the
//! weapon's interval is enforced here); `step` judges the queued shots against the rewind
//! history, respawns the dead whose time has come, moves everyone, runs the round clock,
//! and records the tick's poses in the history — once per tick, whatever the number of
//! shots.

use std::collections::{BTreeMap, HashMap};

use glam::IVec2;
use ticksync_game::{Game, InputContext, JoinRequest, Outbox, Refusal, RoomContext};
use ticksync_protocol::{Entity, EntityId, PlayerId};

use crate::chat::{ChatGate, CHAT_REFILL_MS};
use crate::motion::step;
use crate::rewind::{Pose, Ray, RewindHistory};
use crate::schema::{Fighter, RoundEnd, ShooterEvent, ShooterInput, ShooterRequest, ShooterSchema};
use crate::settings::{AfterRound, Rules, ShooterSettings};

/// One fighter and the server-side bookkeeping the clients do not see.
#[derive(Debug, Clone)]
pub struct FighterState {
    pub player: PlayerId,
    pub name: String,
    pub team: u8,
    pub position: IVec2,
    pub velocity: IVec2,
    pub move_x: i8,
    pub move_y: i8,
    pub aim: u16,
    pub health: u8,
    pub score: u16,
    pub shots: u8,
    /// The first step at which the weapon may fire again.
    next_fire: u64,
    /// When a dead fighter comes back.
    respawn_at: Option<u64>,
    chat: ChatGate,
}

/// A shot fired by an input, judged in the next step.
#[derive(Debug, Clone, Copy)]
struct QueuedShot {
    shooter: EntityId,
    aim: u16,
    /// How many ticks behind the newest recorded frame the shooter's view was.
    rewind: u32,
}

/// Where a room is in its round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Playing until the step `ends_at`.
    Playing { ends_at: u64 },
    /// The round is over; the next starts at `next_at`.
    Intermission { next_at: u64 },
    /// The room has been ended (after_round = end).
    Over,
}

/// The shooter world of one room.
#[derive(Debug)]
pub struct Shooter {
    rules: Rules,
    fighters: BTreeMap<EntityId, FighterState>,
    by_player: HashMap<PlayerId, EntityId>,
    next_id: u32,
    /// Steps done: the game's clock. The room steps once per tick.
    steps: u64,
    round: u32,
    phase: Phase,
    team_kills: [u16; 2],
    spawns: u32,
    rewind: RewindHistory,
    queued: Vec<QueuedShot>,
    /// Reused list of fighters to respawn this tick: no allocation per tick.
    due: Vec<EntityId>,
    /// Shots judged and hits scored since the room opened, for figures and tests.
    pub shots_judged: u64,
    pub hits: u64,
}

impl Shooter {
    /// The shooter a room of `room`'s settings plays.
    pub fn for_room(room: &RoomContext<ShooterSettings>) -> Shooter {
        Shooter::new(&room.settings, room.tick_rate_hz)
    }

    pub fn new(settings: &ShooterSettings, tick_rate_hz: u16) -> Shooter {
        let rules = Rules::new(settings, tick_rate_hz);
        Shooter {
            rules,
            fighters: BTreeMap::new(),
            by_player: HashMap::new(),
            next_id: 1,
            steps: 0,
            round: 1,
            phase: Phase::Playing {
                ends_at: u64::from(rules.round_ticks),
            },
            team_kills: [0, 0],
            spawns: 0,
            rewind: RewindHistory::new(rules.rewind_ticks),
            queued: Vec::new(),
            due: Vec::new(),
            shots_judged: 0,
            hits: 0,
        }
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn round(&self) -> u32 {
        self.round
    }

    pub fn team_kills(&self) -> [u16; 2] {
        self.team_kills
    }

    /// The fighter with this id.
    pub fn fighter(&self, id: EntityId) -> Option<&FighterState> {
        self.fighters.get(&id)
    }

    /// The fighter `player` controls.
    pub fn fighter_of(&self, player: PlayerId) -> Option<(EntityId, &FighterState)> {
        let id = *self.by_player.get(&player)?;
        Some((id, self.fighters.get(&id)?))
    }

    /// Places a fighter of `team` somewhere in its half, spread by a low-discrepancy
    /// sequence so fighters do not stack.
    fn spawn_point(&mut self, team: u8) -> IVec2 {
        self.spawns = self.spawns.wrapping_add(1);
        let world = self.rules.world_steps as f64;
        // Golden-ratio sequence over the height, team 0 left, team 1 right.
        let spread = (f64::from(self.spawns) * 0.618_033_988_749_895).fract();
        let y = world * (0.1 + 0.8 * spread);
        let lane = (f64::from(self.spawns / 2) * 0.754_877_666_246_692_7).fract();
        let x = world * (0.1 + 0.3 * lane);
        let x = if team == 0 { x } else { world - x };
        IVec2::new(x.round() as i32, y.round() as i32)
    }

    fn respawn(&mut self, id: EntityId) {
        let Some(team) = self.fighters.get(&id).map(|f| f.team) else {
            return;
        };
        let position = self.spawn_point(team);
        let max_health = self.rules.max_health;
        if let Some(fighter) = self.fighters.get_mut(&id) {
            fighter.position = position;
            fighter.velocity = IVec2::ZERO;
            fighter.health = max_health;
            fighter.respawn_at = None;
        }
    }

    fn playing(&self) -> bool {
        matches!(self.phase, Phase::Playing { .. })
    }

    /// Ticks left in the round (0 outside one).
    fn round_ticks_left(&self) -> u32 {
        match self.phase {
            Phase::Playing { ends_at } => {
                u32::try_from(ends_at.saturating_sub(self.steps)).unwrap_or(u32::MAX)
            }
            _ => 0,
        }
    }

    /// Judges the queued shots against the rewind history.
    fn judge_shots(&mut self, out: &mut Outbox<ShooterSchema>) {
        let mut queued = std::mem::take(&mut self.queued);
        for shot in queued.drain(..) {
            self.shots_judged += 1;
            let Some(shooter) = self.fighters.get(&shot.shooter) else {
                continue;
            };
            let ray = Ray {
                origin: shooter.position,
                aim: shot.aim,
                range: self.rules.range_steps,
            };
            let (poses, _) = self.rewind.frame(shot.rewind);
            let Some(target) =
                ray.first_hit(poses, shot.shooter, shooter.team, self.rules.radius_steps)
            else {
                continue;
            };
            self.hit(shot.shooter, target, out);
        }
        // Keep the buffer's capacity for the next tick.
        self.queued = queued;
    }

    /// `shooter` hit `target`: damage, and a kill when its health runs out.
    fn hit(&mut self, shooter: EntityId, target: EntityId, out: &mut Outbox<ShooterSchema>) {
        if !self.playing() {
            return;
        }
        let (damage, respawn_at) = (
            self.rules.damage,
            self.steps + u64::from(self.rules.respawn_ticks),
        );
        let Some(victim) = self.fighters.get_mut(&target) else {
            return;
        };
        // Dead since the tick the shooter saw: nothing left to hit.
        if victim.health == 0 {
            return;
        }
        let taken = damage.min(victim.health);
        victim.health -= taken;
        let (health, victim_player) = (victim.health, victim.player);
        if health == 0 {
            victim.respawn_at = Some(respawn_at);
            victim.velocity = IVec2::ZERO;
        }
        self.hits += 1;
        let event = ShooterEvent::Hit {
            shooter,
            target,
            damage: taken,
            health,
        };
        if let Some(killer) = self.fighters.get(&shooter) {
            out.send(killer.player, event.clone());
        }
        out.send(victim_player, event);
        if health == 0 {
            self.kill(shooter, target, out);
        }
    }

    fn kill(&mut self, killer: EntityId, victim: EntityId, out: &mut Outbox<ShooterSchema>) {
        let Some(fighter) = self.fighters.get_mut(&killer) else {
            return;
        };
        fighter.score = fighter.score.saturating_add(1);
        let team = usize::from(fighter.team.min(1));
        self.team_kills[team] = self.team_kills[team].saturating_add(1);
        out.broadcast(ShooterEvent::Killed {
            killer,
            victim,
            killer_score: fighter.score,
            team_kills: self.team_kills,
        });
        if self.team_kills[team] >= self.rules.kills_to_win {
            self.end_round(RoundEnd::Kills, out);
        }
    }

    fn end_round(&mut self, reason: RoundEnd, out: &mut Outbox<ShooterSchema>) {
        let [a, b] = self.team_kills;
        let winner = match a.cmp(&b) {
            std::cmp::Ordering::Greater => Some(0),
            std::cmp::Ordering::Less => Some(1),
            std::cmp::Ordering::Equal => None,
        };
        let best = self
            .fighters
            .iter()
            .filter(|(_, f)| f.score > 0)
            .max_by_key(|(id, f)| (f.score, std::cmp::Reverse(**id)))
            .map(|(id, _)| *id);
        out.broadcast(ShooterEvent::RoundEnded {
            round: self.round,
            winner,
            team_kills: self.team_kills,
            best,
            reason,
        });
        self.queued.clear();
        // The intermission comes either way: it lets every client read the result before
        // the next round resets it, or before the room ends and closes the connections.
        self.phase = Phase::Intermission {
            next_at: self.steps + u64::from(self.rules.intermission_ticks.max(1)),
        };
    }

    /// The intermission is over: the next round, or the end of the room.
    fn after_intermission(&mut self, out: &mut Outbox<ShooterSchema>) {
        match self.rules.after_round {
            AfterRound::Restart => self.start_round(out),
            AfterRound::End => {
                self.phase = Phase::Over;
                let [a, b] = self.team_kills;
                let result = match a.cmp(&b) {
                    std::cmp::Ordering::Greater => format!("team 0 won {a}:{b}"),
                    std::cmp::Ordering::Less => format!("team 1 won {a}:{b}"),
                    std::cmp::Ordering::Equal => format!("a draw at {a}:{b}"),
                };
                out.end_room(format!("round {} over: {result}", self.round));
            }
        }
    }

    fn start_round(&mut self, out: &mut Outbox<ShooterSchema>) {
        self.round = self.round.wrapping_add(1);
        self.team_kills = [0, 0];
        self.phase = Phase::Playing {
            ends_at: self.steps + u64::from(self.rules.round_ticks),
        };
        let ids: Vec<EntityId> = self.fighters.keys().copied().collect();
        for id in ids {
            if let Some(fighter) = self.fighters.get_mut(&id) {
                fighter.score = 0;
            }
            self.respawn(id);
        }
        out.broadcast(ShooterEvent::RoundStarted {
            round: self.round,
            round_ticks: self.rules.round_ticks,
        });
    }

    /// Moves every living fighter one tick.
    fn advance(&mut self) {
        let (speed, world) = (self.rules.speed_steps, self.rules.world_steps);
        for fighter in self.fighters.values_mut() {
            if fighter.health == 0 {
                fighter.velocity = IVec2::ZERO;
                continue;
            }
            let (position, velocity) = step(
                fighter.position,
                fighter.move_x,
                fighter.move_y,
                speed,
                world,
            );
            fighter.position = position;
            fighter.velocity = velocity;
        }
    }

    /// Brings back the dead whose time has come.
    fn respawn_due(&mut self) {
        let now = self.steps;
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        due.extend(
            self.fighters
                .iter()
                .filter(|(_, f)| f.respawn_at.is_some_and(|at| at <= now))
                .map(|(id, _)| *id),
        );
        for id in due.drain(..) {
            self.respawn(id);
        }
        self.due = due;
    }

    fn run_clock(&mut self, out: &mut Outbox<ShooterSchema>) {
        match self.phase {
            Phase::Playing { ends_at } if self.steps >= ends_at => {
                self.end_round(RoundEnd::Time, out)
            }
            Phase::Intermission { next_at } if self.steps >= next_at => {
                self.after_intermission(out)
            }
            _ => {}
        }
    }
}

impl Game for Shooter {
    type Schema = ShooterSchema;
    type Settings = ShooterSettings;

    fn join(
        &mut self,
        request: &JoinRequest<'_>,
        out: &mut Outbox<ShooterSchema>,
    ) -> Result<Option<EntityId>, Refusal> {
        // The smaller team, team 0 on a tie.
        let on_one = self.fighters.values().filter(|f| f.team == 1).count();
        let team = u8::from(on_one * 2 < self.fighters.len());
        let id = EntityId(self.next_id);
        // Ids never repeat: saturate rather than wrap after 4 billion joins.
        self.next_id = self.next_id.saturating_add(1);
        let refill = u64::from(CHAT_REFILL_MS) * u64::from(self.rules.tick_rate_hz) / 1000;
        let fighter = FighterState {
            player: request.player,
            name: request.name.to_owned(),
            team,
            position: IVec2::ZERO,
            velocity: IVec2::ZERO,
            move_x: 0,
            move_y: 0,
            aim: if team == 0 { 0 } else { 32768 },
            health: self.rules.max_health,
            score: 0,
            shots: 0,
            next_fire: 0,
            respawn_at: None,
            chat: ChatGate::new(self.steps, refill),
        };
        self.fighters.insert(id, fighter);
        self.by_player.insert(request.player, id);
        self.respawn(id);
        out.send(
            request.player,
            ShooterEvent::Joined {
                world_size: self.rules.world_size,
                team,
                round: self.round,
                kills_to_win: self.rules.kills_to_win,
                round_ticks_left: self.round_ticks_left(),
                rewind_ticks: self.rules.rewind_ticks,
                max_health: self.rules.max_health,
                speed: self.rules.speed,
            },
        );
        Ok(Some(id))
    }

    fn leave(&mut self, player: PlayerId, _out: &mut Outbox<ShooterSchema>) {
        if let Some(id) = self.by_player.remove(&player) {
            self.fighters.remove(&id);
        }
    }

    fn input(&mut self, context: InputContext, input: &ShooterInput) {
        let Some(&id) = self.by_player.get(&context.player) else {
            return;
        };
        let playing = self.playing();
        let (step_now, interval) = (self.steps, u64::from(self.rules.fire_interval_ticks));
        let Some(fighter) = self.fighters.get_mut(&id) else {
            return;
        };
        fighter.move_x = input.move_x;
        fighter.move_y = input.move_y;
        fighter.aim = input.aim;
        if !(input.fire && playing && fighter.health > 0 && step_now >= fighter.next_fire) {
            return;
        }
        fighter.next_fire = step_now + interval;
        fighter.shots = fighter.shots.wrapping_add(1);
        // The shooter saw the world of `ack_tick - view_delay`; the newest recorded frame
        // is the tick before this one. No snapshot yet: judged against the present.
        let rewind = context
            .view_age_ticks()
            .map_or(0, |age| age.saturating_add(u32::from(input.view_delay)));
        self.queued.push(QueuedShot {
            shooter: id,
            aim: input.aim,
            rewind,
        });
    }

    fn message(
        &mut self,
        player: PlayerId,
        message: ShooterRequest,
        out: &mut Outbox<ShooterSchema>,
    ) {
        let ShooterRequest::Say(text) = message;
        let refill = u64::from(CHAT_REFILL_MS) * u64::from(self.rules.tick_rate_hz) / 1000;
        let now = self.steps;
        let Some(fighter) = self
            .by_player
            .get(&player)
            .and_then(|id| self.fighters.get_mut(id))
        else {
            return;
        };
        match fighter.chat.admit(&text, now, refill) {
            Ok(text) => out.broadcast(ShooterEvent::Chat {
                from: player,
                name: fighter.name.clone(),
                text,
            }),
            Err(refusal) => out.send(
                player,
                ShooterEvent::ChatRefused {
                    reason: refusal.to_string(),
                },
            ),
        }
    }

    fn step(&mut self, _dt: f32, out: &mut Outbox<ShooterSchema>) {
        if self.phase == Phase::Over {
            return;
        }
        self.judge_shots(out);
        self.respawn_due();
        self.advance();
        self.steps += 1;
        self.run_clock(out);
        // Once per tick: where everyone stands now, for the shots of the next ticks.
        self.rewind.record(self.fighters.iter().map(|(id, f)| Pose {
            id: *id,
            position: f.position,
            team: f.team,
            alive: f.health > 0,
        }));
    }

    fn write_entities(&self, out: &mut Vec<Entity<Fighter>>) {
        out.clear();
        // A BTreeMap iterates in id order: already sorted.
        out.extend(self.fighters.iter().map(|(id, f)| Entity {
            id: *id,
            state: Fighter {
                x: f.position.x,
                y: f.position.y,
                // At most 1000 u/s × 64 steps / 1 Hz: far inside i16 at tick rates ≥ 2 Hz;
                // saturate rather than wrap below that.
                vx: f.velocity.x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16,
                vy: f.velocity.y.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16,
                aim: f.aim,
                health: f.health,
                team: f.team,
                score: f.score,
                shots: f.shots,
            },
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewind::aim_at;
    use ticksync_game::{Command, Recipients};

    const DT: f32 = 1.0 / 30.0;

    fn join(game: &mut Shooter, out: &mut Outbox<ShooterSchema>, player: u32) -> EntityId {
        let request = JoinRequest {
            player: PlayerId(player),
            name: "p",
            claims: None,
            room: "r",
        };
        game.join(&request, out).unwrap().unwrap()
    }

    /// A room with fighter 1 (team 0) and fighter 2 (team 1), 400 units apart on a line.
    fn duel(settings: ShooterSettings) -> (Shooter, Outbox<ShooterSchema>) {
        let mut game = Shooter::new(&settings, 30);
        let mut out = Outbox::new();
        assert_eq!(join(&mut game, &mut out, 1), EntityId(1));
        assert_eq!(join(&mut game, &mut out, 2), EntityId(2));
        game.fighters.get_mut(&EntityId(1)).unwrap().position = IVec2::new(20_000, 64_000);
        game.fighters.get_mut(&EntityId(2)).unwrap().position = IVec2::new(45_600, 64_000);
        // One step records where they stand: a shot is judged against recorded ticks.
        game.step(DT, &mut out);
        out.drain_messages();
        (game, out)
    }

    fn context(player: u32, tick: u32, ack_tick: u32) -> InputContext {
        InputContext {
            player: PlayerId(player),
            seq: tick,
            ack_tick,
            tick,
        }
    }

    fn fire_at(game: &mut Shooter, context: InputContext, at: IVec2, view_delay: u8) {
        let from = game.fighters[&EntityId(1)].position;
        let input = ShooterInput {
            aim: aim_at(from, at),
            fire: true,
            view_delay,
            ..ShooterInput::default()
        };
        game.input(context, &input);
    }

    fn events(out: &mut Outbox<ShooterSchema>) -> Vec<(Recipients, ShooterEvent)> {
        out.drain_messages().collect()
    }

    /// The target walks up (+y) at full speed; the shooter stands still. Returns the
    /// target's position after each step, indexed by the step's tick (1-based).
    fn walk(game: &mut Shooter, out: &mut Outbox<ShooterSchema>, ticks: u32) -> Vec<IVec2> {
        let mut path = vec![game.fighters[&EntityId(2)].position];
        let up = ShooterInput {
            move_y: 127,
            ..ShooterInput::default()
        };
        for tick in 1..=ticks {
            game.input(context(2, tick, tick - 1), &up);
            game.step(DT, out);
            path.push(game.fighters[&EntityId(2)].position);
        }
        path
    }

    #[test]
    fn a_shot_is_judged_where_its_shooter_saw_the_target() {
        let (mut game, mut out) = duel(ShooterSettings::default());
        let path = walk(&mut game, &mut out, 20);
        // Tick 21 applies the shot; the shooter had applied snapshot 20 and draws others 3
        // ticks behind it: it saw the target where it stood after tick 17.
        fire_at(&mut game, context(1, 21, 20), path[17], 3);
        game.step(DT, &mut out);
        let hit = events(&mut out);
        assert!(
            hit.iter().any(|(_, e)| matches!(
                e,
                ShooterEvent::Hit {
                    shooter: EntityId(1),
                    target: EntityId(2),
                    ..
                }
            )),
            "{hit:?}"
        );
        // Without the rewind, the same aim misses: the target has moved 40 units on.
        let (mut game, mut out) = duel(ShooterSettings::default());
        let path = walk(&mut game, &mut out, 20);
        fire_at(&mut game, context(1, 21, 20), path[17], 0);
        game.step(DT, &mut out);
        assert_eq!(game.hits, 0, "{:?}", events(&mut out));
    }

    #[test]
    fn a_claim_beyond_the_rewind_window_is_judged_at_its_edge() {
        // A 200 ms window is 6 ticks at 30 Hz.
        let (mut game, mut out) = duel(ShooterSettings::default());
        let path = walk(&mut game, &mut out, 20);
        // Aimed where the target was 10 ticks before the newest state: judged 6 back, where
        // the target was 40 units further on. A miss.
        fire_at(&mut game, context(1, 21, 20), path[10], 10);
        game.step(DT, &mut out);
        assert_eq!(game.hits, 0);
        // Aimed where it was 6 ticks back: a hit.
        game.fighters.get_mut(&EntityId(1)).unwrap().next_fire = 0;
        let target_then = {
            let (poses, back) = game.rewind.frame(6);
            assert_eq!(back, 6);
            poses.iter().find(|p| p.id == EntityId(2)).unwrap().position
        };
        assert_ne!(target_then, game.fighters[&EntityId(2)].position);
        fire_at(&mut game, context(1, 22, 21), target_then, 6);
        game.step(DT, &mut out);
        assert_eq!(game.hits, 1);
    }

    #[test]
    fn three_hits_kill_then_the_victim_respawns() {
        let (mut game, mut out) = duel(ShooterSettings::default());
        let target = game.fighters[&EntityId(2)].position;
        let mut tick = 1;
        let mut kills = 0;
        while game.fighters[&EntityId(2)].health > 0 && tick < 100 {
            fire_at(&mut game, context(1, tick, tick - 1), target, 0);
            game.step(DT, &mut out);
            for (to, event) in events(&mut out) {
                if let ShooterEvent::Killed { killer, victim, .. } = event {
                    assert_eq!(
                        (killer, victim, to),
                        (EntityId(1), EntityId(2), Recipients::All)
                    );
                    kills += 1;
                }
            }
            tick += 1;
        }
        assert_eq!(kills, 1);
        assert_eq!(game.hits, 3, "34 damage against 100 health");
        // The weapon's interval held: 9 ticks between shots.
        assert_eq!(tick, 2 * 9 + 2);
        assert_eq!(game.fighters[&EntityId(1)].score, 1);
        assert_eq!(game.fighters[&EntityId(1)].shots, 3);
        for _ in 0..60 {
            game.step(DT, &mut out);
        }
        assert_eq!(
            game.fighters[&EntityId(2)].health,
            100,
            "respawned after 2 s"
        );
    }

    #[test]
    fn a_round_ends_at_its_kills_then_restarts() {
        let settings = ShooterSettings {
            kills_to_win: 1,
            damage: 100,
            intermission_seconds: 1,
            ..ShooterSettings::default()
        };
        let (mut game, mut out) = duel(settings);
        let target = game.fighters[&EntityId(2)].position;
        fire_at(&mut game, context(1, 1, 0), target, 0);
        game.step(DT, &mut out);
        let ended = events(&mut out)
            .into_iter()
            .find_map(|(_, e)| match e {
                ShooterEvent::RoundEnded { .. } => Some(e),
                _ => None,
            })
            .expect("the round ended");
        assert_eq!(
            ended,
            ShooterEvent::RoundEnded {
                round: 1,
                winner: Some(0),
                team_kills: [1, 0],
                best: Some(EntityId(1)),
                reason: RoundEnd::Kills,
            }
        );
        assert!(matches!(game.phase(), Phase::Intermission { .. }));
        for _ in 0..30 {
            game.step(DT, &mut out);
        }
        let started: Vec<_> = events(&mut out)
            .into_iter()
            .filter(|(_, e)| matches!(e, ShooterEvent::RoundStarted { round: 2, .. }))
            .collect();
        assert_eq!(started.len(), 1);
        assert_eq!(game.team_kills(), [0, 0]);
        assert_eq!(game.fighters[&EntityId(1)].score, 0);
        assert_eq!(game.fighters[&EntityId(2)].health, 100);
    }

    #[test]
    fn a_timed_out_round_that_ends_the_room_says_so() {
        let settings = ShooterSettings {
            round_seconds: 1,
            intermission_seconds: 1,
            after_round: AfterRound::End,
            ..ShooterSettings::default()
        };
        let (mut game, mut out) = duel(settings);
        for _ in 0..30 {
            game.step(DT, &mut out);
        }
        // The result first; the room ends after the intermission.
        assert_eq!(out.drain_commands().count(), 0);
        for _ in 0..30 {
            game.step(DT, &mut out);
        }
        let events = events(&mut out);
        assert!(events.iter().any(|(_, e)| matches!(
            e,
            ShooterEvent::RoundEnded {
                winner: None,
                reason: RoundEnd::Time,
                ..
            }
        )));
        let commands: Vec<_> = out.drain_commands().collect();
        assert_eq!(
            commands,
            vec![Command::EndRoom {
                reason: "round 1 over: a draw at 0:0".into()
            }]
        );
    }

    #[test]
    fn teammates_cannot_be_hit_and_teams_stay_even() {
        let mut game = Shooter::new(&ShooterSettings::default(), 30);
        let mut out = Outbox::new();
        let ids: Vec<_> = (1..=6).map(|p| join(&mut game, &mut out, p)).collect();
        let teams: Vec<_> = ids.iter().map(|id| game.fighters[id].team).collect();
        assert_eq!(teams, vec![0, 1, 0, 1, 0, 1]);
        // Fighter 3 (team 0) right in front of fighter 1 (team 0), an enemy behind it.
        game.fighters.get_mut(&EntityId(1)).unwrap().position = IVec2::new(10_000, 10_000);
        game.fighters.get_mut(&EntityId(3)).unwrap().position = IVec2::new(12_000, 10_000);
        game.fighters.get_mut(&EntityId(2)).unwrap().position = IVec2::new(14_000, 10_000);
        game.step(DT, &mut out);
        fire_at(&mut game, context(1, 2, 1), IVec2::new(14_000, 10_000), 0);
        game.step(DT, &mut out);
        assert_eq!(game.fighters[&EntityId(3)].health, 100);
        assert_eq!(game.fighters[&EntityId(2)].health, 66);
    }

    #[test]
    fn chat_is_broadcast_and_limited() {
        let (mut game, mut out) = duel(ShooterSettings::default());
        game.message(PlayerId(1), ShooterRequest::Say("hello".into()), &mut out);
        assert_eq!(
            events(&mut out),
            vec![(
                Recipients::All,
                ShooterEvent::Chat {
                    from: PlayerId(1),
                    name: "p".into(),
                    text: "hello".into()
                }
            )]
        );
        for _ in 0..3 {
            game.message(PlayerId(1), ShooterRequest::Say("spam".into()), &mut out);
        }
        let last = events(&mut out).pop().unwrap();
        assert!(matches!(
            last,
            (
                Recipients::Player(PlayerId(1)),
                ShooterEvent::ChatRefused { .. }
            )
        ));
    }

    proptest::proptest! {
        /// Whatever peers send — any input, any claimed tick, any chat — the game neither
        /// panics nor lets a fighter leave the world or exceed its health.
        #[test]
        fn any_inputs_keep_the_world_sound(
            steps in proptest::collection::vec(
                (0u32..4, proptest::prelude::any::<(i8, i8, u16, bool, u8)>(), 0u32..40, proptest::prelude::any::<bool>()),
                1..200,
            )
        ) {
            let mut game = Shooter::new(&ShooterSettings { respawn_ms: 100, ..ShooterSettings::default() }, 30);
            let mut out = Outbox::new();
            for player in 1..=4 {
                join(&mut game, &mut out, player);
            }
            for (tick, (player, (move_x, move_y, aim, fire, view_delay), ack_back, chat)) in steps.into_iter().enumerate() {
                let tick = tick as u32 + 1;
                let context = InputContext {
                    player: PlayerId(player + 1),
                    seq: tick,
                    ack_tick: tick.saturating_sub(ack_back),
                    tick,
                };
                game.input(context, &ShooterInput { move_x, move_y, aim, fire, view_delay });
                if chat {
                    game.message(PlayerId(player + 1), ShooterRequest::Say("\u{0}x".repeat(usize::from(view_delay))), &mut out);
                }
                game.step(DT, &mut out);
                out.drain_messages();
                let world = game.rules.world_steps;
                for fighter in game.fighters.values() {
                    proptest::prop_assert!(fighter.position.cmpge(IVec2::ZERO).all());
                    proptest::prop_assert!(fighter.position.cmple(IVec2::splat(world)).all());
                    proptest::prop_assert!(fighter.health <= game.rules.max_health);
                }
                proptest::prop_assert!(game.rewind.len() <= usize::from(game.rules.rewind_ticks) + 1);
            }
        }
    }

    #[test]
    fn the_rewind_history_stays_bounded() {
        let (mut game, mut out) = duel(ShooterSettings::default());
        for _ in 0..1000 {
            game.step(DT, &mut out);
        }
        assert_eq!(game.rewind.len(), usize::from(game.rules.rewind_ticks) + 1);
    }
}
