//! Delta snapshots: what a client must do to turn the view it acknowledged (the baseline)
//! into the current one, and the inverse operation a client runs.
//!
//! Both views are lists of entity states sorted by id. The delta lists entities *created*
//! (full state), *changed* (a [`Replicated::Delta`] against the dead-reckoned prediction of
//! the baseline state) and *removed* (ids). An entity that moved exactly as predicted costs
//! nothing. Because the baseline is one the client acknowledged, a dropped snapshot never
//! corrupts a client: the next delta is still against something it holds (ARCHITECTURE.md §2.2).

use std::cmp::Ordering;

use crate::messages::EntityId;
use crate::replicated::Replicated;

/// The three lists of a delta, borrowed or owned by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta<E: Replicated> {
    pub created: Vec<E>,
    pub changed: Vec<E::Delta>,
    pub removed: Vec<EntityId>,
}

impl<E: Replicated> Default for Delta<E> {
    fn default() -> Self {
        Delta {
            created: Vec::new(),
            changed: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl<E: Replicated> Delta<E> {
    pub fn clear(&mut self) {
        self.created.clear();
        self.changed.clear();
        self.removed.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Computes the delta from `baseline` to `target`, `ticks` ticks apart. Both must be sorted by
/// id without duplicates; `out` is cleared first and its lists come out sorted by id.
pub fn diff<E: Replicated>(baseline: &[E], target: &[E], ticks: u32, out: &mut Delta<E>) {
    out.clear();
    let (mut b, mut t) = (0, 0);
    while b < baseline.len() || t < target.len() {
        let order = match (baseline.get(b), target.get(t)) {
            (Some(old), Some(new)) => old.id().cmp(&new.id()),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                out.removed.push(baseline[b].id());
                b += 1;
            }
            Ordering::Greater => {
                out.created.push(target[t].clone());
                t += 1;
            }
            Ordering::Equal => {
                let predicted = baseline[b].predict(ticks);
                if let Some(change) = target[t].delta_from(&predicted) {
                    out.changed.push(change);
                }
                b += 1;
                t += 1;
            }
        }
    }
}

/// Why a delta could not be applied: the client does not hold the view the delta was made
/// against. A correct server never causes these; a client that sees one has desynced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("entity {0} is created but already exists")]
    CreatedExists(EntityId),
    #[error("entity {0} is changed or removed but does not exist")]
    Unknown(EntityId),
    #[error("delta lists are not sorted by id")]
    Unsorted,
}

/// Applies `created`/`changed`/`removed` to `baseline` (`ticks` ticks old) and writes the
/// resulting view, sorted by id, to `out` (cleared first).
pub fn apply<E: Replicated>(
    baseline: &[E],
    created: &[E],
    changed: &[E::Delta],
    removed: &[EntityId],
    ticks: u32,
    out: &mut Vec<E>,
) -> Result<(), ApplyError> {
    out.clear();
    if !created.windows(2).all(|w| w[0].id() < w[1].id())
        || !changed
            .windows(2)
            .all(|w| E::delta_id(&w[0]) < E::delta_id(&w[1]))
        || !removed.windows(2).all(|w| w[0] < w[1])
    {
        return Err(ApplyError::Unsorted);
    }
    let (mut c, mut d, mut r) = (0, 0, 0);
    for old in baseline {
        let id = old.id();
        // New entities with smaller ids come first.
        while let Some(new) = created.get(c).filter(|new| new.id() <= id) {
            if new.id() == id {
                return Err(ApplyError::CreatedExists(id));
            }
            out.push(new.clone());
            c += 1;
        }
        if let Some(next_removed) = removed.get(r) {
            if *next_removed < id {
                return Err(ApplyError::Unknown(*next_removed));
            }
            if *next_removed == id {
                r += 1;
                if changed
                    .get(d)
                    .is_some_and(|change| E::delta_id(change) == id)
                {
                    return Err(ApplyError::Unknown(id));
                }
                continue;
            }
        }
        if let Some(change) = changed.get(d) {
            let change_id = E::delta_id(change);
            if change_id < id {
                return Err(ApplyError::Unknown(change_id));
            }
            if change_id == id {
                out.push(E::apply_delta(&old.predict(ticks), change));
                d += 1;
                continue;
            }
        }
        out.push(old.predict(ticks));
    }
    if let Some(id) = removed.get(r) {
        return Err(ApplyError::Unknown(*id));
    }
    if let Some(change) = changed.get(d) {
        return Err(ApplyError::Unknown(E::delta_id(change)));
    }
    out.extend_from_slice(&created[c..]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game_state::EntityState;
    use crate::replicated::view_checksum;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn state(id: u32, x: i32, vx: i16) -> EntityState {
        EntityState {
            id: EntityId(id),
            x,
            y: 100,
            vx,
            vy: 0,
            heading: 0,
        }
    }

    #[test]
    fn straight_line_motion_costs_nothing() {
        let baseline = vec![state(1, 0, 10), state(2, 500, -3)];
        let target: Vec<_> = baseline.iter().map(|e| e.predict(4)).collect();
        let mut delta = Delta::default();
        diff(&baseline, &target, 4, &mut delta);
        assert!(delta.is_empty(), "{delta:?}");
    }

    #[test]
    fn created_changed_removed_round_trip() {
        let baseline = vec![state(1, 0, 0), state(2, 0, 0), state(4, 0, 0)];
        let target = vec![
            state(2, 7, 1),
            state(3, 0, 0),
            state(4, 0, 0),
            state(9, 1, 1),
        ];
        let mut delta = Delta::default();
        diff(&baseline, &target, 1, &mut delta);
        assert_eq!(delta.removed, vec![EntityId(1)]);
        assert_eq!(
            delta.created.iter().map(|e| e.id.0).collect::<Vec<_>>(),
            vec![3, 9]
        );
        assert_eq!(delta.changed.len(), 1);
        let mut out = Vec::new();
        apply(
            &baseline,
            &delta.created,
            &delta.changed,
            &delta.removed,
            1,
            &mut out,
        )
        .unwrap();
        assert_eq!(out, target);
    }

    #[test]
    fn applying_against_the_wrong_baseline_is_an_error_not_a_panic() {
        let mut delta = Delta::default();
        diff(&[state(1, 0, 0)], &[state(1, 5, 0)], 1, &mut delta);
        let mut out = Vec::new();
        let wrong = apply(
            &[],
            &delta.created,
            &delta.changed,
            &delta.removed,
            1,
            &mut out,
        );
        assert_eq!(wrong, Err(ApplyError::Unknown(EntityId(1))));
        let removed = [EntityId(7)];
        assert_eq!(
            apply(&[state(1, 0, 0)], &[], &[], &removed, 1, &mut out),
            Err(ApplyError::Unknown(EntityId(7)))
        );
        let created = [state(1, 0, 0)];
        assert_eq!(
            apply(&[state(1, 0, 0)], &created, &[], &[], 1, &mut out),
            Err(ApplyError::CreatedExists(EntityId(1)))
        );
        let unsorted = [state(3, 0, 0), state(2, 0, 0)];
        assert_eq!(
            apply(&[], &unsorted, &[], &[], 1, &mut out),
            Err(ApplyError::Unsorted)
        );
    }

    fn arb_world() -> impl Strategy<Value = Vec<EntityState>> {
        proptest::collection::btree_map(
            0u32..64,
            (
                any::<i32>(),
                any::<i32>(),
                any::<i16>(),
                any::<i16>(),
                any::<u16>(),
            ),
            0..40,
        )
        .prop_map(|map: BTreeMap<_, _>| {
            map.into_iter()
                .map(|(id, (x, y, vx, vy, heading))| EntityState {
                    id: EntityId(id),
                    x,
                    y,
                    vx,
                    vy,
                    heading,
                })
                .collect()
        })
    }

    /// A target derived from a baseline: some entities move as predicted, some change,
    /// some vanish, some appear.
    fn arb_pair() -> impl Strategy<Value = (Vec<EntityState>, Vec<EntityState>, u32)> {
        (
            arb_world(),
            arb_world(),
            1u32..40,
            proptest::collection::vec(0u8..4, 64),
        )
            .prop_map(|(baseline, fresh, ticks, choices)| {
                let mut target: BTreeMap<EntityId, EntityState> = BTreeMap::new();
                for (i, e) in baseline.iter().enumerate() {
                    match choices[i % choices.len()] {
                        0 => {}
                        1 => {
                            target.insert(e.id, e.predict(ticks));
                        }
                        _ => {
                            let mut changed = e.predict(ticks);
                            changed.vx = changed.vx.wrapping_add(1);
                            changed.heading = changed.heading.wrapping_add(i as u16);
                            target.insert(e.id, changed);
                        }
                    }
                }
                for e in fresh {
                    target.entry(e.id).or_insert(e);
                }
                (baseline, target.into_values().collect(), ticks)
            })
    }

    proptest! {
        #[test]
        fn apply_of_diff_reproduces_the_target((baseline, target, ticks) in arb_pair()) {
            let mut delta = Delta::default();
            diff(&baseline, &target, ticks, &mut delta);
            let mut out = Vec::new();
            apply(&baseline, &delta.created, &delta.changed, &delta.removed, ticks, &mut out).unwrap();
            prop_assert_eq!(view_checksum(&out), view_checksum(&target));
            prop_assert_eq!(out, target);
        }

        #[test]
        fn arbitrary_delta_lists_never_panic(baseline in arb_world(), created in arb_world(),
                                             removed in proptest::collection::vec(0u32..64, 0..10),
                                             ticks in any::<u32>()) {
            let removed: Vec<EntityId> = removed.into_iter().map(EntityId).collect();
            let mut out = Vec::new();
            let _ = apply(&baseline, &created, &[], &removed, ticks, &mut out);
        }
    }
}
