//! Session resume: a player whose connection drops without `Leave` stays in the game for a
//! grace period, and a new connection presenting the player's resume token takes it back —
//! same player, same entity, same state — starting from a full snapshot.
//!
//! Tokens are 128 random bits from the operating system's CSPRNG (via `rand`), single-use:
//! every `Welcome` carries a fresh one, so of two connections racing with the same token
//! exactly one wins.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use ticksync_protocol::{EntityId, PlayerId, Tick};

use super::SessionLink;

/// A dropped player waiting to be resumed.
#[derive(Debug)]
pub struct Detached {
    pub player: PlayerId,
    /// The entity the player controls, if any.
    pub entity: Option<EntityId>,
    pub resume_token: String,
    /// The session that dropped; if it turns out to have ended for good (a `Leave` or a
    /// kick noticed after the drop), the entity goes at once.
    shared: Arc<SessionLink>,
    /// The last tick of the grace period.
    until: Tick,
}

/// The dropped players of a room.
#[derive(Debug, Default)]
pub struct DetachedPlayers {
    waiting: Vec<Detached>,
}

impl DetachedPlayers {
    /// Keeps `player` for `grace_ticks` ticks after `tick`.
    pub fn detach(
        &mut self,
        player: PlayerId,
        entity: Option<EntityId>,
        resume_token: String,
        shared: Arc<SessionLink>,
        tick: Tick,
        grace_ticks: u32,
    ) {
        self.waiting.push(Detached {
            player,
            entity,
            resume_token,
            shared,
            until: tick.saturating_add(grace_ticks),
        });
    }

    /// Takes the player this token belongs to, if it is still waiting.
    pub fn take(&mut self, resume_token: &str) -> Option<Detached> {
        let index = self
            .waiting
            .iter()
            .position(|detached| tokens_match(&detached.resume_token, resume_token))?;
        Some(self.waiting.swap_remove(index))
    }

    /// Removes players whose grace period is over or whose session ended for good, calling
    /// `leave` for each.
    pub fn expire(&mut self, tick: Tick, mut leave: impl FnMut(PlayerId)) {
        self.waiting.retain(|detached| {
            let expired = tick > detached.until || detached.shared.is_final();
            if expired {
                leave(detached.player);
            }
            !expired
        });
    }

    /// Players waiting.
    pub fn count(&self) -> usize {
        self.waiting.len()
    }

    /// Removes every waiting player, calling `leave` for each.
    pub fn clear(&mut self, leave: impl FnMut(PlayerId)) {
        self.waiting
            .drain(..)
            .map(|detached| detached.player)
            .for_each(leave);
    }
}

/// A fresh resume token: 128 random bits as 32 hex digits.
pub fn new_resume_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Compares tokens in time independent of where they first differ, so response timing does
/// not leak a token prefix. (Only the length may show, and every token has the same one.)
pub fn tokens_match(expected: &str, presented: &str) -> bool {
    expected.as_bytes().ct_eq(presented.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_hex() {
        let a = new_resume_token();
        let b = new_resume_token();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(tokens_match(&a, &a.clone()));
        assert!(!tokens_match(&a, &b));
        assert!(!tokens_match(&a, &a[..31]));
    }

    #[test]
    fn waiting_players_expire_after_the_grace_or_a_final_end() {
        let mut detached = DetachedPlayers::default();
        let dropped = Arc::new(SessionLink::default());
        dropped.end_resumable();
        detached.detach(PlayerId(1), Some(EntityId(1)), "t1".into(), dropped, 10, 5);
        let left = Arc::new(SessionLink::default());
        detached.detach(PlayerId(2), None, "t2".into(), left.clone(), 10, 5);
        left.end_final();
        let mut gone = Vec::new();
        detached.expire(11, |player| gone.push(player));
        assert_eq!(gone, vec![PlayerId(2)], "a final end removes at once");
        detached.expire(15, |player| gone.push(player));
        assert_eq!(gone.len(), 1, "still inside the grace period");
        detached.expire(16, |player| gone.push(player));
        assert_eq!(gone, vec![PlayerId(2), PlayerId(1)]);
        assert!(detached.take("t1").is_none());
    }

    #[test]
    fn a_token_is_taken_once() {
        let mut detached = DetachedPlayers::default();
        detached.detach(
            PlayerId(1),
            Some(EntityId(1)),
            "tok".into(),
            Arc::default(),
            0,
            100,
        );
        assert_eq!(detached.take("tok").map(|d| d.player), Some(PlayerId(1)));
        assert!(detached.take("tok").is_none());
    }
}
