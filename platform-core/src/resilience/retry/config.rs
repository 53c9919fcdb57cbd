use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::ConfigError;

const LAYER: &str = "retry";

/// Settings of the retry layers ([`Retry`](super::Retry) and [`HttpRetry`](super::HttpRetry)).
///
/// Durations are human-readable in config files (`"50ms"`, `"2s"`); every field has a
/// default, so an empty document is a valid config.
///
/// ```
/// use platform_core::resilience::RetryConfig;
///
/// let cfg: RetryConfig = serde_json::from_str(
///     r#"{"max_attempts":4,"backoff":{"min_delay":"20ms"},"budget":{"ratio":0.1}}"#,
/// ).unwrap();
/// assert_eq!(cfg.max_attempts, 4);
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts per call, the first one included (default 3; 1 disables retries).
    pub max_attempts: u32,
    /// The jittered exponential backoff between attempts.
    pub backoff: BackoffConfig,
    /// The retry budget shared by every clone of the layer.
    pub budget: BudgetConfig,
    /// Longest `Retry-After` the layer will honour (default 10s). A response asking for
    /// more is not retried.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// HTTP methods retried by [`HttpRetry`](super::HttpRetry) (default: the idempotent
    /// ones — `GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE`, `TRACE`).
    pub retry_methods: Vec<String>,
    /// Largest request body [`HttpRetry`](super::HttpRetry) records for replay (default
    /// 64 KiB). A request whose body is larger is sent once and not retried.
    pub max_replay_bytes: usize,
}

/// The jittered exponential backoff between attempts (built with `backon`).
///
/// The n-th retry (n = 0, 1, ...) waits `base = min(min_delay × factorⁿ, max_delay)`,
/// and with `jitter` a random amount in `[base, 2 × base)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BackoffConfig {
    /// Delay before the first retry (default 25ms).
    #[serde(with = "humantime_serde")]
    pub min_delay: Duration,
    /// Largest un-jittered delay (default 1s).
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Growth factor per retry (default 2.0; at least 1.0).
    pub factor: f32,
    /// Whether delays are jittered (default `true`).
    pub jitter: bool,
}

/// A retry budget: retries may be at most `ratio` × requests plus a floor of
/// `min_retries_per_sec`, counted over a sliding `window`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BudgetConfig {
    /// Retries allowed per request that reached the service (default 0.2: 20% extra load).
    pub ratio: f64,
    /// Retries always allowed per second of window, even with little traffic (default 10).
    pub min_retries_per_sec: u32,
    /// How far back requests and retries are counted (default 10s).
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: BackoffConfig::default(),
            budget: BudgetConfig::default(),
            max_retry_after: Duration::from_secs(10),
            retry_methods: ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]
                .map(String::from)
                .to_vec(),
            max_replay_bytes: 64 * 1024,
        }
    }
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(25),
            max_delay: Duration::from_secs(1),
            factor: 2.0,
            jitter: true,
        }
    }
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self { ratio: 0.2, min_retries_per_sec: 10, window: Duration::from_secs(10) }
    }
}

impl RetryConfig {
    /// The defaults; adjust with the builder methods.
    pub fn builder() -> Self {
        Self::default()
    }

    /// Sets [`RetryConfig::max_attempts`].
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets the backoff's minimum delay, maximum delay and growth factor.
    pub fn backoff(mut self, min_delay: Duration, max_delay: Duration, factor: f32) -> Self {
        self.backoff.min_delay = min_delay;
        self.backoff.max_delay = max_delay;
        self.backoff.factor = factor;
        self
    }

    /// Turns jitter on or off.
    pub fn jitter(mut self, on: bool) -> Self {
        self.backoff.jitter = on;
        self
    }

    /// Sets the retry budget.
    pub fn budget(mut self, ratio: f64, min_retries_per_sec: u32, window: Duration) -> Self {
        self.budget = BudgetConfig { ratio, min_retries_per_sec, window };
        self
    }

    /// Sets [`RetryConfig::max_retry_after`].
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Sets the HTTP methods that are retried.
    pub fn retry_methods<I, M>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = M>,
        M: Into<String>,
    {
        self.retry_methods = methods.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`RetryConfig::max_replay_bytes`].
    pub fn max_replay_bytes(mut self, n: usize) -> Self {
        self.max_replay_bytes = n;
        self
    }

    /// Checks the settings and names the first wrong field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, problem: &str| Err(ConfigError::new(LAYER, field, problem));
        if self.max_attempts == 0 {
            return err("max_attempts", "must be at least 1 (1 disables retries)");
        }
        let b = &self.backoff;
        if b.max_delay < b.min_delay {
            return err("backoff.max_delay", "must be at least `backoff.min_delay`");
        }
        if !(b.factor.is_finite() && b.factor >= 1.0) {
            return err("backoff.factor", "must be a finite number of at least 1.0");
        }
        let g = &self.budget;
        if !(g.ratio.is_finite() && g.ratio >= 0.0) {
            return err("budget.ratio", "must be a finite number of at least 0.0");
        }
        if g.window < Duration::from_millis(10) {
            return err("budget.window", "must be at least 10ms");
        }
        for m in &self.retry_methods {
            if http::Method::from_bytes(m.as_bytes()).is_err() {
                return Err(ConfigError::new(
                    LAYER,
                    "retry_methods",
                    format!("contains `{m}`, which is not an HTTP method"),
                ));
            }
        }
        Ok(())
    }
}
