//! One immutable set of governor limiters built from a config. Reconfiguration builds a
//! new [`Snapshot`] over the same state cells, so buckets survive quota changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::NotKeyed;
use governor::{NotUntil, RateLimiter};

use super::clock::RateLimitClock;
use super::config::{OnRedisFailure, QuotaConfig, RateLimitConfig};
use super::limit_key::RateLimitKey;
use super::store::{DirectCell, KeyStore, KeyTable};
use crate::resilience::{ConfigError, Mode};

type DirectLimiter = RateLimiter<NotKeyed, DirectCell, RateLimitClock, NoOpMiddleware<Nanos>>;
type KeyedLimiter<K> =
    RateLimiter<Option<K>, KeyStore<Option<K>>, RateLimitClock, NoOpMiddleware<Nanos>>;

/// A local decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Admit,
    Reject(Duration),
    /// Distributed mode only: Redis is unavailable and the policy is fail-closed.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Unavailable,
}

/// The state that outlives reconfiguration: the global bucket and the key table
/// (`None` is the bucket of requests without a key).
#[derive(Debug)]
pub(super) struct Cells<K> {
    global: Arc<AtomicU64>,
    keys: Arc<KeyTable<Option<K>>>,
}

impl<K: RateLimitKey> Cells<K> {
    pub(super) fn new(max_keys: usize, clock: &RateLimitClock) -> Self {
        Self {
            global: Arc::new(AtomicU64::new(0)),
            keys: Arc::new(KeyTable::new(max_keys, clock.clone())),
        }
    }

    pub(super) fn key_count(&self) -> usize {
        self.keys.len()
    }
}

/// The limiters of one configuration.
#[derive(Debug)]
pub(super) struct Snapshot<K: RateLimitKey> {
    pub(super) generation: u64,
    pub(super) mode: Mode,
    /// Decisions go through Redis (the local limiters are then the fallback at limit/N).
    #[cfg(feature = "redis")]
    pub(super) remote: Option<super::redis::RemotePlan>,
    quota: QuotaConfig,
    global: DirectLimiter,
    default: KeyedLimiter<K>,
    overrides: HashMap<K, (KeyedLimiter<K>, QuotaConfig)>,
}

impl<K: RateLimitKey> Snapshot<K> {
    pub(super) fn build(
        cfg: &RateLimitConfig,
        cells: &Cells<K>,
        clock: &RateLimitClock,
        generation: u64,
    ) -> Result<Self, ConfigError> {
        // In distributed mode the local limiters only serve the local fallback, at limit/N.
        let split = match cfg.redis.as_ref().map(|r| r.on_failure) {
            Some(OnRedisFailure::LocalFallback { instances }) => instances,
            _ => 1,
        };
        let local = |q: QuotaConfig| if split > 1 { q.split(split) } else { q };
        let quota = cfg.quota();
        // governor reads the clock once more when it creates a limiter; the few
        // nanoseconds between the two reads shift the stored state by that much at most.
        let start = clock.now_nanos();
        let keyed = |q: QuotaConfig| {
            RateLimiter::new(
                local(q).to_governor(),
                KeyStore::new(cells.keys.clone(), start),
                clock.clone(),
            )
        };
        let mut overrides = HashMap::with_capacity(cfg.overrides.len());
        for (text, q) in &cfg.overrides {
            let key = K::parse_config_key(text).ok_or_else(|| {
                ConfigError::new(
                    "rate_limit",
                    "overrides",
                    format!("`{text}` is not a valid key for this limiter's key type"),
                )
            })?;
            overrides.insert(key, (keyed(*q), *q));
        }
        Ok(Self {
            generation,
            mode: cfg.mode,
            #[cfg(feature = "redis")]
            remote: None,
            quota,
            global: RateLimiter::new(
                local(quota).to_governor(),
                DirectCell::new(cells.global.clone(), start),
                clock.clone(),
            ),
            default: keyed(quota),
            overrides,
        })
    }

    /// The global bucket. The rejection branch (a second clock read and a division) is
    /// out of line so the admitted branch inlines into the service.
    #[inline]
    pub(super) fn check_global(&self) -> Decision {
        match self.global.check() {
            Ok(()) => Decision::Admit,
            Err(not_until) => reject_after(&not_until, self.global.clock()),
        }
    }

    /// The bucket of `key` (`None`: the shared bucket of requests without a key).
    pub(super) fn check_key(&self, key: &Option<K>) -> Decision {
        let limiter = match key {
            Some(k) => self.overrides.get(k).map_or(&self.default, |(l, _)| l),
            None => &self.default,
        };
        match limiter.check_key(key) {
            Ok(()) => Decision::Admit,
            Err(not_until) => reject_after(&not_until, limiter.clock()),
        }
    }

    /// The full (not split) quota of `key`.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(super) fn quota_of(&self, key: Option<&K>) -> QuotaConfig {
        key.and_then(|k| self.overrides.get(k)).map_or(self.quota, |(_, q)| *q)
    }
}

/// The rejection for a bucket that conforms again at `not_until`.
#[cold]
#[inline(never)]
fn reject_after(not_until: &NotUntil<Nanos>, clock: &RateLimitClock) -> Decision {
    Decision::Reject(not_until.wait_time_from(clock.now()))
}
