//! The local (moka) cache: single-flight, negative caching, stale-while-revalidate,
//! failed and cancelled loads, TTL expiry.
#![cfg(feature = "cache")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use platform_core::cache::{Cache, CacheConfig, CacheError};

fn config(ttl: Duration) -> CacheConfig {
    CacheConfig { name: "test".into(), ttl, jitter: 0.0, ..CacheConfig::default() }
}

type LoadFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<Option<String>, std::io::Error>> + Send>>;

/// A loader that counts its runs, waits `delay` (paused clock) and answers `answer`.
fn counted(
    loads: &Arc<AtomicUsize>,
    delay: Duration,
    answer: Option<&str>,
) -> impl FnOnce() -> LoadFuture + Send + 'static {
    let loads = loads.clone();
    let answer = answer.map(str::to_owned);
    move || {
        Box::pin(async move {
            let n = loads.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(delay).await;
            Ok(answer.map(|a| format!("{a}{n}")))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn hundred_concurrent_get_or_load_run_one_load() {
    let cache: Cache<String, String> = Cache::local(config(Duration::from_secs(60))).unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (cache, loader) =
                (cache.clone(), counted(&loads, Duration::from_secs(1), Some("v")));
            tokio::spawn(async move { cache.get_or_load(&"k".to_owned(), loader).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_deref(), Some("v1"));
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    let stats = cache.stats();
    assert_eq!(stats.loads, 1);
    // Later calls are plain hits.
    let key = "k".to_owned();
    let again = cache.get_or_load(&key, counted(&loads, Duration::ZERO, Some("x")));
    assert_eq!(again.await.unwrap().as_deref(), Some("v1"));
    assert_eq!(cache.stats().local_hits, stats.local_hits + 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_load_reaches_every_waiter_and_is_not_cached() {
    let cache: Cache<u32, String> = Cache::local(config(Duration::from_secs(60))).unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (cache, loads) = (cache.clone(), loads.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(&1, move || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        Err::<Option<String>, _>(std::io::Error::other("db down"))
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        let err = t.await.unwrap().unwrap_err();
        assert!(matches!(err, CacheError::Load { .. }), "{err}");
        assert!(err.to_string().contains("db down"), "{err}");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    let ok = cache.get_or_load(&1, counted(&loads, Duration::ZERO, Some("v"))).await.unwrap();
    assert_eq!(ok.as_deref(), Some("v2"), "the failure was not cached");
    assert_eq!(cache.stats().load_failures, 1);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_leader_hands_the_load_to_a_waiter() {
    let cache: Cache<u32, String> = Cache::local(config(Duration::from_secs(60))).unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let leader = {
        let (cache, loader) = (cache.clone(), counted(&loads, Duration::from_secs(10), Some("a")));
        tokio::spawn(async move { cache.get_or_load(&1, loader).await })
    };
    tokio::task::yield_now().await; // the leader starts its load
    let waiter = {
        let (cache, loader) = (cache.clone(), counted(&loads, Duration::from_secs(1), Some("b")));
        tokio::spawn(async move { cache.get_or_load(&1, loader).await })
    };
    tokio::task::yield_now().await; // the waiter joins the flight
    leader.abort();
    assert_eq!(waiter.await.unwrap().unwrap().as_deref(), Some("b2"));
    assert_eq!(loads.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn not_found_is_cached_only_with_negative_caching() {
    let loads = Arc::new(AtomicUsize::new(0));
    let plain: Cache<u32, String> = Cache::local(config(Duration::from_secs(60))).unwrap();
    for _ in 0..2 {
        assert_eq!(
            plain.get_or_load(&1, counted(&loads, Duration::ZERO, None)).await.unwrap(),
            None
        );
    }
    assert_eq!(loads.load(Ordering::SeqCst), 2, "without negative_ttl every miss loads");

    let loads = Arc::new(AtomicUsize::new(0));
    let cfg = CacheConfig {
        negative_ttl: Some(Duration::from_secs(5)),
        ..config(Duration::from_secs(60))
    };
    let negative: Cache<u32, String> = Cache::local(cfg).unwrap();
    for _ in 0..3 {
        assert_eq!(
            negative.get_or_load(&1, counted(&loads, Duration::ZERO, None)).await.unwrap(),
            None
        );
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(negative.stats().negative_hits, 2);
    assert_eq!(negative.get(&1).await.unwrap(), None, "get reports a cached not-found as absent");
    // A set replaces the negative entry.
    negative.set(1, "now".into()).await.unwrap();
    assert_eq!(negative.get(&1).await.unwrap().as_deref(), Some("now"));
}

#[tokio::test(start_paused = true)]
async fn stale_while_revalidate_serves_stale_then_refreshed() {
    let cfg = CacheConfig {
        stale_while_revalidate: Duration::from_secs(60),
        negative_ttl: Some(Duration::from_secs(1)),
        ..config(Duration::from_secs(10))
    };
    let cache: Cache<u32, String> = Cache::local(cfg).unwrap();
    let loads = Arc::new(AtomicUsize::new(0));
    let first = cache.get_or_load(&1, counted(&loads, Duration::ZERO, Some("v"))).await.unwrap();
    assert_eq!(first.as_deref(), Some("v1"));

    tokio::time::advance(Duration::from_secs(11)).await; // stale, inside the grace window
    assert_eq!(cache.get(&1).await.unwrap(), None, "get returns fresh values only");
    for _ in 0..5 {
        // Each call returns the stale value at once; one background refresh runs.
        let v = cache.get_or_load(&1, counted(&loads, Duration::from_secs(2), Some("v")));
        assert_eq!(v.await.unwrap().as_deref(), Some("v1"));
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // the refresh finishes
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    let v = cache.get_or_load(&1, counted(&loads, Duration::ZERO, Some("v"))).await.unwrap();
    assert_eq!(v.as_deref(), Some("v2"));
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    assert_eq!(cache.stats().stale_hits, 5);

    // Past the grace window a stale value is not served: the caller waits for a load.
    tokio::time::advance(Duration::from_secs(80)).await;
    let v =
        cache.get_or_load(&1, counted(&loads, Duration::from_secs(1), Some("v"))).await.unwrap();
    assert_eq!(v.as_deref(), Some("v3"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_stale_value() {
    let cfg = CacheConfig {
        stale_while_revalidate: Duration::from_secs(60),
        ..config(Duration::from_secs(10))
    };
    let cache: Cache<u32, String> = Cache::local(cfg).unwrap();
    cache.set(1, "old".into()).await.unwrap();
    tokio::time::advance(Duration::from_secs(11)).await;
    let v = cache
        .get_or_load(&1, || async { Err::<Option<String>, _>(std::io::Error::other("down")) })
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("old"));
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(cache.stats().load_failures, 1);
    let loads = Arc::new(AtomicUsize::new(0));
    let v = cache.get_or_load(&1, counted(&loads, Duration::ZERO, Some("v"))).await.unwrap();
    assert_eq!(v.as_deref(), Some("old"), "still served stale; a new refresh started");
}

/// moka expires entries on its own clock, which tokio cannot pause: real short TTLs and a
/// bounded wait, no timing assertions.
#[tokio::test]
async fn moka_ttl_expires_entries() {
    let cache: Cache<u32, String> = Cache::local(config(Duration::from_millis(50))).unwrap();
    cache.set(1, "v".into()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cache.get(&1).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "entry never expired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // An explicit TTL overrides the configured one.
    cache.set_with_ttl(2, "long".into(), Duration::from_secs(3600)).await.unwrap();
    assert_eq!(cache.get(&2).await.unwrap().as_deref(), Some("long"));
}

#[tokio::test]
async fn invalidate_and_weight_bound() {
    let cfg = CacheConfig { max_entries: 10, ..config(Duration::from_secs(60)) };
    let cache: Cache<u32, String> =
        Cache::builder(cfg).weigher(|_, v: &String| v.len() as u32).build().unwrap();
    cache.set(1, "abc".into()).await.unwrap();
    cache.invalidate(&1);
    assert_eq!(cache.get(&1).await.unwrap(), None);
    cache.set(2, "x".into()).await.unwrap();
    cache.invalidate_all();
    assert_eq!(cache.get(&2).await.unwrap(), None);
    assert_eq!(cache.stats().local_flushes, 1);
}

/// An invalidation that lands while a load is in flight (on a two-level cache: another
/// node wrote the key) must keep the loaded, possibly outdated, answer out of the local
/// level: the caller still gets it, the next read loads again.
#[tokio::test(start_paused = true)]
async fn a_load_racing_an_invalidation_is_not_cached() {
    let cache: Cache<String, String> = Cache::local(config(Duration::from_secs(60))).unwrap();
    let key = "k".to_owned();
    let loads = Arc::new(AtomicUsize::new(0));
    let loading = cache.clone();
    let inner = counted(&loads, Duration::from_secs(1), Some("old"));
    let load = tokio::spawn(async move { loading.get_or_load(&"k".to_owned(), inner).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    cache.invalidate(&key);
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("old1"));
    assert_eq!(cache.get(&key).await.unwrap(), None, "the raced answer was not kept");
    let again = cache.get_or_load(&key, counted(&loads, Duration::ZERO, Some("new")));
    assert_eq!(again.await.unwrap().as_deref(), Some("new2"));
    assert_eq!(cache.get(&key).await.unwrap().as_deref(), Some("new2"), "an unraced load is kept");

    // A flush voids every fill in flight too.
    let loading = cache.clone();
    let inner = counted(&loads, Duration::from_secs(1), Some("other"));
    let load = tokio::spawn(async move { loading.get_or_load(&"j".to_owned(), inner).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    cache.invalidate_all();
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("other3"));
    assert_eq!(cache.get(&"j".to_owned()).await.unwrap(), None);
}
