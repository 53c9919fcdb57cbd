use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::ConfigError;

/// Settings of the [`Bulkhead`](super::Bulkhead) layer.
///
/// ```
/// use platform_core::resilience::BulkheadConfig;
///
/// let cfg: BulkheadConfig =
///     serde_json::from_str(r#"{"max_concurrent":32,"max_waiting":64,"max_wait":"50ms"}"#).unwrap();
/// assert_eq!(cfg.max_concurrent, 32);
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BulkheadConfig {
    /// Calls allowed in flight at once, across every clone (default 64).
    pub max_concurrent: usize,
    /// Callers allowed to wait for a slot (default 0: no queue, reject at once).
    pub max_waiting: usize,
    /// Longest a caller waits for a slot before it is rejected (default 100ms).
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self { max_concurrent: 64, max_waiting: 0, max_wait: Duration::from_millis(100) }
    }
}

impl BulkheadConfig {
    /// A bulkhead of `max_concurrent` slots and no queue.
    pub fn new(max_concurrent: usize) -> Self {
        Self { max_concurrent, ..Self::default() }
    }

    /// Lets up to `max_waiting` callers wait at most `max_wait` for a slot.
    pub fn queue(mut self, max_waiting: usize, max_wait: Duration) -> Self {
        self.max_waiting = max_waiting;
        self.max_wait = max_wait;
        self
    }

    /// Checks the settings and names the first wrong field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 {
            return Err(ConfigError::new("bulkhead", "max_concurrent", "must be at least 1"));
        }
        if self.max_concurrent > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(ConfigError::new("bulkhead", "max_concurrent", "is too large"));
        }
        if self.max_waiting > 0 && self.max_wait.is_zero() {
            return Err(ConfigError::new(
                "bulkhead",
                "max_wait",
                "must be greater than zero when `max_waiting` allows a queue",
            ));
        }
        Ok(())
    }
}
