//! [`PressureConfig`]: sampling interval and what the runtime signal tolerates.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often [`ResourcePressure`](super::ResourcePressure) samples and what counts as a
/// fully loaded runtime.
///
/// ```
/// use platform_observe::pressure::PressureConfig;
///
/// let cfg: PressureConfig = serde_json::from_str(r#"{ "interval": "500ms", "lag_tolerance": "20ms" }"#).unwrap();
/// assert_eq!(cfg.interval.as_millis(), 500);
/// assert_eq!(cfg.queue_tolerance, PressureConfig::default().queue_tolerance);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PressureConfig {
    /// Time between samples (default 1 s). CPU utilisation is averaged over it.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Scheduling lag that counts as a queue signal of `1.0` (default 50 ms): a task that
    /// became ready waits this long for a worker.
    #[serde(with = "humantime_serde")]
    pub lag_tolerance: Duration,
    /// Global queue depth that counts as a queue signal of `1.0` (default 1024 tasks).
    pub queue_tolerance: usize,
}

impl Default for PressureConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            lag_tolerance: Duration::from_millis(50),
            queue_tolerance: 1024,
        }
    }
}

impl PressureConfig {
    /// Checks the values; zero interval or tolerances are refused with the field named.
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.interval.is_zero() {
            return Err("pressure.interval must be greater than zero");
        }
        if self.lag_tolerance.is_zero() {
            return Err("pressure.lag_tolerance must be greater than zero");
        }
        if self.queue_tolerance == 0 {
            return Err("pressure.queue_tolerance must be greater than zero");
        }
        Ok(())
    }
}
