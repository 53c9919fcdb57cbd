//! The registry and config documents on Redis (`control.redis_url`): they outlive a
//! restart of the platform. Skipped without `PLATFORM_TEST_REDIS_URL`.

mod common;

use http::{Method, StatusCode};
use platform_core::test_util::{RedisPrefix, Service};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_config_documents_survive_a_restart_on_redis() {
    let test = "platform_redis";
    let Some(url) = Service::Redis.url_or_skip(test).await else { return };
    let prefix = RedisPrefix::new(test);
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::config(dir.path());
    config.control.redis_url = Some(url.clone());
    config.control.redis_prefix = Some(prefix.as_str().to_owned());

    let first = common::start(&config).await;
    let gw = first.gateway_url();
    let instance = json!({"instance": {"service": "orders", "id": "orders-1", "host": "127.0.0.1", "port": 9000}, "ttl": "60s"});
    let registered =
        common::json(Method::POST, &format!("{gw}/registry/orders/instances"), &instance, None)
            .await;
    assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
    let doc = json!({"format": "toml", "text": "workers = 4\n"});
    let put = common::json(Method::PUT, &format!("{gw}/config/billing/prod"), &doc, None).await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    first.shutdown().await;

    let second = common::start(&config).await;
    let gw = second.gateway_url();
    let doc = common::get(&format!("{gw}/config/billing/prod"), None).await;
    assert_eq!(
        (doc.body["version"].as_u64(), doc.body["text"].as_str()),
        (Some(1), Some("workers = 4\n"))
    );
    let snapshot = common::get(&format!("{gw}/registry/orders"), None).await;
    assert_eq!(
        snapshot.body["instances"][0]["id"], "orders-1",
        "within its TTL: {:?}",
        snapshot.body
    );
    second.shutdown().await;

    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis");
    prefix.cleanup(&mut conn).await.expect("cleanup");
}
