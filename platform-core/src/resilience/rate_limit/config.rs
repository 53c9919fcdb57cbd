use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::{ConfigError, Mode};

const LAYER: &str = "rate_limit";

/// A quota: `rate` requests per `period`, with bursts of up to `burst` requests.
///
/// The limiter is a GCRA (generic cell rate algorithm): one request is replenished every
/// `period / rate`, and a client that has been idle may send `burst` requests at once.
///
/// ```
/// use std::time::Duration;
/// use platform_core::resilience::rate_limit::QuotaConfig;
///
/// let q: QuotaConfig = serde_json::from_str(r#"{"rate":600,"period":"1m","burst":20}"#).unwrap();
/// assert_eq!(q, QuotaConfig::new(600, Duration::from_secs(60)).with_burst(20));
/// assert_eq!(q.emission_interval(), Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct QuotaConfig {
    /// Requests replenished per `period`.
    pub rate: u32,
    /// The period over which `rate` requests are replenished (default 1s).
    #[serde(with = "humantime_serde", default = "one_second")]
    pub period: Duration,
    /// The largest burst an idle client may send at once (default: `rate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

impl QuotaConfig {
    /// `rate` requests per `period`, burst `rate`.
    pub fn new(rate: u32, period: Duration) -> Self {
        Self { rate, period, burst: None }
    }

    /// Sets the burst size.
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The burst size in effect (`burst`, or `rate` when unset).
    pub fn burst_size(&self) -> u32 {
        self.burst.unwrap_or(self.rate)
    }

    /// The time it takes to replenish one request: `period / rate`.
    pub fn emission_interval(&self) -> Duration {
        self.period / self.rate.max(1)
    }

    /// The time for an exhausted bucket to refill completely: `burst × period / rate`.
    pub fn refill_time(&self) -> Duration {
        self.emission_interval().saturating_mul(self.burst_size())
    }

    fn validate(&self, field: &'static str) -> Result<(), ConfigError> {
        if self.rate == 0 {
            return Err(ConfigError::new(LAYER, field, "`rate` must be at least 1"));
        }
        if self.burst == Some(0) {
            return Err(ConfigError::new(LAYER, field, "`burst` must be at least 1"));
        }
        if self.emission_interval().is_zero() {
            return Err(ConfigError::new(
                LAYER,
                field,
                "`period / rate` must be at least 1ns; use a longer period",
            ));
        }
        if self.refill_time() > Duration::from_secs(365 * 24 * 3600) {
            return Err(ConfigError::new(LAYER, field, "`burst × period / rate` exceeds a year"));
        }
        Ok(())
    }

    /// The same quota split across `n` instances: the emission interval multiplied by
    /// `n` and the burst divided by `n` (at least 1).
    pub(super) fn split(&self, n: u32) -> Self {
        let n = n.max(1);
        Self {
            rate: 1,
            period: self.emission_interval().saturating_mul(n),
            burst: Some((self.burst_size() / n).max(1)),
        }
    }

    pub(super) fn to_governor(self) -> governor::Quota {
        let burst = NonZeroU32::new(self.burst_size()).unwrap_or(NonZeroU32::MIN);
        let interval = self.emission_interval().max(Duration::from_nanos(1));
        governor::Quota::with_period(interval)
            .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst)
    }
}

/// What a distributed limiter does while Redis is unreachable or slower than its timeout.
///
/// There is no default: a deployment must choose.
///
/// ```
/// use platform_core::resilience::rate_limit::OnRedisFailure;
///
/// let p: OnRedisFailure = serde_json::from_str(r#"{"local_fallback":{"instances":4}}"#).unwrap();
/// assert_eq!(p, OnRedisFailure::LocalFallback { instances: 4 });
/// let p: OnRedisFailure = serde_json::from_str(r#""fail_open""#).unwrap();
/// assert_eq!(p, OnRedisFailure::FailOpen);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnRedisFailure {
    /// Admit every request (availability over protection).
    FailOpen,
    /// Reject every request with [`Overloaded`](crate::error::Overloaded) (→ 503).
    FailClosed,
    /// Enforce the quota locally, divided by the number of instances sharing it.
    LocalFallback {
        /// How many instances share the quota (the local limit is `quota / instances`).
        instances: u32,
    },
}

/// Distributed mode: every instance enforces one shared quota through Redis.
///
/// ```
/// use platform_core::resilience::rate_limit::{OnRedisFailure, RedisConfig};
///
/// let cfg: RedisConfig = serde_json::from_str(
///     r#"{"url":"redis://127.0.0.1:6379","on_failure":"fail_open","timeout":"20ms"}"#,
/// ).unwrap();
/// assert_eq!(cfg.prefix, "platform:ratelimit:");
/// assert_eq!(cfg.on_failure, OnRedisFailure::FailOpen);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RedisConfig {
    /// The Redis URL, e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// Prefix of every key the limiter writes (default `platform:ratelimit:`). Give each
    /// limiter its own prefix, or limiters with the same prefix share their quotas.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// How long one decision may wait for Redis before the failure policy applies
    /// (default 50ms).
    #[serde(with = "humantime_serde", default = "default_timeout")]
    pub timeout: Duration,
    /// What to do while Redis is unreachable or slow. Required.
    pub on_failure: OnRedisFailure,
    /// While degraded, how often one request probes Redis again (default 1s); the others
    /// go straight to `on_failure` instead of each waiting for `timeout`.
    #[serde(with = "humantime_serde", default = "one_second")]
    pub probe_interval: Duration,
}

fn default_prefix() -> String {
    "platform:ratelimit:".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_millis(50)
}

