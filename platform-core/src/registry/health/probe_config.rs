//! Configuration of active health probes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::ConfigError;

/// What an active probe checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProbeCheck {
    /// A TCP connection to the instance's address opens.
    Tcp,
    /// `GET http://host:port{path}` answers with a status in `expected_status`. Plain
    /// HTTP/1.1 only: probe `https` instances with [`ProbeCheck::Tcp`] or a plain-HTTP
    /// health port registered as its own instance.
    Http {
        /// Request path (default `/health`).
        #[serde(default = "default_path")]
        path: String,
        /// Passing statuses (default `200-299`).
        #[serde(default)]
        expected_status: StatusRange,
    },
}

fn default_path() -> String {
    "/health".to_owned()
}

impl Default for ProbeCheck {
    fn default() -> Self {
        Self::Http { path: default_path(), expected_status: StatusRange::default() }
    }
}

/// An inclusive range of HTTP status codes, written `"200-299"` or `"204"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StatusRange {
    /// Lowest passing status.
    pub min: u16,
    /// Highest passing status.
    pub max: u16,
}

impl StatusRange {
    /// `min..=max`.
    pub fn new(min: u16, max: u16) -> Self {
        Self { min, max }
    }

    /// `true` when `status` is in the range.
    pub fn contains(self, status: u16) -> bool {
        (self.min..=self.max).contains(&status)
    }
}

impl Default for StatusRange {
    fn default() -> Self {
        Self::new(200, 299)
    }
}

impl TryFrom<String> for StatusRange {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let parse = |s: &str| {
            s.trim().parse::<u16>().ok().filter(|c| (100..=599).contains(c)).ok_or_else(|| {
                format!("{text:?} is not a status code or range such as \"200-299\"")
            })
        };
        let (min, max) = match text.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(&text)?, parse(&text)?),
        };
        if min > max {
            return Err(format!("{text:?}: the range is empty (lowest is above highest)"));
        }
        Ok(Self::new(min, max))
    }
}

impl From<StatusRange> for String {
    fn from(range: StatusRange) -> Self {
        range.to_string()
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

/// How a [`HealthProber`](super::HealthProber) probes each instance.
///
/// ```
/// use platform_core::registry::health::{ProbeCheck, ProbeConfig, StatusRange};
///
/// let config: ProbeConfig = serde_json::from_str(r#"{
///     "check": { "kind": "http", "path": "/ready", "expected_status": "200-204" },
///     "interval": "5s", "timeout": "1s", "healthy_after": 2, "unhealthy_after": 3
/// }"#).unwrap();
/// config.validate().unwrap();
/// assert_eq!(
///     config.check,
///     ProbeCheck::Http { path: "/ready".into(), expected_status: StatusRange::new(200, 204) },
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProbeConfig {
    /// The check (default: HTTP `GET /health` expecting 2xx).
    pub check: ProbeCheck,
    /// Time between two probes of one instance (default 10 s).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Random spread of the interval, as a share of it (default 0.1: ±10 %), so probes
    /// of many instances do not line up.
    pub jitter: f64,
    /// Longest wait for one probe (default 2 s); longer counts as a failure.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Passing probes in a row that mark an unhealthy instance ready (default 2).
    pub healthy_after: u32,
    /// Failing probes in a row that mark a ready instance unhealthy (default 3).
    pub unhealthy_after: u32,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            check: ProbeCheck::default(),
            interval: Duration::from_secs(10),
            jitter: 0.1,
            timeout: Duration::from_secs(2),
            healthy_after: 2,
            unhealthy_after: 3,
        }
    }
}

impl ProbeConfig {
    /// Sets the check.
    pub fn with_check(mut self, check: ProbeCheck) -> Self {
        self.check = check;
        self
    }

    /// Sets the interval and timeout.
    pub fn with_timing(mut self, interval: Duration, timeout: Duration) -> Self {
        self.interval = interval;
        self.timeout = timeout;
        self
    }

    /// Sets the thresholds.
    pub fn with_thresholds(mut self, healthy_after: u32, unhealthy_after: u32) -> Self {
        self.healthy_after = healthy_after;
        self.unhealthy_after = unhealthy_after;
        self
    }

    /// Checks the values.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field: a zero interval, timeout or threshold, a
    /// jitter outside 0.0–0.9, or an HTTP path not starting with `/`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err = |field, problem: &str| Err(ConfigError::new("health_probe", field, problem));
        if self.interval.is_zero() {
            return err("interval", "must be greater than zero");
        }
        if self.timeout.is_zero() {
            return err("timeout", "must be greater than zero");
        }
        if !(0.0..=0.9).contains(&self.jitter) {
            return err("jitter", "must be between 0.0 and 0.9");
        }
        if self.healthy_after == 0 {
            return err("healthy_after", "must be at least 1");
        }
        if self.unhealthy_after == 0 {
            return err("unhealthy_after", "must be at least 1");
        }
        if let ProbeCheck::Http { path, .. } = &self.check
            && !path.starts_with('/')
        {
            return err("check.path", "must start with '/'");
        }
        Ok(())
    }

    /// The interval with jitter applied.
    pub(crate) fn next_interval(&self) -> Duration {
        let spread = self.jitter * (2.0 * fastrand::f64() - 1.0);
        self.interval.mul_f64(1.0 + spread)
    }
}
