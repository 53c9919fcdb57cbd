//! Configuration of the RED metrics layer.

use serde::{Deserialize, Serialize};

use crate::metrics::family::FamilyLimits;
use crate::metrics::primitives::DEFAULT_LATENCY_BUCKETS;

/// Configuration of [`MetricsLayer`](super::MetricsLayer).
///
/// ```
/// use platform_observe::metrics::MetricsConfig;
///
/// let cfg: MetricsConfig = serde_json::from_str(
///     r#"{ "buckets": [0.01, 0.1, 1.0], "limits": { "max_series": 200, "idle_timeout": "5m" } }"#,
/// ).unwrap();
/// cfg.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Latency histogram bucket bounds in seconds, ascending (default 5 ms … 10 s).
    pub buckets: Vec<f64>,
    /// Cap on distinct route × method series and their idle eviction.
    pub limits: FamilyLimits,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { buckets: DEFAULT_LATENCY_BUCKETS.to_vec(), limits: FamilyLimits::default() }
    }
}

/// A configuration value the RED layer refused; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid metrics layer config: {0}")]
pub struct MetricsConfigError(pub(crate) String);

impl MetricsConfig {
    /// Checks the buckets and limits.
    pub fn validate(&self) -> Result<(), MetricsConfigError> {
        if self.buckets.is_empty() {
            return Err(MetricsConfigError("buckets must hold at least one bound".into()));
        }
        if self.buckets.iter().any(|b| !b.is_finite() || *b <= 0.0) {
            return Err(MetricsConfigError("buckets must be finite, positive seconds".into()));
        }
        if self.buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(MetricsConfigError("buckets must be strictly ascending".into()));
        }
        self.limits.validate("limits").map_err(MetricsConfigError)
    }
}
