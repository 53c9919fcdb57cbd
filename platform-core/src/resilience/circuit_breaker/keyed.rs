//! One breaker per key (endpoint, host, tenant), with bounded memory.

use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use tokio::sync::watch;
use tower_layer::Layer;
use tower_service::Service;

use super::breaker::Breaker;
use super::event::Events;
use super::future::ResponseFuture;
use super::handle::Shared;
use super::{CircuitBreakerConfig, CircuitBreakerEvent, CircuitBreakerHandle};
use crate::classify::{Classify, ResultClassifier};
use crate::error::BoxError;
use crate::resilience::key::KeyExtractor;
use crate::resilience::{ConfigError, Listeners, reconfigure};

struct KeyedShared<X, K, C> {
    extractor: X,
    classifier: C,
    listeners: Listeners<CircuitBreakerEvent>,
    /// Settings for breakers created from now on.
    template: Mutex<CircuitBreakerConfig>,
    default: Arc<Shared<C>>,
    breakers: Cache<K, Arc<Shared<C>>>,
}

impl<X, K, C> KeyedShared<X, K, C>
where
    K: Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static,
    C: Clone + Send + Sync + 'static,
{
    fn breaker(&self, key: Option<K>) -> Arc<Shared<C>> {
        let Some(key) = key else { return self.default.clone() };
        if let Some(found) = self.breakers.get(&key) {
            return found;
        }
        let label: Arc<str> = format!("{key:?}").into();
        self.breakers.get_with(key, || {
            let cfg = self.template.lock().unwrap_or_else(PoisonError::into_inner).clone();
            let events = Events { listeners: self.listeners.clone(), key: Some(label) };
            Arc::new(Shared {
                breaker: Breaker::new(&cfg, events),
                classifier: self.classifier.clone(),
            })
        })
    }

    fn apply(&self, cfg: &CircuitBreakerConfig) {
        *self.template.lock().unwrap_or_else(PoisonError::into_inner) = cfg.clone();
        let mut kept = self.default.breaker.reconfigure(cfg);
        for (_, shared) in self.breakers.iter() {
            kept |= shared.breaker.reconfigure(cfg);
        }
        self.default.breaker.events.reconfigured(kept);
    }
}

/// Applies a [`KeyedCircuitBreaker`]: one breaker per key that `X` extracts from a
/// request, so one failing endpoint or host does not open the circuit for the others.
///
/// Breakers live in a bounded cache (`max_keys`, least recently used evicted first;
/// unused for `key_idle_timeout` → dropped). Requests without a key share one default
/// breaker. Built with [`CircuitBreakerBuilder::keyed`](super::CircuitBreakerBuilder::keyed).
///
/// ```
/// use platform_core::resilience::circuit_breaker::{CircuitBreakerLayer, CircuitState};
/// use platform_core::resilience::key::KeyFn;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // Key by host; the "flaky" host fails every call.
/// let layer = CircuitBreakerLayer::builder()
///     .consecutive_failures(2)
///     .keyed(KeyFn::new(|host: &&'static str| Some(*host)))
///     .unwrap();
/// let svc = layer.layer(service_fn(|host: &'static str| async move {
///     if host == "flaky" { Err("down") } else { Ok(host) }
/// }));
/// for _ in 0..2 {
///     let _ = svc.clone().oneshot("flaky").await;
/// }
/// assert_eq!(layer.handle(&"flaky").state(), CircuitState::Open);
/// assert_eq!(layer.handle(&"healthy").state(), CircuitState::Closed);
/// assert!(svc.oneshot("healthy").await.is_ok());
/// # }
/// ```
pub struct KeyedCircuitBreakerLayer<X, K, C = ResultClassifier> {
    shared: Arc<KeyedShared<X, K, C>>,
}

