//! The cache's error type.

use std::error::Error as StdError;
use std::sync::Arc;

/// A shared error source: errors are cloned to every caller waiting on one load.
pub type SharedError = Arc<dyn StdError + Send + Sync>;

/// Why a cache operation failed.
///
/// Cloneable, so one failed load can be reported to every caller that waited on it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The loader passed to [`Cache::get_or_load`](super::Cache::get_or_load) failed. The
    /// failure is not cached; the next call loads again.
    #[error("cache `{cache}`: loading the value failed: {source}")]
    Load {
        /// The cache's name.
        cache: Arc<str>,
        /// The loader's error.
        #[source]
        source: SharedError,
    },
    /// The remote store (Redis) failed or did not answer in time.
    #[error("cache `{cache}`: remote store failed to {op}: {source}")]
    Remote {
        /// The cache's name.
        cache: Arc<str>,
        /// What was being done (`get`, `set`, `delete`, `lock`, `unlock`, `publish`).
        op: &'static str,
        /// The store's error.
        #[source]
        source: SharedError,
    },
    /// A value read from the remote store could not be decoded (written by another
    /// version of the value type, or not by this cache at all), or a value could not be
    /// encoded.
    #[error("cache `{cache}`: cannot {op} the value of key `{key}`: {source}")]
    Codec {
        /// The cache's name.
        cache: Arc<str>,
        /// `encode` or `decode`.
        op: &'static str,
        /// The key whose value failed.
        key: String,
        /// The codec's error.
        #[source]
        source: SharedError,
    },
}

impl CacheError {
    /// `true` for [`CacheError::Remote`]: the store, not the data or the loader, failed.
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Remote { .. })
    }
}

/// A remote store's failure, before the cache adds its name (what [`CacheStore`]
/// implementations return).
///
/// [`CacheStore`]: super::CacheStore
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op}: {source}")]
pub struct StoreError {
    /// What was being done.
    pub op: &'static str,
    /// The underlying error.
    #[source]
    pub source: SharedError,
}

impl StoreError {
    /// A failure of `op` caused by `source`.
    pub fn new(op: &'static str, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self { op, source: Arc::from(source.into()) }
    }

    pub(crate) fn into_cache_error(self, cache: &Arc<str>) -> CacheError {
        CacheError::Remote { cache: cache.clone(), op: self.op, source: self.source }
    }
}
