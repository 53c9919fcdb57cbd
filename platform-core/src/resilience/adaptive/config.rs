use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::resilience::{ConfigError, Mode};

/// Settings of the [`AdaptiveConcurrency`](super::AdaptiveConcurrency) layer.
///
/// ```
/// use platform_core::resilience::AdaptiveConcurrencyConfig;
///
/// let cfg: AdaptiveConcurrencyConfig = serde_json::from_str(
///     r#"{"initial_limit":10,"max_limit":200,"probe_interval":"30s","mode":"shadow"}"#,
/// ).unwrap();
/// assert!(cfg.validate().is_ok());
/// assert_eq!(cfg.probe_interval, Some(std::time::Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AdaptiveConcurrencyConfig {
    /// Enforce (default) or only compute and report the limit.
    pub mode: Mode,
    /// The limit before anything is measured (default 20).
    pub initial_limit: usize,
    /// The limit never goes below this; also the limit while probing (default 2).
    pub min_limit: usize,
    /// The limit never goes above this (default 1000).
    pub max_limit: usize,
    /// Shortest sample window (default 250ms): RTTs are averaged over a window of at
    /// least this long and at least [`window_min_samples`](Self::window_min_samples) calls.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Fewest RTT samples per window (default 10).
    pub window_min_samples: usize,
    /// How much the short-term RTT may exceed the long-term RTT before the limit shrinks
    /// (default 1.5 = 50% more).
    pub tolerance: f64,
    /// Weight of each new limit estimate, `0 < smoothing <= 1` (default 0.2).
    pub smoothing: f64,
    /// Length, in windows, of the long-term RTT moving average (default 60).
    pub long_window: usize,
    /// Double the limit every good window until latency first rises (default on).
    pub slow_start: bool,
    /// How often to drop the limit to [`min_limit`](Self::min_limit) for one window to
    /// re-measure the no-load RTT (default 60s; `null` disables probing).
    #[serde(with = "humantime_serde")]
    pub probe_interval: Option<Duration>,
    /// Random spread of the probe interval, a fraction in `0..1` (default 0.25: each
    /// interval is 75%–125% of `probe_interval`), so a fleet does not probe in sync.
    pub probe_jitter: f64,
}

impl Default for AdaptiveConcurrencyConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            initial_limit: 20,
            min_limit: 2,
            max_limit: 1000,
            window: Duration::from_millis(250),
            window_min_samples: 10,
            tolerance: 1.5,
            smoothing: 0.2,
            long_window: 60,
            slow_start: true,
            probe_interval: Some(Duration::from_secs(60)),
            probe_jitter: 0.25,
        }
    }
}

impl AdaptiveConcurrencyConfig {
    /// Sets the limit bounds and the starting limit (builder style).
    pub fn with_limits(mut self, min: usize, initial: usize, max: usize) -> Self {
        self.min_limit = min;
        self.initial_limit = initial;
        self.max_limit = max;
        self
    }

    /// Sets the mode (builder style).
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the sample window (builder style).
    pub fn with_window(mut self, window: Duration, min_samples: usize) -> Self {
        self.window = window;
        self.window_min_samples = min_samples;
        self
    }

    /// Sets or disables periodic min-RTT probing (builder style).
    pub fn with_probing(mut self, interval: Option<Duration>, jitter: f64) -> Self {
        self.probe_interval = interval;
        self.probe_jitter = jitter;
        self
    }

    /// Turns slow start on or off (builder style).
    pub fn with_slow_start(mut self, on: bool) -> Self {
        self.slow_start = on;
        self
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let err =
            |field, problem: &str| Err(ConfigError::new("adaptive_concurrency", field, problem));
        if self.min_limit == 0 {
            return err("min_limit", "must be at least 1");
        }
        if self.max_limit < self.min_limit {
            return err("max_limit", "must be at least `min_limit`");
        }
        if !(self.min_limit..=self.max_limit).contains(&self.initial_limit) {
            return err("initial_limit", "must be between `min_limit` and `max_limit`");
        }
        if self.window.is_zero() {
            return err("window", "must be greater than zero");
        }
        if self.window_min_samples == 0 {
            return err("window_min_samples", "must be at least 1");
        }
        if !(self.tolerance.is_finite() && self.tolerance >= 1.0) {
            return err("tolerance", "must be a finite number >= 1.0");
        }
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return err("smoothing", "must be in (0, 1]");
        }
        if self.long_window == 0 {
            return err("long_window", "must be at least 1");
        }
        if self.probe_interval.is_some_and(|d| d.is_zero()) {
            return err("probe_interval", "must be greater than zero (or null to disable)");
        }
        if !(0.0..1.0).contains(&self.probe_jitter) {
            return err("probe_jitter", "must be in [0, 1)");
        }
        Ok(())
    }
}
