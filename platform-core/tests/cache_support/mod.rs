//! Helpers shared by the Redis-backed `cache_*` integration tests.

use std::time::Duration;

use platform_core::cache::{CacheConfig, RedisStore};
use platform_core::test_util::RedisPrefix;

/// Upper bound of every wait; tests wait for a condition, never for a fixed time.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) fn config(name: &str) -> CacheConfig {
    CacheConfig {
        name: name.into(),
        ttl: Duration::from_secs(60),
        jitter: 0.0,
        ..CacheConfig::default()
    }
}

/// A store under a fresh prefix, and the prefix for cleanup.
pub(crate) fn store(url: &str, test: &str) -> (RedisStore, RedisPrefix) {
    let prefix = RedisPrefix::new(test);
    let client = redis::Client::open(url).expect("url");
    (RedisStore::new(client, prefix.as_str()), prefix)
}

/// Deletes the test's keys.
pub(crate) async fn cleanup(url: &str, prefix: &RedisPrefix) {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    prefix.cleanup(&mut conn).await.expect("cleanup");
}
