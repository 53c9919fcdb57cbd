//! What the cache reports: typed events for listeners, counters for metrics, and
//! `tracing` events (target `platform::cache`, level debug).

use std::sync::atomic::{AtomicU64, Ordering};

/// Where a hit was served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The in-process moka level.
    Local,
    /// The remote store (Redis).
    Remote,
}

/// One thing that happened in a cache. Emitted to the cache's listeners (inline, on the
/// caller's task: keep listeners cheap); hits carry no key so the hit path never
/// allocates.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CacheEvent {
    /// A fresh value was found.
    Hit {
        /// Which level served it.
        level: Level,
    },
    /// A cached "not found" was found (negative caching).
    NegativeHit,
    /// A stale value inside the grace window was returned; a background refresh runs.
    StaleHit,
    /// Nothing usable was cached.
    Miss,
    /// The loader ran and succeeded.
    Loaded {
        /// `false` when it reported "not found".
        found: bool,
        /// `true` for a stale-while-revalidate background refresh.
        background: bool,
    },
    /// The loader failed; every caller waiting on it gets the error, nothing is cached.
    LoadFailed {
        /// The loader's error.
        error: String,
    },
    /// Another node changed or deleted a key: the local copy was dropped.
    Invalidated,
    /// The whole local level was dropped (pub/sub (re)connected, or it was asked for).
    LocalFlushed {
        /// Why.
        reason: &'static str,
    },
    /// The remote store failed; with [`OnRemoteError::Miss`](super::OnRemoteError::Miss)
    /// the read went on as a miss.
    RemoteError {
        /// What was being done.
        op: &'static str,
        /// The store's error.
        error: String,
    },
    /// Another node holds the stampede lock for the key; this node waited for its value.
    LockWaited {
        /// `true` when the other node's value arrived; `false` when the wait ran out and
        /// this node loaded itself.
        served: bool,
    },
}

impl CacheEvent {
    /// The counter this event bumps. A plain `match` (rather than, say, a table of
    /// accessors) so that, with [`report`] inlined, a caller reporting a known variant
    /// compiles down to a single atomic add.
    #[inline]
    fn counter<'c>(&self, c: &'c Counters) -> &'c AtomicU64 {
        match self {
            Self::Hit { level: Level::Local } => &c.local_hits,
            Self::Hit { level: Level::Remote } => &c.remote_hits,
            Self::NegativeHit => &c.negative_hits,
            Self::StaleHit => &c.stale_hits,
            Self::Miss => &c.misses,
            Self::Loaded { .. } => &c.loads,
            Self::LoadFailed { .. } => &c.load_failures,
            Self::Invalidated => &c.invalidations,
            Self::LocalFlushed { .. } => &c.local_flushes,
            Self::RemoteError { .. } => &c.remote_errors,
            Self::LockWaited { .. } => &c.lock_waits,
        }
    }
}

/// Counters behind [`CacheStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    local_hits: AtomicU64,
    remote_hits: AtomicU64,
    negative_hits: AtomicU64,
    stale_hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
    load_failures: AtomicU64,
    invalidations: AtomicU64,
    local_flushes: AtomicU64,
    remote_errors: AtomicU64,
    lock_waits: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn bump(&self, event: &CacheEvent) {
        event.counter(self).fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            local_hits: get(&self.local_hits),
            remote_hits: get(&self.remote_hits),
            negative_hits: get(&self.negative_hits),
            stale_hits: get(&self.stale_hits),
            misses: get(&self.misses),
            loads: get(&self.loads),
            load_failures: get(&self.load_failures),
            invalidations: get(&self.invalidations),
            local_flushes: get(&self.local_flushes),
            remote_errors: get(&self.remote_errors),
            lock_waits: get(&self.lock_waits),
        }
    }
}

/// Totals since the cache was built, for metrics ([`Cache::stats`](super::Cache::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Fresh values served by the local level.
    pub local_hits: u64,
    /// Fresh values served by the remote store.
    pub remote_hits: u64,
    /// Cached "not found" answers served.
    pub negative_hits: u64,
    /// Stale values served while refreshing.
    pub stale_hits: u64,
    /// Reads that found nothing usable.
    pub misses: u64,
    /// Loader runs that succeeded.
    pub loads: u64,
    /// Loader runs that failed.
    pub load_failures: u64,
    /// Local copies dropped because another node changed the key.
    pub invalidations: u64,
    /// Times the whole local level was dropped.
    pub local_flushes: u64,
    /// Remote store failures.
    pub remote_errors: u64,
    /// Waits on another node's stampede lock.
    pub lock_waits: u64,
}

/// Counts `event`, traces it and tells the listeners. Cheap when nobody listens and
/// tracing is off: no allocation, one relaxed atomic add and one load of tracing's global
/// max level.
///
/// Inlined so that a hit (the hottest caller) costs only that: the tracing callsite and the
/// listeners live in [`trace_and_emit`], reached only when someone may be interested.
#[inline]
pub(crate) fn report(
    name: &str,
    counters: &Counters,
    listeners: &crate::resilience::Listeners<CacheEvent>,
    event: CacheEvent,
) {
    counters.bump(&event);
    if tracing::level_enabled!(tracing::Level::DEBUG) || !listeners.is_empty() {
        trace_and_emit(name, listeners, &event);
    }
}

/// The slow half of [`report`]: the `tracing` event (target `platform::cache`, which
/// still checks its own filters) and the listeners.
#[inline(never)]
fn trace_and_emit(
    name: &str,
    listeners: &crate::resilience::Listeners<CacheEvent>,
    event: &CacheEvent,
) {
    tracing::debug!(target: "platform::cache", cache = name, ?event);
    if !listeners.is_empty() {
        listeners.emit(event);
    }
}
