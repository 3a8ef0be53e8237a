//! Bot behaviours and the mix of them a swarm runs (`--mix random-walk=90,chaos=10`).
//!
//! - `random-walk`: the arena bot of ARCHITECTURE.md §4 (the default).
//! - `circle`: one input per tick, steering round a circle.
//! - `idle`: connected, acknowledging every snapshot with `Ack`, sending no input.
//! - `chaos`: misbehaves on purpose (see [`crate::chaos`]); reported apart from the others.
//!
//! A [`Mix`] assigns behaviours to bot indices deterministically and interleaved (so a
//! ramp connects chaos bots throughout, not all at the end), exactly in proportion.

use std::fmt;
use std::str::FromStr;

/// What one bot does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Behaviour {
    RandomWalk,
    Circle,
    Idle,
    Chaos,
}

impl Behaviour {
    pub const ALL: [Behaviour; 4] = [
        Behaviour::RandomWalk,
        Behaviour::Circle,
        Behaviour::Idle,
        Behaviour::Chaos,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::RandomWalk => "random-walk",
            Behaviour::Circle => "circle",
            Behaviour::Idle => "idle",
            Behaviour::Chaos => "chaos",
        }
    }

    /// Whether its figures count as an honest player's (everything but chaos).
    pub fn is_honest(self) -> bool {
        self != Behaviour::Chaos
    }
}

impl fmt::Display for Behaviour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Behaviour {
    type Err = MixError;

    fn from_str(name: &str) -> Result<Self, MixError> {
        Behaviour::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| MixError::UnknownBehaviour(name.to_owned()))
    }
}

/// Why a `--mix` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    #[error("unknown behaviour {0:?} (expected random-walk, circle, idle or chaos)")]
    UnknownBehaviour(String),
    #[error("{0:?} is not NAME=PERCENT (e.g. random-walk=90,chaos=10)")]
    NotAPair(String),
    #[error("{0:?} is not a whole percentage from 0 to 100")]
    BadPercent(String),
    #[error("{0} appears twice")]
    Repeated(Behaviour),
    #[error("percentages add up to {0}, not 100")]
    NotHundred(u32),
}

/// Percentages of behaviours that add up to 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    /// Behaviours with a share above 0, in the order given.
    shares: Vec<(Behaviour, u8)>,
}

impl Default for Mix {
    /// Every bot a random walker: the arena scenario.
    fn default() -> Self {
        Mix::only(Behaviour::RandomWalk)
    }
}

impl Mix {
    /// All bots behave as `behaviour`.
    pub fn only(behaviour: Behaviour) -> Self {
        Mix {
            shares: vec![(behaviour, 100)],
        }
    }

    /// The behaviours with their percentages.
    pub fn shares(&self) -> &[(Behaviour, u8)] {
        &self.shares
    }

    /// The behaviour of each of `bots` bots: each behaviour gets its share rounded to a
    /// whole bot (largest deficit first), spread evenly over the indices.
    pub fn assign(&self, bots: usize) -> Vec<Behaviour> {
        let mut deficit = vec![0i64; self.shares.len()];
        (0..bots)
            .map(|_| {
                for (slot, (_, percent)) in deficit.iter_mut().zip(&self.shares) {
                    *slot += i64::from(*percent);
                }
                // The first of the largest deficits: ties go to the behaviour named first.
                let (pick, _) = deficit
                    .iter()
                    .enumerate()
                    .fold(
                        (0, i64::MIN),
                        |best, (i, &d)| if d > best.1 { (i, d) } else { best },
                    );
                deficit[pick] -= 100;
                self.shares[pick].0
            })
            .collect()
    }
}

impl FromStr for Mix {
    type Err = MixError;

