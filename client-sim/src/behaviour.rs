//! The mix of bot behaviours a swarm runs (`--mix random-walk=90,chaos=10`).
//!
//! Behaviours are names: the game's bots define theirs ([`crate::BotFactory::behaviours`];
//! the arena's are `random-walk`, `circle` and `idle`), and [`CHAOS`] is the swarm's own
//! misbehaving bot (see [`crate::chaos`]), reported apart from the others. A [`Mix`] is
//! parsed without knowing the game and checked against it with [`Mix::resolve`]; it
//! assigns behaviours to bot indices deterministically and interleaved (so a ramp connects
//! chaos bots throughout, not all at the end), exactly in proportion.

use std::fmt;
use std::str::FromStr;

use crate::bot::CHAOS;

/// Whether a behaviour's figures count as an honest player's (everything but chaos).
pub fn is_honest(behaviour: &str) -> bool {
    behaviour != CHAOS
}

/// Why a `--mix` could not be parsed, or does not fit the game.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    #[error("unknown behaviour {name:?} (expected {})", known.join(", "))]
    UnknownBehaviour { name: String, known: Vec<String> },
    #[error("{0:?} is not NAME=PERCENT (e.g. random-walk=90,chaos=10)")]
    NotAPair(String),
    #[error("{0:?} is not a whole percentage from 0 to 100")]
    BadPercent(String),
    #[error("{0:?} is not a behaviour name")]
    BadName(String),
    #[error("{0} appears twice")]
    Repeated(String),
    #[error("percentages add up to {0}, not 100")]
    NotHundred(u32),
    #[error("the game's bots have no behaviour")]
    NoBehaviours,
}

/// Percentages of behaviours that add up to 100; empty (the default) means "every bot the
/// game's default behaviour".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mix {
    /// Behaviours with a share above 0, in the order given.
    shares: Vec<(String, u8)>,
}

impl Mix {
    /// All bots behave as `behaviour`.
    pub fn only(behaviour: impl Into<String>) -> Self {
        Mix {
            shares: vec![(behaviour.into(), 100)],
        }
    }

    /// The behaviours with their percentages (empty for the default mix).
    pub fn shares(&self) -> &[(String, u8)] {
        &self.shares
    }

    /// The mix for a game whose bots know `known` (the first the default): the default mix
    /// becomes all of `known[0]`, and a name neither in `known` nor [`CHAOS`] is an error.
    pub fn resolve(&self, known: &[&str]) -> Result<Mix, MixError> {
        if self.shares.is_empty() {
            let default = known.first().ok_or(MixError::NoBehaviours)?;
            return Ok(Mix::only(*default));
        }
        for (name, _) in &self.shares {
            if name != CHAOS && !known.contains(&name.as_str()) {
                return Err(MixError::UnknownBehaviour {
                    name: name.clone(),
                    known: known
                        .iter()
                        .copied()
                        .chain([CHAOS])
                        .map(str::to_owned)
                        .collect(),
                });
            }
        }
        Ok(self.clone())
    }

    /// The behaviour of each of `bots` bots: each behaviour gets its share rounded to a
    /// whole bot (largest deficit first), spread evenly over the indices. The default mix
    /// assigns nothing: [`Mix::resolve`] it first.
    pub fn assign(&self, bots: usize) -> Vec<&str> {
        if self.shares.is_empty() {
            return Vec::new();
        }
        let mut deficit = vec![0i64; self.shares.len()];
        (0..bots)
            .filter_map(|_| {
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
                self.shares.get(pick).map(|(name, _)| name.as_str())
            })
            .collect()
    }
}

/// A behaviour name: lowercase letters, digits and `-`, like the command line's.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn parse_name(name: &str) -> Result<String, MixError> {
    let name = name.trim();
    if valid_name(name) {
        Ok(name.to_owned())
    } else {
        Err(MixError::BadName(name.to_owned()))
    }
}

impl FromStr for Mix {
    type Err = MixError;

