//! The typed [`Cache`] front: reads, writes and invalidation over the local and remote levels.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::codec::{Codec, JsonCodec, RemoteEntry, encode_entry, now_ms};
use super::config::OnRemoteError;
use super::entry::{Entry, Lookup};
use super::error::{CacheError, StoreError};
use super::event::{CacheEvent, CacheStats, Counters, Level, report};
use super::gate::{LocalGate, Ticket};
use super::get::Get;
use super::jitter::jitter;
use super::store::CacheStore;
use crate::resilience::Listeners;

/// What a cache key must be: hashable for the local level, printable for the remote one
/// (the remote key is `prefix + key.to_string()`).
pub trait CacheKey: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static {}

impl<T: Hash + Eq + Clone + fmt::Display + Send + Sync + 'static> CacheKey for T {}

/// What a cached value must be: cloned out on every hit (wrap large values in `Arc`).
pub trait CacheValue: Clone + Send + Sync + 'static {}

impl<T: Clone + Send + Sync + 'static> CacheValue for T {}

/// The result every caller waiting on one load receives.
pub(crate) type Outcome<V> = Result<Option<V>, CacheError>;

/// Timing policy taken from the config.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) ttl: Duration,
    pub(crate) negative_ttl: Option<Duration>,
    pub(crate) jitter: f64,
    pub(crate) grace: Duration,
    pub(crate) on_remote_error: OnRemoteError,
}

pub(crate) struct Remote<C> {
    pub(crate) store: Arc<dyn CacheStore>,
    pub(crate) codec: C,
}

/// State shared by every clone of a [`Cache`].
pub(crate) struct Inner<K, V, C> {
    pub(crate) name: Arc<str>,
    pub(crate) policy: Policy,
    pub(crate) local: Option<moka::sync::Cache<K, Entry<V>>>,
    /// Whether the local level is usable (a two-level cache bypasses it while not
    /// subscribed to invalidations), and the epochs that keep racing fills out.
    pub(crate) gate: Arc<LocalGate>,
    pub(crate) remote: Option<Remote<C>>,
    pub(crate) flights: Mutex<HashMap<K, watch::Receiver<Option<Outcome<V>>>>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) listeners: Listeners<CacheEvent>,
    #[cfg(feature = "redis")]
    pub(crate) lock: Option<super::lock::StampedeLock>,
    #[cfg(feature = "redis")]
    pub(crate) bus: Option<super::invalidation::Bus>,
}

/// A typed cache: a bounded local level (moka) and/or a remote store (Redis), with
/// single-flight [`get_or_load`](Cache::get_or_load), negative caching, TTL jitter and
/// stale-while-revalidate. Clones share one state.
///
/// Values are kept as they are in the local level (a hit clones `V`: wrap large values in
/// an `Arc`) and encoded with the codec `C` (JSON by default) for the remote store.
pub struct Cache<K, V, C = JsonCodec> {
    pub(crate) inner: Arc<Inner<K, V, C>>,
}

impl<K, V, C> Clone for Cache<K, V, C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<K, V, C> fmt::Debug for Cache<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.inner.name)
            .field("local", &self.inner.local.is_some())
            .field("remote", &self.inner.remote.as_ref().map(|r| &r.store))
            .finish_non_exhaustive()
    }
}

