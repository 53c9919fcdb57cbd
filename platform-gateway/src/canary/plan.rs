//! The rollout plan (steps of weights) and the analysis settings, as serde types.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::split::{Bp, percent_to_bp};

/// One step of a plan: the weight every candidate version gets, and how long and on how
/// many requests it must run before it is judged.
///
/// In a config file a step is a number (the weight in percent, with the plan's
/// defaults) or a table: `{ weight = 50, min_duration = "10m", min_requests = 500 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StepSpec", into = "StepSpec")]
pub struct Step {
    /// Weight of each candidate, in percent (`0 < weight <= 100`).
    pub weight: f64,
    /// Overrides the plan's `min_duration`.
    pub min_duration: Option<Duration>,
    /// Overrides the plan's `min_requests`.
    pub min_requests: Option<u64>,
}

impl Step {
    /// A step at `weight` percent with the plan's defaults.
    pub fn new(weight: f64) -> Self {
        Self { weight, min_duration: None, min_requests: None }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a weight in percent, or a table { weight = 50, min_duration = \"10m\", min_requests = 500 }"
)]
enum StepSpec {
    Weight(f64),
    Full(StepTable),
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepTable {
    weight: f64,
    #[serde(default, with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    min_duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_requests: Option<u64>,
}

impl From<StepSpec> for Step {
    fn from(s: StepSpec) -> Self {
        match s {
            StepSpec::Weight(weight) => Self::new(weight),
            StepSpec::Full(StepTable { weight, min_duration, min_requests }) => {
                Self { weight, min_duration, min_requests }
            }
        }
    }
}

impl From<Step> for StepSpec {
    fn from(s: Step) -> Self {
        match (s.min_duration, s.min_requests) {
            (None, None) => Self::Weight(s.weight),
            (min_duration, min_requests) => {
                Self::Full(StepTable { weight: s.weight, min_duration, min_requests })
            }
        }
    }
}

/// The steps of a progressive rollout: `5 → 25 → 50 → 100` percent by default, each
/// held at least `min_duration` and until each version has `min_requests` judged
/// requests in the step, then judged. Passing the last step promotes the rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolloutPlan {
    /// The steps, in order, with strictly increasing weights.
    pub steps: Vec<Step>,
    /// Least time a step runs before it is judged (default 1 minute).
    #[serde(with = "humantime_serde")]
    pub min_duration: Duration,
    /// Least requests each version needs in a step before it is judged (default 100).
    pub min_requests: u64,
}

impl Default for RolloutPlan {
    fn default() -> Self {
        Self {
            steps: [5.0, 25.0, 50.0, 100.0].into_iter().map(Step::new).collect(),
            min_duration: Duration::from_secs(60),
            min_requests: 100,
        }
    }
}

impl RolloutPlan {
    /// A plan over `weights` (percent) with the default duration and request minimums.
    pub fn steps(weights: impl IntoIterator<Item = f64>) -> Self {
        Self { steps: weights.into_iter().map(Step::new).collect(), ..Self::default() }
    }

    /// Sets the default least duration of a step.
    pub fn min_duration(mut self, d: Duration) -> Self {
        self.min_duration = d;
        self
    }

    /// Sets the default least requests per version in a step.
    pub fn min_requests(mut self, n: u64) -> Self {
        self.min_requests = n;
        self
    }

    /// Checks the plan for `lane` basis points per candidate; the error names the field.
    pub(crate) fn validate(&self, lane: Bp, candidates: usize) -> Result<(), (String, String)> {
        if self.steps.is_empty() {
            return Err(("plan.steps".into(), "is empty; give at least one weight".into()));
        }
        if self.min_requests == 0 {
            return Err(("plan.min_requests".into(), "must be at least 1".into()));
        }
        let mut last = 0;
        for (i, step) in self.steps.iter().enumerate() {
            let field = format!("plan.steps[{i}]");
            let bp = percent_to_bp(step.weight).filter(|bp| *bp > 0).ok_or_else(|| {
                (field.clone(), format!("weight {} must be above 0 and at most 100", step.weight))
            })?;
            if bp > lane {
                return Err((
                    field,
                    format!(
                        "weight {} is above {}%, the most each of {candidates} candidate versions can take",
                        step.weight,
                        super::split::bp_to_percent(lane)
                    ),
                ));
            }
            if bp <= last {
                return Err((field, "weights must increase from step to step".into()));
            }
            if step.min_requests == Some(0) {
                return Err((format!("{field}.min_requests"), "must be at least 1".into()));
            }
            last = bp;
        }
        Ok(())
    }

    /// The weight of step `i` in basis points (validated plans only).
    pub(crate) fn weight_bp(&self, i: usize) -> Bp {
        self.steps.get(i).and_then(|s| percent_to_bp(s.weight)).unwrap_or(0)
    }

    pub(crate) fn step_min_duration(&self, i: usize) -> Duration {
        self.steps.get(i).and_then(|s| s.min_duration).unwrap_or(self.min_duration)
    }

    pub(crate) fn step_min_requests(&self, i: usize) -> u64 {
        self.steps.get(i).and_then(|s| s.min_requests).unwrap_or(self.min_requests)
    }
}

/// What a failed analysis does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Every candidate to weight 0 at once (the default).
    #[default]
    Rollback,
    /// Back down through the plan's lower steps, one every `rollback_interval`, to 0.
    RollbackGradual,
    /// Hold the current weights and stop judging until resumed, retried or rolled back.
    Pause,
}

