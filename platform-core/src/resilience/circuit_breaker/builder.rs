use std::fmt;
use std::time::Duration;

use super::event::Events;
use super::{
    CircuitBreakerConfig, CircuitBreakerEvent, CircuitBreakerLayer, KeyedCircuitBreakerLayer,
    WindowConfig,
};
use crate::classify::ResultClassifier;
use crate::resilience::{ConfigError, Listeners, Mode};

/// Builds a [`CircuitBreakerLayer`] (or, with [`keyed`](Self::keyed), a
/// [`KeyedCircuitBreakerLayer`]) from the defaults of [`CircuitBreakerConfig`].
///
/// ```
/// use platform_core::classify::HttpClassifier;
/// use platform_core::resilience::circuit_breaker::CircuitBreakerLayer;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let layer = CircuitBreakerLayer::builder()
///     .time_window(Duration::from_secs(30), 10)
///     .minimum_calls(10)
///     .failure_rate_threshold(0.3)
///     .slow_call_rate_threshold(0.8)
///     .slow_call_duration(Duration::from_secs(2))
///     .consecutive_failures(5)
///     .open_duration(Duration::from_secs(1))
///     .classifier(HttpClassifier::default())
///     .build()
///     .expect("valid settings");
/// # let _ = layer;
/// # }
/// ```
pub struct CircuitBreakerBuilder<C = ResultClassifier> {
    cfg: CircuitBreakerConfig,
    listeners: Listeners<CircuitBreakerEvent>,
    classifier: C,
}

impl CircuitBreakerBuilder {
    /// Default settings, judging calls by `Result` alone.
    pub fn new() -> Self {
        Self {
            cfg: CircuitBreakerConfig::default(),
            listeners: Listeners::new(),
            classifier: ResultClassifier,
        }
    }
}

impl Default for CircuitBreakerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> fmt::Debug for CircuitBreakerBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerBuilder").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl<C> CircuitBreakerBuilder<C> {
    /// Replaces every setting with `cfg`.
    pub fn config(mut self, cfg: CircuitBreakerConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// Judge the last `size` calls.
    pub fn count_window(mut self, size: u32) -> Self {
        self.cfg.window = WindowConfig::Count { size };
        self
    }

    /// Judge the calls of the last `duration`, kept in `buckets` buckets.
    pub fn time_window(mut self, duration: Duration, buckets: u32) -> Self {
        self.cfg.window = WindowConfig::Time { duration, buckets };
        self
    }

    /// Calls the window must hold before rates are judged.
    pub fn minimum_calls(mut self, n: u32) -> Self {
        self.cfg.minimum_calls = n;
        self
    }

    /// Failure fraction that opens the breaker (`None` disables the trigger).
    pub fn failure_rate_threshold(mut self, rate: impl Into<Option<f64>>) -> Self {
        self.cfg.failure_rate_threshold = rate.into();
        self
    }

    /// Slow-call fraction that opens the breaker (`None` disables the trigger).
    pub fn slow_call_rate_threshold(mut self, rate: impl Into<Option<f64>>) -> Self {
        self.cfg.slow_call_rate_threshold = rate.into();
        self
    }

    /// Calls running longer than this are slow.
    pub fn slow_call_duration(mut self, d: Duration) -> Self {
        self.cfg.slow_call_duration = d;
        self
    }

    /// Failures in a row that open the breaker (`None` disables the trigger).
    pub fn consecutive_failures(mut self, n: impl Into<Option<u32>>) -> Self {
        self.cfg.consecutive_failures = n.into();
        self
    }

    /// The first open period.
    pub fn open_duration(mut self, d: Duration) -> Self {
        self.cfg.open_duration = d;
        self
    }

    /// Growth of the open period on every re-open.
    pub fn open_backoff_multiplier(mut self, m: f64) -> Self {
        self.cfg.open_backoff_multiplier = m;
        self
    }

    /// The longest open period.
    pub fn max_open_duration(mut self, d: Duration) -> Self {
        self.cfg.max_open_duration = d;
        self
    }

    /// Probe calls allowed while half-open.
    pub fn half_open_probes(mut self, n: u32) -> Self {
        self.cfg.half_open_probes = n;
        self
    }

    /// The most keyed breakers kept (keyed breakers only).
    pub fn max_keys(mut self, n: u64) -> Self {
        self.cfg.max_keys = n;
        self
    }

    /// Drop keyed breakers unused for this long (keyed breakers only).
    pub fn key_idle_timeout(mut self, d: Duration) -> Self {
        self.cfg.key_idle_timeout = d;
        self
    }

    /// Enforce, or only record ([`Mode::Shadow`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.cfg.mode = mode;
        self
    }

    /// Listeners told about every state change, rejection and reconfiguration.
    pub fn listeners(mut self, listeners: Listeners<CircuitBreakerEvent>) -> Self {
        self.listeners = listeners;
        self
    }

    /// Judge outcomes with `classifier` (e.g. [`HttpClassifier`](crate::classify::HttpClassifier)).
    pub fn classifier<C2>(self, classifier: C2) -> CircuitBreakerBuilder<C2> {
        CircuitBreakerBuilder { cfg: self.cfg, listeners: self.listeners, classifier }
    }

    /// The settings so far.
    pub fn settings(&self) -> &CircuitBreakerConfig {
        &self.cfg
    }

    /// Validates the settings and builds the layer.
    pub fn build(self) -> Result<CircuitBreakerLayer<C>, ConfigError>
    where
        C: Send + Sync + 'static,
    {
        self.cfg.validate()?;
        let events = Events { listeners: self.listeners, key: None };
        Ok(CircuitBreakerLayer::with_parts(&self.cfg, events, self.classifier))
    }

    /// Validates the settings and builds a keyed layer: one breaker per key `extractor`
    /// finds in a request (at most `max_keys`, idle ones dropped), plus one default
    /// breaker for requests without a key.
    pub fn keyed<X, K>(self, extractor: X) -> Result<KeyedCircuitBreakerLayer<X, K, C>, ConfigError>
    where
        C: Clone + Send + Sync + 'static,
        K: std::hash::Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static,
        X: Send + Sync + 'static,
    {
        self.cfg.validate()?;
        Ok(KeyedCircuitBreakerLayer::with_parts(
            self.cfg,
            self.listeners,
            self.classifier,
            extractor,
        ))
    }
}
