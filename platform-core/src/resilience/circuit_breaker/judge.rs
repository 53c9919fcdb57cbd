//! The trip rule, as a pure function of the settings and what the window holds.

use super::config::{CircuitBreakerConfig, WindowConfig};
use super::event::TransitionReason;
use super::window::Totals;

/// Why a closed breaker must open, if it must: `consecutive` failures in a row reached the
/// limit, or — once the window holds `minimum_calls` (capped at a count window's size) —
/// the failure or slow-call rate reached its threshold.
pub(super) fn trip_reason(
    cfg: &CircuitBreakerConfig,
    totals: Totals,
    consecutive: u32,
) -> Option<TransitionReason> {
    if let Some(threshold) = cfg.consecutive_failures
        && consecutive >= threshold
    {
        return Some(TransitionReason::ConsecutiveFailures { threshold });
    }
    let minimum = match cfg.window {
        WindowConfig::Count { size } => cfg.minimum_calls.min(size),
        WindowConfig::Time { .. } => cfg.minimum_calls,
    };
    let calls = totals.calls;
    if calls == 0 || calls < u64::from(minimum) {
        return None;
    }
    let rate = |n: u64| n as f64 / calls as f64;
    if let Some(threshold) = cfg.failure_rate_threshold
        && rate(totals.failures) >= threshold
    {
        return Some(TransitionReason::FailureRate {
            rate: rate(totals.failures),
            threshold,
            calls,
        });
    }
    if let Some(threshold) = cfg.slow_call_rate_threshold
        && rate(totals.slow) >= threshold
    {
        return Some(TransitionReason::SlowCallRate { rate: rate(totals.slow), threshold, calls });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(calls: u64, failures: u64, slow: u64) -> Totals {
        Totals { calls, failures, slow }
    }

    #[test]
    fn minimum_calls_is_capped_by_a_count_window() {
        let cfg = CircuitBreakerConfig {
            window: WindowConfig::Count { size: 4 },
            minimum_calls: 20,
            ..CircuitBreakerConfig::default()
        };
        assert!(trip_reason(&cfg, totals(3, 3, 0), 0).is_none());
        assert!(matches!(
            trip_reason(&cfg, totals(4, 2, 0), 0),
            Some(TransitionReason::FailureRate { calls: 4, .. })
        ));
    }

    #[test]
    fn failure_rate_is_judged_before_slow_rate() {
        let cfg = CircuitBreakerConfig {
            minimum_calls: 1,
            slow_call_rate_threshold: Some(0.5),
            ..CircuitBreakerConfig::default()
        };
        assert!(matches!(
            trip_reason(&cfg, totals(10, 5, 10), 0),
            Some(TransitionReason::FailureRate { .. })
        ));
        assert!(matches!(
            trip_reason(&cfg, totals(10, 4, 5), 0),
            Some(TransitionReason::SlowCallRate { .. })
        ));
        assert_eq!(trip_reason(&cfg, totals(10, 4, 4), 0), None);
    }
}
