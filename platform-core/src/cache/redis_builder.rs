//! The Redis parts of [`CacheBuilder`]: Redis level, two-level invalidation, stampede lock.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::builder::CacheBuilder;
use super::codec::Codec;
use super::entry::Entry;
use super::event::{CacheEvent, Counters};
use super::front::{CacheKey, CacheValue};
use super::gate::LocalGate;
use super::invalidation::{Bus, Subscriber};
use super::lock::StampedeLock;
use super::redis::RedisStore;
use crate::resilience::{ConfigError, Listeners};

type Start<K, V> = Box<dyn FnOnce(Subscriber<K, V>, &RedisStore) -> Bus + Send>;

/// Redis settings collected by the builder.
pub(crate) struct RedisParts<K, V> {
    store: Option<RedisStore>,
    lock: Option<StampedeLock>,
    invalidation: Option<Start<K, V>>,
    reconnect_delay: Duration,
}

impl<K, V> Default for RedisParts<K, V> {
    fn default() -> Self {
        Self {
            store: None,
            lock: None,
            invalidation: None,
            reconnect_delay: Duration::from_secs(1),
        }
    }
}

impl<K, V> RedisParts<K, V> {
    pub(crate) fn finish(
        self,
        name: &Arc<str>,
        local: Option<&moka::sync::Cache<K, Entry<V>>>,
        gate: &Arc<LocalGate>,
        counters: &Arc<Counters>,
        listeners: &Listeners<CacheEvent>,
    ) -> Result<(Option<StampedeLock>, Option<Bus>), ConfigError>
    where
        K: std::hash::Hash + Eq + Send + Sync + 'static,
        V: CacheValue,
    {
        let Some(start) = self.invalidation else { return Ok((self.lock, None)) };
        let (Some(store), Some(local)) = (self.store.as_ref(), local) else {
            return Err(ConfigError::new(
                "cache",
                "two_level",
                "needs a local level and a Redis store",
            ));
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                "cache",
                "two_level",
                "must be built inside a tokio runtime (it starts the invalidation subscriber)",
            ));
        }
        let subscriber = Subscriber {
            name: name.clone(),
            local: local.clone(),
            gate: gate.clone(),
            counters: counters.clone(),
            listeners: listeners.clone(),
            reconnect_delay: self.reconnect_delay,
        };
        Ok((self.lock, Some(start(subscriber, store))))
    }
}

impl<K, V, C> CacheBuilder<K, V, C>
where
    K: CacheKey,
    V: CacheValue,
    C: Codec<V>,
{
    /// Uses `store` as the remote level (keep or drop the local level with
    /// [`local_level`](Self::local_level); without invalidation, a local copy may be
    /// stale for its TTL after another node changes the key).
    pub fn redis(mut self, store: RedisStore) -> Self {
        self.remote = Some(Arc::new(store.clone()));
        self.redis.store = Some(store);
        self
    }

    /// A two-level cache: a local level in front of `store`, whose copies on every node
    /// are dropped over Redis pub/sub when any node sets or deletes a key. Keys travel as
    /// text, hence `K: FromStr`.
    pub fn two_level(mut self, store: RedisStore) -> Self
    where
        K: FromStr,
    {
        self = self.local_level(true).redis(store);
        self.redis.invalidation = Some(Box::new(|subscriber, store| subscriber.spawn(store)));
        self
    }

    /// How long the invalidation subscriber waits before reconnecting (default 1 s).
    pub fn invalidation_reconnect_delay(mut self, delay: Duration) -> Self {
        self.redis.reconnect_delay = delay;
        self
    }

    /// Takes `lock` around loads, so one node across the cluster loads a key.
    pub fn stampede_lock(mut self, lock: StampedeLock) -> Self {
        self.redis.lock = Some(lock);
        self
    }
}
