//! `RedisDocumentStore` against a real Redis (skipped without `PLATFORM_TEST_REDIS_URL`):
//! compare-and-set, capped history, watch, and the layout `RedisConfigStore` reads.

#![cfg(all(feature = "control", feature = "redis", feature = "test-util"))]

use std::time::Duration;

use futures_util::StreamExt;
use platform_core::config::{Format, RedisConfigStore};
use platform_core::control::{ConfigStore, ConfigStoreError, RedisDocumentStore};
use platform_core::test_util::{RedisPrefix, Service};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_versions_history_and_watch() {
    let Some(url) = Service::Redis.url_or_skip("control_config_redis").await else { return };
    let prefix = RedisPrefix::new("control_config");
    let client = redis::Client::open(url.as_str()).unwrap();
    let store = RedisDocumentStore::new(client.clone(), prefix.as_str())
        .history_len(2)
        .reconcile_interval(Duration::from_millis(200));

    assert_eq!(store.get("billing", "prod").await.unwrap(), None);
    let v1 = store.put("billing", "prod", Format::Toml, "workers = 1\n", Some(0)).await.unwrap();
    assert_eq!(v1.version, 1);
    assert!(v1.updated_at_ms > 0);
    let mut watch = store.watch("billing", "prod").await.unwrap();
    let first = tokio::time::timeout(WAIT, watch.next()).await.unwrap().unwrap();
    assert_eq!(first.version, 1, "the current document first");

    store.put("billing", "prod", Format::Yaml, "workers: 2\n", Some(1)).await.unwrap();
    let err =
        store.put("billing", "prod", Format::Toml, "workers = 9\n", Some(1)).await.unwrap_err();
    assert!(matches!(err, ConfigStoreError::Conflict { expected: 1, current: 2 }), "{err:?}");
    let pushed = tokio::time::timeout(WAIT, watch.next()).await.unwrap().unwrap();
    assert_eq!((pushed.version, pushed.format), (2, Format::Yaml));
    store.put("billing", "prod", Format::Json, "{\"workers\": 3}", None).await.unwrap();

    let history = store.history("billing", "prod", 10).await.unwrap();
    assert_eq!(history.iter().map(|d| d.version).collect::<Vec<_>>(), [3, 2], "capped at 2");
    assert_eq!(store.get("billing", "prod").await.unwrap().unwrap().text, "{\"workers\": 3}");
    // Processes reading Redis directly see the service's writes.
    let direct = RedisConfigStore::new(client.clone(), prefix.as_str(), "billing", "prod");
    assert_eq!(direct.get().await.unwrap().unwrap().version, 3);
    assert!(matches!(
        store.put("billing", "prod", Format::Toml, "workers = = 1", None).await,
        Err(ConfigStoreError::Invalid { field: "text", .. })
    ));

    drop(watch);
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    prefix.cleanup(&mut conn).await.unwrap();
}