impl<K, V, C> Cache<K, V, C>
where
    K: CacheKey,
    V: CacheValue,
    C: Codec<V>,
{
    /// The cache's name (from its config).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Counters since the cache was built.
    pub fn stats(&self) -> CacheStats {
        self.inner.counters.snapshot()
    }

    /// `true` when the local level is in use: always for a local cache; for a two-level
    /// cache only while it is subscribed to invalidations.
    pub fn is_local_live(&self) -> bool {
        self.inner.local.is_some() && self.inner.gate.is_live()
    }

    /// The fresh value of `key`: `Ok(None)` when it is absent, stale, or a cached
    /// "not found". Reads the local level, then the remote store.
    ///
    /// Like an `async fn`, nothing happens until the future is polled.
    pub fn get<'a>(
        &'a self,
        key: &'a K,
    ) -> impl Future<Output = Result<Option<V>, CacheError>> + Send + 'a {
        Get::new(&self.inner, key)
    }

    /// Stores `value` for the configured TTL (jittered).
    pub async fn set(&self, key: K, value: V) -> Result<(), CacheError> {
        let ttl = jitter(self.inner.policy.ttl, self.inner.policy.jitter);
        self.set_with_ttl(key, value, ttl).await
    }

    /// Stores `value` for exactly `ttl` (no jitter): the remote store first, then the
    /// local level; other nodes of a two-level cache drop their copies.
    pub async fn set_with_ttl(&self, key: K, value: V, ttl: Duration) -> Result<(), CacheError> {
        let ticket = self.inner.gate.ticket(&key);
        self.inner.store(&key, Some(value), ttl, ticket).await
    }

    /// Removes `key` everywhere: remote store, local level, and (two-level) every other
    /// node's local copy.
    pub async fn delete(&self, key: &K) -> Result<(), CacheError> {
        if let Some(remote) = &self.inner.remote {
            let skey = key.to_string();
            remote.store.delete(&skey).await.map_err(|e| self.inner.remote_error(e))?;
        }
        self.invalidate(key);
        self.inner.publish(Some(key)).await;
        Ok(())
    }

    /// Drops this node's local copy of `key` only; the next read goes to the remote store
    /// or the loader.
    pub fn invalidate(&self, key: &K) {
        if let Some(local) = &self.inner.local {
            self.inner.gate.bump(key);
            local.invalidate(key);
        }
    }

    /// Drops this node's whole local level.
    pub fn invalidate_all(&self) {
        self.inner.flush_local("asked");
    }
}