/// How each step is judged: canary against stable, with thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// How often each gateway instance publishes its measurements, follows the shared
    /// state and judges the step when it is due (default 10 s).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Fail when a candidate's error rate exceeds the stable version's by more than this
    /// (default 0.01: one percentage point).
    pub max_error_rate_increase: f64,
    /// Also fail when a candidate's error rate is above this, whatever the stable
    /// version does (default: none). Lets a step be judged when the stable version has
    /// too little traffic to compare with, e.g. at 100 %.
    pub max_error_rate: Option<f64>,
    /// Fail when a candidate's p99 latency exceeds the stable version's times this
    /// (default 1.5) ...
    pub max_p99_ratio: f64,
    /// ... and by more than this much (default 10 ms), so sub-millisecond noise is not
    /// a regression.
    #[serde(with = "humantime_serde")]
    pub p99_tolerance: Duration,
    /// What a failed step does (default `rollback`).
    pub on_failure: OnFailure,
    /// With `rollback_gradual`: time between steps down (default 30 s).
    #[serde(with = "humantime_serde")]
    pub rollback_interval: Duration,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            max_error_rate_increase: 0.01,
            max_error_rate: None,
            max_p99_ratio: 1.5,
            p99_tolerance: Duration::from_millis(10),
            on_failure: OnFailure::Rollback,
            rollback_interval: Duration::from_secs(30),
        }
    }
}

impl AnalysisConfig {
    /// Checks the values; the error names the field.
    pub(crate) fn validate(&self) -> Result<(), (String, String)> {
        let field = |f: &str| format!("analysis.{f}");
        if self.interval.is_zero() {
            return Err((field("interval"), "must be greater than zero".into()));
        }
        if self.rollback_interval.is_zero() {
            return Err((field("rollback_interval"), "must be greater than zero".into()));
        }
        if !(0.0..=1.0).contains(&self.max_error_rate_increase) {
            return Err((
                field("max_error_rate_increase"),
                format!("is {}; give a fraction between 0 and 1", self.max_error_rate_increase),
            ));
        }
        if let Some(r) = self.max_error_rate.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err((
                field("max_error_rate"),
                format!("is {r}; give a fraction between 0 and 1"),
            ));
        }
        if self.max_p99_ratio.is_nan() || self.max_p99_ratio < 1.0 {
            return Err((
                field("max_p99_ratio"),
                format!("is {}; it must be at least 1.0", self.max_p99_ratio),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_as_numbers_or_tables() {
        let plan: RolloutPlan = serde_json::from_str(
            r#"{"steps":[5,{"weight":50,"min_duration":"10m","min_requests":7}],"min_requests":3}"#,
        )
        .unwrap();
        assert_eq!(plan.steps[0], Step::new(5.0));
        assert_eq!(plan.step_min_requests(0), 3);
        assert_eq!(plan.step_min_requests(1), 7);
        assert_eq!(plan.step_min_duration(1), Duration::from_secs(600));
        assert_eq!(plan.step_min_duration(0), Duration::from_secs(60));
        assert!(plan.validate(10_000, 1).is_ok());
    }

    #[test]
    fn a_mistyped_step_says_what_a_step_is() {
        let err = serde_json::from_str::<RolloutPlan>(r#"{"steps":[{"weigth":5}]}"#).unwrap_err();
        assert!(err.to_string().contains("a weight in percent, or a table"), "{err}");
        let plan = RolloutPlan::steps([5.0]).min_requests(3);
        let mut with_table = plan.clone();
        with_table.steps[0].min_requests = Some(9);
        for p in [plan, with_table] {
            let back: RolloutPlan =
                serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back, p);
        }
    }

    #[test]
    fn bad_plans_name_the_step() {
        let err = |p: RolloutPlan, lane| p.validate(lane, 2).unwrap_err();
        assert_eq!(err(RolloutPlan::steps([5.0, 5.0]), 10_000).0, "plan.steps[1]");
        assert_eq!(err(RolloutPlan::steps([0.0]), 10_000).0, "plan.steps[0]");
        assert_eq!(err(RolloutPlan::steps([101.0]), 10_000).0, "plan.steps[0]");
        let (field, msg) = err(RolloutPlan::steps([10.0, 60.0]), 5_000);
        assert_eq!(field, "plan.steps[1]");
        assert!(msg.contains("50%"), "{msg}");
        assert_eq!(err(RolloutPlan::steps([]), 10_000).0, "plan.steps");
    }

    #[test]
    fn analysis_defaults_are_valid_and_bad_values_named() {
        assert!(AnalysisConfig::default().validate().is_ok());
        let bad = AnalysisConfig { max_p99_ratio: 0.5, ..AnalysisConfig::default() };
        assert_eq!(bad.validate().unwrap_err().0, "analysis.max_p99_ratio");
        let bad = AnalysisConfig { max_error_rate: Some(2.0), ..AnalysisConfig::default() };
        assert_eq!(bad.validate().unwrap_err().0, "analysis.max_error_rate");
    }
}
