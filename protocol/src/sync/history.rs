//! A ring of the most recent captured ticks, oldest first, found by tick. Frames are reused
//! so a steady-state tick allocates nothing here. Generic over what a frame holds: the
//! server keeps entity states, their checksums and its interest grid in one.

use std::collections::VecDeque;

use crate::messages::Tick;

/// The last `capacity` frames, each tagged with its tick.
#[derive(Debug)]
pub struct History<F> {
    frames: VecDeque<(Tick, F)>,
    capacity: usize,
}

impl<F: Default> History<F> {
    /// A history of at most `capacity` frames (at least 1). It takes no memory until the
    /// first frame: a room nobody has joined keeps none.
    pub fn new(capacity: usize) -> History<F> {
        History {
            frames: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Starts the frame of `tick`: the oldest frame's storage once the ring is full (for
    /// the caller to overwrite), a fresh one before.
    pub fn push(&mut self, tick: Tick) -> &mut F {
        let frame = if self.frames.len() >= self.capacity {
            self.frames
                .pop_front()
                .map(|(_, frame)| frame)
                .unwrap_or_default()
        } else {
            F::default()
        };
        self.frames.push_back((tick, frame));
        let last = self.frames.len() - 1;
        &mut self.frames[last].1
    }

    /// The most recent frame and its tick.
    pub fn latest(&self) -> Option<(Tick, &F)> {
        self.frames.back().map(|(tick, frame)| (*tick, frame))
    }

    /// The frame of `tick`, if it is still held.
    pub fn get(&self, tick: Tick) -> Option<&F> {
        // Ticks are consecutive, so the frame's position is arithmetic; the check guards
        // against a history that was not (a room whose tick jumped).
        let oldest = self.frames.front()?.0;
        let index = usize::try_from(tick.checked_sub(oldest)?).ok()?;
        self.frames
            .get(index)
            .filter(|(held, _)| *held == tick)
            .map(|(_, frame)| frame)
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_frames_and_finds_them_by_tick() {
        let mut history: History<Vec<u32>> = History::new(3);
        for tick in 1..=5 {
            let frame = history.push(tick);
            frame.clear();
            frame.push(tick * 10);
        }
        assert_eq!(history.len(), 3);
        assert!(history.get(2).is_none());
        assert_eq!(history.get(3), Some(&vec![30]));
        assert_eq!(history.latest().map(|(tick, _)| tick), Some(5));
        assert!(history.get(6).is_none());
    }
}
