//! Two-level caches on one Redis: pub/sub invalidation between nodes and one load for
//! 100 concurrent callers spread over two nodes.
#![cfg(all(feature = "cache", feature = "redis", feature = "test-util"))]

mod cache_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cache_support::{WAIT, cleanup, config, store};
use platform_core::cache::{Cache, RedisStore, StampedeLock};
use platform_core::test_util::Service;

/// Polls `cond` until it holds, panicking after `WAIT`.
pub(crate) async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn node(store: &RedisStore) -> Cache<String, String> {
    let lock = StampedeLock::new(store).poll_interval(Duration::from_millis(5));
    let cache = Cache::builder(config("profiles"))
        .two_level(store.clone())
        .stampede_lock(lock)
        .build()
        .unwrap();
    let c = cache.clone();
    wait_until("the invalidation subscription", move || c.is_local_live()).await;
    cache
}

#[tokio::test]
async fn a_set_on_one_node_invalidates_the_others_local_copy() {
    let Some(url) = Service::Redis.url_or_skip("cache_two_level_invalidate").await else { return };
    let (store, prefix) = store(&url, "cache_two_level_invalidate");
    let (a, b) = (node(&store).await, node(&store).await);
    let key = "k".to_owned();

    a.set(key.clone(), "v1".into()).await.unwrap();
    // Wait for b to see that write's invalidation too, or it could count for the next one.
    let b2 = b.clone();
    wait_until("b's first invalidation", move || b2.stats().invalidations >= 1).await;
    assert_eq!(b.get(&key).await.unwrap().as_deref(), Some("v1")); // from Redis
    assert_eq!(b.get(&key).await.unwrap().as_deref(), Some("v1")); // from b's local level
    assert_eq!((b.stats().remote_hits, b.stats().local_hits), (1, 1));

    a.set(key.clone(), "v2".into()).await.unwrap();
    let b2 = b.clone();
    wait_until("b's second invalidation", move || b2.stats().invalidations >= 2).await;
    assert_eq!(b.get(&key).await.unwrap().as_deref(), Some("v2"));
    assert_eq!(a.stats().invalidations, 0, "a node ignores its own messages");

    a.delete(&key).await.unwrap();
    let b2 = b.clone();
    wait_until("b's third invalidation", move || b2.stats().invalidations >= 3).await;
    assert_eq!(b.get(&key).await.unwrap(), None);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn hundred_concurrent_get_or_load_over_two_nodes_run_one_load() {
    let Some(url) = Service::Redis.url_or_skip("cache_two_level_single_flight").await else {
        return;
    };
    let (store, prefix) = store(&url, "cache_two_level_single_flight");
    let nodes = [node(&store).await, node(&store).await];
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (cache, loads) = (nodes[i % 2].clone(), loads.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(&"hot".to_owned(), move || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok::<_, std::io::Error>(Some("value".to_owned()))
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_deref(), Some("value"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn the_local_level_is_bypassed_until_subscribed() {
    // Nothing listens on port 1: the subscription never comes up.
    let client = redis::Client::open("redis://127.0.0.1:1").unwrap();
    let store = RedisStore::new(client, "down:").timeout(Duration::from_millis(100));
    let cache: Cache<String, String> =
        Cache::builder(config("dark")).two_level(store).build().unwrap();
    assert!(!cache.is_local_live());
    let loads = Arc::new(AtomicUsize::new(0));
    for _ in 0..2 {
        let l = loads.clone();
        let v = cache
            .get_or_load(&"k".to_owned(), move || async move {
                l.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(Some("v".to_owned()))
            })
            .await
            .unwrap();
        assert_eq!(v.as_deref(), Some("v"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 2, "no local copy is trusted without invalidations");
}
