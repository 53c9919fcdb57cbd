//! The distributed rate limiter against real Redis (skipped without
//! `PLATFORM_TEST_REDIS_URL`), and its failure policies against an unreachable Redis (a
//! deliberately closed port, so those always run).

#![cfg(all(feature = "redis", feature = "test-util"))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use platform_core::error::{BoxError, Overloaded, RateLimited};
use platform_core::resilience::Listeners;
use platform_core::resilience::key::KeyFn;
use platform_core::resilience::rate_limit::{
    ManualClock, OnRedisFailure, QuotaConfig, RateLimitConfig, RateLimitEvent, RateLimitLayer,
    RedisConfig,
};
use platform_core::test_util::{RedisPrefix, Service as TestService};
use tower::{Layer, Service, ServiceExt, service_fn};

const UNREACHABLE: &str = "redis://127.0.0.1:1";

fn echo() -> impl Service<u32, Response = u32, Error = BoxError, Future = impl Send> + Clone + Send
{
    service_fn(|x: u32| async move { Ok::<_, BoxError>(x) })
}

fn distributed(rate: u32, burst: u32, redis: RedisConfig) -> RateLimitConfig {
    RateLimitConfig::builder()
        .rate(rate, Duration::from_secs(1))
        .burst(burst)
        .redis(redis)
        .build()
        .expect("valid")
}

