use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tower_layer::Layer;

use super::clock::RateLimitClock;
use super::config::RateLimitConfig;
use super::event::{self, RateLimitEvent};
use super::limit_key::{Global, RateLimitKey};
use super::limiter::{Cells, Snapshot};
use super::service::RateLimit;
use crate::resilience::{ConfigError, Listeners, reconfigure};

const TARGET: &str = "platform::resilience::rate_limit";

/// The state every clone of a layer and its services share.
#[derive(Debug)]
pub(super) struct Shared<E, K: RateLimitKey> {
    pub(super) extractor: Arc<E>,
    pub(super) keyed: bool,
    pub(super) clock: RateLimitClock,
    pub(super) listeners: Listeners<RateLimitEvent>,
    pub(super) generation: AtomicU64,
    cells: Cells<K>,
    current: Mutex<Current<K>>,
}

#[derive(Debug)]
struct Current<K: RateLimitKey> {
    snapshot: Arc<Snapshot<K>>,
    config: RateLimitConfig,
}

impl<E, K: RateLimitKey> Shared<E, K> {
    fn new(
        cfg: RateLimitConfig,
        extractor: Arc<E>,
        keyed: bool,
        clock: RateLimitClock,
        listeners: Listeners<RateLimitEvent>,
    ) -> Result<Self, ConfigError> {
        cfg.validate()?;
        if !keyed && !cfg.overrides.is_empty() {
            return Err(ConfigError::new(
                "rate_limit",
                "overrides",
                "per-key overrides need a keyed limiter (RateLimitLayer::keyed)",
            ));
        }
        let cells = Cells::new(cfg.max_keys, &clock);
        let snapshot = Self::snapshot(&cfg, &cells, &clock, 0, None)?;
        Ok(Self {
            extractor,
            keyed,
            clock,
            listeners,
            generation: AtomicU64::new(0),
            cells,
            current: Mutex::new(Current { snapshot: Arc::new(snapshot), config: cfg }),
        })
    }

    fn snapshot(
        cfg: &RateLimitConfig,
        cells: &Cells<K>,
        clock: &RateLimitClock,
        generation: u64,
        previous: Option<&Snapshot<K>>,
    ) -> Result<Snapshot<K>, ConfigError> {
        #[allow(unused_mut)]
        let mut snap = Snapshot::build(cfg, cells, clock, generation)?;
        #[cfg(feature = "redis")]
        if let Some(r) = &cfg.redis {
            // Keep the connection (and its health) while the URL is unchanged.
            let remote = match previous.and_then(|p| p.remote.as_ref()) {
                Some(p) if p.remote.url() == r.url => p.remote.clone(),
                _ => super::redis::Remote::open(&r.url)?,
            };
            snap.remote = Some(super::redis::RemotePlan { remote, cfg: r.clone() });
        }
        #[cfg(not(feature = "redis"))]
        let _ = previous;
        Ok(snap)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current<K>> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The snapshot services should use now.
    pub(super) fn current(&self) -> Arc<Snapshot<K>> {
        self.lock().snapshot.clone()
    }

    fn apply(&self, cfg: &RateLimitConfig) -> Result<(), ConfigError> {
        cfg.validate()?;
        if !self.keyed && !cfg.overrides.is_empty() {
            return Err(ConfigError::new("rate_limit", "overrides", "need a keyed limiter"));
        }
        let mut cur = self.lock();
        if cfg.max_keys != cur.config.max_keys {
            tracing::warn!(target: TARGET, "`max_keys` is fixed when the layer is built; keeping {}", cur.config.max_keys);
        }
        let generation = cur.snapshot.generation + 1;
        let snap = Self::snapshot(cfg, &self.cells, &self.clock, generation, Some(&cur.snapshot))?;
        cur.snapshot = Arc::new(snap);
        cur.config = cfg.clone();
        self.generation.store(generation, Ordering::Release);
        drop(cur);
        event::reconfigured(&self.listeners, cfg.quota());
        Ok(())
    }
}

/// Applies [`RateLimit`] to a service. Clones share one limit.
///
/// `E` is the key extractor ([`Global`] for one bucket shared by every request) and `K`
/// its key type.
#[derive(Debug)]
pub struct RateLimitLayer<E = Global, K: RateLimitKey = ()> {
    shared: Arc<Shared<E, K>>,
}

impl<E, K: RateLimitKey> Clone for RateLimitLayer<E, K> {
    fn clone(&self) -> Self {
        Self { shared: self.shared.clone() }
    }
}

impl RateLimitLayer {
    /// A global limiter admitting `rate` requests per `period` (burst `rate`).
    ///
    /// # Panics
    /// If `rate` is zero or `period / rate` is under a nanosecond; use
    /// [`RateLimitLayer::from_config`] to get an error instead.
    pub fn new(rate: u32, period: std::time::Duration) -> Self {
        match Self::from_config(RateLimitConfig::new(rate, period)) {
            Ok(layer) => layer,
            Err(e) => panic!("{e}"),
        }
    }

