//! [`InputClock`]: when a client sends its next input, aimed so that inputs arrive a small
//! safety margin before the server tick that takes them.
//!
//! The server reports, in every snapshot, how long before its tick the last applied input
//! arrived (`Snapshot::input_margin_100us`, PROTOCOL.md §7 "Input timing"). The clock turns
//! that into three corrections:
//!
//! - **phase**: the next send moves later by half of (sample − aim), earlier when negative,
//!   at most [`MAX_PHASE_STEP_FRACTION`] of a tick per correction so inputs never bunch; after
//!   a correction it waits for a sample of an input sent after it (the feedback of inputs
//!   already in flight says nothing about the new phase), so a round trip of delay cannot
//!   make it overshoot;
//! - **rate**: a slow integral of the error trims the send period, absorbing clock drift
//!   between client and server (bounded to ±[`MAX_RATE_TRIM`] of the period);
//! - **aim**: the margin aimed for is [`MIN_MARGIN`] plus a multiple of the jitter of recent
//!   samples (how far their 5th percentile lies below their median — the late tail is what
//!   misses a tick — after taking out the clock's own corrections: each sample plus how far
//!   that input's send was moved), so it shrinks on a quiet link and grows on a noisy one; a sample that missed its tick (negative) raises it at
//!   once by [`MISS_BUMP`], which then fades.
//!
//! Pure logic on instants, so it is tested without sockets; [`crate::Client`] feeds it (generic:
//! it reads only the envelope's feedback, never the game's payload).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ticksync_protocol::{InputSeq, INPUT_MARGIN_UNIT_US};

/// The least margin aimed for, whatever the jitter: a millisecond covers the scheduling
/// noise of a loopback link.
pub const MIN_MARGIN: Duration = Duration::from_micros(1000);

/// Inputs whose send offset is remembered until their feedback comes back.
const SENT_RING: usize = 64;

/// Samples of recent margins kept to measure jitter.
const JITTER_WINDOW: usize = 64;

/// The aim is [`MIN_MARGIN`] plus this many times the late spread (p50 − p5) of recent
/// samples.
const JITTER_FACTOR: f64 = 1.5;

/// Largest phase correction at once, as a fraction of the tick period (4 ms at 30 Hz).
pub const MAX_PHASE_STEP_FRACTION: f64 = 0.125;

/// Fraction of the error corrected at once.
const PHASE_GAIN: f64 = 0.5;

/// Largest trim of the send period for clock drift, as a fraction of it (0.1% is 1,000 ppm,
/// far above any real clock's drift).
pub const MAX_RATE_TRIM: f64 = 0.001;

/// Fraction of each error added to the rate trim (per tick period), once the phase is
/// within [`RATE_LOCK_FRACTION`] of a tick of its aim (a large error is the phase's job;
/// integrating it would wind the trim up and overshoot).
const RATE_GAIN: f64 = 0.002;
const RATE_LOCK_FRACTION: f64 = 0.06;

/// Extra margin after an input missed its tick; it fades by [`MISS_BUMP_DECAY`] per sample.
pub const MISS_BUMP: Duration = Duration::from_micros(1000);
const MISS_BUMP_DECAY: f64 = 0.98;

/// Schedules a client's inputs against the server's tick grid from arrival feedback.
#[derive(Debug, Clone)]
pub struct InputClock {
    period: Duration,
    next_send: Instant,
    /// Rate trim, in µs per period (positive: slower).
    trim_us: f64,
    /// Samples of inputs before this sequence were sent before the last correction.
    settle_seq: InputSeq,
    /// The last input whose margin was sampled.
    sampled_seq: InputSeq,
    /// Recent margins in µs plus the send offset of their input, oldest first: what is
    /// left is the link's (and the server's) jitter, not the clock's own corrections.
    recent_us: VecDeque<i64>,
    /// Shift of `next_send` from the nominal grid, in µs.
    offset_us: f64,
    /// Shift of the send that was due at the last [`InputClock::advance`].
    due_offset_us: f64,
    /// The offset each recent input was sent with, by `seq % SENT_RING`.
    sent: [(InputSeq, f64); SENT_RING],
    /// Extra margin after a miss, in µs, fading.
    miss_bump_us: f64,
    /// Sampled inputs that missed their tick.
    missed: u64,
    samples: u64,
}

impl InputClock {
    /// A clock of `period` (the server's tick period) whose first send is at `first`.
    pub fn new(period: Duration, first: Instant) -> InputClock {
        InputClock {
            period,
            next_send: first,
            trim_us: 0.0,
            settle_seq: 0,
            sampled_seq: 0,
            recent_us: VecDeque::with_capacity(JITTER_WINDOW),
            offset_us: 0.0,
            due_offset_us: 0.0,
            sent: [(0, 0.0); SENT_RING],
            miss_bump_us: 0.0,
            missed: 0,
            samples: 0,
        }
    }

