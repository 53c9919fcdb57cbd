//! The Redis backend against a real Redis: round trips, negative entries, the stampede
//! lock across two nodes, and behaviour when Redis is down.
#![cfg(all(feature = "cache", feature = "redis", feature = "test-util"))]

mod cache_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cache_support::{cleanup, config, store};
use platform_core::cache::{
    Cache, CacheConfig, CacheEvent, OnRemoteError, RedisStore, StampedeLock,
};
use platform_core::resilience::Listeners;
use platform_core::test_util::Service;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    name: String,
    avatar: Vec<u8>,
}

#[tokio::test]
async fn redis_backend_round_trips_typed_values() {
    let Some(url) = Service::Redis.url_or_skip("cache_redis_round_trip").await else { return };
    let (store, prefix) = store(&url, "cache_redis_round_trip");
    let cfg = CacheConfig { negative_ttl: Some(Duration::from_secs(30)), ..config("users") };
    let writer: Cache<u64, User> =
        Cache::builder(cfg.clone()).redis(store.clone()).local_level(false).build().unwrap();
    let reader: Cache<u64, User> =
        Cache::builder(cfg).redis(store).local_level(false).build().unwrap();

    let ada = User { name: "ada".into(), avatar: vec![0, 159, 255] };
    writer.set(1, ada.clone()).await.unwrap();
    assert_eq!(reader.get(&1).await.unwrap(), Some(ada.clone()));
    assert_eq!(reader.stats().remote_hits, 1);

    // A negative entry written by one node is a negative hit on another.
    let none = writer.get_or_load(&2, || async { Ok::<_, std::io::Error>(None) }).await.unwrap();
    assert_eq!(none, None);
    let loads = Arc::new(AtomicUsize::new(0));
    let l = loads.clone();
    let got = reader
        .get_or_load(&2, move || async move {
            l.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(Some(User { name: "x".into(), avatar: vec![] }))
        })
        .await
        .unwrap();
    assert_eq!(got, None);
    assert_eq!(loads.load(Ordering::SeqCst), 0);
    assert_eq!(reader.stats().negative_hits, 1);

    // The value really is in Redis, with a TTL.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let pttl: i64 = redis::cmd("PTTL").arg(prefix.key("v:1")).query_async(&mut conn).await.unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "{pttl}");

    writer.delete(&1).await.unwrap();
    assert_eq!(reader.get(&1).await.unwrap(), None);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn stampede_lock_lets_one_node_load() {
    let Some(url) = Service::Redis.url_or_skip("cache_stampede").await else { return };
    let (store, prefix) = store(&url, "cache_stampede");
    let node = || {
        let lock = StampedeLock::new(&store).poll_interval(Duration::from_millis(5));
        Cache::<String, String>::builder(config("report"))
            .redis(store.clone())
            .local_level(false)
            .stampede_lock(lock)
            .build()
            .unwrap()
    };
    let (a, b) = (node(), node());
    let loads = Arc::new(AtomicUsize::new(0));
    let load = |cache: Cache<String, String>| {
        let loads = loads.clone();
        tokio::spawn(async move {
            cache
                .get_or_load(&"q".to_owned(), move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await; // an expensive query
                    Ok::<_, std::io::Error>(Some("result".to_owned()))
                })
                .await
        })
    };
    let (ra, rb) = (load(a.clone()), load(b.clone()));
    assert_eq!(ra.await.unwrap().unwrap().as_deref(), Some("result"));
    assert_eq!(rb.await.unwrap().unwrap().as_deref(), Some("result"));
    assert_eq!(loads.load(Ordering::SeqCst), 1, "one load across both nodes");
    assert_eq!(a.stats().lock_waits + b.stats().lock_waits, 1);
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn stampede_lock_release_is_compare_and_delete() {
    let Some(url) = Service::Redis.url_or_skip("cache_lock_release").await else { return };
    let (store, prefix) = store(&url, "cache_lock_release");
    let lock = StampedeLock::new(&store).ttl(Duration::from_millis(50));
    let first = lock.try_acquire("k").await.unwrap().expect("free");
    assert!(lock.try_acquire("k").await.unwrap().is_none(), "held");
    // The lease runs out and another node takes the lock...
    let deadline = tokio::time::Instant::now() + cache_support::WAIT;
    let second = loop {
        if let Some(t) = lock.try_acquire("k").await.unwrap() {
            break t;
        }
        assert!(tokio::time::Instant::now() < deadline, "lease never expired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // ...so the first holder's late release must not delete the second holder's lock.
    assert!(!lock.release(first).await.unwrap());
    assert!(lock.try_acquire("k").await.unwrap().is_none(), "still held by the second");
    assert!(lock.release(second).await.unwrap());
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn redis_down_reads_are_misses_or_errors_as_configured() {
    // Nothing listens on port 1: every command fails fast.
    let client = redis::Client::open("redis://127.0.0.1:1").unwrap();
    let store = RedisStore::new(client, "down:").timeout(Duration::from_millis(200));
    let events = Arc::new(AtomicUsize::new(0));
    let seen = events.clone();
    let listeners = Listeners::new().with(move |e: &CacheEvent| {
        if matches!(e, CacheEvent::RemoteError { .. }) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let miss: Cache<u32, String> =
        Cache::builder(config("down")).redis(store.clone()).listeners(listeners).build().unwrap();
    let v =
        miss.get_or_load(&1, || async { Ok::<_, std::io::Error>(Some("from db".into())) }).await;
    assert_eq!(v.unwrap().as_deref(), Some("from db"), "an outage costs a load, not an error");
    assert!(events.load(Ordering::SeqCst) >= 1);
    assert!(miss.stats().remote_errors >= 1);

    let cfg = CacheConfig { on_remote_error: OnRemoteError::Fail, ..config("down") };
    let fail: Cache<u32, String> = Cache::builder(cfg).redis(store).build().unwrap();
    let err = fail.get(&1).await.unwrap_err();
    assert!(err.is_remote(), "{err}");
    assert!(fail.set(1, "x".into()).await.unwrap_err().is_remote());
}
