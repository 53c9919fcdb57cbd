//! Every messaging backend through the shared conformance suite.
#![cfg(all(feature = "messaging", feature = "store", feature = "test-util"))]

use std::time::Duration;

use platform_core::messaging::conformance::Suite;
use platform_core::messaging::{MemoryBroker, SqlQueue, SqlQueueConfig};
use platform_core::store::{Store, StoreConfig};
use platform_core::test_util::{PgSchema, Service};

fn fast() -> SqlQueueConfig {
    SqlQueueConfig::default().poll_interval(Duration::from_millis(20))
}

#[tokio::test(start_paused = true)]
async fn memory() {
    Suite::new(MemoryBroker::default(), "mem").run_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_on_real_time_and_threads() {
    Suite::new(MemoryBroker::default(), "mem-mt")
        .visibility_timeout(Duration::from_millis(200))
        .run_all()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory() {
    let store = Store::connect("sqlite::memory:").await.expect("store");
    let queue = SqlQueue::with_config(store, fast()).await.expect("queue");
    Suite::new(queue, "lite").run_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file() {
    let dir = std::env::temp_dir().join(format!("platform-msg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("queue.db").display());
    let store = Store::connect(&url).await.expect("store");
    let queue = SqlQueue::with_config(store.clone(), fast()).await.expect("queue");
    Suite::new(queue, "file").run_all().await;
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(url) = Service::Postgres.url_or_skip("messaging_postgres").await else { return };
    let schema = PgSchema::create(&url, "msg_conformance").await.expect("schema");
    let store = Store::from_config(&StoreConfig::new(&url).with_schema(schema.name()))
        .await
        .expect("store");
    let queue = SqlQueue::with_config(store.clone(), fast()).await.expect("queue");
    Suite::new(queue, "pg").run_all().await;
    store.close().await;
    schema.cleanup().await.expect("cleanup");
}
