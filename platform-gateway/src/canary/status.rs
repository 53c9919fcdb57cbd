//! What the admin API shows of a rollout: [`RolloutStatus`].

use serde::Serialize;

use super::state::{Decision, Phase};
use super::stats::Sample;
use super::{Canary, CanaryError};

/// A rollout as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RolloutStatus {
    /// The canary's name.
    pub name: String,
    /// The gateway instance answering.
    pub instance: String,
    /// The phase (`None`: no plan, fixed weights).
    pub phase: Option<Phase>,
    /// The plan step running or stopped on (0-based).
    pub step: Option<usize>,
    /// The plan's weights in percent.
    pub steps: Vec<f64>,
    /// The state's revision (every decision adds one).
    pub revision: Option<i64>,
    /// The analysis window.
    pub window: Option<i64>,
    /// When the window opened (Unix milliseconds).
    pub window_started_ms: Option<i64>,
    /// Each version: weight and measurements, stable first.
    pub versions: Vec<VersionStatus>,
    /// The last decision and its reason.
    pub last_decision: Option<Decision>,
    /// Why this instance's last evaluation decided what it did, or nothing.
    pub last_evaluation: Option<String>,
    /// The last state-store failure on this instance, until the next success.
    pub store_error: Option<String>,
}

/// One version in a [`RolloutStatus`].
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct VersionStatus {
    /// The version (its upstream's name).
    pub name: String,
    /// `stable` or `candidate`.
    pub role: &'static str,
    /// Its share of the traffic, in percent.
    pub weight_percent: f64,
    /// The current analysis window, summed over the instances on the store.
    pub window: StatsView,
    /// This instance's counts since the canary was built.
    pub instance_total: StatsView,
}

/// Measurements of one version.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StatsView {
    /// Judged requests (success and failure).
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Failures over requests.
    pub error_rate: f64,
    /// Median time to the response head, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 99th percentile, in milliseconds.
    pub p99_ms: Option<f64>,
}

impl From<&Sample> for StatsView {
    fn from(s: &Sample) -> Self {
        // Microsecond precision is all the histogram has.
        let ms = |q| s.quantile(q).map(|d| (d.as_secs_f64() * 1e6).round() / 1e3);
        Self {
            requests: s.requests(),
            failures: s.failure,
            error_rate: s.error_rate(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
        }
    }
}

impl Canary {
    /// The rollout's status: the shared state (followed first), the current window
    /// summed over every instance on the store, and this instance's totals.
    ///
    /// # Errors
    /// [`CanaryError::Store`] when the state store fails.
    pub async fn status(&self) -> Result<RolloutStatus, CanaryError> {
        let inner = &self.inner;
        let (stored, window) = match &inner.plan {
            Some(_) => {
                let stored = self.sync().await?;
                let window = self.measurements(stored.state.window).await?;
                (Some(stored), window)
            }
            None => (None, inner.window.load().sample(&inner.names)),
        };
        let weights = self.weights();
        let versions = inner
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| VersionStatus {
                name: name.clone(),
                role: if i == 0 { "stable" } else { "candidate" },
                weight_percent: weights[i].1,
                window: StatsView::from(&window.version(name)),
                instance_total: StatsView::from(&inner.totals[i].sample()),
            })
            .collect();
        let local = inner.local();
        let state = stored.as_ref().map(|s| &s.state);
        Ok(RolloutStatus {
            name: inner.name.to_string(),
            instance: inner.rollouts.instance().to_owned(),
            phase: state.map(|s| s.phase),
            step: state.map(|s| s.step),
            steps: inner.plan.iter().flat_map(|p| &p.steps).map(|s| s.weight).collect(),
            revision: stored.as_ref().map(|s| s.revision),
            window: state.map(|s| s.window),
            window_started_ms: state.map(|s| s.since_ms),
            versions,
            last_decision: state.and_then(|s| s.last.clone()),
            last_evaluation: local.evaluation.clone(),
            store_error: local.store_error.clone(),
        })
    }
}
