//! Every registry backend through the one conformance suite. The Redis run is skipped
//! without `PLATFORM_TEST_REDIS_URL`.

#![cfg(all(feature = "registry", feature = "test-util"))]

use std::sync::Arc;

use platform_core::registry::conformance::{self, Settings};
use platform_core::registry::{MemoryRegistry, Registry};

#[tokio::test(start_paused = true)]
async fn memory_backend_conforms() {
    conformance::run_all("memory", Settings::default(), || async {
        let registry = MemoryRegistry::new();
        (Arc::new(registry.clone()) as Arc<dyn Registry>, Arc::new(registry) as Arc<dyn Registry>)
    })
    .await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_backend_conforms() {
    use std::time::Duration;

    use platform_core::registry::{RedisRegistry, RedisRegistryConfig};
    use platform_core::test_util::{RedisPrefix, Service};

    let Some(url) = Service::Redis.url_or_skip("registry_redis_conformance").await else { return };
    let prefixes = std::sync::Mutex::new(Vec::new());
    // A 2 s TTL renews every 667 ms: slack for a loaded CI machine.
    let settings = Settings { ttl: Duration::from_secs(2), wait: Duration::from_secs(15) };
    conformance::run_all("redis", settings, || {
        let prefix = RedisPrefix::new("registry_conformance");
        let config = RedisRegistryConfig::new(&url)
            .with_prefix(prefix.as_str())
            .with_reconcile_interval(Duration::from_millis(200));
        prefixes.lock().unwrap().push(prefix);
        async move {
            let a = RedisRegistry::new(config.clone()).expect("config");
            let b = RedisRegistry::new(config).expect("config");
            (Arc::new(a) as Arc<dyn Registry>, Arc::new(b) as Arc<dyn Registry>)
        }
    })
    .await;
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    for prefix in prefixes.into_inner().unwrap() {
        prefix.cleanup(&mut conn).await.expect("cleanup");
    }
}