impl RedisConfig {
    /// Redis at `url` with the given failure policy and default prefix and timeouts.
    pub fn new(url: impl Into<String>, on_failure: OnRedisFailure) -> Self {
        Self {
            url: url.into(),
            prefix: default_prefix(),
            timeout: default_timeout(),
            on_failure,
            probe_interval: one_second(),
        }
    }

    /// Sets the key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the per-decision timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how often Redis is probed while degraded.
    pub fn with_probe_interval(mut self, every: Duration) -> Self {
        self.probe_interval = every;
        self
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if cfg!(not(feature = "redis")) {
            return Err(ConfigError::new(LAYER, "redis", "needs the `redis` cargo feature"));
        }
        if self.url.trim().is_empty() {
            return Err(ConfigError::new(LAYER, "redis.url", "must not be empty"));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new(LAYER, "redis.timeout", "must be greater than zero"));
        }
        if self.probe_interval.is_zero() {
            return Err(ConfigError::new(
                LAYER,
                "redis.probe_interval",
                "must be greater than zero",
            ));
        }
        if matches!(self.on_failure, OnRedisFailure::LocalFallback { instances: 0 }) {
            return Err(ConfigError::new(
                LAYER,
                "redis.on_failure.local_fallback.instances",
                "must be at least 1 (the number of instances sharing the quota)",
            ));
        }
        Ok(())
    }
}

/// Settings of the [`RateLimit`](super::RateLimit) layer.
///
/// ```
/// use std::time::Duration;
/// use platform_core::resilience::rate_limit::RateLimitConfig;
///
/// let cfg: RateLimitConfig = serde_json::from_str(r#"{
///     "rate": 100, "period": "1s", "burst": 20, "max_keys": 10000,
///     "overrides": { "premium-tenant": { "rate": 1000 } }
/// }"#).unwrap();
/// assert!(cfg.validate().is_ok());
/// assert_eq!(cfg.quota().burst_size(), 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimitConfig {
    /// Requests replenished per `period` (default 100).
    pub rate: u32,
    /// The replenishment period (default 1s). Human-readable: `"1s"`, `"1m"`.
    #[serde(with = "humantime_serde")]
    pub period: Duration,
    /// The largest burst (default: `rate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Enforce, or only report ([`Mode::Shadow`]).
    pub mode: Mode,
    /// Keyed limiters: the most keys tracked at once (default 100 000). Fixed when the
    /// layer is built.
    pub max_keys: usize,
    /// Keyed limiters: quotas for particular keys (e.g. premium tenants), by the key's
    /// text form (see [`RateLimitKey`](super::RateLimitKey)).
    pub overrides: BTreeMap<String, QuotaConfig>,
    /// Distributed mode over Redis; local when `None` (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisConfig>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            rate: 100,
            period: one_second(),
            burst: None,
            mode: Mode::Enforce,
            max_keys: 100_000,
            overrides: BTreeMap::new(),
            redis: None,
        }
    }
}

impl RateLimitConfig {
    /// `rate` requests per `period`, everything else default.
    pub fn new(rate: u32, period: Duration) -> Self {
        Self { rate, period, ..Self::default() }
    }

    /// A builder starting from the defaults.
    pub fn builder() -> RateLimitConfigBuilder {
        RateLimitConfigBuilder { cfg: Self::default() }
    }

    /// The default quota (global, or per key for keyed limiters).
    pub fn quota(&self) -> QuotaConfig {
        QuotaConfig { rate: self.rate, period: self.period, burst: self.burst }
    }

    /// Checks every setting; the error names the field and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.quota().validate("rate")?;
        if self.max_keys == 0 {
            return Err(ConfigError::new(LAYER, "max_keys", "must be at least 1"));
        }
        for q in self.overrides.values() {
            q.validate("overrides")?;
        }
        if let Some(r) = &self.redis {
            r.validate()?;
        }
        Ok(())
    }
}

/// Builds a [`RateLimitConfig`].
///
/// ```
/// use std::time::Duration;
/// use platform_core::resilience::rate_limit::{QuotaConfig, RateLimitConfig};
///
/// let cfg = RateLimitConfig::builder()
///     .rate(50, Duration::from_secs(1))
///     .burst(10)
///     .max_keys(1_000)
///     .override_key("vip", QuotaConfig::new(500, Duration::from_secs(1)))
///     .shadow()
///     .build()
///     .unwrap();
/// assert!(cfg.mode.is_shadow());
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitConfigBuilder {
    cfg: RateLimitConfig,
}

impl RateLimitConfigBuilder {
    /// `rate` requests per `period`.
    pub fn rate(mut self, rate: u32, period: Duration) -> Self {
        self.cfg.rate = rate;
        self.cfg.period = period;
        self
    }

    /// The burst size.
    pub fn burst(mut self, burst: u32) -> Self {
        self.cfg.burst = Some(burst);
        self
    }

    /// Shadow mode: decide and report, never reject.
    pub fn shadow(mut self) -> Self {
        self.cfg.mode = Mode::Shadow;
        self
    }

    /// The most keys tracked at once.
    pub fn max_keys(mut self, max: usize) -> Self {
        self.cfg.max_keys = max;
        self
    }

    /// A quota for one key (by its text form).
    pub fn override_key(mut self, key: impl Into<String>, quota: QuotaConfig) -> Self {
        self.cfg.overrides.insert(key.into(), quota);
        self
    }

    /// Distributed mode over Redis.
    pub fn redis(mut self, redis: RedisConfig) -> Self {
        self.cfg.redis = Some(redis);
        self
    }

    /// The validated config.
    pub fn build(self) -> Result<RateLimitConfig, ConfigError> {
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}