    /// `random-walk=90,chaos=10`; a lone name (`circle`) means 100 %.
    fn from_str(text: &str) -> Result<Self, MixError> {
        let text = text.trim();
        if !text.contains('=') && !text.contains(',') {
            return Ok(Mix::only(text.parse()?));
        }
        let mut shares: Vec<(Behaviour, u8)> = Vec::new();
        let mut total = 0u32;
        for part in text.split(',') {
            let (name, percent) = part
                .split_once('=')
                .ok_or_else(|| MixError::NotAPair(part.to_owned()))?;
            let behaviour: Behaviour = name.trim().parse()?;
            let percent: u8 = percent
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| MixError::BadPercent(percent.to_owned()))?;
            if shares.iter().any(|(b, _)| *b == behaviour) {
                return Err(MixError::Repeated(behaviour));
            }
            total += u32::from(percent);
            if percent > 0 {
                shares.push((behaviour, percent));
            }
        }
        if total != 100 {
            return Err(MixError::NotHundred(total));
        }
        Ok(Mix { shares })
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (behaviour, percent)) in self.shares.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{behaviour}={percent}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_example() {
        let mix: Mix = "random-walk=90,chaos=10".parse().unwrap();
        assert_eq!(
            mix.shares(),
            [(Behaviour::RandomWalk, 90), (Behaviour::Chaos, 10)]
        );
        assert_eq!(mix.to_string(), "random-walk=90,chaos=10");
        let spaced: Mix = " circle = 50 , idle=50 ".parse().unwrap();
        assert_eq!(
            spaced.shares(),
            [(Behaviour::Circle, 50), (Behaviour::Idle, 50)]
        );
        assert_eq!("idle".parse::<Mix>().unwrap(), Mix::only(Behaviour::Idle));
        assert_eq!(Mix::default(), Mix::only(Behaviour::RandomWalk));
    }

    #[test]
    fn bad_mixes_are_clear_errors() {
        let error = |text: &str| text.parse::<Mix>().unwrap_err();
        assert_eq!(error("random-walk=90,chaos=20"), MixError::NotHundred(110));
        assert_eq!(error("random-walk=50"), MixError::NotHundred(50));
        assert_eq!(
            error("dance=100"),
            MixError::UnknownBehaviour("dance".into())
        );
        assert_eq!(error("circle=x,idle=100"), MixError::BadPercent("x".into()));
        assert_eq!(
            error("circle=-5,idle=105"),
            MixError::BadPercent("-5".into())
        );
        assert_eq!(
            error("circle,idle=100"),
            MixError::NotAPair("circle".into())
        );
        assert_eq!(
            error("idle=50,idle=50"),
            MixError::Repeated(Behaviour::Idle)
        );
        assert!(error("random-walk=90,chaos=20")
            .to_string()
            .contains("not 100"));
    }

    #[test]
    fn assignment_is_proportional_and_interleaved() {
        let mix: Mix = "random-walk=90,chaos=10".parse().unwrap();
        let bots = mix.assign(100);
        let chaos = bots.iter().filter(|b| **b == Behaviour::Chaos).count();
        assert_eq!(chaos, 10);
        assert_eq!(
            bots[0],
            Behaviour::RandomWalk,
            "bot 0 (the traced one) is honest"
        );
        // Spread out: every block of ten bots has exactly one chaos bot.
        for block in bots.chunks(10) {
            assert_eq!(block.iter().filter(|b| **b == Behaviour::Chaos).count(), 1);
        }
        assert_eq!(mix.assign(100), bots, "deterministic");

        let thirds: Mix = "circle=34,idle=33,random-walk=33".parse().unwrap();
        let bots = thirds.assign(3);
        assert_eq!(
            bots,
            [Behaviour::Circle, Behaviour::Idle, Behaviour::RandomWalk]
        );
        assert!(Mix::default().assign(0).is_empty());
    }

    #[test]
    fn zero_shares_are_allowed_and_never_assigned() {
        let mix: Mix = "random-walk=100,chaos=0".parse().unwrap();
        assert!(mix.assign(50).iter().all(|b| *b == Behaviour::RandomWalk));
    }
}