impl<X, K, C> KeyedCircuitBreakerLayer<X, K, C>
where
    X: Send + Sync + 'static,
    K: Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static,
    C: Clone + Send + Sync + 'static,
{
    pub(super) fn with_parts(
        cfg: CircuitBreakerConfig,
        listeners: Listeners<CircuitBreakerEvent>,
        classifier: C,
        extractor: X,
    ) -> Self {
        let events = Events { listeners: listeners.clone(), key: None };
        let default = Arc::new(Shared {
            breaker: Breaker::new(&cfg, events),
            classifier: classifier.clone(),
        });
        let breakers = Cache::builder()
            .max_capacity(cfg.max_keys)
            .time_to_idle(cfg.key_idle_timeout)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        let shared = KeyedShared {
            extractor,
            classifier,
            listeners,
            template: Mutex::new(cfg),
            default,
            breakers,
        };
        Self { shared: Arc::new(shared) }
    }

    /// The breaker of `key` (created closed if it does not exist yet).
    pub fn handle(&self, key: &K) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(self.shared.breaker(Some(key.clone())))
    }

    /// The breaker of requests without a key.
    pub fn default_handle(&self) -> CircuitBreakerHandle {
        CircuitBreakerHandle::new(self.shared.default.clone())
    }

    /// How many keyed breakers are held now (after pending evictions ran).
    pub fn key_count(&self) -> u64 {
        self.shared.breakers.run_pending_tasks();
        self.shared.breakers.entry_count()
    }

    /// Applies new settings live to every breaker (and to breakers created later); state
    /// and windows are kept. `max_keys` and `key_idle_timeout` are fixed when the layer is
    /// built. Invalid configs are rejected and the old settings stay.
    pub fn reconfigure(&self, cfg: &CircuitBreakerConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.shared.apply(cfg);
        Ok(())
    }

    /// Follows `rx`, as [`reconfigure`](Self::reconfigure) for every valid config sent;
    /// invalid ones are logged and skipped. Must be called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<CircuitBreakerConfig>) -> Self {
        reconfigure::spawn_watch(
            Arc::downgrade(&self.shared),
            rx,
            |shared: &KeyedShared<X, K, C>, cfg| {
                if cfg.validate_or_warn() {
                    shared.apply(&cfg);
                }
            },
        );
        self
    }
}

impl<X, K, C> Clone for KeyedCircuitBreakerLayer<X, K, C> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl<X, K, C> fmt::Debug for KeyedCircuitBreakerLayer<X, K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreakerLayer").finish_non_exhaustive()
    }
}

impl<S, X, K, C> Layer<S> for KeyedCircuitBreakerLayer<X, K, C> {
    type Service = KeyedCircuitBreaker<S, X, K, C>;

    fn layer(&self, inner: S) -> Self::Service {
        KeyedCircuitBreaker { inner, shared: self.shared.clone() }
    }
}

/// A circuit breaker per request key; see [`KeyedCircuitBreakerLayer`].
///
/// The key is needed to decide, so the decision (and any half-open probe permit) is taken
/// in `call`; `poll_ready` only waits for the inner service.
pub struct KeyedCircuitBreaker<S, X, K, C = ResultClassifier> {
    inner: S,
    shared: Arc<KeyedShared<X, K, C>>,
}

impl<S, X, K, C> KeyedCircuitBreaker<S, X, K, C> {
    crate::resilience::inner_accessors!(S);
}

impl<S: Clone, X, K, C> Clone for KeyedCircuitBreaker<S, X, K, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: self.shared.clone() }
    }
}

impl<S: fmt::Debug, X, K, C> fmt::Debug for KeyedCircuitBreaker<S, X, K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedCircuitBreaker").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, X, K, C, Req> Service<Req> for KeyedCircuitBreaker<S, X, K, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    X: KeyExtractor<Req, Key = K>,
    K: Hash + Eq + Clone + Send + Sync + fmt::Debug + 'static,
    C: Classify<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let shared = self.shared.breaker(self.shared.extractor.extract(&req));
        let decision = shared.breaker.admit();
        ResponseFuture::new(&shared, decision, || self.inner.call(req))
    }
}
