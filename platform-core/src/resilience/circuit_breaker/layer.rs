use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;
use tower_layer::Layer;

use super::breaker::Breaker;
use super::event::Events;
use super::handle::Shared;
use super::{CircuitBreaker, CircuitBreakerBuilder, CircuitBreakerConfig, CircuitBreakerHandle};
use crate::classify::ResultClassifier;
use crate::resilience::{ConfigError, reconfigure};

/// Applies a [`CircuitBreaker`] to services. Every service made from this layer or its
/// clones shares one breaker.
///
/// Build it with [`CircuitBreakerLayer::from_config`], [`CircuitBreakerLayer::builder`]
/// or `Default` (the default [`CircuitBreakerConfig`]).
pub struct CircuitBreakerLayer<C = ResultClassifier> {
    shared: Arc<Shared<C>>,
}

impl CircuitBreakerLayer {
    /// A layer from a validated config, judging calls by `Result` alone
    /// ([`ResultClassifier`]).
    pub fn from_config(cfg: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        Self::builder().config(cfg).build()
    }

    /// A builder starting from the defaults.
    pub fn builder() -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::new()
    }
}

impl Default for CircuitBreakerLayer {
    fn default() -> Self {
        Self::with_parts(&CircuitBreakerConfig::default(), Events::default(), ResultClassifier)
    }
}

impl<C: Send + Sync + 'static> CircuitBreakerLayer<C> {
    pub(super) fn with_parts(cfg: &CircuitBreakerConfig, events: Events, classifier: C) -> Self {
        Self { shared: Arc::new(Shared { breaker: Breaker::new(cfg, events), classifier }) }
    }

    /// Manual control and inspection of the breaker.
    pub fn handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(self.shared.clone())
    }

    /// Applies new settings live; state, window and probe permits are kept. A different
    /// window shape cannot be adopted by a running breaker: the old window is kept and the
    /// [`Reconfigured`](super::CircuitBreakerEvent::Reconfigured) event says so. Invalid
    /// configs are rejected and the old settings stay.
    pub fn reconfigure(&self, cfg: &CircuitBreakerConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        apply(&self.shared, cfg);
        Ok(())
    }

    /// Follows `rx`: every valid config sent is applied live (as by
    /// [`reconfigure`](Self::reconfigure)); invalid ones are logged and skipped. Must be
    /// called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<CircuitBreakerConfig>) -> Self {
        reconfigure::spawn_watch(Arc::downgrade(&self.shared), rx, |shared: &Shared<C>, cfg| {
            if cfg.validate_or_warn() {
                apply(shared, &cfg);
            }
        });
        self
    }
}

fn apply<C>(shared: &Shared<C>, cfg: &CircuitBreakerConfig) {
    let kept = shared.breaker.reconfigure(cfg);
    shared.breaker.events.reconfigured(kept);
}

impl<C> CircuitBreakerLayer<C> {
    pub(super) fn shared(&self) -> &Arc<Shared<C>> {
        &self.shared
    }
}

impl<C> Clone for CircuitBreakerLayer<C> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<C> fmt::Debug for CircuitBreakerLayer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerLayer")
            .field("state", &self.shared.breaker.state())
            .finish_non_exhaustive()
    }
}

impl<S, C> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreaker<S, C>;

    fn layer(&self, inner: S) -> CircuitBreaker<S, C> {
        CircuitBreaker::from_shared(inner, self.shared.clone())
    }
}
