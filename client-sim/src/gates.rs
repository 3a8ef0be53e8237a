//! Release gates (`--max-desyncs`, `--max-p99-ms`, `--max-disconnects`): limits on a
//! [`SwarmReport`] that a pipeline fails on. Each violation names its gate, the limit and
//! what was measured.

use std::fmt;

use crate::report::SwarmReport;

/// The limits to check; `None` means no gate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gates {
    pub max_desyncs: Option<u64>,
    pub max_p99_ms: Option<f64>,
    /// Honest bots' unexplained disconnects (chaos bots' own do not count).
    pub max_disconnects: Option<usize>,
}

/// One gate the report failed.
#[derive(Debug, Clone, PartialEq)]
pub enum GateViolation {
    Desyncs {
        limit: u64,
        measured: u64,
    },
    P99 {
        limit_ms: f64,
        measured_ms: f64,
    },
    /// A p99 gate was set but no input was acknowledged, so there is nothing to check.
    NoP99 {
        limit_ms: f64,
    },
    Disconnects {
        limit: usize,
        measured: usize,
    },
}

impl fmt::Display for GateViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateViolation::Desyncs { limit, measured } => {
                write!(f, "--max-desyncs {limit} violated: {measured} desyncs")
            }
            GateViolation::P99 {
                limit_ms,
                measured_ms,
            } => write!(
                f,
                "--max-p99-ms {limit_ms} violated: input→ack p99 was {measured_ms:.2} ms"
            ),
            GateViolation::NoP99 { limit_ms } => write!(
                f,
                "--max-p99-ms {limit_ms} cannot be met: no input was acknowledged"
            ),
            GateViolation::Disconnects { limit, measured } => write!(
                f,
                "--max-disconnects {limit} violated: {measured} honest bots were disconnected"
            ),
        }
    }
}

impl Gates {
    /// Every gate `report` violates (empty: all passed).
    pub fn check(&self, report: &SwarmReport) -> Vec<GateViolation> {
        let mut violations = Vec::new();
        if let Some(limit) = self.max_desyncs {
            if report.desyncs > limit {
                violations.push(GateViolation::Desyncs {
                    limit,
                    measured: report.desyncs,
                });
            }
        }
        if let Some(limit_ms) = self.max_p99_ms {
            match report.ack_latency_p99_ms {
                Some(measured_ms) if measured_ms > limit_ms => {
                    violations.push(GateViolation::P99 {
                        limit_ms,
                        measured_ms,
                    })
                }
                Some(_) => {}
                None => violations.push(GateViolation::NoP99 { limit_ms }),
            }
        }
        if let Some(limit) = self.max_disconnects {
            if report.disconnects > limit {
                violations.push(GateViolation::Disconnects {
                    limit,
                    measured: report.disconnects,
                });
            }
        }
        violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::sample_report;

    #[test]
    fn no_gates_never_fail() {
        assert!(Gates::default().check(&sample_report()).is_empty());
    }

    #[test]
    fn limits_are_inclusive_and_violations_name_their_gate() {
        let mut report = sample_report();
        report.desyncs = 3;
        report.disconnects = 2;
        report.ack_latency_p99_ms = Some(40.0);
        let at_limit = Gates {
            max_desyncs: Some(3),
            max_p99_ms: Some(40.0),
            max_disconnects: Some(2),
        };
        assert!(at_limit.check(&report).is_empty());

        let tight = Gates {
            max_desyncs: Some(0),
            max_p99_ms: Some(25.5),
            max_disconnects: Some(1),
        };
        let violations = tight.check(&report);
        assert_eq!(violations.len(), 3);
        let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
        assert!(text[0].starts_with("--max-desyncs 0"), "{}", text[0]);
        assert!(text[1].starts_with("--max-p99-ms 25.5"), "{}", text[1]);
        assert!(text[1].contains("40.00 ms"));
        assert!(text[2].starts_with("--max-disconnects 1"), "{}", text[2]);
    }

    #[test]
    fn a_p99_gate_without_any_ack_fails() {
        let mut report = sample_report();
        report.ack_latency_p99_ms = None;
        let gates = Gates {
            max_p99_ms: Some(100.0),
            ..Gates::default()
        };
        assert_eq!(
            gates.check(&report),
            [GateViolation::NoP99 { limit_ms: 100.0 }]
        );
    }
}
