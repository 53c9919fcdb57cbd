//! The future of [`Cache::get`](super::Cache::get), written by hand so that a local hit
//! is cheap to build, move and poll.
//!
//! An `async fn` would hold the cache, the key, a state byte and the boxed remote read
//! side by side (32 bytes, moved through memory and dispatched through a jump table on
//! every call). This future is two pointers while it has not looked locally — passed in
//! registers — and becomes a pointer to the boxed remote read only on a local miss.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::codec::Codec;
use super::entry::Lookup;
use super::error::CacheError;
use super::event::CacheEvent;
use super::front::{CacheKey, CacheValue, Inner};

type Answer<V> = Result<Option<V>, CacheError>;

/// The remote read, boxed twice so that [`Get`] stays two words: the outer box is a
/// thin pointer. Paid only on a local miss of a cache with a remote level, next to a
/// network round trip.
type RemoteRead<'a, V> = Box<Pin<Box<dyn Future<Output = Answer<V>> + Send + 'a>>>;

pub(crate) enum Get<'a, K, V, C> {
    /// Not polled yet: look locally first.
    Local(&'a Inner<K, V, C>, &'a K),
    /// Past a local miss: the remote read.
    Remote(RemoteRead<'a, V>),
}

impl<'a, K, V, C> Get<'a, K, V, C> {
    #[inline]
    pub(crate) fn new(inner: &'a Inner<K, V, C>, key: &'a K) -> Self {
        Self::Local(inner, key)
    }
}

impl<'a, K, V, C> Future for Get<'a, K, V, C>
where
    K: CacheKey,
    V: CacheValue,
    C: Codec<V>,
{
    type Output = Answer<V>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer<V>> {
        let this = self.get_mut();
        match this {
            Self::Local(inner, key) => {
                if let Lookup::Fresh(v) = inner.local_lookup(key) {
                    return Poll::Ready(Ok(v));
                }
                let Some(mut read) = local_miss(inner, key) else {
                    return Poll::Ready(Ok(None));
                };
                let answer = Pin::as_mut(&mut *read).poll(cx);
                if answer.is_pending() {
                    *this = Self::Remote(read);
                }
                answer
            }
            Self::Remote(read) => Pin::as_mut(&mut **read).poll(cx),
        }
    }
}

/// After a local miss: the remote read to run, or `None` (a reported miss) without a
/// remote level.
#[cold]
fn local_miss<'a, K, V, C>(inner: &'a Inner<K, V, C>, key: &'a K) -> Option<RemoteRead<'a, V>>
where
    K: CacheKey,
    V: CacheValue,
    C: Codec<V>,
{
    if inner.remote.is_none() {
        inner.report(CacheEvent::Miss);
        return None;
    }
    Some(Box::new(Box::pin(inner.remote_get(key))))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::FutureExt;
    use futures_util::future::BoxFuture;

    use super::super::codec::JsonCodec;
    use super::super::{Cache, CacheConfig, CacheStore, StoreError};
    use super::*;

    #[test]
    fn the_future_is_two_words() {
        assert_eq!(
            std::mem::size_of::<Get<'static, u64, u64, JsonCodec>>(),
            2 * std::mem::size_of::<usize>()
        );
    }

    /// A remote store whose reads are pending once before they answer.
    #[derive(Debug, Default)]
    struct YieldingStore(Mutex<HashMap<String, Bytes>>);

    impl CacheStore for YieldingStore {
        fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, StoreError>> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                Ok(self.0.lock().expect("lock").get(key).cloned())
            })
        }

        fn set<'a>(
            &'a self,
            key: &'a str,
            value: Bytes,
            _ttl: Duration,
        ) -> BoxFuture<'a, Result<(), StoreError>> {
            self.0.lock().expect("lock").insert(key.to_owned(), value);
            Box::pin(async { Ok(()) })
        }

        fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
            self.0.lock().expect("lock").remove(key);
            Box::pin(async { Ok(()) })
        }
    }

    #[tokio::test]
    async fn looks_up_only_when_polled_and_keeps_a_pending_remote_read() {
        let config = CacheConfig { name: "get".into(), ..CacheConfig::default() };
        let cache: Cache<u64, u64> =
            Cache::builder(config).remote(YieldingStore::default()).build().expect("valid");
        cache.set(1, 10).await.expect("set");
        cache.invalidate(&1);

        let mut read = Box::pin(cache.get(&1));
        let stats = cache.stats();
        assert_eq!((stats.local_hits, stats.remote_hits, stats.misses), (0, 0, 0), "lazy");
        assert!((&mut read).now_or_never().is_none(), "the remote read is pending");
        assert_eq!(read.await.expect("read"), Some(10), "the same read answers");
        assert_eq!(cache.stats().remote_hits, 1);

        assert_eq!(cache.get(&1).await.expect("read"), Some(10));
        assert_eq!(cache.stats().local_hits, 1, "the remote answer was kept locally");
        assert_eq!(cache.get(&2).await.expect("read"), None);
        assert_eq!(cache.stats().misses, 1);
    }
}