    /// When the next input is due.
    pub fn next_send(&self) -> Instant {
        self.next_send
    }

    /// The send that was due has happened (or was skipped) at `now`: schedules the next one,
    /// a period later plus the corrections. A clock that fell more than a period behind
    /// (a stalled process) restarts from `now` rather than bursting.
    pub fn advance(&mut self, now: Instant) {
        let period_us = self.period.as_secs_f64() * 1e6;
        let step_us = period_us + self.trim_us;
        self.due_offset_us = self.offset_us;
        self.offset_us += step_us - period_us;
        self.next_send += Duration::from_secs_f64(step_us / 1e6);
        if self.next_send + self.period < now {
            self.next_send = now + self.period;
        }
    }

    /// Input `seq` is being sent for the send time that was due at the last
    /// [`InputClock::advance`].
    pub fn on_sent(&mut self, seq: InputSeq) {
        self.sent[seq as usize % SENT_RING] = (seq, self.due_offset_us);
    }

    /// Takes a snapshot's feedback: `margin_100us` is the margin of input `last_input_seq`;
    /// `next_seq` is the sequence number the client's next input will have. Only the first
    /// snapshot reporting an input counts (the server repeats it until a newer one lands).
    pub fn on_feedback(&mut self, last_input_seq: InputSeq, margin_100us: i16, next_seq: InputSeq) {
        if last_input_seq == 0 || last_input_seq <= self.sampled_seq {
            return;
        }
        self.sampled_seq = last_input_seq;
        let sample_us = i64::from(margin_100us) * INPUT_MARGIN_UNIT_US;
        self.samples += 1;
        if sample_us < 0 {
            self.missed += 1;
            self.miss_bump_us += MISS_BUMP.as_secs_f64() * 1e6;
        } else {
            self.miss_bump_us *= MISS_BUMP_DECAY;
        }
        if self.recent_us.len() == JITTER_WINDOW {
            self.recent_us.pop_front();
        }
        let (sent_seq, sent_offset) = self.sent[last_input_seq as usize % SENT_RING];
        let offset = if sent_seq == last_input_seq {
            sent_offset
        } else {
            self.due_offset_us
        };
        let period_us = self.period.as_secs_f64() * 1e6;
        // The corrected sample lives on a circle of one tick: keep it next to the previous
        // one, so crossing a tick boundary is not mistaken for a tick of jitter.
        let mut corrected = sample_us + offset as i64;
        if let Some(&previous) = self.recent_us.back() {
            let period = period_us as i64;
            while corrected - previous > period / 2 {
                corrected -= period;
            }
            while previous - corrected > period / 2 {
                corrected += period;
            }
        }
        self.recent_us.push_back(corrected);
        // A margin of more than a tick is an input that waited in the queue behind others
        // (or a clock far off): treat it as a tick early at most.
        let error_us = (sample_us as f64).min(period_us) - self.aim_us();
        if error_us.abs() <= RATE_LOCK_FRACTION * period_us {
            self.trim_us = (self.trim_us + RATE_GAIN * error_us)
                .clamp(-MAX_RATE_TRIM * period_us, MAX_RATE_TRIM * period_us);
        }
        if last_input_seq < self.settle_seq {
            return;
        }
        let max_step = MAX_PHASE_STEP_FRACTION * period_us;
        // The next send is still ahead (sends happen at `advance`), so moving it moves the
        // input `next_seq` already.
        let shift_us = (PHASE_GAIN * error_us).clamp(-max_step, max_step);
        let shift = Duration::from_secs_f64(shift_us.abs() / 1e6);
        if shift_us >= 0.0 {
            self.next_send += shift;
        } else {
            self.next_send = self.next_send.checked_sub(shift).unwrap_or(self.next_send);
        }
        self.offset_us += shift_us;
        self.settle_seq = next_seq;
    }

    /// The margin aimed for now.
    pub fn target_margin(&self) -> Duration {
        Duration::from_secs_f64(self.aim_us() / 1e6)
    }

    fn aim_us(&self) -> f64 {
        let floor = MIN_MARGIN.as_secs_f64() * 1e6;
        let aim = floor + JITTER_FACTOR * self.jitter_us() + self.miss_bump_us;
        // Never aim more than half a tick early: beyond that the wait is what we fight.
        aim.min(self.period.as_secs_f64() * 1e6 / 2.0)
    }

