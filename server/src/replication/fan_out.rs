//! Spreading a tick's per-client work over cores.
//!
//! The calling thread (the room's tick thread) and helpers on rayon's global pool take pieces
//! of the work from one queue until it is empty. The caller starts at once, so the work never
//! waits for a helper to wake up (rayon's threads sleep between ticks, and on a busy machine
//! waking one can take longer than a piece of work); a helper that wakes late finds less, or
//! nothing, left to do. rayon's pool is separate from the tokio runtimes; the caller blocks
//! until the helpers it started have returned.

use std::ops::Add;
use std::sync::Mutex;

/// Runs `work(offset, piece)` over `items` cut into pieces of `piece_len` items (`offset`:
/// the index of the piece's first item), on the calling thread and on up to one helper per
/// other thread of rayon's pool, and returns the sum of what `work` returned. Each item is
/// handed to exactly one call of `work`.
pub(crate) fn fan_out<I, T>(
    items: &mut [I],
    piece_len: usize,
    work: impl Fn(usize, &mut [I]) -> T + Sync,
) -> T
where
    I: Send,
    T: Default + Add<Output = T> + Send,
{
    let piece_len = piece_len.max(1);
    let helpers = rayon::current_num_threads()
        .saturating_sub(1)
        .min(items.len().div_ceil(piece_len).saturating_sub(1));
    let pieces = Mutex::new(items.chunks_mut(piece_len).enumerate());
    let total = Mutex::new(T::default());
    let take_pieces = || {
        let mut sum = T::default();
        // A poisoned queue means another thread's `work` panicked; the scope below passes
        // that panic on, so stopping here is all there is to do.
        while let Some((index, piece)) = pieces.lock().ok().and_then(|mut queue| queue.next()) {
            sum = sum + work(index * piece_len, piece);
        }
        if let Ok(mut total) = total.lock() {
            *total = std::mem::take(&mut *total) + sum;
        }
    };
    rayon::in_place_scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|_| take_pieces());
        }
        take_pieces();
    });
    total
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_worked_on_once() {
        for (len, piece_len) in [(0, 4), (1, 4), (7, 1), (100, 8), (1000, 32), (5, 0)] {
            let mut items = vec![0u32; len];
            let pieces = fan_out(&mut items, piece_len, |offset, piece| {
                for (i, item) in piece.iter_mut().enumerate() {
                    *item += 1 + (offset + i) as u32;
                }
                1usize
            });
            assert_eq!(pieces, len.div_ceil(piece_len.max(1)));
            assert!(items
                .iter()
                .enumerate()
                .all(|(i, &item)| item == 1 + i as u32));
        }
    }
}
