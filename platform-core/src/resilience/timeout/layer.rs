use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tower_layer::Layer;

use super::{Timeout, TimeoutConfig};
use crate::resilience::{ConfigError, Listeners, reconfigure};

/// Something the [`Timeout`] layer reports to its listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutEvent {
    /// A call was abandoned when its deadline passed.
    Elapsed {
        /// How long the call had been allowed to run.
        after: Duration,
    },
    /// The timeout was changed at runtime.
    Reconfigured {
        /// The new timeout.
        timeout: Duration,
    },
}

#[derive(Debug)]
pub(super) struct Shared {
    timeout_nanos: AtomicU64,
    pub(super) listeners: Listeners<TimeoutEvent>,
}

impl Shared {
    pub(super) fn timeout(&self) -> Duration {
        Duration::from_nanos(self.timeout_nanos.load(Ordering::Relaxed))
    }

    fn set(&self, cfg: &TimeoutConfig) {
        let nanos = u64::try_from(cfg.timeout.as_nanos()).unwrap_or(u64::MAX);
        self.timeout_nanos.store(nanos, Ordering::Relaxed);
        tracing::info!(target: "platform::resilience::timeout", timeout_ms = cfg.timeout.as_millis() as u64, "timeout reconfigured");
        self.listeners.emit(&TimeoutEvent::Reconfigured { timeout: cfg.timeout });
    }
}

/// Applies [`Timeout`] to a service. Clones share one configuration.
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    shared: Arc<Shared>,
}

impl TimeoutLayer {
    /// A layer with a fixed timeout.
    ///
    /// # Panics
    /// If `timeout` is zero; use [`TimeoutLayer::from_config`] to get an error instead.
    pub fn new(timeout: Duration) -> Self {
        match Self::from_config(TimeoutConfig::new(timeout)) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }

    /// A layer from a validated config.
    pub fn from_config(cfg: TimeoutConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let nanos = u64::try_from(cfg.timeout.as_nanos()).unwrap_or(u64::MAX);
        Ok(Self {
            shared: Arc::new(Shared {
                timeout_nanos: AtomicU64::new(nanos),
                listeners: Listeners::new(),
            }),
        })
    }

    /// Registers listeners for the layer's events.
    ///
    /// Call before cloning the layer: clones made earlier keep the old listeners.
    pub fn with_listeners(mut self, listeners: Listeners<TimeoutEvent>) -> Self {
        let timeout_nanos = AtomicU64::new(self.shared.timeout_nanos.load(Ordering::Relaxed));
        self.shared = Arc::new(Shared { timeout_nanos, listeners });
        self
    }

    /// The timeout currently applied.
    pub fn timeout(&self) -> Duration {
        self.shared.timeout()
    }

    /// Changes the timeout of this layer and every clone and service made from it.
    /// Invalid configs are rejected and the old setting stays.
    pub fn reconfigure(&self, cfg: &TimeoutConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.shared.set(cfg);
        Ok(())
    }

    /// Follows `rx`: every valid config sent is applied live; invalid ones are logged
    /// and skipped. Must be called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<TimeoutConfig>) -> Self {
        reconfigure::spawn_watch(
            Arc::downgrade(&self.shared),
            rx,
            |shared: &Shared, cfg: TimeoutConfig| match cfg.validate() {
                Ok(()) => shared.set(&cfg),
                Err(e) => {
                    tracing::warn!(target: "platform::resilience::timeout", error = %e, "ignoring invalid timeout config");
                }
            },
        );
        self
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout::from_shared(inner, self.shared.clone())
    }
}
