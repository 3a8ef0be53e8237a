//! The shooter's bots for the swarm (`shooter-sim`, or `ticksync_sim::run_swarm_with` with
//! [`ShooterBots`]): each one walks in a random direction that changes once a second, aims
//! at the nearest living enemy in its view with a few degrees of error, fires whenever one
//! is in range, and says something in chat now and then. Their figures join the swarm's
//! report as `game_counters`: shots (as the server counted them in the bot's own `shots`
//! field), hits and kills scored, deaths, chat lines sent and received, rounds ended, and
//! every event received.

use glam::IVec2;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync_protocol::{Entity, EntityId, Snapshot, Welcome};
use ticksync_sim::{Bot, BotFactory, Turn};

use crate::motion::{quantize_direction, POSITION_STEPS_PER_UNIT};
use crate::rewind::aim_at;
use crate::schema::{Fighter, ShooterEvent, ShooterInput, ShooterRequest, ShooterSchema};
use crate::settings::ShooterSettings;

/// The behaviours of shooter bots (`fight`, the default).
pub const SHOOTER_BEHAVIOURS: [&str; 1] = ["fight"];

/// Largest aim error, in 1/65536 turn (about ±3°).
const AIM_ERROR: i32 = 550;
/// A bot picks a new direction this often, in ticks (a second at 30 Hz).
const TURN_EVERY_TICKS: u64 = 30;
/// A bot chats about once this often, in ticks (10 s at 30 Hz).
const CHAT_EVERY_TICKS: u64 = 300;
const CHAT_LINES: [&str; 4] = ["gl hf", "nice shot", "flank left", "gg"];

/// Makes shooter bots.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShooterBots;

impl BotFactory for ShooterBots {
    type Bot = ShooterBot;

    fn behaviours(&self) -> &[&'static str] {
        &SHOOTER_BEHAVIOURS
    }

    fn bot(&self, _behaviour: &str, seed: u64, index: usize) -> ShooterBot {
        ShooterBot::new(seed ^ index as u64, index as u64)
    }
}

/// What a shooter bot counted over its run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BotFigures {
    pub shots: u64,
    pub hits: u64,
    pub kills: u64,
    pub deaths: u64,
    pub chat_sent: u64,
    pub chat_received: u64,
    pub rounds_ended: u64,
    pub events: u64,
}

/// One shooter bot.
#[derive(Debug)]
pub struct ShooterBot {
    rng: SmallRng,
    index: u64,
    me: Option<EntityId>,
    ticks: u64,
    move_dir: (i8, i8),
    /// The `shots` field of the bot's fighter when last seen.
    last_shots: Option<u8>,
    /// Reach of a shot in position steps (the default settings' range).
    range_steps: i64,
    pub figures: BotFigures,
}

impl ShooterBot {
    pub fn new(seed: u64, index: u64) -> ShooterBot {
        ShooterBot {
            rng: SmallRng::seed_from_u64(seed),
            index,
            me: None,
            ticks: 0,
            move_dir: (0, 0),
            last_shots: None,
            range_steps: i64::from(ShooterSettings::default().range)
                * POSITION_STEPS_PER_UNIT as i64,
            figures: BotFigures::default(),
        }
    }

    /// The nearest living enemy of `me` in `view` within reach.
    fn target<'a>(&self, me: &Fighter, view: &'a [Entity<Fighter>]) -> Option<&'a Fighter> {
        let at = IVec2::new(me.x, me.y);
        view.iter()
            .map(|e| &e.state)
            .filter(|f| f.alive() && f.team != me.team)
            .map(|f| ((IVec2::new(f.x, f.y) - at).as_i64vec2().length_squared(), f))
            .filter(|(d, _)| *d <= self.range_steps * self.range_steps)
            .min_by_key(|(d, _)| *d)
            .map(|(_, f)| f)
    }
}

impl Bot for ShooterBot {
    type Schema = ShooterSchema;

    fn on_welcome(&mut self, welcome: &Welcome) {
        self.me = welcome.entity_id;
    }

    fn on_message(&mut self, event: &ShooterEvent) {
        self.figures.events += 1;
        let me = self.me;
        match event {
            ShooterEvent::Hit { shooter, .. } if Some(*shooter) == me => self.figures.hits += 1,
            ShooterEvent::Killed { killer, victim, .. } => {
                if Some(*killer) == me {
                    self.figures.kills += 1;
                }
                if Some(*victim) == me {
                    self.figures.deaths += 1;
                }
            }
            ShooterEvent::Chat { .. } => self.figures.chat_received += 1,
            ShooterEvent::RoundEnded { .. } => self.figures.rounds_ended += 1,
            _ => {}
        }
    }

    fn on_snapshot(&mut self, _snapshot: &Snapshot<Fighter>, view: &[Entity<Fighter>]) {
        let Some(me) = self.me else { return };
        let Ok(index) = view.binary_search_by_key(&me, |e| e.id) else {
            return;
        };
        let shots = view[index].state.shots;
        if let Some(last) = self.last_shots {
            self.figures.shots += u64::from(shots.wrapping_sub(last));
        }
        self.last_shots = Some(shots);
    }

    fn next_input(&mut self, turn: &Turn<'_, ShooterSchema>) -> Option<ShooterInput> {
        self.ticks += 1;
        if self.ticks % TURN_EVERY_TICKS == 1 {
            let angle = self.rng.random_range(0.0..std::f32::consts::TAU);
            self.move_dir = quantize_direction(angle.cos(), angle.sin());
        }
        let (move_x, move_y) = self.move_dir;
        let Some(me) = turn.own_entity() else {
            return Some(ShooterInput {
                move_x,
                move_y,
                ..ShooterInput::default()
            });
        };
        let (aim, fire) = match self.target(me, turn.view) {
            Some(enemy) if me.alive() => {
                let exact = aim_at(IVec2::new(me.x, me.y), IVec2::new(enemy.x, enemy.y));
                let error = self.rng.random_range(-AIM_ERROR..=AIM_ERROR);
                (exact.wrapping_add_signed(error as i16), true)
            }
            _ => (me.aim, false),
        };
        Some(ShooterInput {
            move_x,
            move_y,
            aim,
            fire,
            // A bot acts on its newest view: no interpolation delay.
            view_delay: 0,
        })
    }

    fn next_message(&mut self, _turn: &Turn<'_, ShooterSchema>) -> Option<ShooterRequest> {
        // Staggered by index so the room does not hear every bot at once.
        if (self.ticks + self.index * 37) % CHAT_EVERY_TICKS != 0 {
            return None;
        }
        self.figures.chat_sent += 1;
        let line = CHAT_LINES[(self.ticks / CHAT_EVERY_TICKS + self.index) as usize % 4];
        Some(ShooterRequest::Say(line.to_owned()))
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let f = &self.figures;
        vec![
            ("shots", f.shots),
            ("hits", f.hits),
            ("kills", f.kills),
            ("deaths", f.deaths),
            ("chat_sent", f.chat_sent),
            ("chat_received", f.chat_received),
            ("rounds_ended", f.rounds_ended),
            ("events", f.events),
        ]
    }
}
