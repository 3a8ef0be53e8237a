//! Connect ramp (`--ramp N`): bot `i` starts connecting `i / N` seconds into the run, so
//! a large swarm arrives at a steady rate the server's accept loop can take, rather than
//! all at once (which would measure the listen backlog, not the server).

use std::time::Duration;

/// When bot `index` starts connecting, counted from the start of the run: `index / rate`
/// seconds at `rate` connects per second; at once for `None` or a rate that is not a
/// positive finite number.
pub fn connect_offset(index: usize, rate: Option<f64>) -> Duration {
    match rate {
        Some(rate) if rate.is_finite() && rate > 0.0 => {
            Duration::try_from_secs_f64(index as f64 / rate).unwrap_or(Duration::MAX)
        }
        _ => Duration::ZERO,
    }
}

/// How long the whole ramp takes for `bots` bots: the last bot's offset.
pub fn ramp_length(bots: usize, rate: Option<f64>) -> Duration {
    connect_offset(bots.saturating_sub(1), rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bots_start_at_the_ramp_rate() {
        let rate = Some(100.0);
        assert_eq!(connect_offset(0, rate), Duration::ZERO);
        assert_eq!(connect_offset(1, rate), Duration::from_millis(10));
        assert_eq!(connect_offset(250, rate), Duration::from_millis(2500));
        assert_eq!(ramp_length(1001, rate), Duration::from_secs(10));
        assert_eq!(ramp_length(0, rate), Duration::ZERO);
        let fractional = connect_offset(3, Some(0.5));
        assert_eq!(fractional, Duration::from_secs(6));
    }

    #[test]
    fn no_ramp_or_a_nonsense_rate_starts_everyone_at_once() {
        for rate in [
            None,
            Some(0.0),
            Some(-3.0),
            Some(f64::NAN),
            Some(f64::INFINITY),
        ] {
            assert_eq!(connect_offset(500, rate), Duration::ZERO, "{rate:?}");
        }
    }
}