    /// Late spread of recent samples (p50 − p5), in µs; 0 with fewer than 8 samples.
    fn jitter_us(&self) -> f64 {
        if self.recent_us.len() < 8 {
            return 0.0;
        }
        let mut sorted: Vec<i64> = self.recent_us.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        (at(0.5) - at(0.05)) as f64
    }

    /// Inputs whose feedback said they missed their tick.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Feedback samples taken.
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_micros(33_333);

    /// A simulated link: the server ticks at `t0 + k × PERIOD + offset`; an input sent at
    /// `s` arrives at `s + delay(k)`. Runs `ticks` sends through the clock, feeding back each
    /// input's margin after `feedback_lag` sends, and returns the margins in µs.
    fn run(
        offset_us: u64,
        ticks: usize,
        feedback_lag: usize,
        delay_us: impl Fn(usize) -> u64,
    ) -> (InputClock, Vec<i64>) {
        let t0 = Instant::now();
        let tick_at = |k: u64| t0 + PERIOD * k as u32 + Duration::from_micros(offset_us);
        let mut clock = InputClock::new(PERIOD, t0);
        let mut margins = Vec::new();
        let mut reports: VecDeque<(InputSeq, i16)> = VecDeque::new();
        let mut last_tick_used = u64::MAX;
        let mut previous_arrival = t0;
        let period = PERIOD.as_micros() as i64;
        for n in 0..ticks {
            let seq = n as InputSeq + 1;
            let sent = clock.next_send();
            clock.advance(sent);
            clock.on_sent(seq);
            let arrived = sent + Duration::from_micros(delay_us(n));
            // The first tick at or after the arrival takes it.
            let relative = (arrived - t0).as_micros() as i64 - offset_us as i64;
            let k = if relative <= 0 {
                0
            } else {
                (relative + period - 1) / period
            } as u64;
            let margin_us = if k == last_tick_used {
                // Shares its tick with the previous input, which missed the tick before:
                // reported as how late that one was.
                -((previous_arrival - tick_at(k - 1)).as_micros() as i64)
            } else {
                (tick_at(k) - arrived).as_micros() as i64
            };
            last_tick_used = k;
            previous_arrival = arrived;
            margins.push(margin_us);
            reports.push_back((seq, (margin_us.div_euclid(100)) as i16));
            if reports.len() > feedback_lag {
                let (s, m) = reports.pop_front().unwrap();
                clock.on_feedback(s, m, seq + 1);
            }
        }
        (clock, margins)
    }

    #[test]
    fn converges_to_a_small_margin_from_any_phase() {
        for offset_us in [0, 1_000, 10_000, 20_000, 32_000] {
            let (clock, margins) = run(offset_us, 300, 2, |_| 200);
            let tail = &margins[200..];
            let max = *tail.iter().max().unwrap();
            let min = *tail.iter().min().unwrap();
            assert!(
                min >= 0,
                "offset {offset_us}: a settled input missed: {min}"
            );
            assert!(
                max <= 3_000,
                "offset {offset_us}: margin stays large: {max}"
            );
            assert!(clock.target_margin() >= MIN_MARGIN);
        }
    }

    #[test]
    fn the_aim_grows_with_jitter() {
        let (quiet, _) = run(5_000, 400, 2, |_| 200);
        // Pseudo-random delays between 0.2 and 4.2 ms.
        let (noisy, margins) = run(5_000, 400, 2, |n| 200 + (n as u64 * 7919 % 4000));
        assert!(
            noisy.target_margin() > quiet.target_margin() + Duration::from_millis(2),
            "{:?} vs {:?}",
            noisy.target_margin(),
            quiet.target_margin()
        );
        let missed = margins[200..].iter().filter(|m| **m < 0).count();
        assert!(missed <= 10, "{missed} of 200 settled inputs missed");
    }

    #[test]
    fn a_stalled_clock_restarts_instead_of_bursting() {
        let t0 = Instant::now();
        let mut clock = InputClock::new(PERIOD, t0);
        let late = t0 + Duration::from_secs(1);
        clock.advance(late);
        assert!(clock.next_send() > late);
    }

    #[test]
    fn feedback_is_taken_once_per_input_and_bounded() {
        let t0 = Instant::now();
        let mut clock = InputClock::new(PERIOD, t0);
        clock.on_feedback(1, i16::MAX, 2);
        clock.on_feedback(1, i16::MAX, 3);
        assert_eq!(clock.samples(), 1);
        clock.advance(t0);
        let step = clock.next_send() - t0;
        let max = PERIOD.as_secs_f64() * (1.0 + MAX_PHASE_STEP_FRACTION + MAX_RATE_TRIM);
        assert!(step.as_secs_f64() <= max + 1e-6, "{step:?}");
        clock.on_feedback(2, i16::MIN, 3);
        assert_eq!(clock.missed(), 1);
    }
}
