use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;

use super::*;
use crate::error::{BoxError, RateLimited};
use crate::resilience::Listeners;
use crate::resilience::key::KeyFn;

type Echo = tower::util::ServiceFn<fn(u32) -> std::future::Ready<Result<u32, BoxError>>>;

fn echo() -> Echo {
    service_fn(|x: u32| std::future::ready(Ok(x)))
}

fn cfg(rate: u32, burst: u32) -> RateLimitConfig {
    RateLimitConfig::builder()
        .rate(rate, Duration::from_secs(1))
        .burst(burst)
        .build()
        .expect("valid")
}

/// `Ok(())` when admitted, `Err(retry_after)` when refused.
async fn hit<S>(svc: &mut S, x: u32) -> Result<(), Duration>
where
    S: Service<u32, Response = u32, Error = BoxError>,
{
    match svc.ready().await.expect("ready").call(x).await {
        Ok(_) => Ok(()),
        Err(e) => Err(e.downcast_ref::<RateLimited>().expect("RateLimited").retry_after()),
    }
}

fn recorder() -> (Listeners<RateLimitEvent>, Arc<Mutex<Vec<RateLimitEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let l =
        Listeners::new().with(move |e: &RateLimitEvent| s.lock().expect("lock").push(e.clone()));
    (l, seen)
}

#[tokio::test]
async fn burst_then_reject_with_exact_retry_after_then_refill() {
    let clock = ManualClock::new();
    let layer =
        RateLimitLayer::from_config(cfg(10, 3)).expect("layer").with_clock(clock.clone().into());
    let mut svc = layer.layer(echo());
    for i in 0..3 {
        assert_eq!(hit(&mut svc, i).await, Ok(()), "burst call {i}");
    }
    assert_eq!(hit(&mut svc, 3).await, Err(Duration::from_millis(100)));
    clock.advance(Duration::from_millis(40));
    assert_eq!(hit(&mut svc, 4).await, Err(Duration::from_millis(60)));
    clock.advance(Duration::from_millis(60));
    assert_eq!(hit(&mut svc, 5).await, Ok(()), "one request refilled after 100ms");
    assert!(hit(&mut svc, 6).await.is_err());
    clock.advance(Duration::from_secs(10));
    for i in 0..3 {
        assert_eq!(hit(&mut svc, i).await, Ok(()), "full burst again after idling");
    }
    assert!(hit(&mut svc, 9).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn tokio_clock_follows_paused_time() {
    let layer =
        RateLimitLayer::from_config(cfg(2, 1)).expect("layer").with_clock(RateLimitClock::tokio());
    let mut svc = layer.layer(echo());
    assert_eq!(hit(&mut svc, 0).await, Ok(()));
    assert_eq!(hit(&mut svc, 1).await, Err(Duration::from_millis(500)));
    tokio::time::advance(Duration::from_millis(500)).await;
    assert_eq!(hit(&mut svc, 2).await, Ok(()));
}

#[tokio::test]
async fn clones_and_services_share_one_limit() {
    let clock = ManualClock::new();
    let layer = RateLimitLayer::from_config(cfg(10, 4)).expect("layer").with_clock(clock.into());
    let mut a = layer.layer(echo());
    let mut b = layer.clone().layer(echo());
    let mut c = a.clone();
    let mut admitted = 0;
    for i in 0..4 {
        for svc in [&mut a, &mut b, &mut c] {
            admitted += u32::from(hit(svc, i).await.is_ok());
        }
    }
    assert_eq!(admitted, 4, "one bucket of 4 across every clone");
}

#[tokio::test]
async fn reservation_is_not_cloned() {
    let clock = ManualClock::new();
    let layer = RateLimitLayer::from_config(cfg(10, 1)).expect("layer").with_clock(clock.into());
    let mut a = layer.layer(echo());
    a.ready().await.expect("ready"); // reserves the only token
    let mut b = a.clone();
    assert!(hit(&mut b, 0).await.is_err(), "the clone has no reservation and the bucket is empty");
    assert_eq!(a.call(1).await.expect("reserved token used"), 1);
}

#[tokio::test]
async fn rejection_reaches_listeners_and_inner_is_not_called() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let inner = service_fn(move |x: u32| {
        c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::future::ready(Ok::<_, BoxError>(x))
    });
    let (listeners, seen) = recorder();
    let layer = RateLimitLayer::from_config(cfg(1, 1))
        .expect("layer")
        .with_clock(ManualClock::new().into())
        .with_listeners(listeners);
    let mut svc = layer.layer(inner);
    assert!(hit(&mut svc, 0).await.is_ok());
    assert_eq!(hit(&mut svc, 1).await, Err(Duration::from_secs(1)));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![RateLimitEvent::Rejected { key: None, retry_after: Duration::from_secs(1) }]
    );
}

