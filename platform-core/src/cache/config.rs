//! The cache's serde configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::ConfigError;

/// What a read does when the remote store (Redis) fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnRemoteError {
    /// Treat the read as a miss (a `get_or_load` then loads from the source) and emit a
    /// [`CacheEvent::RemoteError`](super::CacheEvent::RemoteError). The default: a cache
    /// outage costs latency on the source, not availability.
    #[default]
    Miss,
    /// Return [`CacheError::Remote`](super::CacheError::Remote) to the caller.
    Fail,
}

/// Settings of one [`Cache`](super::Cache).
///
/// ```
/// use platform_core::cache::CacheConfig;
///
/// let cfg: CacheConfig = serde_json::from_str(
///     r#"{ "name": "users", "ttl": "5m", "negative_ttl": "30s", "jitter": 0.1,
///          "stale_while_revalidate": "1m", "max_entries": 50000 }"#,
/// ).unwrap();
/// cfg.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Name in events and errors (default `cache`). The Redis keys and channel come from
    /// the `RedisStore` prefix, not from this name.
    pub name: String,
    /// How long a loaded or set value stays fresh (default 5m).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How long a "not found" from the loader is cached (default: not cached). Keep it
    /// shorter than `ttl`: it bounds how long a newly created record stays invisible.
    #[serde(with = "humantime_serde")]
    pub negative_ttl: Option<Duration>,
    /// Every TTL is multiplied by a random factor in `1 ± jitter` (default 0.1), so keys
    /// written together do not expire together. `0.0` turns it off; at most `0.5`.
    pub jitter: f64,
    /// Grace window after a value stops being fresh during which `get_or_load` still
    /// returns it while one background load refreshes it (default 0: off).
    #[serde(with = "humantime_serde")]
    pub stale_while_revalidate: Duration,
    /// Bound of the local level: entries, or total weight when a weigher is set
    /// (default 10 000).
    pub max_entries: u64,
    /// What a read does when the remote store fails (default: treat it as a miss).
    pub on_remote_error: OnRemoteError,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            name: "cache".to_owned(),
            ttl: Duration::from_secs(300),
            negative_ttl: None,
            jitter: 0.1,
            stale_while_revalidate: Duration::ZERO,
            max_entries: 10_000,
            on_remote_error: OnRemoteError::Miss,
        }
    }
}

const LAYER: &str = "cache";

impl CacheConfig {
    /// Checks the settings, naming the field that is wrong.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() || self.name.contains(char::is_whitespace) {
            return Err(ConfigError::new(LAYER, "name", "must be non-empty without whitespace"));
        }
        if self.ttl.is_zero() {
            return Err(ConfigError::new(LAYER, "ttl", "must be greater than zero"));
        }
        if self.negative_ttl.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::new(
                LAYER,
                "negative_ttl",
                "must be greater than zero; leave it out to not cache misses",
            ));
        }
        if !(0.0..=0.5).contains(&self.jitter) {
            return Err(ConfigError::new(
                LAYER,
                "jitter",
                format!("is {}; must be a fraction in 0.0..=0.5", self.jitter),
            ));
        }
        if self.max_entries == 0 {
            return Err(ConfigError::new(LAYER, "max_entries", "must be at least 1"));
        }
        Ok(())
    }
}
