//! Per-version metrics of canary rollouts in a platform-observe [`MetricsRegistry`].

use std::time::Duration;

use platform_core::classify::Outcome;
use platform_observe::metrics::{
    CounterFamily, DEFAULT_LATENCY_BUCKETS, FamilyLimits, GaugeFamily, HistogramFamily,
    MetricError, MetricsRegistry,
};

use super::state::{DecisionKind, Phase};

/// The canary metric families, registered once per registry and shared by every canary
/// of a [`Rollouts`](super::Rollouts):
///
/// | metric | labels | what |
/// |---|---|---|
/// | `gateway_canary_requests_total` | `canary`, `version`, `outcome` | judged attempts, `success` or `failure` |
/// | `gateway_canary_request_duration_seconds` | `canary`, `version` | time to the response head |
/// | `gateway_canary_weight_basis_points` | `canary`, `version` | current weight (10 000 = all traffic) |
/// | `gateway_canary_step` | `canary` | current plan step (0-based) |
/// | `gateway_canary_phase` | `canary`, `phase` | 1 for the current phase |
/// | `gateway_canary_decisions_total` | `canary`, `decision` | decisions this instance made |
#[derive(Debug, Clone)]
pub struct CanaryMetrics {
    requests: CounterFamily<3>,
    duration: HistogramFamily<2>,
    weight: GaugeFamily<2>,
    step: GaugeFamily<1>,
    phase: GaugeFamily<2>,
    decisions: CounterFamily<2>,
}

impl CanaryMetrics {
    /// Registers the families in `registry`.
    ///
    /// # Errors
    /// [`MetricError::Duplicate`] when they are already registered there: build one
    /// `CanaryMetrics` per registry and share it.
    pub fn new(registry: &MetricsRegistry) -> Result<Self, MetricError> {
        let limits = FamilyLimits::default();
        Ok(Self {
            requests: registry.counter(
                "gateway_canary_requests_total",
                "Attempts sent to each version of a canary, by outcome.",
                ["canary", "version", "outcome"],
                limits.clone(),
            )?,
            duration: registry.histogram(
                "gateway_canary_request_duration_seconds",
                "Time to the response head per canary version.",
                ["canary", "version"],
                DEFAULT_LATENCY_BUCKETS,
                limits.clone(),
            )?,
            weight: registry.gauge(
                "gateway_canary_weight_basis_points",
                "Current weight of each canary version (10000 = all traffic).",
                ["canary", "version"],
                limits.clone(),
            )?,
            step: registry.gauge(
                "gateway_canary_step",
                "Current rollout plan step (0-based).",
                ["canary"],
                limits.clone(),
            )?,
            phase: registry.gauge(
                "gateway_canary_phase",
                "1 for the rollout's current phase.",
                ["canary", "phase"],
                limits.clone(),
            )?,
            decisions: registry.counter(
                "gateway_canary_decisions_total",
                "Rollout decisions made by this instance.",
                ["canary", "decision"],
                limits,
            )?,
        })
    }

    pub(crate) fn observe(&self, canary: &str, version: &str, outcome: Outcome, d: Duration) {
        let outcome = match outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Rejected => return,
        };
        self.requests.inc([canary, version, outcome]);
        self.duration.observe([canary, version], d);
    }

    /// Publishes the current weights, step and phase.
    pub(crate) fn state(&self, canary: &str, weights: &[(&str, u32)], step: usize, phase: Phase) {
        for (version, w) in weights {
            self.weight.set([canary, version], i64::from(*w));
        }
        self.step.set([canary], i64::try_from(step).unwrap_or(i64::MAX));
        for p in Phase::ALL {
            self.phase.set([canary, p.as_str()], i64::from(p == phase));
        }
    }

    pub(crate) fn decision(&self, canary: &str, kind: DecisionKind) {
        self.decisions.inc([canary, kind.as_str()]);
    }
}
