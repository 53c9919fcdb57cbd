//! [`AuditLayerConfig`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::audit::AuditError;

/// Settings of an [`AuditLayer`](super::AuditLayer) and its writer.
///
/// ```
/// use platform_observe::audit::AuditLayerConfig;
///
/// let cfg: AuditLayerConfig = serde_json::from_str(r#"{"buffer": 1024, "retry_backoff": "50ms"}"#).unwrap();
/// assert_eq!(cfg.target, "audit");
/// assert!(cfg.validate().is_ok());
/// let err = AuditLayerConfig { batch_size: 0, ..cfg }.validate().unwrap_err();
/// assert!(err.to_string().contains("`batch_size`"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditLayerConfig {
    /// The `tracing` target of captured events (default `audit`).
    pub target: String,
    /// Records waiting between capture and write (default 8192). When full, new records
    /// are dropped and counted: the emitting code never waits.
    pub buffer: usize,
    /// At most this many records per append transaction (default 512).
    pub batch_size: usize,
    /// Attempts to write one batch before its records are counted as failed (default 3).
    pub write_attempts: u32,
    /// Pause before the first retry, doubled for each further one (default 100ms).
    #[serde(with = "humantime_serde")]
    pub retry_backoff: Duration,
}

impl Default for AuditLayerConfig {
    fn default() -> Self {
        Self {
            target: "audit".to_owned(),
            buffer: 8192,
            batch_size: 512,
            write_attempts: 3,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

impl AuditLayerConfig {
    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<(), AuditError> {
        let bad = |field, problem: String| Err(AuditError::InvalidConfig { field, problem });
        if self.target.is_empty() {
            return bad("target", "is empty: name the target of audit events (`audit`)".into());
        }
        if !(1..=1_000_000).contains(&self.buffer) {
            return bad("buffer", format!("must be 1 to 1000000 records, got {}", self.buffer));
        }
        if !(1..=10_000).contains(&self.batch_size) {
            return bad("batch_size", format!("must be 1 to 10000, got {}", self.batch_size));
        }
        if self.write_attempts == 0 {
            return bad("write_attempts", "must be at least 1".into());
        }
        Ok(())
    }
}