    /// `random-walk=90,chaos=10`; a lone name (`circle`) means 100 %.
    fn from_str(text: &str) -> Result<Self, MixError> {
        let text = text.trim();
        if !text.contains('=') && !text.contains(',') {
            return Ok(Mix::only(parse_name(text)?));
        }
        let mut shares: Vec<(String, u8)> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut total = 0u32;
        for part in text.split(',') {
            let (name, percent) = part
                .split_once('=')
                .ok_or_else(|| MixError::NotAPair(part.to_owned()))?;
            let behaviour = parse_name(name)?;
            let percent: u8 = percent
                .trim()
                .parse()
                .ok()
                .filter(|p| *p <= 100)
                .ok_or_else(|| MixError::BadPercent(percent.to_owned()))?;
            if seen.contains(&behaviour) {
                return Err(MixError::Repeated(behaviour));
            }
            seen.push(behaviour.clone());
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
        if self.shares.is_empty() {
            return f.write_str("default");
        }
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

    const ARENA: [&str; 3] = ["random-walk", "circle", "idle"];

    fn shares(mix: &Mix) -> Vec<(&str, u8)> {
        mix.shares()
            .iter()
            .map(|(name, percent)| (name.as_str(), *percent))
            .collect()
    }

    #[test]
    fn parses_the_documented_example() {
        let mix: Mix = "random-walk=90,chaos=10".parse().unwrap();
        assert_eq!(shares(&mix), [("random-walk", 90), ("chaos", 10)]);
        assert_eq!(mix.to_string(), "random-walk=90,chaos=10");
        let spaced: Mix = " circle = 50 , idle=50 ".parse().unwrap();
        assert_eq!(shares(&spaced), [("circle", 50), ("idle", 50)]);
        assert_eq!("idle".parse::<Mix>().unwrap(), Mix::only("idle"));
        assert_eq!(
            Mix::default().resolve(&ARENA).unwrap(),
            Mix::only("random-walk")
        );
        assert_eq!(Mix::default().to_string(), "default");
    }

    #[test]
    fn bad_mixes_are_clear_errors() {
        let error = |text: &str| text.parse::<Mix>().unwrap_err();
        assert_eq!(error("random-walk=90,chaos=20"), MixError::NotHundred(110));
        assert_eq!(error("random-walk=50"), MixError::NotHundred(50));
        assert_eq!(error("circle=x,idle=100"), MixError::BadPercent("x".into()));
        assert_eq!(
            error("circle=-5,idle=105"),
            MixError::BadPercent("-5".into())
        );
        assert_eq!(
            error("circle,idle=100"),
            MixError::NotAPair("circle".into())
        );
        assert_eq!(error("idle=50,idle=50"), MixError::Repeated("idle".into()));
        assert_eq!(error("Dance Off"), MixError::BadName("Dance Off".into()));
        assert!(error("random-walk=90,chaos=20")
            .to_string()
            .contains("not 100"));
        let unknown = "dance=100".parse::<Mix>().unwrap().resolve(&ARENA);
        let Err(unknown) = unknown else {
            panic!("dance is no arena behaviour")
        };
        assert_eq!(
            unknown.to_string(),
            "unknown behaviour \"dance\" (expected random-walk, circle, idle, chaos)"
        );
        assert_eq!(Mix::default().resolve(&[]), Err(MixError::NoBehaviours));
    }

    #[test]
    fn assignment_is_proportional_and_interleaved() {
        let mix: Mix = "random-walk=90,chaos=10".parse().unwrap();
        let bots = mix.assign(100);
        let chaos = bots.iter().filter(|b| **b == CHAOS).count();
        assert_eq!(chaos, 10);
        assert_eq!(bots[0], "random-walk", "bot 0 (the traced one) is honest");
        // Spread out: every block of ten bots has exactly one chaos bot.
        for block in bots.chunks(10) {
            assert_eq!(block.iter().filter(|b| **b == CHAOS).count(), 1);
        }
        assert_eq!(mix.assign(100), bots, "deterministic");

        let thirds: Mix = "circle=34,idle=33,random-walk=33".parse().unwrap();
        assert_eq!(thirds.assign(3), ["circle", "idle", "random-walk"]);
        assert!(Mix::only("idle").assign(0).is_empty());
        assert!(Mix::default().assign(5).is_empty(), "resolve it first");
        assert!(is_honest("idle") && !is_honest(CHAOS));
    }

    #[test]
    fn zero_shares_are_allowed_and_never_assigned() {
        let mix: Mix = "random-walk=100,chaos=0".parse().unwrap();
        assert!(mix.assign(50).iter().all(|b| *b == "random-walk"));
    }
}
