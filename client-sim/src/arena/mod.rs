//! The arena's bots, one implementation of the swarm's [`Bot`] trait: `random-walk` (the
//! arena scenario of ARCHITECTURE.md §4, the default), `circle`, `idle` (connected,
//! acknowledging snapshots, sending no input), and the ordinary inputs of `chaos` bots (a
//! fresh random direction each). They learn the world's size from the arena's
//! `ArenaMessage::World`, which the report counts as `world_messages`.

pub mod steering;

use rand::rngs::SmallRng;
use rand::SeedableRng;
use ticksync_arena::{ArenaInput, ArenaMessage, ArenaSchema};
use ticksync_protocol::Welcome;

pub use steering::{BotSteering, CircleSteering, Steering};

use crate::bot::{Bot, BotFactory, Turn, CHAOS};

/// The behaviours of arena bots, the default first.
pub const ARENA_BEHAVIOURS: [&str; 3] = ["random-walk", "circle", "idle"];

/// Arena bots press no buttons.
const BOT_BUTTONS: u8 = 0;

/// Makes arena bots by behaviour name.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArenaBots;

impl BotFactory for ArenaBots {
    type Bot = ArenaBot;

    fn behaviours(&self) -> &[&'static str] {
        &ARENA_BEHAVIOURS
    }

    fn bot(&self, behaviour: &str, seed: u64, index: usize) -> ArenaBot {
        let index = index as u64;
        let steering = match behaviour {
            "circle" => Steering::Circle(CircleSteering::new(seed, index)),
            "idle" => Steering::Idle,
            CHAOS => Steering::Jitter(SmallRng::seed_from_u64(seed.rotate_left(16) ^ index)),
            _ => Steering::RandomWalk(BotSteering::new(seed, index)),
        };
        ArenaBot::new(steering)
    }
}

/// One arena bot: moves as its [`Steering`] says, one input per tick.
#[derive(Debug, Clone)]
pub struct ArenaBot {
    steering: Steering,
    /// The world's size, once the arena has said it.
    world: Option<(u32, u32)>,
    world_messages: u64,
    welcomes: u64,
}

impl ArenaBot {
    pub fn new(steering: Steering) -> Self {
        ArenaBot {
            steering,
            world: None,
            world_messages: 0,
            welcomes: 0,
        }
    }

    /// The world's width and height, once the server has sent them.
    pub fn world(&self) -> Option<(u32, u32)> {
        self.world
    }
}

impl Bot for ArenaBot {
    type Schema = ArenaSchema;

    fn on_welcome(&mut self, _welcome: &Welcome) {
        self.welcomes += 1;
    }

    fn on_message(&mut self, message: &ArenaMessage) {
        let ArenaMessage::World { width, height } = *message;
        self.world = Some((width, height));
        self.world_messages += 1;
    }

    fn next_input(&mut self, turn: &Turn<'_, ArenaSchema>) -> Option<ArenaInput> {
        self.steering
            .direction_at(turn.now)
            .map(|move_dir| ArenaInput {
                move_dir,
                buttons: BOT_BUTTONS,
            })
    }

    fn sends_inputs(&self) -> bool {
        !matches!(self.steering, Steering::Idle)
    }

    /// Every welcome should be followed by the world's size: a server that forgets it shows
    /// as fewer `world_messages` than `welcomes`.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("welcomes", self.welcomes),
            ("world_messages", self.world_messages),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviours_make_the_matching_steering() {
        let bots = ArenaBots;
        assert!(matches!(
            bots.bot("random-walk", 1, 0).steering,
            Steering::RandomWalk(_)
        ));
        assert!(matches!(
            bots.bot("circle", 1, 0).steering,
            Steering::Circle(_)
        ));
        let idle = bots.bot("idle", 1, 0);
        assert!(!idle.sends_inputs());
        assert!(matches!(
            bots.bot(CHAOS, 1, 0).steering,
            Steering::Jitter(_)
        ));
        assert_eq!(bots.behaviours()[0], "random-walk", "the default");
    }

    #[test]
    fn the_world_message_is_remembered_and_counted() {
        let mut bot = ArenaBots.bot("random-walk", 1, 0);
        assert_eq!(bot.world(), None);
        bot.on_message(&ArenaMessage::World {
            width: 2000,
            height: 1500,
        });
        assert_eq!(bot.world(), Some((2000, 1500)));
        assert!(bot.counters().contains(&("world_messages", 1)));
    }
}
