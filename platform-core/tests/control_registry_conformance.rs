//! `HttpRegistry` passes the registry conformance suite against an in-process control
//! plane backed by `MemoryRegistry` (and, with `PLATFORM_TEST_REDIS_URL`, by
//! `RedisRegistry`).

#![cfg(all(feature = "control", feature = "http-client", feature = "test-util"))]

mod control_support;

use std::sync::Arc;
use std::time::Duration;

use control_support::TestServer;
use platform_core::control::MemoryConfigStore;
use platform_core::registry::conformance::{self, Settings};
use platform_core::registry::{HttpRegistry, MemoryRegistry, Registry};

/// Real sockets and real time: a 1 s TTL heartbeats every 333 ms, slack for a loaded
/// machine.
const SETTINGS: Settings = Settings { ttl: Duration::from_secs(1), wait: Duration::from_secs(15) };

async fn clients(backend: Arc<dyn Registry>) -> (Arc<dyn Registry>, Arc<dyn Registry>) {
    let server = TestServer::start(backend, Arc::new(MemoryConfigStore::new())).await;
    let a = HttpRegistry::new(&server.url()).expect("url");
    let b = HttpRegistry::new(&server.url()).expect("url");
    // The server runs until the test's runtime ends.
    std::mem::forget(server);
    (Arc::new(a), Arc::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_registry_over_memory_conforms() {
    conformance::run_all("http+memory", SETTINGS, || clients(Arc::new(MemoryRegistry::new())))
        .await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_registry_over_redis_conforms() {
    use platform_core::registry::{RedisRegistry, RedisRegistryConfig};
    use platform_core::test_util::{RedisPrefix, Service};

    let Some(url) = Service::Redis.url_or_skip("control_registry_redis").await else { return };
    let prefixes = std::sync::Mutex::new(Vec::new());
    let settings = Settings { ttl: Duration::from_secs(2), wait: Duration::from_secs(20) };
    conformance::run_all("http+redis", settings, || {
        let prefix = RedisPrefix::new("control_conformance");
        let config = RedisRegistryConfig::new(&url)
            .with_prefix(prefix.as_str())
            .with_reconcile_interval(Duration::from_millis(200));
        prefixes.lock().unwrap().push(prefix);
        clients(Arc::new(RedisRegistry::new(config).expect("config")))
    })
    .await;
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    for prefix in prefixes.into_inner().unwrap() {
        prefix.cleanup(&mut conn).await.expect("cleanup");
    }
}
