use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::ConfigError;

/// Settings of the [`Timeout`](super::Timeout) layer.
///
/// ```
/// use platform_core::resilience::TimeoutConfig;
///
/// let cfg: TimeoutConfig = serde_json::from_str(r#"{"timeout":"250ms"}"#).unwrap();
/// assert_eq!(cfg.timeout, std::time::Duration::from_millis(250));
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TimeoutConfig {
    /// How long a call may run (default 10s). Human-readable in config files: `"250ms"`, `"2s"`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(10) }
    }
}

impl TimeoutConfig {
    /// A config with the given timeout.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }

    /// Checks the settings; a zero timeout is rejected.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "timeout", "must be greater than zero"));
        }
        Ok(())
    }
}
