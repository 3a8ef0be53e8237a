//! Snapshot loss simulated on the client side, for tests and the swarm's chaos runs: a
//! seeded coin that drops a received snapshot before it is applied, as a lossy network would.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Simulated network loss of snapshots ([`crate::ClientOptions::snapshot_loss`]).
#[derive(Debug)]
pub(crate) struct SnapshotLoss {
    /// In (0, 1].
    probability: f64,
    rng: SmallRng,
}

impl SnapshotLoss {
    /// `None` when `probability` loses nothing (0, negative or NaN).
    pub(crate) fn new(probability: f64, seed: u64) -> Option<SnapshotLoss> {
        (probability > 0.0).then(|| SnapshotLoss {
            probability: probability.min(1.0),
            rng: SmallRng::seed_from_u64(seed),
        })
    }

    pub(crate) fn loses_next(&mut self) -> bool {
        self.rng.random::<f64>() < self.probability
    }
}

#[cfg(test)]
mod tests {
    use super::SnapshotLoss;

    #[test]
    fn loss_of_nothing_is_off_and_loss_of_everything_loses_everything() {
        assert!(SnapshotLoss::new(0.0, 1).is_none());
        assert!(SnapshotLoss::new(f64::NAN, 1).is_none());
        let mut all = SnapshotLoss::new(7.0, 1).expect("on");
        assert!((0..100).all(|_| all.loses_next()));
    }
}