    /// A global limiter (one bucket for every request) from a validated config.
    pub fn from_config(cfg: RateLimitConfig) -> Result<Self, ConfigError> {
        let shared =
            Shared::new(cfg, Arc::new(Global), false, RateLimitClock::default(), Listeners::new())?;
        Ok(Self { shared: Arc::new(shared) })
    }
}

impl<E, K: RateLimitKey> RateLimitLayer<E, K> {
    /// A keyed limiter: one bucket per key that `extractor` finds (per-key
    /// [`overrides`](RateLimitConfig::overrides) apply), plus one shared bucket for
    /// requests without a key.
    pub fn keyed(cfg: RateLimitConfig, extractor: E) -> Result<Self, ConfigError> {
        let shared = Shared::new(
            cfg,
            Arc::new(extractor),
            true,
            RateLimitClock::default(),
            Listeners::new(),
        )?;
        Ok(Self { shared: Arc::new(shared) })
    }

    fn rebuild(self, clock: RateLimitClock, listeners: Listeners<RateLimitEvent>) -> Self {
        let cfg = self.config();
        let s = &self.shared;
        match Shared::new(cfg, s.extractor.clone(), s.keyed, clock, listeners) {
            Ok(shared) => Self { shared: Arc::new(shared) },
            Err(e) => unreachable!("a config that was valid stays valid: {e}"),
        }
    }

    /// Registers listeners for the layer's events. Call before using or cloning the
    /// layer: it starts over with fresh buckets, and earlier clones keep the old listeners.
    pub fn with_listeners(self, listeners: Listeners<RateLimitEvent>) -> Self {
        let clock = self.shared.clock.clone();
        self.rebuild(clock, listeners)
    }

    /// Uses `clock` for local decisions (e.g. [`RateLimitClock::tokio`] in tests). Call
    /// before using or cloning the layer: it starts over with fresh buckets.
    pub fn with_clock(self, clock: RateLimitClock) -> Self {
        let listeners = self.shared.listeners.clone();
        self.rebuild(clock, listeners)
    }

    /// The configuration in force.
    pub fn config(&self) -> RateLimitConfig {
        self.shared.lock().config.clone()
    }

    /// How many keys a keyed limiter tracks right now (bounded by `max_keys`).
    pub fn key_count(&self) -> usize {
        self.shared.cells.key_count()
    }

    /// `true` while a distributed limiter cannot reach Redis and applies its failure policy.
    pub fn is_degraded(&self) -> bool {
        #[cfg(feature = "redis")]
        if let Some(plan) = &self.shared.current().remote {
            return plan.remote.is_degraded();
        }
        false
    }

    /// Changes the settings of this layer and every clone and service made from it,
    /// keeping every bucket's state (see the module docs). Invalid configs are rejected
    /// and the old settings stay.
    pub fn reconfigure(&self, cfg: &RateLimitConfig) -> Result<(), ConfigError> {
        self.shared.apply(cfg)
    }
}

impl<E, K> RateLimitLayer<E, K>
where
    E: Send + Sync + 'static,
    K: RateLimitKey,
{
    /// Follows `rx`: every valid config sent is applied live; invalid ones are logged and
    /// skipped. Must be called inside a tokio runtime.
    pub fn watch_config(self, rx: watch::Receiver<RateLimitConfig>) -> Self {
        reconfigure::spawn_watch(
            Arc::downgrade(&self.shared),
            rx,
            |shared: &Shared<E, K>, cfg: RateLimitConfig| {
                if let Err(e) = shared.apply(&cfg) {
                    tracing::warn!(target: TARGET, error = %e, "ignoring invalid rate limit config");
                }
            },
        );
        self
    }
}

impl<S, E, K: RateLimitKey> Layer<S> for RateLimitLayer<E, K> {
    type Service = RateLimit<S, E, K>;

    fn layer(&self, inner: S) -> RateLimit<S, E, K> {
        RateLimit::from_shared(inner, self.shared.clone())
    }
}
