use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::{ConfigError, Mode};

const LAYER: &str = "circuit_breaker";

/// Which calls the failure and slow-call rates are computed over.
///
/// In config files: `{"kind": "count", "size": 100}` or
/// `{"kind": "time", "duration": "60s", "buckets": 10}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum WindowConfig {
    /// The last `size` finished calls.
    Count {
        /// How many calls the window holds (1 ..= 1,000,000).
        size: u32,
    },
    /// The calls that finished in the last `duration`, kept in `buckets` buckets; the
    /// oldest bucket is dropped as a whole, so the window covers between
    /// `duration - duration / buckets` and `duration`.
    Time {
        /// The window's length.
        #[serde(with = "humantime_serde")]
        duration: Duration,
        /// How many buckets the window is split into (1 ..= 1,000).
        buckets: u32,
    },
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self::Count { size: 100 }
    }
}

/// Settings of the [`CircuitBreaker`](super::CircuitBreaker).
///
/// Every field has a default, so a config file only names what it changes. Rates are
/// fractions in `0.0 ..= 1.0`; durations are human-readable (`"500ms"`, `"30s"`).
///
/// ```
/// use platform_core::resilience::circuit_breaker::{CircuitBreakerConfig, WindowConfig};
/// use std::time::Duration;
///
/// let cfg: CircuitBreakerConfig = serde_json::from_str(r#"{
///     "window": {"kind": "time", "duration": "30s", "buckets": 10},
///     "failure_rate_threshold": 0.25,
///     "open_duration": "2s"
/// }"#).unwrap();
/// assert_eq!(cfg.open_duration, Duration::from_secs(2));
/// assert_eq!(cfg.minimum_calls, 20); // default
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct CircuitBreakerConfig {
    /// The sliding window the rates are computed over (default: the last 100 calls).
    pub window: WindowConfig,
    /// Calls the window must hold before the rates are judged (default 20; capped at
    /// the size of a count window).
    pub minimum_calls: u32,
    /// Open when at least this fraction of calls failed (default `0.5`; `null` disables).
    pub failure_rate_threshold: Option<f64>,
    /// Open when at least this fraction of calls were slow (default `null`: disabled).
    pub slow_call_rate_threshold: Option<f64>,
    /// A call is slow when it runs longer than this (default 5s). Running calls count as
    /// slow as soon as they pass it; a slow half-open probe counts as a failed probe.
    #[serde(with = "humantime_serde")]
    pub slow_call_duration: Duration,
    /// Open after this many failures in a row, whatever the window says (default `null`).
    pub consecutive_failures: Option<u32>,
    /// How long the breaker stays open the first time it trips (default 5s).
    #[serde(with = "humantime_serde")]
    pub open_duration: Duration,
    /// Each re-open without a successful close in between multiplies the open duration by
    /// this (default `2.0`; `1.0` keeps it constant).
    pub open_backoff_multiplier: f64,
    /// The open duration never exceeds this (default 5min).
    #[serde(with = "humantime_serde")]
    pub max_open_duration: Duration,
    /// Probe calls let through at once while half-open (a probe still running from an
    /// earlier half-open period counts too); this many successful probes close the
    /// breaker, one failed probe re-opens it (default 3).
    pub half_open_probes: u32,
    /// Maximum number of keyed breakers kept; the least recently used are evicted
    /// (default 10,000; only used by keyed breakers).
    pub max_keys: u64,
    /// A keyed breaker not used for this long is dropped (default 10min).
    #[serde(with = "humantime_serde")]
    pub key_idle_timeout: Duration,
    /// Enforce decisions, or only record and report them (default enforce).
    pub mode: Mode,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            window: WindowConfig::default(),
            minimum_calls: 20,
            failure_rate_threshold: Some(0.5),
            slow_call_rate_threshold: None,
            slow_call_duration: Duration::from_secs(5),
            consecutive_failures: None,
            open_duration: Duration::from_secs(5),
            open_backoff_multiplier: 2.0,
            max_open_duration: Duration::from_secs(300),
            half_open_probes: 3,
            max_keys: 10_000,
            key_idle_timeout: Duration::from_secs(600),
            mode: Mode::Enforce,
        }
    }
}

fn err(field: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::new(LAYER, field, problem)
}

fn check_rate(field: &'static str, rate: Option<f64>) -> Result<(), ConfigError> {
    match rate {
        Some(r) if !(r > 0.0 && r <= 1.0) => {
            Err(err(field, format!("is {r}; use a fraction in (0.0, 1.0], or null to disable")))
        }
        _ => Ok(()),
    }
}

impl CircuitBreakerConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> super::CircuitBreakerBuilder {
        super::CircuitBreakerBuilder::new()
    }

    /// Checks every field; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self.window {
            WindowConfig::Count { size } if !(1..=1_000_000).contains(&size) => {
                return Err(err("window.size", format!("is {size}; use 1 ..= 1000000")));
            }
            WindowConfig::Time { duration, buckets } => {
                if !(1..=1_000).contains(&buckets) {
                    return Err(err("window.buckets", format!("is {buckets}; use 1 ..= 1000")));
                }
                if duration.as_nanos() < u128::from(buckets) {
                    return Err(err("window.duration", "must be at least 1ns per bucket"));
                }
            }
            WindowConfig::Count { .. } => {}
        }
        if self.minimum_calls == 0 {
            return Err(err("minimum_calls", "must be at least 1"));
        }
        check_rate("failure_rate_threshold", self.failure_rate_threshold)?;
        check_rate("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        if self.slow_call_duration < Duration::from_millis(1) {
            return Err(err("slow_call_duration", "must be at least 1ms"));
        }
        if self.consecutive_failures == Some(0) {
            return Err(err("consecutive_failures", "must be at least 1, or null to disable"));
        }
        if self.open_duration.is_zero() {
            return Err(err("open_duration", "must be greater than zero"));
        }
        if !(self.open_backoff_multiplier >= 1.0 && self.open_backoff_multiplier <= 1_000.0) {
            return Err(err(
                "open_backoff_multiplier",
                format!("is {}; use 1.0 ..= 1000.0", self.open_backoff_multiplier),
            ));
        }
        if self.max_open_duration < self.open_duration {
            return Err(err("max_open_duration", "must be at least `open_duration`"));
        }
        if !(1..=u32::from(u16::MAX)).contains(&self.half_open_probes) {
            return Err(err("half_open_probes", "use 1 ..= 65535"));
        }
        if self.max_keys == 0 {
            return Err(err("max_keys", "must be at least 1"));
        }
        if self.key_idle_timeout.is_zero() {
            return Err(err("key_idle_timeout", "must be greater than zero"));
        }
        Ok(())
    }

    /// For config watches: `true` when valid; otherwise logs why it is ignored.
    pub(crate) fn validate_or_warn(&self) -> bool {
        match self.validate() {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(target: "platform::resilience::circuit_breaker", error = %e, "ignoring invalid circuit breaker config");
                false
            }
        }
    }

    /// The open duration after `trips` earlier openings without a close in between.
    pub(crate) fn open_duration_after(&self, trips: u32) -> Duration {
        let factor = self.open_backoff_multiplier.powi(i32::try_from(trips).unwrap_or(i32::MAX));
        let secs = self.open_duration.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max_open_duration.as_secs_f64() {
            self.max_open_duration
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}
