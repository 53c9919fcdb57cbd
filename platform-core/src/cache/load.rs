//! `get_or_load`: single-flight loads, negative caching and stale-while-revalidate.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::watch;

use super::codec::Codec;
use super::entry::Lookup;
use super::error::CacheError;
use super::event::CacheEvent;
use super::front::{Cache, CacheKey, CacheValue, Inner, Outcome};
use super::jitter::jitter;
use crate::BoxError;

/// What [`Cache::get_or_load`] runs on a miss: any `FnOnce() -> impl Future<Output =
/// Result<Option<V>, E>>` that is `Send + 'static` (an async closure), where `Ok(None)`
/// means "not found" and `E` is any error. Loads are boxed once each; hits never touch the
/// loader.
pub trait Loader<V>: Send + 'static {
    /// Runs the load.
    fn load(self) -> BoxFuture<'static, Result<Option<V>, BoxError>>;
}

impl<V, F, Fut, E> Loader<V> for F
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<Option<V>, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    fn load(self) -> BoxFuture<'static, Result<Option<V>, BoxError>> {
        Box::pin(async move { self().await.map_err(Into::into) })
    }
}

impl<K, V, C> Cache<K, V, C>
where
    K: CacheKey,
    V: CacheValue,
    C: Codec<V>,
{
    /// The value of `key`, loading it with `loader` on a miss.
    ///
    /// - **Single-flight**: concurrent calls for one key share one load; the others wait
    ///   for its result (a failed load is reported to all of them and not cached). If the
    ///   loading caller is cancelled, a waiter takes over.
    /// - **Negative caching**: a loader answering `Ok(None)` ("not found") is cached for
    ///   `negative_ttl` when that is configured.
    /// - **Jitter**: the TTL of what is loaded is randomised by `± jitter`.
    /// - **Stale-while-revalidate**: within `stale_while_revalidate` after a value went
    ///   stale, the stale value is returned at once and one background task reloads it
    ///   (the loader must therefore be `Send + 'static`).
    /// - With a stampede lock (two-level or Redis caches), one node across the cluster
    ///   loads the key while the others wait for its value.
    pub async fn get_or_load<L>(&self, key: &K, loader: L) -> Outcome<V>
    where
        L: Loader<V>,
    {
        match self.inner.local_lookup(key) {
            Lookup::Fresh(v) => return Ok(v),
            Lookup::Stale(v) => {
                self.inner.report(CacheEvent::StaleHit);
                refresh_in_background(&self.inner, key, v.clone(), loader);
                return Ok(Some(v));
            }
            Lookup::Miss => {}
        }
        // Boxed: the load's state machine (remote read, loader, store, stampede lock) is
        // large, and held inline every hit would build, move and drop it. A miss already
        // allocates (the boxed loader, the flight's channel), so one more box is noise.
        Box::pin(load_shared(&self.inner, key, loader)).await
    }
}

/// The single load in progress for a key. Dropping it (finished or cancelled) removes the
/// key from the in-flight table; a waiter whose leader vanished without an answer retries.
struct Flight<K: CacheKey, V: CacheValue, C: Codec<V>> {
    inner: Arc<Inner<K, V, C>>,
    key: K,
    tx: watch::Sender<Option<Outcome<V>>>,
}

impl<K: CacheKey, V: CacheValue, C: Codec<V>> Drop for Flight<K, V, C> {
    fn drop(&mut self) {
        self.inner.flights().remove(&self.key);
    }
}

/// Joins the load in flight for `key` or becomes its leader.
async fn load_shared<K: CacheKey, V: CacheValue, C: Codec<V>, L: Loader<V>>(
    inner: &Arc<Inner<K, V, C>>,
    key: &K,
    loader: L,
) -> Outcome<V> {
    loop {
        // Join the flight in progress, or register ours (the lock is released before any await).
        let joined = {
            let mut flights = inner.flights();
            match flights.get(key) {
                Some(rx) => Ok(rx.clone()),
                None => {
                    let (tx, rx) = watch::channel(None);
                    flights.insert(key.clone(), rx);
                    Err(tx)
                }
            }
        };
        let mut rx = match joined {
            Ok(rx) => rx,
            Err(tx) => {
                let flight = Flight { inner: inner.clone(), key: key.clone(), tx };
                return lead(flight, loader).await;
            }
        };
        let answer = rx.wait_for(Option::is_some).await.ok().and_then(|v| v.clone());
        if let Some(outcome) = answer {
            return outcome;
        }
        // The leader was cancelled before answering: try again (possibly as leader).
    }
}

