//! Building a [`Cache`]: levels, codec, listeners.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::codec::{Codec, JsonCodec};
use super::config::CacheConfig;
use super::entry::{Entry, EntryExpiry};
use super::event::{CacheEvent, Counters};
use super::front::{Cache, CacheKey, CacheValue, Inner, Policy, Remote};
use super::gate::LocalGate;
use super::store::CacheStore;
use crate::resilience::{ConfigError, Listeners};

type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;

/// Builds a [`Cache`]; start with [`Cache::builder`].
pub struct CacheBuilder<K, V, C = JsonCodec> {
    pub(crate) config: CacheConfig,
    local: bool,
    weigher: Option<Weigher<K, V>>,
    pub(crate) remote: Option<Arc<dyn CacheStore>>,
    codec: C,
    listeners: Listeners<CacheEvent>,
    #[cfg(feature = "redis")]
    pub(crate) redis: super::redis_builder::RedisParts<K, V>,
}

impl<K, V, C> fmt::Debug for CacheBuilder<K, V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("config", &self.config)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V, JsonCodec>
where
    K: CacheKey,
    V: CacheValue,
    JsonCodec: Codec<V>,
{
    /// A builder from `config`, with a local level and no remote store.
    pub fn builder(config: CacheConfig) -> CacheBuilder<K, V, JsonCodec> {
        CacheBuilder {
            config,
            local: true,
            weigher: None,
            remote: None,
            codec: JsonCodec,
            listeners: Listeners::new(),
            #[cfg(feature = "redis")]
            redis: super::redis_builder::RedisParts::default(),
        }
    }

    /// A local-only (moka) cache.
    pub fn local(config: CacheConfig) -> Result<Self, ConfigError> {
        Self::builder(config).build()
    }
}

impl<K, V, C> CacheBuilder<K, V, C>
where
    K: CacheKey,
    V: CacheValue,
    C: Codec<V>,
{
    /// Whether to keep a local (moka) level (default: yes). A cache over a remote store
    /// without a local level reads the store on every call.
    pub fn local_level(mut self, enabled: bool) -> Self {
        self.local = enabled;
        self
    }

    /// Bounds the local level by total weight instead of entry count: `max_entries` is
    /// then the weight budget and `weigher` gives each value's weight (e.g. its size in
    /// bytes). A cached "not found" weighs 1.
    pub fn weigher(mut self, weigher: impl Fn(&K, &V) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Some(Arc::new(weigher));
        self
    }

    /// Adds a remote level: any [`CacheStore`].
    pub fn remote(mut self, store: impl CacheStore) -> Self {
        self.remote = Some(Arc::new(store));
        self
    }

    /// Encodes values for the remote store with `codec` instead of JSON.
    pub fn codec<C2: Codec<V>>(self, codec: C2) -> CacheBuilder<K, V, C2> {
        CacheBuilder {
            config: self.config,
            local: self.local,
            weigher: self.weigher,
            remote: self.remote,
            codec,
            listeners: self.listeners,
            #[cfg(feature = "redis")]
            redis: self.redis,
        }
    }

    /// Tells `listeners` about every [`CacheEvent`].
    pub fn listeners(mut self, listeners: Listeners<CacheEvent>) -> Self {
        self.listeners = listeners;
        self
    }

    /// Validates the config and builds the cache. A two-level cache starts its
    /// invalidation subscriber here, so it must be built inside a tokio runtime.
    pub fn build(self) -> Result<Cache<K, V, C>, ConfigError> {
        self.config.validate()?;
        let cfg = &self.config;
        let local = self.local.then(|| {
            let mut b = moka::sync::Cache::builder()
                .max_capacity(cfg.max_entries)
                .expire_after(EntryExpiry { grace: cfg.stale_while_revalidate });
            if let Some(w) = self.weigher.clone() {
                b = b.weigher(move |k: &K, e: &Entry<V>| e.value.as_ref().map_or(1, |v| w(k, v)));
            }
            b.build()
        });
        let name: Arc<str> = Arc::from(cfg.name.as_str());
        let policy = Policy {
            ttl: cfg.ttl,
            negative_ttl: cfg.negative_ttl,
            jitter: cfg.jitter,
            grace: cfg.stale_while_revalidate,
            on_remote_error: cfg.on_remote_error,
        };
        let counters = Arc::new(Counters::default());
        let gate = Arc::new(LocalGate::new(true));
        #[cfg(feature = "redis")]
        let (lock, bus) =
            self.redis.finish(&name, local.as_ref(), &gate, &counters, &self.listeners)?;
        let inner = Inner {
            name,
            policy,
            local,
            gate,
            remote: self.remote.map(|store| Remote { store, codec: self.codec }),
            flights: Mutex::new(HashMap::new()),
            counters,
            listeners: self.listeners,
            #[cfg(feature = "redis")]
            lock,
            #[cfg(feature = "redis")]
            bus,
        };
        Ok(Cache { inner: Arc::new(inner) })
    }
}
