//! Caching with single-flight loads, negative caching, TTL jitter and
//! stale-while-revalidate, over a local level (moka), a remote one (Redis) or both.
//!
//! - [`Cache<K, V>`](Cache) is the typed front every backend shares. Its local level keeps
//!   values as they are (a hit is a moka lookup and a clone); its remote level is any
//!   [`CacheStore`] — the byte-level cache trait backends implement — with values
//!   encoded by a [`Codec`] (JSON by default).
//! - [`Cache::get_or_load`] runs one load per key however many callers miss at once,
//!   caches "not found" for `negative_ttl`, jitters every TTL by `± jitter`, and serves a
//!   stale value within `stale_while_revalidate` while one background load refreshes it.
//! - With the `redis` feature: [`RedisStore`] (the Redis backend), two-level caches whose
//!   local copies are invalidated over Redis pub/sub
//!   ([`CacheBuilder::two_level`]), and the [`StampedeLock`] that lets one node across
//!   the cluster load a key.
//! - A fill of the local level (a remote read or a load) that overlaps an invalidation of
//!   its key — another node's write, [`Cache::invalidate`], a flush — is not kept: the
//!   caller gets its answer, the next read goes to the remote store or the loader. An
//!   invalidation message that overtakes a remote reply therefore cannot leave an old
//!   value in the local level until its TTL.
//!
//! Events (hits, misses, loads, invalidations, errors) are `tracing` events at debug
//! level (target `platform::cache`), [`CacheEvent`]s for [`Listeners`], and counters
//! ([`Cache::stats`]). The guide is `docs/cache.md`.
//!
//! A local hit costs a moka lookup, a clone of the value and one relaxed atomic add (the
//! exact hit counter); it allocates nothing, and builds the debug event or calls
//! listeners only when debug tracing is on or a listener is registered. Misses that go to
//! the remote store or the loader box their (large) state machine once, so that the
//! futures of `get` and `get_or_load` stay a few words on the hit path.
//!
//! [`Listeners`]: crate::resilience::Listeners
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use platform_core::cache::{Cache, CacheConfig};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let config = CacheConfig {
//!     name: "users".into(),
//!     ttl: Duration::from_secs(60),
//!     negative_ttl: Some(Duration::from_secs(5)),
//!     ..CacheConfig::default()
//! };
//! let users: Cache<u64, String> = Cache::local(config).unwrap();
//!
//! let loads = Arc::new(AtomicUsize::new(0));
//! for _ in 0..3 {
//!     let loads = loads.clone();
//!     let name = users
//!         .get_or_load(&7, move || async move {
//!             loads.fetch_add(1, Ordering::SeqCst);
//!             Ok::<_, std::io::Error>(Some("ada".to_owned())) // e.g. a database query
//!         })
//!         .await
//!         .unwrap();
//!     assert_eq!(name.as_deref(), Some("ada"));
//! }
//! assert_eq!(loads.load(Ordering::SeqCst), 1); // loaded once, then served from the cache
//! assert_eq!(users.stats().local_hits, 2);
//!
//! users.set(8, "grace".to_owned()).await.unwrap();
//! assert_eq!(users.get(&8).await.unwrap().as_deref(), Some("grace"));
//! users.delete(&8).await.unwrap();
//! assert_eq!(users.get(&8).await.unwrap(), None);
//! # }
//! ```

mod builder;
mod codec;
mod config;
mod entry;
mod error;
mod event;
mod front;
mod gate;
mod get;
mod jitter;
mod load;
mod store;

#[cfg(feature = "redis")]
mod invalidation;
#[cfg(feature = "redis")]
mod lock;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
mod redis_builder;

#[cfg(test)]
mod tests;

pub use builder::CacheBuilder;
pub use codec::{Codec, JsonCodec};
pub use config::{CacheConfig, OnRemoteError};
pub use error::{CacheError, SharedError, StoreError};
pub use event::{CacheEvent, CacheStats, Level};
pub use front::{Cache, CacheKey, CacheValue};
pub use load::Loader;
pub use store::CacheStore;

#[cfg(feature = "redis")]
pub use self::redis::{DEFAULT_REDIS_TIMEOUT, RedisStore};
#[cfg(feature = "redis")]
pub use lock::{LockToken, StampedeLock};

/// The guide's Rust examples (`docs/cache.md`), compiled and run as doctests.
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../../docs/cache.md")]
pub struct GuideDoctests;
