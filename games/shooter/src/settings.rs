//! The shooter's settings: the `[game]` table of the server's configuration (a room's
//! `[rooms.NAME.game]` on top), and the same rules turned into ticks and position steps for
//! a room's tick rate ([`Rules`]).

use serde::{Deserialize, Serialize};

use crate::motion::POSITION_STEPS_PER_UNIT;

/// What happens when a round is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterRound {
    /// An intermission, then a new round with scores at 0 in the same room.
    #[default]
    Restart,
    /// The room ends (every player gets close code 4008) once the result is announced.
    End,
}

/// The shooter's settings. Values outside their documented range are clamped into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShooterSettings {
    /// Side of the square world, in units (100 to 100,000).
    pub world_size: u32,
    /// Team kills that win a round (1 to 10,000).
    pub kills_to_win: u16,
    /// Time limit of a round, in seconds (1 to 86,400).
    pub round_seconds: u32,
    /// Pause after a round (its result on every screen) before the next one starts or the
    /// room ends, in seconds (at least a tick, at most 600).
    pub intermission_seconds: u32,
    pub after_round: AfterRound,
    /// Time from death to respawn, in milliseconds (0 to 60,000).
    pub respawn_ms: u32,
    /// How far back a shot may be judged, in milliseconds (0 to 1,000): the lag a shooter
    /// is compensated for, at most. Older claims are judged at the window's edge.
    pub rewind_ms: u32,
    /// Time between two shots of one fighter, in milliseconds (at least one tick).
    pub fire_interval_ms: u32,
    /// Health of a fresh fighter (1 to 255) and what one hit takes (1 to 255).
    pub max_health: u8,
    pub damage: u8,
    /// Reach of a shot, in units.
    pub range: u32,
    /// Movement speed, in units per second (0 to 1,000).
    pub speed: u32,
}

impl Default for ShooterSettings {
    fn default() -> Self {
        ShooterSettings {
            world_size: 2000,
            kills_to_win: 50,
            round_seconds: 300,
            intermission_seconds: 5,
            after_round: AfterRound::Restart,
            respawn_ms: 2000,
            rewind_ms: 200,
            fire_interval_ms: 300,
            max_health: 100,
            damage: 34,
            range: 1400,
            speed: 250,
        }
    }
}

/// Radius of a fighter, in units: what a shot must pass within to hit.
pub const FIGHTER_RADIUS_UNITS: u32 = 16;

/// The settings of one room, in the units the simulation runs in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rules {
    pub tick_rate_hz: u16,
    pub world_steps: i32,
    pub world_size: u32,
    pub kills_to_win: u16,
    pub round_ticks: u32,
    pub intermission_ticks: u32,
    pub after_round: AfterRound,
    pub respawn_ticks: u32,
    pub rewind_ticks: u16,
    pub fire_interval_ticks: u32,
    pub max_health: u8,
    pub damage: u8,
    pub range_steps: f64,
    pub radius_steps: f64,
    /// Movement speed, in units per second, and in position steps per tick.
    pub speed: u32,
    pub speed_steps: f32,
}

/// `ms` milliseconds in ticks at `hz`, rounded to the nearest tick.
fn ticks(ms: u64, hz: u16) -> u32 {
    let ticks = (ms * u64::from(hz) + 500) / 1000;
    u32::try_from(ticks).unwrap_or(u32::MAX)
}

impl Rules {
    /// The rules of `settings` at `tick_rate_hz`, each value clamped into its range.
    pub fn new(settings: &ShooterSettings, tick_rate_hz: u16) -> Rules {
        let hz = tick_rate_hz.max(1);
        let world_size = settings.world_size.clamp(100, 100_000);
        let steps = f64::from(POSITION_STEPS_PER_UNIT);
        Rules {
            tick_rate_hz: hz,
            world_size,
            world_steps: (f64::from(world_size) * steps) as i32,
            kills_to_win: settings.kills_to_win.clamp(1, 10_000),
            round_ticks: ticks(
                u64::from(settings.round_seconds.clamp(1, 86_400)) * 1000,
                hz,
            ),
            intermission_ticks: ticks(u64::from(settings.intermission_seconds.min(600)) * 1000, hz),
            after_round: settings.after_round,
            respawn_ticks: ticks(u64::from(settings.respawn_ms.min(60_000)), hz),
            rewind_ticks: ticks(u64::from(settings.rewind_ms.min(1000)), hz) as u16,
            fire_interval_ticks: ticks(u64::from(settings.fire_interval_ms), hz).max(1),
            max_health: settings.max_health.max(1),
            damage: settings.damage.max(1),
            range_steps: f64::from(settings.range.clamp(1, 100_000)) * steps,
            radius_steps: f64::from(FIGHTER_RADIUS_UNITS) * steps,
            speed: settings.speed.min(1000),
            speed_steps: settings.speed.min(1000) as f32 * POSITION_STEPS_PER_UNIT / f32::from(hz),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_at_thirty_hertz() {
        let rules = Rules::new(&ShooterSettings::default(), 30);
        assert_eq!(rules.rewind_ticks, 6);
        assert_eq!(rules.fire_interval_ticks, 9);
        assert_eq!(rules.respawn_ticks, 60);
        assert_eq!(rules.round_ticks, 9000);
        assert_eq!(rules.world_steps, 128_000);
    }

    #[test]
    fn out_of_range_values_are_clamped() {
        let settings = ShooterSettings {
            world_size: 0,
            rewind_ms: 60_000,
            fire_interval_ms: 0,
            max_health: 0,
            ..ShooterSettings::default()
        };
        let rules = Rules::new(&settings, 30);
        assert_eq!(rules.world_size, 100);
        assert_eq!(
            rules.rewind_ticks, 30,
            "a rewind window of at most a second"
        );
        assert_eq!(rules.fire_interval_ticks, 1);
        assert_eq!(rules.max_health, 1);
    }

    #[test]
    fn settings_read_from_toml_names() {
        let settings: ShooterSettings =
            serde_json::from_str(r#"{"after_round":"end","kills_to_win":3}"#).unwrap();
        assert_eq!(settings.after_round, AfterRound::End);
        assert_eq!(settings.kills_to_win, 3);
        assert!(serde_json::from_str::<ShooterSettings>(r#"{"kils_to_win":3}"#).is_err());
    }
}
