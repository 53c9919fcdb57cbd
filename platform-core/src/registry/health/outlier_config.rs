//! Configuration of passive outlier detection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::ConfigError;

/// When an [`OutlierDetector`](super::OutlierDetector) ejects an endpoint and for how long.
///
/// The `k`-th ejection in a row (counting from 0) lasts
/// `min(base_ejection × multiplier^k, max_ejection)`; the count starts over once an
/// endpoint has stayed in rotation for `max_ejection` after its last readmission.
///
/// ```
/// use std::time::Duration;
/// use platform_core::registry::health::OutlierConfig;
///
/// let config: OutlierConfig = serde_json::from_str(
///     r#"{ "consecutive_failures": 3, "base_ejection": "10s", "max_ejection": "1m" }"#,
/// ).unwrap();
/// config.validate().unwrap();
/// assert_eq!(config.ejection_duration(0), Duration::from_secs(10));
/// assert_eq!(config.ejection_duration(1), Duration::from_secs(20));
/// assert_eq!(config.ejection_duration(5), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutlierConfig {
    /// Failures in a row (as classified by the shared `Classify`) that eject an
    /// endpoint (default 5). A success resets the count; local rejections are ignored.
    pub consecutive_failures: u32,
    /// Length of a first ejection (default 30 s).
    #[serde(with = "humantime_serde")]
    pub base_ejection: Duration,
    /// Growth of the ejection length per ejection in a row (default 2.0, at least 1.0).
    pub multiplier: f64,
    /// Longest ejection (default 5 min).
    #[serde(with = "humantime_serde")]
    pub max_ejection: Duration,
    /// Largest share (0.0–1.0) of the tracked endpoints that may be ejected at once
    /// (default 0.5, like the discovery panic threshold). An endpoint over the cap stays
    /// in rotation and an `EjectionCapped` event says so.
    pub max_ejected_share: f64,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            multiplier: 2.0,
            max_ejection: Duration::from_secs(300),
            max_ejected_share: 0.5,
        }
    }
}

impl OutlierConfig {
    /// How long the ejection number `k` (0 for the first in a row) lasts.
    pub fn ejection_duration(&self, k: u32) -> Duration {
        let factor = self.multiplier.powi(k.min(64) as i32);
        let secs = self.base_ejection.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max_ejection.as_secs_f64() {
            self.max_ejection
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// Checks the values.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field: zero `consecutive_failures` or
    /// `base_ejection`, a `multiplier` below 1.0, `max_ejection` below `base_ejection`,
    /// or a `max_ejected_share` outside 0.0–1.0.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, problem: &str| Err(ConfigError::new("outlier_detection", field, problem));
        if self.consecutive_failures == 0 {
            return err("consecutive_failures", "must be at least 1");
        }
        if self.base_ejection.is_zero() {
            return err("base_ejection", "must be greater than zero");
        }
        if !(self.multiplier >= 1.0 && self.multiplier.is_finite()) {
            return err("multiplier", "must be a finite number of at least 1.0");
        }
        if self.max_ejection < self.base_ejection {
            return err("max_ejection", "must be at least base_ejection");
        }
        if !(0.0..=1.0).contains(&self.max_ejected_share) {
            return err("max_ejected_share", "must be between 0.0 and 1.0");
        }
        Ok(())
    }
}
