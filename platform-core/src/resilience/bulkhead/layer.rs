use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tower_layer::Layer;

use super::future::{OnBodyEnd, OnResponse};
use super::{Bulkhead, BulkheadConfig};
use crate::resilience::{ConfigError, Listeners, reconfigure};

const TARGET: &str = "platform::resilience::bulkhead";

/// Something the [`Bulkhead`] layer reports to its listeners (and as `tracing` events,
/// target `platform::resilience::bulkhead`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BulkheadEvent {
    /// A call was rejected with [`Overloaded`](crate::error::Overloaded).
    Rejected {
        /// `"bulkhead full"` (no slot and the queue is full) or `"bulkhead wait timed out"`.
        reason: &'static str,
        /// Callers waiting for a slot when the call was rejected.
        waiting: usize,
    },
    /// The limits were changed at runtime; in-flight calls were kept.
    Reconfigured {
        /// The new concurrency limit.
        max_concurrent: usize,
        /// The new queue bound.
        max_waiting: usize,
    },
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) semaphore: Arc<Semaphore>,
    /// The concurrency limit in force (guarded so reconfigurations apply one at a time).
    limit: Mutex<usize>,
    /// Slots to retire as they come back, after the limit was lowered.
    pub(super) retire: AtomicUsize,
    pub(super) waiting: AtomicUsize,
    max_waiting: AtomicUsize,
    max_wait_nanos: AtomicU64,
    listeners: Listeners<BulkheadEvent>,
}

impl Shared {
    fn new(cfg: &BulkheadConfig, listeners: Listeners<BulkheadEvent>) -> Self {
        Self {
            semaphore: Arc::new(Semaphore::new(cfg.max_concurrent)),
            limit: Mutex::new(cfg.max_concurrent),
            retire: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            max_waiting: AtomicUsize::new(cfg.max_waiting),
            max_wait_nanos: AtomicU64::new(nanos(cfg.max_wait)),
            listeners,
        }
    }

    pub(super) fn max_waiting(&self) -> usize {
        self.max_waiting.load(Ordering::Relaxed)
    }

    pub(super) fn max_wait(&self) -> Duration {
        Duration::from_nanos(self.max_wait_nanos.load(Ordering::Relaxed))
    }

    fn limit(&self) -> usize {
        *self.limit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn reject(&self, reason: &'static str) {
        let waiting = self.waiting.load(Ordering::Relaxed);
        tracing::debug!(target: TARGET, reason, waiting, "call rejected");
        self.listeners.emit(&BulkheadEvent::Rejected { reason, waiting });
    }

    fn set(&self, cfg: &BulkheadConfig) {
        let mut limit = self.limit.lock().unwrap_or_else(PoisonError::into_inner);
        let new = cfg.max_concurrent;
        if new > *limit {
            let mut add = new - *limit;
            // Slots still owed for retirement are simply kept instead.
            let _ = self.retire.fetch_update(Ordering::AcqRel, Ordering::Acquire, |owed| {
                let kept = owed.min(add);
                add -= kept;
                Some(owed - kept)
            });
            self.semaphore.add_permits(add);
        } else {
            let remove = *limit - new;
            let forgotten = self.semaphore.forget_permits(remove);
            self.retire.fetch_add(remove - forgotten, Ordering::AcqRel);
        }
        *limit = new;
        self.max_waiting.store(cfg.max_waiting, Ordering::Relaxed);
        self.max_wait_nanos.store(nanos(cfg.max_wait), Ordering::Relaxed);
        tracing::info!(target: TARGET, max_concurrent = new, max_waiting = cfg.max_waiting, "bulkhead reconfigured");
        self.listeners.emit(&BulkheadEvent::Reconfigured {
            max_concurrent: new,
            max_waiting: cfg.max_waiting,
        });
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Applies [`Bulkhead`] to a service. Clones share one set of slots and one queue.
///
/// `R` says when a call's slot is returned: [`OnResponse`] (when the response future
/// completes, the default) or [`OnBodyEnd`] (for `http::Response<B>`: when the response
/// body has finished streaming or is dropped; built by [`BulkheadLayer::http`]).
#[derive(Debug)]
pub struct BulkheadLayer<R = OnResponse> {
    shared: Arc<Shared>,
    _release: PhantomData<fn() -> R>,
}

impl BulkheadLayer<OnResponse> {
    /// A bulkhead whose slots are returned when the response future completes.
    pub fn from_config(cfg: BulkheadConfig) -> Result<Self, ConfigError> {
        Self::build(cfg)
    }

    /// A bulkhead of `max_concurrent` slots without a queue.
    ///
    /// # Panics
    /// If `max_concurrent` is zero; use [`BulkheadLayer::from_config`] to get an error.
    pub fn new(max_concurrent: usize) -> Self {
        match Self::build(BulkheadConfig::new(max_concurrent)) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }
}

impl BulkheadLayer<OnBodyEnd> {
    /// A bulkhead for HTTP services whose slots are held until the response body has
    /// finished streaming (or is dropped).
    pub fn http(cfg: BulkheadConfig) -> Result<Self, ConfigError> {
        Self::build(cfg)
    }
}

impl<R> BulkheadLayer<R> {
    fn build(cfg: BulkheadConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Self { shared: Arc::new(Shared::new(&cfg, Listeners::new())), _release: PhantomData })
    }

    /// Registers listeners for the layer's events.
    ///
    /// Call before cloning the layer or making services: it starts a new shared state.
    pub fn with_listeners(self, listeners: Listeners<BulkheadEvent>) -> Self {
        let cfg = self.config();
        Self { shared: Arc::new(Shared::new(&cfg, listeners)), _release: PhantomData }
    }

    /// The limits in force.
    pub fn config(&self) -> BulkheadConfig {
        BulkheadConfig {
            max_concurrent: self.shared.limit(),
            max_waiting: self.shared.max_waiting(),
            max_wait: self.shared.max_wait(),
        }
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.shared.semaphore.available_permits()
    }

    /// Changes the limits of this layer and every clone and service made from it.
    /// Raising the limit frees slots at once; lowering it retires slots as in-flight calls
    /// return. Invalid configs are rejected.
    pub fn reconfigure(&self, cfg: &BulkheadConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        self.shared.set(cfg);
        Ok(())
    }

    /// Follows `rx`: every valid config sent is applied live; invalid ones are logged and
    /// skipped. Must be called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<BulkheadConfig>) -> Self {
        reconfigure::spawn_watch(
            Arc::downgrade(&self.shared),
            rx,
            |shared: &Shared, cfg| match cfg.validate() {
                Ok(()) => shared.set(&cfg),
                Err(e) => {
                    tracing::warn!(target: TARGET, error = %e, "ignoring invalid bulkhead config");
                }
            },
        );
        self
    }
}

impl<R> Clone for BulkheadLayer<R> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone(), _release: PhantomData }
    }
}

impl<S, R> Layer<S> for BulkheadLayer<R> {
    type Service = Bulkhead<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::from_shared(inner, self.shared.clone())
    }
}
