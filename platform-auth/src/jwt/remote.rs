//! [`RemoteJwks`]: verification keys fetched from a JWKS endpoint, cached.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use platform_core::error::BoxError;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::key::Key;
use super::source::{KeySource, ResolveFuture, select};
use crate::error::{AuthError, ConfigError};

/// A boxed future returned by [`JwksFetcher::fetch`].
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<JwkSet, BoxError>> + Send + 'a>>;

/// Fetches one JWKS document from the one URL it was configured with.
///
/// Implement it with your HTTP client (with TLS for `https` endpoints); with the
/// `remote-jwks` feature, `HttpJwksFetcher` fetches over plain HTTP with hyper.
pub trait JwksFetcher: Send + Sync + fmt::Debug {
    /// Fetches the document.
    fn fetch(&self) -> FetchFuture<'_>;
}

/// Cache and refetch policy of a [`RemoteJwks`]. Durations are human-readable in config
/// files (`"5m"`, `"30s"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RemoteJwksConfig {
    /// How long fetched keys are fresh; after that the next verification refetches.
    #[serde(with = "humantime_serde")]
    pub max_age: Duration,
    /// The least time between two fetches, whatever triggers them (an unknown `kid`, an
    /// expired cache): tokens with made-up `kid`s cannot make this service hammer the
    /// JWKS endpoint.
    #[serde(with = "humantime_serde")]
    pub min_refetch_interval: Duration,
    /// How long cached keys keep serving while the endpoint fails (stale-while-error);
    /// after that verification fails with [`AuthError::Unavailable`].
    #[serde(with = "humantime_serde")]
    pub max_stale: Duration,
    /// The algorithm of RSA keys whose JWK has no `alg` (only `RS256` is supported).
    pub rsa_default_alg: Algorithm,
}

impl Default for RemoteJwksConfig {
    fn default() -> Self {
        Self {
            max_age: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            rsa_default_alg: Algorithm::RS256,
        }
    }
}

impl RemoteJwksConfig {
    /// Sets [`max_age`](Self::max_age).
    pub fn max_age(mut self, d: Duration) -> Self {
        self.max_age = d;
        self
    }

    /// Sets [`min_refetch_interval`](Self::min_refetch_interval).
    pub fn min_refetch_interval(mut self, d: Duration) -> Self {
        self.min_refetch_interval = d;
        self
    }

    /// Sets [`max_stale`](Self::max_stale).
    pub fn max_stale(mut self, d: Duration) -> Self {
        self.max_stale = d;
        self
    }

    /// Checks the settings: `max_stale` at least `max_age`, `rsa_default_alg` RS256.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_stale < self.max_age {
            return Err(ConfigError::new("max_stale", "must be at least `max_age`"));
        }
        if self.rsa_default_alg != Algorithm::RS256 {
            return Err(ConfigError::new("rsa_default_alg", "only RS256 is supported"));
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct Cache {
    keys: Vec<Arc<Key>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// Verification keys from a remote JWKS endpoint, as a [`KeySource`]. Cheap to clone.
///
/// Keys are fetched on first use, refreshed after `max_age`, and refetched when a token
/// names an unknown `kid` — at most once per `min_refetch_interval`, one fetch at a time.
/// When the endpoint fails, cached keys keep serving for up to `max_stale`. Symmetric
/// keys and keys for other algorithms in the document are ignored.
#[derive(Debug, Clone)]
pub struct RemoteJwks {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fetcher: Box<dyn JwksFetcher>,
    cfg: RemoteJwksConfig,
    cache: ArcSwap<Cache>,
    fetching: tokio::sync::Mutex<()>,
}

impl RemoteJwks {
    /// Keys from `fetcher` under `cfg`. Nothing is fetched until the first verification
    /// (or [`refresh`](Self::refresh)).
    pub fn new(fetcher: impl JwksFetcher + 'static, cfg: RemoteJwksConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                fetcher: Box::new(fetcher),
                cfg,
                cache: ArcSwap::from_pointee(Cache::default()),
                fetching: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Fetches now (subject to the refetch interval); `true` when the keys were replaced.
    pub async fn refresh(&self) -> bool {
        let _one = self.inner.fetching.lock().await;
        self.fetch_locked().await
    }

    /// The key ids cached now.
    pub fn cached_kids(&self) -> Vec<String> {
        self.inner.cache.load().keys.iter().map(|k| k.kid().to_owned()).collect()
    }

    fn fresh(&self, cache: &Cache, now: Instant) -> bool {
        cache.fetched_at.is_some_and(|t| now.duration_since(t) < self.inner.cfg.max_age)
    }

    fn may_fetch(&self, cache: &Cache, now: Instant) -> bool {
        cache
            .last_attempt
            .is_none_or(|t| now.duration_since(t) >= self.inner.cfg.min_refetch_interval)
    }

    async fn fetch_locked(&self) -> bool {
        let now = Instant::now();
        let current = self.inner.cache.load_full();
        if !self.may_fetch(&current, now) {
            return false;
        }
        match self.inner.fetcher.fetch().await {
            Ok(set) => {
                let keys = set
                    .keys
                    .iter()
                    .filter_map(|jwk| match Key::from_public_jwk(jwk, self.inner.cfg.rsa_default_alg) {
                        Ok(k) => Some(Arc::new(k)),
                        Err(e) => {
                            tracing::debug!(target: "platform::auth::jwks", error = %e, "JWK skipped");
                            None
                        }
                    })
                    .collect();
                let cache = Cache { keys, fetched_at: Some(now), last_attempt: Some(now) };
                self.inner.cache.store(Arc::new(cache));
                true
            }
            Err(e) => {
                tracing::warn!(
                    target: "platform::auth::jwks",
                    error = %e,
                    cached_keys = current.keys.len(),
                    "JWKS fetch failed; serving cached keys"
                );
                let cache = Cache {
                    keys: current.keys.clone(),
                    fetched_at: current.fetched_at,
                    last_attempt: Some(now),
                };
                self.inner.cache.store(Arc::new(cache));
                false
            }
        }
    }

    async fn resolve_slow(&self, kid: Option<&str>, alg: &str) -> Result<Arc<Key>, AuthError> {
        let _one = self.inner.fetching.lock().await;
        // Another task may have fetched while this one waited.
        let now = Instant::now();
        let cache = self.inner.cache.load_full();
        let found = select(cache.keys.iter(), kid, alg);
        if found.is_ok() && self.fresh(&cache, now) {
            return found;
        }
        self.fetch_locked().await;
        let cache = self.inner.cache.load_full();
        let never_fetched = cache.fetched_at.is_none();
        let too_stale =
            cache.fetched_at.is_some_and(|t| now.duration_since(t) > self.inner.cfg.max_stale);
        if never_fetched || too_stale {
            return Err(AuthError::Unavailable(
                "JWKS endpoint unreachable and no usable cached keys".into(),
            ));
        }
        select(cache.keys.iter(), kid, alg)
    }
}

impl KeySource for RemoteJwks {
    fn resolve_now(&self, kid: Option<&str>, alg: &str) -> Option<Result<Arc<Key>, AuthError>> {
        let now = Instant::now();
        let cache = self.inner.cache.load();
        if !self.fresh(&cache, now) {
            return None;
        }
        match select(cache.keys.iter(), kid, alg) {
            Ok(k) => Some(Ok(k)),
            Err(_) if self.may_fetch(&cache, now) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn resolve<'a>(&'a self, kid: Option<&'a str>, alg: &'a str) -> ResolveFuture<'a> {
        Box::pin(self.resolve_slow(kid, alg))
    }
}
