use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tower_layer::Layer;

use super::state::{Shared, TARGET};
use super::{AdaptiveConcurrency, AdaptiveConcurrencyConfig, LimitReason};
use crate::classify::ResultClassifier;
use crate::resilience::{ConfigError, Listeners, reconfigure};

/// Something the [`AdaptiveConcurrency`] layer reports to its listeners.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AdaptiveEvent {
    /// The enforced concurrency limit changed.
    LimitChanged {
        /// The previous limit.
        from: usize,
        /// The new limit.
        to: usize,
        /// Why.
        reason: LimitReason,
        /// Average RTT of the window that caused the change, if a window did.
        short_rtt: Option<Duration>,
        /// The long-term RTT at that moment, if a window caused the change.
        long_rtt: Option<Duration>,
    },
    /// A min-RTT probe began; the limit is at `min_limit` for one window.
    ProbeStarted {
        /// The limit to restore when the probe ends.
        restore_to: usize,
    },
    /// A min-RTT probe ended.
    ProbeFinished {
        /// The RTT measured at minimum concurrency, the new long-term RTT.
        min_rtt: Duration,
    },
    /// Shadow mode: a call was admitted above the limit (enforce mode would have made
    /// `poll_ready` wait).
    ShadowOverLimit {
        /// Calls in flight including this one.
        in_flight: usize,
        /// The computed limit.
        limit: usize,
    },
    /// The configuration was changed at runtime.
    Reconfigured {
        /// The new configuration.
        config: AdaptiveConcurrencyConfig,
    },
}

/// Applies [`AdaptiveConcurrency`] to a service. Clones share one limit and one set of
/// permits, so the limit holds across clone-per-request routers.
///
/// `C` classifies responses (see [`Classify`](crate::classify::Classify)); the default,
/// [`ResultClassifier`], counts every `Ok` as a success. Use
/// [`HttpClassifier`](crate::classify::HttpClassifier) for HTTP so 5xx responses do not
/// feed the RTT estimate.
#[derive(Debug, Clone)]
pub struct AdaptiveConcurrencyLayer<C = ResultClassifier> {
    pub(super) shared: Arc<Shared>,
    pub(super) classifier: Arc<C>,
}

impl AdaptiveConcurrencyLayer {
    /// A layer with the default config.
    pub fn new() -> Self {
        match Self::from_config(AdaptiveConcurrencyConfig::default()) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }

    /// A layer from a validated config.
    pub fn from_config(cfg: AdaptiveConcurrencyConfig) -> Result<Self, ConfigError> {
        Self::seeded(cfg, fastrand::u64(..))
    }

    /// A layer whose probe jitter draws from `seed`, for reproducible tests.
    pub fn seeded(cfg: AdaptiveConcurrencyConfig, seed: u64) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let shared = Shared::new(cfg, seed, Listeners::new());
        Ok(Self { shared: Arc::new(shared), classifier: Arc::new(ResultClassifier) })
    }
}

impl Default for AdaptiveConcurrencyLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> AdaptiveConcurrencyLayer<C> {
    /// Classifies responses with `classifier`.
    pub fn classifier<C2>(self, classifier: C2) -> AdaptiveConcurrencyLayer<C2> {
        AdaptiveConcurrencyLayer { shared: self.shared, classifier: Arc::new(classifier) }
    }

    /// Registers listeners. Call before cloning and before any traffic: the layer's
    /// state is rebuilt (clones made earlier keep the old state).
    pub fn with_listeners(mut self, listeners: Listeners<AdaptiveEvent>) -> Self {
        let (cfg, _) = self.shared.config_snapshot();
        self.shared = Arc::new(Shared::new(cfg, self.shared.seed, listeners));
        self
    }

    /// The enforced (or, in shadow mode, computed) concurrency limit.
    pub fn limit(&self) -> usize {
        self.shared.limit()
    }

    /// Calls in flight (permits held).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    /// The long-term RTT estimate, once a window has closed.
    pub fn long_rtt(&self) -> Option<Duration> {
        self.shared.config_snapshot().1
    }

    /// When the next min-RTT probe is due (`None` while probing or when disabled).
    pub fn next_probe(&self) -> Option<Instant> {
        self.shared.next_probe()
    }

    /// `true` while a min-RTT probe holds the limit at `min_limit`.
    pub fn is_probing(&self) -> bool {
        self.shared.is_probing()
    }

    /// The configuration in force.
    pub fn config(&self) -> AdaptiveConcurrencyConfig {
        self.shared.config_snapshot().0
    }

    /// Changes the settings of this layer and every clone and service made from it,
    /// keeping the limit (clamped to the new bounds), RTT estimates and permits.
    /// Invalid configs are rejected and the old settings stay.
    pub fn reconfigure(&self, cfg: &AdaptiveConcurrencyConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.shared.reconfigure(cfg.clone());
        Ok(())
    }

    /// Follows `rx`: every valid config sent is applied live; invalid ones are logged
    /// and skipped. Must be called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<AdaptiveConcurrencyConfig>) -> Self {
        reconfigure::spawn_watch(
            Arc::downgrade(&self.shared),
            rx,
            |shared: &Shared, cfg: AdaptiveConcurrencyConfig| match cfg.validate() {
                Ok(()) => shared.reconfigure(cfg),
                Err(e) => {
                    tracing::warn!(target: TARGET, error = %e, "ignoring invalid adaptive concurrency config");
                }
            },
        );
        self
    }
}

impl<S, C> Layer<S> for AdaptiveConcurrencyLayer<C> {
    type Service = AdaptiveConcurrency<S, C>;

    fn layer(&self, inner: S) -> AdaptiveConcurrency<S, C> {
        AdaptiveConcurrency::from_parts(inner, self.shared.clone(), self.classifier.clone())
    }
}
