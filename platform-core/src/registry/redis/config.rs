//! Settings of the Redis registry.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::registry::RegistryError;

/// Settings of a [`RedisRegistry`](super::RedisRegistry).
///
/// In a config file (durations as `"5s"`, `"250ms"`):
///
/// ```toml
/// url = "redis://redis:6379"
/// prefix = "prod:"
/// reconcile_interval = "5s"
/// timeout = "2s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisRegistryConfig {
    /// Redis URL (`redis://[user:password@]host:port[/db]`). Watchers need RESP3 (Redis 6+).
    pub url: String,
    /// Prepended to every key and channel, to share one Redis between environments.
    pub prefix: String,
    /// How often watchers re-read the change log even without a notification: the bound
    /// on how late a lost notification is noticed, and on how late an expiry is seen when
    /// no other process touches the service.
    #[serde(with = "humantime_serde")]
    pub reconcile_interval: Duration,
    /// Connect and response timeout of each Redis command.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Changes kept in each service's log; a watcher further behind re-lists.
    pub change_log_len: u32,
    /// Connection name prefix; each watcher's subscription connection is named
    /// `<client_name>:watch:<service>` (visible in `CLIENT LIST`).
    pub client_name: String,
}

impl Default for RedisRegistryConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "platform:".to_owned(),
            reconcile_interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            change_log_len: 1000,
            client_name: "platform-registry".to_owned(),
        }
    }
}

impl RedisRegistryConfig {
    /// Defaults with `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }

    /// Sets the key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the reconciliation interval.
    pub fn with_reconcile_interval(mut self, interval: Duration) -> Self {
        self.reconcile_interval = interval;
        self
    }

    /// Sets the per-command timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the connection name prefix.
    pub fn with_client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = name.into();
        self
    }

    /// Checks the values.
    ///
    /// # Errors
    /// [`RegistryError::Config`] naming the field.
    pub fn validate(&self) -> Result<(), RegistryError> {
        let bad = |field, reason: &str| Err(RegistryError::config(field, reason.to_owned()));
        if self.reconcile_interval.is_zero() {
            return bad("reconcile_interval", "must be positive");
        }
        if self.timeout.is_zero() {
            return bad("timeout", "must be positive");
        }
        if self.change_log_len == 0 {
            return bad("change_log_len", "must be at least 1");
        }
        if self.client_name.is_empty() || self.client_name.contains(char::is_whitespace) {
            return bad("client_name", "must be non-empty without spaces");
        }
        Ok(())
    }
}