#[tokio::test]
async fn shadow_mode_reports_but_admits() {
    let (listeners, seen) = recorder();
    let mut c = cfg(10, 2);
    c.mode = crate::resilience::Mode::Shadow;
    let layer = RateLimitLayer::from_config(c)
        .expect("layer")
        .with_clock(ManualClock::new().into())
        .with_listeners(listeners);
    let mut svc = layer.layer(echo());
    for i in 0..5 {
        assert_eq!(hit(&mut svc, i).await, Ok(()));
    }
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 3, "three would-be rejections: {seen:?}");
    assert!(seen.iter().all(|e| matches!(e, RateLimitEvent::ShadowRejected { .. })));
}

#[tokio::test]
async fn reconfiguration_keeps_bucket_state() {
    let clock = ManualClock::new();
    let (listeners, seen) = recorder();
    let layer = RateLimitLayer::from_config(cfg(10, 2))
        .expect("layer")
        .with_clock(clock.clone().into())
        .with_listeners(listeners);
    let mut svc = layer.layer(echo());
    assert!(hit(&mut svc, 0).await.is_ok());
    assert!(hit(&mut svc, 1).await.is_ok());
    assert!(hit(&mut svc, 2).await.is_err());
    // Same quota again: the exhausted bucket stays exhausted (no reset).
    layer.reconfigure(&cfg(10, 2)).expect("valid");
    assert!(hit(&mut svc, 3).await.is_err(), "reconfiguring must not grant a new burst");
    // A bigger burst applies at once, on top of the debt carried over (200ms of 500ms).
    layer.reconfigure(&cfg(10, 5)).expect("valid");
    let admitted = {
        let mut n = 0;
        for i in 0..10 {
            n += u32::from(hit(&mut svc, i).await.is_ok());
        }
        n
    };
    assert_eq!(admitted, 3);
    // Invalid configs are refused and change nothing.
    assert!(layer.reconfigure(&RateLimitConfig::new(0, Duration::from_secs(1))).is_err());
    assert_eq!(layer.config().burst, Some(5));
    let reconfigured = seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|e| matches!(e, RateLimitEvent::Reconfigured { .. }))
        .count();
    assert_eq!(reconfigured, 2);
}

#[tokio::test]
async fn watch_config_applies_live() {
    let clock = ManualClock::new();
    let (tx, rx) = tokio::sync::watch::channel(cfg(10, 1));
    let layer = RateLimitLayer::from_config(cfg(10, 5))
        .expect("layer")
        .with_clock(clock.into())
        .watch_config(rx);
    assert_eq!(layer.config().burst, Some(1), "the current value applies at once");
    let mut svc = layer.layer(echo());
    assert!(hit(&mut svc, 0).await.is_ok());
    assert!(hit(&mut svc, 1).await.is_err());
    tx.send(cfg(10, 3)).expect("send");
    tokio::task::yield_now().await;
    assert!(hit(&mut svc, 2).await.is_ok());
    assert!(hit(&mut svc, 3).await.is_ok());
    assert!(hit(&mut svc, 4).await.is_err());
}

/// Keys requests by their value; 0 means "no key".
type ByValue = KeyFn<fn(&u32) -> Option<u32>>;

fn keyed_layer(c: RateLimitConfig, clock: &ManualClock) -> RateLimitLayer<ByValue, u32> {
    // Requests are keyed by their value; 0 means "no key".
    let f: fn(&u32) -> Option<u32> = |x| (*x != 0).then_some(*x);
    RateLimitLayer::keyed(c, KeyFn::new(f)).expect("layer").with_clock(clock.clone().into())
}

