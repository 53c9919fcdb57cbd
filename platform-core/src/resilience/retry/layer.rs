use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::sync::watch;
use tower_layer::Layer;

use super::budget::RetryBudget;
use super::replay::{BufferBody, CloneRequest};
use super::{Retry, RetryConfig, RetryEvent};
use crate::classify::{HttpClassifier, ResultClassifier};
use crate::resilience::{ConfigError, Listeners, reconfigure};

/// Decides whether a non-idempotent HTTP request may be retried anyway.
pub(super) type Predicate = Arc<dyn Fn(&http::request::Parts) -> bool + Send + Sync>;

/// The settings in force, swapped whole on reconfiguration.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) cfg: RetryConfig,
    pub(super) methods: Vec<http::Method>,
    backoff: ExponentialBuilder,
}

impl Settings {
    pub(super) fn new(cfg: RetryConfig) -> Self {
        let b = &cfg.backoff;
        let mut backoff = ExponentialBuilder::new()
            .with_min_delay(b.min_delay)
            .with_max_delay(b.max_delay)
            .with_factor(b.factor)
            .without_max_times();
        if b.jitter {
            backoff = backoff.with_jitter();
        }
        // Validated configs only hold valid methods.
        let methods =
            cfg.retry_methods.iter().filter_map(|m| m.parse::<http::Method>().ok()).collect();
        Self { cfg, methods, backoff }
    }

    /// A fresh delay sequence for one call.
    pub(super) fn backoff(&self) -> ExponentialBackoff {
        self.backoff.build()
    }
}

/// State shared by a retry layer, its clones and every service and future made from them.
pub(super) struct Core {
    settings: RwLock<Arc<Settings>>,
    pub(super) budget: RetryBudget,
    listeners: Listeners<RetryEvent>,
    pub(super) predicate: Option<Predicate>,
}

impl Core {
    pub(super) fn settings(&self) -> Arc<Settings> {
        self.settings.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(super) fn emit(&self, event: RetryEvent) {
        event.trace();
        self.listeners.emit(&event);
    }

    fn set(&self, cfg: RetryConfig) {
        self.budget.reconfigure(&cfg.budget);
        let max_attempts = cfg.max_attempts;
        *self.settings.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Arc::new(Settings::new(cfg));
        self.emit(RetryEvent::Reconfigured { max_attempts });
    }
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("settings", &self.settings)
            .field("budget", &self.budget)
            .field("predicate", &self.predicate.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(super) struct Shared<C> {
    pub(super) core: Core,
    pub(super) classifier: C,
}

/// Applies [`Retry`] to a service. Clones share one retry budget and configuration.
///
/// `C` is the [`Classify`](crate::classify::Classify) implementation that decides which
/// outcomes are failures; `P` how a request is produced again for another attempt:
/// [`CloneRequest`] (the default, for `Req: Clone`) or [`BufferBody`] (for
/// `http::Request<B>`, see [`HttpRetryLayer`](super::HttpRetryLayer)).
pub struct RetryLayer<C = ResultClassifier, P = CloneRequest> {
    shared: Arc<Shared<C>>,
    _policy: PhantomData<fn() -> P>,
}

impl RetryLayer<ResultClassifier, CloneRequest> {
    /// A layer for any `Req: Clone`, retrying errors (every `Ok` is a success until
    /// [`with_classifier`](RetryLayer::with_classifier) says otherwise).
    pub fn from_config(cfg: RetryConfig) -> Result<Self, ConfigError> {
        Self::build(cfg, ResultClassifier)
    }
}

impl RetryLayer<HttpClassifier, BufferBody> {
    /// A layer for `http::Request<B>`: 5xx and 429 responses and errors are retried for
    /// the configured (idempotent) methods, bodies are replayed from a bounded buffer and
    /// `Retry-After` is honoured.
    pub fn http(cfg: RetryConfig) -> Result<Self, ConfigError> {
        Self::build(cfg, HttpClassifier::default())
    }
}

impl<C, P> RetryLayer<C, P> {
    fn build(cfg: RetryConfig, classifier: C) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let core = Core {
            budget: RetryBudget::new(&cfg.budget),
            settings: RwLock::new(Arc::new(Settings::new(cfg))),
            listeners: Listeners::new(),
            predicate: None,
        };
        Ok(Self { shared: Arc::new(Shared { core, classifier }), _policy: PhantomData })
    }

    fn rebuild<C2>(self, f: impl FnOnce(&mut Core), classifier: C2) -> RetryLayer<C2, P> {
        let old = &self.shared.core;
        let cfg = old.settings().cfg.clone();
        let mut core = Core {
            budget: RetryBudget::new(&cfg.budget),
            settings: RwLock::new(Arc::new(Settings::new(cfg))),
            listeners: old.listeners.clone(),
            predicate: old.predicate.clone(),
        };
        f(&mut core);
        RetryLayer { shared: Arc::new(Shared { core, classifier }), _policy: PhantomData }
    }

    /// Uses `classifier` to decide which outcomes are failures worth retrying.
    ///
    /// Call before cloning the layer: it starts a new shared state.
    pub fn with_classifier<C2>(self, classifier: C2) -> RetryLayer<C2, P> {
        self.rebuild(|_| {}, classifier)
    }

    /// Registers listeners for the layer's events.
    ///
    /// Call before cloning the layer: it starts a new shared state.
    pub fn with_listeners(self, listeners: Listeners<RetryEvent>) -> Self
    where
        C: Clone,
    {
        let classifier = self.shared.classifier.clone();
        self.rebuild(|core| core.listeners = listeners, classifier)
    }

    /// The configuration in force.
    pub fn config(&self) -> RetryConfig {
        self.shared.core.settings().cfg.clone()
    }

    /// Changes the settings of this layer and every clone, service and in-flight call made
    /// from it; the budget keeps its counts. Invalid configs are rejected.
    pub fn reconfigure(&self, cfg: &RetryConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.shared.core.set(cfg.clone());
        Ok(())
    }

    /// Follows `rx`: every valid config sent is applied live (budget state kept); invalid
    /// ones are logged and skipped. Must be called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<RetryConfig>) -> Self
    where
        C: Send + Sync + 'static,
    {
        reconfigure::spawn_watch(Arc::downgrade(&self.shared), rx, |shared: &Shared<C>, cfg| {
            match cfg.validate() {
                Ok(()) => shared.core.set(cfg),
                Err(e) => {
                    tracing::warn!(target: "platform::resilience::retry", error = %e, "ignoring invalid retry config");
                }
            }
        });
        self
    }

    pub(super) fn shared(&self) -> &Arc<Shared<C>> {
        &self.shared
    }
}

impl<C: Clone> RetryLayer<C, BufferBody> {
    /// Also retries requests for which `predicate` returns `true`, whatever their method
    /// (e.g. a `POST` carrying an `Idempotency-Key` header).
    ///
    /// Call before cloning the layer: it starts a new shared state.
    pub fn retry_if<F>(self, predicate: F) -> Self
    where
        F: Fn(&http::request::Parts) -> bool + Send + Sync + 'static,
    {
        let classifier = self.shared.classifier.clone();
        self.rebuild(|core| core.predicate = Some(Arc::new(predicate)), classifier)
    }
}

impl<C, P> Clone for RetryLayer<C, P> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone(), _policy: PhantomData }
    }
}

impl<C: fmt::Debug, P> fmt::Debug for RetryLayer<C, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer").field("shared", &self.shared).finish()
    }
}

impl<S, C, P> Layer<S> for RetryLayer<C, P> {
    type Service = Retry<S, C, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, self)
    }
}