async fn hit<S>(svc: &mut S, x: u32) -> Result<u32, BoxError>
where
    S: Service<u32, Response = u32, Error = BoxError>,
{
    svc.ready().await?.call(x).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_quota_within_5_percent() {
    let Some(url) = TestService::Redis.url_or_skip("rate_limit_two_instances").await else {
        return;
    };
    let prefix = RedisPrefix::new("rl_two_instances");
    let (rate, burst) = (400, 40);
    let redis = RedisConfig::new(&url, OnRedisFailure::FailClosed)
        .with_prefix(prefix.as_str())
        .with_timeout(Duration::from_secs(1));
    let instances = [
        RateLimitLayer::from_config(distributed(rate, burst, redis.clone())).expect("a"),
        RateLimitLayer::from_config(distributed(rate, burst, redis)).expect("b"),
    ];
    let admitted = Arc::new(AtomicU64::new(0));
    let run_for = Duration::from_millis(1500);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for layer in &instances {
        for _ in 0..4 {
            let mut svc = layer.layer(echo());
            let admitted = admitted.clone();
            tasks.push(tokio::spawn(async move {
                while start.elapsed() < run_for {
                    match hit(&mut svc, 1).await {
                        Ok(_) => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => assert!(e.is::<RateLimited>(), "unexpected error: {e}"),
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let quota = f64::from(burst) + f64::from(rate) * elapsed;
    let got = admitted.load(Ordering::Relaxed) as f64;
    let off = (got - quota).abs() / quota;
    assert!(
        off <= 0.05,
        "admitted {got} vs quota {quota:.0} over {elapsed:.3}s ({:.1}% off)",
        off * 100.0
    );
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    prefix.cleanup(&mut conn).await.expect("cleanup");
}

#[tokio::test]
async fn keyed_buckets_and_overrides_in_redis() {
    let Some(url) = TestService::Redis.url_or_skip("rate_limit_redis_keyed").await else { return };
    let prefix = RedisPrefix::new("rl_keyed");
    let mut cfg = distributed(
        1,
        2,
        RedisConfig::new(&url, OnRedisFailure::FailClosed).with_prefix(prefix.as_str()),
    );
    cfg.overrides.insert("9".into(), QuotaConfig::new(1, Duration::from_secs(1)).with_burst(4));
    let f: fn(&u32) -> Option<u32> = |x| Some(*x);
    let layer = RateLimitLayer::keyed(cfg, KeyFn::new(f)).expect("layer");
    let mut svc = layer.layer(echo());
    for key in [1, 2] {
        assert!(hit(&mut svc, key).await.is_ok());
        assert!(hit(&mut svc, key).await.is_ok());
        let err = hit(&mut svc, key).await.expect_err("burst of 2 spent");
        let after = err.downcast_ref::<RateLimited>().expect("RateLimited").retry_after();
        assert!(after > Duration::ZERO && after <= Duration::from_secs(1), "{after:?}");
    }
    for _ in 0..4 {
        assert!(hit(&mut svc, 9).await.is_ok(), "override burst of 4");
    }
    assert!(hit(&mut svc, 9).await.is_err());
    assert!(!layer.is_degraded());
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}k:1", prefix.as_str()))
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!(ttl > 0 && ttl <= 2_001, "a bucket expires once full again: {ttl}ms");
    prefix.cleanup(&mut conn).await.expect("cleanup");
}

fn recorder() -> (Listeners<RateLimitEvent>, Arc<Mutex<Vec<RateLimitEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let l =
        Listeners::new().with(move |e: &RateLimitEvent| s.lock().expect("lock").push(e.clone()));
    (l, seen)
}

fn degraded_events(seen: &Mutex<Vec<RateLimitEvent>>) -> usize {
    seen.lock()
        .expect("lock")
        .iter()
        .filter(|e| matches!(e, RateLimitEvent::RedisDegraded { .. }))
        .count()
}

#[tokio::test]
async fn unreachable_redis_fail_open_admits_everything() {
    let (listeners, seen) = recorder();
    let cfg = distributed(1, 1, RedisConfig::new(UNREACHABLE, OnRedisFailure::FailOpen));
    let layer = RateLimitLayer::from_config(cfg).expect("layer").with_listeners(listeners);
    let mut svc = layer.layer(echo());
    for i in 0..20 {
        assert_eq!(hit(&mut svc, i).await.expect("fail-open admits"), i);
    }
    assert!(layer.is_degraded());
    assert_eq!(degraded_events(&seen), 1, "one event when switching into degraded mode");
}

#[tokio::test]
async fn unreachable_redis_fail_closed_rejects_with_overloaded() {
    let (listeners, seen) = recorder();
    let cfg = distributed(1000, 1000, RedisConfig::new(UNREACHABLE, OnRedisFailure::FailClosed));
    let layer = RateLimitLayer::from_config(cfg).expect("layer").with_listeners(listeners);
    let mut svc = layer.layer(echo());
    for i in 0..5 {
        let err = hit(&mut svc, i).await.expect_err("fail-closed rejects");
        assert!(err.is::<Overloaded>(), "{err}");
    }
    assert_eq!(degraded_events(&seen), 1);
}

#[tokio::test]
async fn unreachable_redis_local_fallback_enforces_limit_over_n() {
    let clock = ManualClock::new();
    // 40/s with a burst of 8 shared by 4 instances: 10/s and a burst of 2 each.
    let cfg = distributed(
        40,
        8,
        RedisConfig::new(UNREACHABLE, OnRedisFailure::LocalFallback { instances: 4 }),
    );
    let layer = RateLimitLayer::from_config(cfg).expect("layer").with_clock(clock.clone().into());
    let mut svc = layer.layer(echo());
    assert!(hit(&mut svc, 0).await.is_ok());
    assert!(hit(&mut svc, 1).await.is_ok());
    let err = hit(&mut svc, 2).await.expect_err("local burst of 2 spent");
    let limited = err.downcast_ref::<RateLimited>().expect("RateLimited");
    assert_eq!(limited.retry_after(), Duration::from_millis(100), "10/s locally");
    clock.advance(Duration::from_millis(100));
    assert!(hit(&mut svc, 3).await.is_ok());
    assert!(layer.is_degraded());
}

#[tokio::test]
async fn shadow_mode_lets_fail_closed_through() {
    let mut cfg = distributed(1, 1, RedisConfig::new(UNREACHABLE, OnRedisFailure::FailClosed));
    cfg.mode = platform_core::resilience::Mode::Shadow;
    let mut svc = RateLimitLayer::from_config(cfg).expect("layer").layer(echo());
    for i in 0..3 {
        assert!(hit(&mut svc, i).await.is_ok());
    }
}
