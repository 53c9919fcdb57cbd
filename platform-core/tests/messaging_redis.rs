//! The Redis Streams backend through the shared conformance suite, against a real Redis
//! (skipped without `PLATFORM_TEST_REDIS_URL`).

#![cfg(all(feature = "messaging", feature = "redis", feature = "test-util"))]

use std::time::Duration;

use platform_core::messaging::conformance::Suite;
use platform_core::messaging::{RedisStreams, RedisStreamsConfig};
use platform_core::test_util::{RedisPrefix, Service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    let Some(url) = Service::Redis.url_or_skip("messaging_redis_conformance").await else {
        return;
    };
    let prefix = RedisPrefix::new("msg_conformance");
    let config = RedisStreamsConfig::new(&url)
        .prefix(prefix.as_str())
        .block(Duration::from_millis(200))
        .max_len(Some(10_000));
    let streams = RedisStreams::new(config).expect("config");
    Suite::new(streams, "rs").run_all().await;
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    prefix.cleanup(&mut conn).await.expect("cleanup");
}
