//! The byte-level store trait remote backends implement.

use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;

use super::error::StoreError;

/// A shared byte store with per-key TTL: the remote level of a [`Cache`](super::Cache).
///
/// This is the cache trait backends implement (Redis ships with the crate under the
/// `redis` feature). It is object safe: the cache holds it as `Arc<dyn CacheStore>`, so one
/// typed front serves every backend. Keys arrive without the backend's prefix; values are
/// opaque bytes (the cache adds a small header and encodes values with its
/// [`Codec`](super::Codec)).
pub trait CacheStore: Debug + Send + Sync + 'static {
    /// The bytes stored under `key`, or `None`.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, StoreError>>;

    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: Bytes,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes `key` (no error when it is absent).
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
}
