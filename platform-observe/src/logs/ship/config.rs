//! [`LogShipConfig`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::logs::record::{LogLevel, MAX_NAME_LEN};

/// How a [`LogShipper`](super::LogShipper) captures and ships records.
///
/// ```
/// let cfg: platform_observe::logs::LogShipConfig = serde_json::from_str(r#"{
///     "service": "orders", "min_level": "info", "buffer": 8192,
///     "batch_size": 512, "batch_delay": "1s"
/// }"#).unwrap();
/// cfg.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogShipConfig {
    /// The `service` of every record (default `unknown_service`).
    pub service: String,
    /// Capture events at this level or more severe (default `info`). The subscriber's own
    /// filter applies first.
    pub min_level: LogLevel,
    /// Records the buffer between the application and the shipping task holds (default
    /// 8192). When it is full, new records are dropped and counted; the application never
    /// waits.
    pub buffer: usize,
    /// Most records per write to the store (default 512).
    pub batch_size: usize,
    /// Longest wait before a partial batch is written (default 1 s).
    #[serde(with = "humantime_serde")]
    pub batch_delay: Duration,
    /// Tries per batch before it is given up and counted as failed (default 3).
    pub write_attempts: u32,
    /// Wait before the second try, doubled before each further one (default 200 ms).
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    /// Events whose target starts with one of these are not captured (default: `sqlx`,
    /// `hyper`, `hyper_util`, `h2`, `reqwest`, `opentelemetry` — the clients a store or
    /// exporter uses). The shipper's own target `platform::observe::logs` is always
    /// excluded, as is anything emitted while the shipping task runs a store call.
    pub exclude_targets: Vec<String>,
}

impl Default for LogShipConfig {
    fn default() -> Self {
        Self {
            service: "unknown_service".into(),
            min_level: LogLevel::Info,
            buffer: 8192,
            batch_size: 512,
            batch_delay: Duration::from_secs(1),
            write_attempts: 3,
            retry_delay: Duration::from_millis(200),
            exclude_targets: ["sqlx", "hyper", "hyper_util", "h2", "reqwest", "opentelemetry"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// A [`LogShipConfig`] field out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log shipping config: `{field}` {problem}")]
pub struct LogShipConfigError {
    /// The field.
    pub field: &'static str,
    /// What is wrong and what is expected.
    pub problem: String,
}

impl LogShipConfig {
    /// The defaults with `service` set.
    pub fn new(service: impl Into<String>) -> Self {
        Self { service: service.into(), ..Self::default() }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), LogShipConfigError> {
        let bad = |field, problem: &str| Err(LogShipConfigError { field, problem: problem.into() });
        if self.service.is_empty()
            || self.service.len() > MAX_NAME_LEN
            || self.service.chars().any(char::is_control)
        {
            return bad("service", "must be 1 to 256 bytes without control characters");
        }
        if self.buffer == 0 || self.buffer > 1 << 24 {
            return bad("buffer", "must be between 1 and 16777216 records");
        }
        if self.batch_size == 0 || self.batch_size > 100_000 {
            return bad("batch_size", "must be between 1 and 100000 records");
        }
        if self.batch_delay.is_zero() {
            return bad("batch_delay", "must be greater than zero (e.g. \"1s\")");
        }
        if self.write_attempts == 0 || self.write_attempts > 100 {
            return bad("write_attempts", "must be between 1 and 100");
        }
        if self.exclude_targets.iter().any(String::is_empty) {
            return bad("exclude_targets", "must not hold an empty prefix (it would exclude all)");
        }
        Ok(())
    }
}
