//! Refusals in the log without letting anyone flood it: each refused or failed connection
//! and each kick is logged at debug only, and one line at info sums them up per interval —
//! "1998 connections failed before a session in the last 10s (token forged: 1998)".
//!
//! The figures come from the counters the network layer already keeps ([`ServerMetrics`]),
//! so the hot paths do no extra work; the summary task reads them once per interval.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use strum::IntoEnumIterator;

use crate::metrics::{KickReason, ServerMetrics};

/// Counts by reason at one moment: connections that failed before a session (refused at
/// accept included) and sessions kicked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tally {
    failed: BTreeMap<String, u64>,
    kicked: BTreeMap<String, u64>,
}

impl Tally {
    fn now(metrics: &ServerMetrics) -> Tally {
        let mut failed: BTreeMap<String, u64> = metrics
            .failures_by_reason()
            .map(|(reason, count)| (reason.as_str().replace(' ', "_"), count))
            .collect();
        failed.insert(
            "limit_at_accept".to_owned(),
            metrics.connections_refused.get(),
        );
        let kicked = KickReason::iter()
            .map(|reason| (reason.as_str().to_owned(), metrics.kicks(reason)))
            .collect();
        Tally { failed, kicked }
    }

    /// What happened since `before`: counts that moved, by reason.
    fn since(&self, before: &Tally) -> Tally {
        let moved = |now: &BTreeMap<String, u64>, then: &BTreeMap<String, u64>| {
            now.iter()
                .filter_map(|(reason, count)| {
                    let delta = count.saturating_sub(then.get(reason).copied().unwrap_or(0));
                    (delta > 0).then(|| (reason.clone(), delta))
                })
                .collect()
        };
        Tally {
            failed: moved(&self.failed, &before.failed),
            kicked: moved(&self.kicked, &before.kicked),
        }
    }

    /// The summary line, or `None` when nothing happened.
    fn line(&self, interval: Duration) -> Option<String> {
        let part = |what: &str, counts: &BTreeMap<String, u64>| {
            let total: u64 = counts.values().sum();
            (total > 0).then(|| {
                let mut text = format!("{total} {what} (");
                for (i, (reason, count)) in counts.iter().enumerate() {
                    let separator = if i == 0 { "" } else { ", " };
                    let _ = write!(text, "{separator}{}: {count}", reason.replace('_', " "));
                }
                text.push(')');
                text
            })
        };
        let parts: Vec<String> = [
            part("connections failed before a session", &self.failed),
            part("sessions kicked", &self.kicked),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "{} in the last {}",
                parts.join("; "),
                humantime::format_duration(interval)
            )
        })
    }
}

/// Logs the summary line every `interval` in which something was refused, failed or kicked,
/// until `stop`.
pub async fn summarize(metrics: Arc<ServerMetrics>, interval: Duration, stop: CancellationToken) {
    let mut before = Tally::now(&metrics);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let now = Tally::now(&metrics);
        if let Some(line) = now.since(&before).line(interval) {
            tracing::info!("{line}");
        }
        before = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::RefusalReason;

    #[test]
    fn the_line_sums_up_what_moved_by_reason() {
        let metrics = ServerMetrics::default();
        let quiet = Tally::now(&metrics);
        assert_eq!(
            Tally::now(&metrics)
                .since(&quiet)
                .line(Duration::from_secs(10)),
            None
        );
        for _ in 0..1998 {
            metrics.admission_refused(RefusalReason::TokenForged);
        }
        metrics.admission_refused(RefusalReason::Origin);
        metrics.connections_refused.inc_by(3);
        metrics.kicked(KickReason::Slow, 2);
        let line = Tally::now(&metrics)
            .since(&quiet)
            .line(Duration::from_secs(10))
            .expect("a line");
        assert_eq!(
            line,
            "2002 connections failed before a session (limit at accept: 3, origin: 1, token forged: 1998); \
             2 sessions kicked (slow: 2) in the last 10s"
        );
    }
}