/// Starts one background reload of `key` unless one is already running; until it ends,
/// callers that join the flight get the stale value.
fn refresh_in_background<K: CacheKey, V: CacheValue, C: Codec<V>, L: Loader<V>>(
    inner: &Arc<Inner<K, V, C>>,
    key: &K,
    stale: V,
    loader: L,
) {
    let mut flights = inner.flights();
    if flights.contains_key(key) {
        return;
    }
    let (tx, rx) = watch::channel(Some(Ok(Some(stale))));
    flights.insert(key.clone(), rx);
    drop(flights);
    let flight = Flight { inner: inner.clone(), key: key.clone(), tx };
    tokio::spawn(refresh(flight, loader));
}

/// The leader of a flight: re-checks the levels, then loads.
async fn lead<K: CacheKey, V: CacheValue, C: Codec<V>, L: Loader<V>>(
    flight: Flight<K, V, C>,
    loader: L,
) -> Outcome<V> {
    let inner = &flight.inner;
    // A flight that ended between our miss and our insert has stored its answer.
    if let Lookup::Fresh(v) = inner.local_lookup(&flight.key) {
        return finish(flight, Ok(v));
    }
    inner.report(CacheEvent::Miss);
    match inner.remote_lookup(&flight.key).await {
        Ok(Lookup::Fresh(v)) => finish(flight, Ok(v)),
        Ok(Lookup::Stale(v)) => {
            inner.report(CacheEvent::StaleHit);
            // Serve the stale value now, to this caller and to joiners, and refresh it.
            flight.tx.send_replace(Some(Ok(Some(v.clone()))));
            tokio::spawn(refresh(flight, loader));
            Ok(Some(v))
        }
        Ok(Lookup::Miss) => {
            let outcome = inner.load(&flight.key, loader, false).await;
            finish(flight, outcome)
        }
        Err(e) => finish(flight, Err(e)),
    }
}

/// A background refresh: takes a value another node refreshed meanwhile, else loads.
async fn refresh<K: CacheKey, V: CacheValue, C: Codec<V>, L: Loader<V>>(
    flight: Flight<K, V, C>,
    loader: L,
) {
    let inner = &flight.inner;
    if let Ok(Lookup::Fresh(v)) = inner.remote_lookup(&flight.key).await {
        let _ = finish(flight, Ok(v));
        return;
    }
    // A failed refresh leaves the stale value in place until its grace window ends.
    let outcome = inner.load(&flight.key, loader, true).await;
    if outcome.is_ok() {
        let _ = finish(flight, outcome);
    }
}

fn finish<K: CacheKey, V: CacheValue, C: Codec<V>>(
    flight: Flight<K, V, C>,
    outcome: Outcome<V>,
) -> Outcome<V> {
    flight.tx.send_replace(Some(outcome.clone()));
    outcome
}

impl<K: CacheKey, V: CacheValue, C: Codec<V>> Inner<K, V, C> {
    /// Runs the loader (under the stampede lock when one is configured) and stores its
    /// answer.
    async fn load<L: Loader<V>>(&self, key: &K, loader: L, background: bool) -> Outcome<V> {
        #[cfg(feature = "redis")]
        if let Some(lock) = &self.lock {
            return lock.load(self, key, loader, background).await;
        }
        self.load_and_store(key, loader, background).await
    }

    /// Runs the loader and stores what it answered; a failed store is reported, not
    /// returned.
    pub(crate) async fn load_and_store<L: Loader<V>>(
        &self,
        key: &K,
        loader: L,
        background: bool,
    ) -> Outcome<V> {
        // Taken before the load: an invalidation during it may mean a newer value exists.
        let ticket = self.gate.ticket(key);
        let loaded = match loader.load().await {
            Ok(v) => v,
            Err(e) => {
                let source: Arc<dyn std::error::Error + Send + Sync> = Arc::from(e);
                self.report(CacheEvent::LoadFailed { error: source.to_string() });
                return Err(CacheError::Load { cache: self.name.clone(), source });
            }
        };
        self.report(CacheEvent::Loaded { found: loaded.is_some(), background });
        let ttl = match &loaded {
            Some(_) => Some(self.policy.ttl),
            None => self.policy.negative_ttl,
        };
        if let Some(ttl) = ttl {
            // Store errors were reported as events; the caller still gets the loaded value.
            let ttl = jitter(ttl, self.policy.jitter);
            let _ = self.store(key, loaded.clone(), ttl, ticket).await;
        }
        Ok(loaded)
    }
}