#[tokio::test]
async fn keyed_buckets_are_isolated_and_overrides_apply() {
    let clock = ManualClock::new();
    let mut c = cfg(10, 2);
    c.overrides.insert("7".into(), QuotaConfig::new(100, Duration::from_secs(1)).with_burst(5));
    let mut svc = keyed_layer(c, &clock).layer(echo());
    for key in [1, 2, 0] {
        assert!(hit(&mut svc, key).await.is_ok());
        assert!(hit(&mut svc, key).await.is_ok());
        assert_eq!(hit(&mut svc, key).await, Err(Duration::from_millis(100)), "key {key}");
    }
    for _ in 0..5 {
        assert!(hit(&mut svc, 7).await.is_ok(), "the override's burst of 5");
    }
    assert_eq!(hit(&mut svc, 7).await, Err(Duration::from_millis(10)));
}

#[tokio::test]
async fn keyed_rejection_event_names_the_key() {
    let clock = ManualClock::new();
    let (listeners, seen) = recorder();
    let mut svc = keyed_layer(cfg(1, 1), &clock).with_listeners(listeners).layer(echo());
    assert!(hit(&mut svc, 42).await.is_ok());
    assert!(hit(&mut svc, 42).await.is_err());
    assert_eq!(
        *seen.lock().expect("lock"),
        vec![RateLimitEvent::Rejected {
            key: Some("42".into()),
            retry_after: Duration::from_secs(1)
        }]
    );
}

#[tokio::test]
async fn key_count_is_bounded_and_idle_keys_are_evicted() {
    let clock = ManualClock::new();
    let mut c = cfg(10, 2);
    c.max_keys = 8;
    let layer = keyed_layer(c, &clock);
    let mut svc = layer.layer(echo());
    for key in 1..=100 {
        assert!(hit(&mut svc, key).await.is_ok(), "a new key starts with a full bucket");
        assert!(layer.key_count() <= 8, "at most max_keys keys");
    }
    // Every bucket refills within burst / rate = 200ms; then the keys are forgotten.
    clock.advance(Duration::from_millis(200));
    for key in 1000..1003 {
        assert!(hit(&mut svc, key).await.is_ok());
    }
    assert_eq!(layer.key_count(), 3, "refilled keys were swept when the table filled");
}

#[tokio::test]
async fn eviction_of_refilled_keys_is_exact() {
    let clock = ManualClock::new();
    let mut c = cfg(10, 1);
    c.max_keys = 2;
    let mut svc = keyed_layer(c, &clock).layer(echo());
    assert!(hit(&mut svc, 1).await.is_ok());
    assert!(hit(&mut svc, 2).await.is_ok());
    // Key 1 is still refilling: filling the table evicts the key closest to full, but a
    // key that is still in debt keeps its state while a refilled key can be dropped.
    clock.advance(Duration::from_millis(100));
    assert!(hit(&mut svc, 2).await.is_ok(), "refilled after 100ms");
    assert!(hit(&mut svc, 3).await.is_ok());
    assert!(hit(&mut svc, 2).await.is_err(), "key 2 kept its state: it is in debt");
}

#[test]
fn config_errors_name_the_field() {
    let bad = RateLimitConfig::new(0, Duration::from_secs(1));
    assert_eq!(bad.validate().expect_err("zero rate").field(), "rate");
    let mut bad = cfg(10, 1);
    bad.max_keys = 0;
    assert_eq!(bad.validate().expect_err("zero keys").field(), "max_keys");
    let mut with_override = cfg(10, 1);
    with_override.overrides.insert("x".into(), QuotaConfig::new(1, Duration::from_secs(1)));
    let err = RateLimitLayer::from_config(with_override.clone()).expect_err("global + overrides");
    assert_eq!(err.field(), "overrides");
    let err = RateLimitLayer::<KeyFn<fn(&u32) -> Option<u32>>, u32>::keyed(
        with_override,
        KeyFn::new(|x| Some(*x)),
    )
    .expect_err("`x` is not a u32");
    assert!(err.problem().contains("`x`"), "{err}");
    let err =
        serde_json::from_str::<RateLimitConfig>(r#"{"rate":1,"bursts":2}"#).expect_err("typo");
    assert!(err.to_string().contains("bursts"), "{err}");
    let err = serde_json::from_str::<RedisConfig>(r#"{"url":"redis://x"}"#).expect_err("policy");
    assert!(err.to_string().contains("on_failure"), "{err}");
}
