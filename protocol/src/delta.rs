//! Delta snapshots: what a client must do to turn the view it acknowledged (the baseline)
//! into the current one, and the inverse operation a client runs.
//!
//! Both views are lists of entities sorted by id. The delta lists entities *created* (full
//! state), *changed* (a [`Replicated::Delta`] against the dead-reckoned prediction of the
//! baseline state) and *removed* (ids). An entity that moved exactly as predicted costs
//! nothing. Because the baseline is one the client acknowledged, a dropped snapshot never
//! corrupts a client: the next delta is still against something it holds (ARCHITECTURE.md §2.2).

use std::cmp::Ordering;

use crate::messages::{Changed, Entity, EntityId};
use crate::replicated::Replicated;

/// The three lists of a delta, borrowed or owned by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Delta<E: Replicated> {
    pub created: Vec<Entity<E>>,
    pub changed: Vec<Changed<E>>,
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
pub fn diff<E: Replicated>(
    baseline: &[Entity<E>],
    target: &[Entity<E>],
    ticks: u32,
    out: &mut Delta<E>,
) {
    out.clear();
    let (mut b, mut t) = (0, 0);
    while b < baseline.len() || t < target.len() {
        let order = match (baseline.get(b), target.get(t)) {
            (Some(old), Some(new)) => old.id.cmp(&new.id),
            (Some(_), None) => Ordering::Less,
            (None, _) => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                out.removed.push(baseline[b].id);
                b += 1;
            }
            Ordering::Greater => {
                out.created.push(target[t].clone());
                t += 1;
            }
            Ordering::Equal => {
                let predicted = baseline[b].state.predict(ticks);
                if let Some(delta) = target[t].state.diff(&predicted) {
                    out.changed.push(Changed {
                        id: target[t].id,
                        delta,
                    });
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
    baseline: &[Entity<E>],
    created: &[Entity<E>],
    changed: &[Changed<E>],
    removed: &[EntityId],
    ticks: u32,
    out: &mut Vec<Entity<E>>,
) -> Result<(), ApplyError> {
    out.clear();
    if !created.windows(2).all(|w| w[0].id < w[1].id)
        || !changed.windows(2).all(|w| w[0].id < w[1].id)
        || !removed.windows(2).all(|w| w[0] < w[1])
    {
        return Err(ApplyError::Unsorted);
    }
    let (mut c, mut d, mut r) = (0, 0, 0);
    for old in baseline {
        let id = old.id;
        // New entities with smaller ids come first.
        while let Some(new) = created.get(c).filter(|new| new.id <= id) {
            if new.id == id {
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
                if changed.get(d).is_some_and(|change| change.id == id) {
                    return Err(ApplyError::Unknown(id));
                }
                continue;
            }
        }
        if let Some(change) = changed.get(d) {
            if change.id < id {
                return Err(ApplyError::Unknown(change.id));
            }
            if change.id == id {
                out.push(Entity {
                    id,
                    state: E::apply(&old.state.predict(ticks), &change.delta),
                });
                d += 1;
                continue;
            }
        }
        out.push(Entity {
            id,
            state: old.state.predict(ticks),
        });
    }
    if let Some(id) = removed.get(r) {
        return Err(ApplyError::Unknown(*id));
    }
    if let Some(change) = changed.get(d) {
        return Err(ApplyError::Unknown(change.id));
    }
    out.extend_from_slice(&created[c..]);
    Ok(())
}

#[cfg(test)]
mod tests;