impl<K, V, C> Inner<K, V, C>
where
    K: CacheKey,
    V: CacheValue,
    C: Codec<V>,
{
    #[inline]
    pub(crate) fn report(&self, event: CacheEvent) {
        report(&self.name, &self.counters, &self.listeners, event);
    }

    pub(crate) fn flights(
        &self,
    ) -> MutexGuard<'_, HashMap<K, watch::Receiver<Option<Outcome<V>>>>> {
        self.flights.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn flush_local(&self, reason: &'static str) {
        if let Some(local) = &self.local {
            self.gate.bump_all();
            local.invalidate_all();
            self.report(CacheEvent::LocalFlushed { reason });
        }
    }

    /// Looks `key` up locally; fresh answers are reported here, stale ones by the caller
    /// that serves them.
    ///
    /// Always inlined into `get` / `get_or_load` (the compiler declines a plain hint
    /// here, having several callers): the entry moka clones out then goes straight into
    /// the caller's result instead of being copied through a `Lookup` in memory, and a hit
    /// pays no call.
    #[inline(always)]
    pub(crate) fn local_lookup(&self, key: &K) -> Lookup<V> {
        let Some(local) = &self.local else { return Lookup::Miss };
        if !self.gate.is_live() {
            return Lookup::Miss;
        }
        let Some(entry) = local.get(key) else { return Lookup::Miss };
        let grace = self.policy.grace;
        if !grace.is_zero() {
            // Freshness is ours to decide only with a grace window; otherwise moka's
            // per-entry expiry is exact and the hit path reads no clock.
            let now = Instant::now();
            if now >= entry.fresh_until {
                return match entry.value {
                    Some(v) if now < entry.fresh_until + grace => Lookup::Stale(v),
                    _ => Lookup::Miss,
                };
            }
        }
        self.report(match entry.value {
            Some(_) => CacheEvent::Hit { level: Level::Local },
            None => CacheEvent::NegativeHit,
        });
        Lookup::Fresh(entry.value)
    }

    /// Copies an answer into the local level unless an invalidation of its key arrived
    /// since `ticket` was taken (see [`gate`](super::gate)).
    pub(crate) fn local_put(&self, key: K, value: Option<V>, fresh: Duration, ticket: Ticket) {
        if let Some(local) = &self.local
            && self.gate.is_live()
            && self.gate.still_valid(ticket)
        {
            local.insert(key.clone(), Entry { value, fresh_until: Instant::now() + fresh });
            if !self.gate.still_valid(ticket) {
                // The invalidation ran between the check and the insert: undo the insert.
                local.invalidate(&key);
            }
        }
    }

    pub(crate) fn remote_error(&self, e: StoreError) -> CacheError {
        self.report(CacheEvent::RemoteError { op: e.op, error: e.source.to_string() });
        e.into_cache_error(&self.name)
    }

    /// A failed remote read: a miss or an error, as configured.
    fn remote_read_failed(&self, e: StoreError) -> Result<Lookup<V>, CacheError> {
        let err = self.remote_error(e);
        match self.policy.on_remote_error {
            OnRemoteError::Miss => Ok(Lookup::Miss),
            OnRemoteError::Fail => Err(err),
        }
    }

    /// `get` past a local miss: the remote store's fresh answer, else a reported miss.
    ///
    /// `get` awaits this boxed (see [`Get`]): a local hit then builds, moves and drops
    /// only two words, and the allocation is paid on remote reads only.
    pub(crate) async fn remote_get(&self, key: &K) -> Result<Option<V>, CacheError> {
        match self.remote_lookup(key).await? {
            Lookup::Fresh(v) => Ok(v),
            Lookup::Stale(_) | Lookup::Miss => {
                self.report(CacheEvent::Miss);
                Ok(None)
            }
        }
    }

    /// Reads the remote store; a fresh answer is copied into the local level.
    pub(crate) async fn remote_lookup(&self, key: &K) -> Result<Lookup<V>, CacheError> {
        let Some(remote) = &self.remote else { return Ok(Lookup::Miss) };
        let skey = key.to_string();
        let ticket = self.gate.ticket(key);
        let bytes = match remote.store.get(&skey).await {
            Ok(Some(b)) => b,
            Ok(None) => return Ok(Lookup::Miss),
            Err(e) => return self.remote_read_failed(e),
        };
        let decoded = RemoteEntry::decode(&bytes).ok_or_else(|| -> crate::BoxError {
            "not written by a platform cache (bad header)".into()
        });
        let value = decoded.and_then(|entry| {
            let value = entry.payload.map(|p| remote.codec.decode(p)).transpose()?;
            Ok((value, entry.fresh_for(now_ms())))
        });
        let (value, fresh_for) = match value {
            Ok(v) => v,
            Err(source) => {
                // An unreadable entry is a miss; the next write replaces it.
                let err = StoreError::new("decode", source);
                self.report(CacheEvent::RemoteError { op: "decode", error: err.to_string() });
                return Ok(Lookup::Miss);
            }
        };
        match (fresh_for, value) {
            (Some(fresh), value) => {
                self.local_put(key.clone(), value.clone(), fresh, ticket);
                self.report(match value {
                    Some(_) => CacheEvent::Hit { level: Level::Remote },
                    None => CacheEvent::NegativeHit,
                });
                Ok(Lookup::Fresh(value))
            }
            // The store keeps entries for freshness plus grace: a stale one is in grace.
            (None, Some(v)) if !self.policy.grace.is_zero() => Ok(Lookup::Stale(v)),
            (None, _) => Ok(Lookup::Miss),
        }
    }

    /// Writes an answer (`None`: a cached "not found") to the remote store, then the local
    /// level (unless an invalidation came after `ticket`), then tells other nodes.
    pub(crate) async fn store(
        &self,
        key: &K,
        value: Option<V>,
        ttl: Duration,
        ticket: Ticket,
    ) -> Result<(), CacheError> {
        if let Some(remote) = &self.remote {
            let skey = key.to_string();
            let fresh_until = now_ms().saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(0));
            let bytes = encode_entry(&remote.codec, value.as_ref(), fresh_until).map_err(|e| {
                CacheError::Codec {
                    cache: self.name.clone(),
                    op: "encode",
                    key: skey.clone(),
                    source: Arc::from(e),
                }
            })?;
            let lifetime = ttl + self.policy.grace;
            remote.store.set(&skey, bytes, lifetime).await.map_err(|e| self.remote_error(e))?;
        }
        self.local_put(key.clone(), value, ttl, ticket);
        self.publish(Some(key)).await;
        Ok(())
    }

    /// Tells other nodes that `key` (or, with `None`, everything) changed.
    #[cfg_attr(not(feature = "redis"), allow(clippy::unused_async))]
    pub(crate) async fn publish(&self, key: Option<&K>) {
        #[cfg(feature = "redis")]
        if let Some(bus) = &self.bus
            && let Err(e) = bus.publish(key.map(ToString::to_string).as_deref()).await
        {
            self.report(CacheEvent::RemoteError { op: e.op, error: e.source.to_string() });
        }
        #[cfg(not(feature = "redis"))]
        let _ = key;
    }
}

impl<K, V, C> Drop for Inner<K, V, C> {
    fn drop(&mut self) {
        #[cfg(feature = "redis")]
        if let Some(bus) = &self.bus {
            bus.stop();
        }
    }
}
