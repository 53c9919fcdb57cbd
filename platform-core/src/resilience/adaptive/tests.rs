use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::{Service, ServiceExt, service_fn};
use tower_layer::Layer;

use super::limiter::Limiter;
use super::*;
use crate::error::{BoxError, Overloaded};
use crate::resilience::{Listeners, Mode};

/// A backend whose latency is `base` up to `capacity` concurrent calls and grows in
/// proportion beyond it (queueing).
#[derive(Clone)]
struct Backend {
    in_flight: Arc<AtomicUsize>,
    base_us: Arc<AtomicU64>,
    capacity: usize,
}

impl Backend {
    fn new(base: Duration, capacity: usize) -> Self {
        Self {
            in_flight: Arc::new(AtomicUsize::new(0)),
            base_us: Arc::new(AtomicU64::new(base.as_micros() as u64)),
            capacity,
        }
    }

    fn set_base(&self, base: Duration) {
        self.base_us.store(base.as_micros() as u64, Ordering::SeqCst);
    }

    fn service(
        &self,
    ) -> impl Service<
        (),
        Response = (),
        Error = BoxError,
        Future = impl Future<Output = Result<(), BoxError>> + Send,
    > + Clone
    + Send
    + 'static {
        let this = self.clone();
        service_fn(move |()| {
            let this = this.clone();
            async move {
                let n = this.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                let factor = (n as f64 / this.capacity as f64).max(1.0);
                let base = Duration::from_micros(this.base_us.load(Ordering::SeqCst));
                tokio::time::sleep(base.mul_f64(factor)).await;
                this.in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, BoxError>(())
            }
        })
    }
}

/// `callers` tasks calling back to back through clones of `svc` for `period`.
async fn drive<S>(svc: S, callers: usize, period: Duration)
where
    S: Service<(), Response = (), Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    let end = Instant::now() + period;
    let mut set = JoinSet::new();
    for _ in 0..callers {
        let mut s = svc.clone();
        set.spawn(async move {
            while Instant::now() < end {
                s.ready().await.expect("ready").call(()).await.expect("call");
            }
        });
    }
    while set.join_next().await.is_some() {}
}

fn recording() -> (Listeners<AdaptiveEvent>, Arc<Mutex<Vec<AdaptiveEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let l =
        Listeners::new().with(move |e: &AdaptiveEvent| sink.lock().expect("lock").push(e.clone()));
    (l, events)
}

fn cfg() -> AdaptiveConcurrencyConfig {
    AdaptiveConcurrencyConfig::default()
        .with_limits(2, 10, 400)
        .with_window(Duration::from_millis(100), 5)
        .with_probing(None, 0.0)
}

#[tokio::test(start_paused = true)]
async fn slow_start_doubles_then_gradient_takes_over() {
    let (listeners, events) = recording();
    let layer =
        AdaptiveConcurrencyLayer::seeded(cfg(), 1).expect("valid").with_listeners(listeners);
    let backend = Backend::new(Duration::from_millis(10), 1000);
    drive(layer.layer(backend.service()), 500, Duration::from_secs(3)).await;
    let events = events.lock().expect("lock");
    let slow: Vec<(usize, usize)> = events
        .iter()
        .filter_map(|e| match e {
            AdaptiveEvent::LimitChanged { from, to, reason: LimitReason::SlowStart, .. } => {
                Some((*from, *to))
            }
            _ => None,
        })
        .collect();
    assert_eq!(slow.first(), Some(&(10, 20)), "{slow:?}");
    assert!(slow.iter().all(|(f, t)| *t == (2 * f).min(400)), "{slow:?}");
    assert_eq!(layer.limit(), 400, "constant low latency: the limit reaches max_limit");
}

#[tokio::test(start_paused = true)]
async fn limit_grows_under_low_latency_and_shrinks_when_rtt_rises() {
    let layer = AdaptiveConcurrencyLayer::seeded(cfg().with_slow_start(false), 1).expect("valid");
    let backend = Backend::new(Duration::from_millis(10), 1000);
    let svc = layer.layer(backend.service());
    drive(svc.clone(), 300, Duration::from_secs(4)).await;
    let grown = layer.limit();
    assert!(grown > 40, "limit grew from 10 to {grown}");
    // The backend slows down fourfold: RTT rises, the limit must come down.
    backend.set_base(Duration::from_millis(40));
    drive(svc, 300, Duration::from_secs(3)).await;
    let shrunk = layer.limit();
    assert!(shrunk < grown / 2, "limit went from {grown} to {shrunk}");
}

#[tokio::test(start_paused = true)]
async fn limit_settles_near_the_backend_capacity() {
    // Latency grows once more than 40 calls run concurrently.
    let layer = AdaptiveConcurrencyLayer::seeded(cfg(), 3).expect("valid");
    let backend = Backend::new(Duration::from_millis(10), 40);
    drive(layer.layer(backend.service()), 300, Duration::from_secs(3)).await;
    let limit = layer.limit();
    assert!((20..=120).contains(&limit), "limit {limit} should settle near the capacity of 40");
}

#[tokio::test(start_paused = true)]
async fn probing_drops_to_min_limit_and_restores() {
    let (listeners, events) = recording();
    let cfg = cfg().with_probing(Some(Duration::from_secs(1)), 0.2);
    let layer = AdaptiveConcurrencyLayer::seeded(cfg, 9).expect("valid").with_listeners(listeners);
    let backend = Backend::new(Duration::from_millis(10), 1000);
    drive(layer.layer(backend.service()), 200, Duration::from_secs(4)).await;
    let events = events.lock().expect("lock");
    let started: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, AdaptiveEvent::ProbeStarted { .. }))
        .map(|(i, _)| i)
        .collect();
    assert!(started.len() >= 2, "probes every ~1s over 4s: {started:?}");
    let probe = started[0];
    let AdaptiveEvent::ProbeStarted { restore_to } = events[probe] else { unreachable!() };
    assert!(
        matches!(
            events[probe + 1],
            AdaptiveEvent::LimitChanged { to: 2, reason: LimitReason::ProbeStarted, .. }
        ),
        "{:?}",
        events[probe + 1]
    );
    let finished = events[probe..]
        .iter()
        .position(|e| matches!(e, AdaptiveEvent::ProbeFinished { .. }))
        .expect("probe finishes");
    match &events[probe + finished] {
        AdaptiveEvent::ProbeFinished { min_rtt } => assert_eq!(*min_rtt, Duration::from_millis(10)),
        _ => unreachable!(),
    }
    assert!(matches!(
        events[probe + finished + 1],
        AdaptiveEvent::LimitChanged { from: 2, reason: LimitReason::ProbeFinished, to, .. } if to == restore_to
    ));
}

#[test]
fn probe_schedule_is_jittered_within_bounds() {
    let now = Instant::now();
    let cfg = cfg().with_probing(Some(Duration::from_secs(10)), 0.25);
    let delays: Vec<Duration> = (0..200)
        .map(|seed| Limiter::new(cfg.clone(), now, seed).next_probe().expect("scheduled") - now)
        .collect();
    let (lo, hi) = (Duration::from_millis(7500), Duration::from_millis(12500));
    assert!(delays.iter().all(|d| (lo..=hi).contains(d)), "{delays:?}");
    let min = delays.iter().min().expect("some");
    let max = delays.iter().max().expect("some");
    assert!(*max - *min > Duration::from_secs(4), "spread {min:?}..{max:?} is jittered");
    // Same seed, same schedule.
    assert_eq!(
        Limiter::new(cfg.clone(), now, 5).next_probe(),
        Limiter::new(cfg, now, 5).next_probe()
    );
}

#[tokio::test(start_paused = true)]
async fn poll_ready_is_pending_at_the_limit_and_wakes_on_release() {
    let layer = AdaptiveConcurrencyLayer::seeded(cfg().with_limits(2, 2, 2), 0).expect("valid");
    let backend = Backend::new(Duration::from_millis(100), 1000);
    let mut a = layer.layer(backend.service());
    let mut b = a.clone();
    let c = a.clone();
    let fa = a.ready().await.expect("ready").call(());
    let fb = b.ready().await.expect("ready").call(());
    assert_eq!(layer.in_flight(), 2);
    let waiter = tokio::spawn(async move {
        let mut c = c;
        c.ready().await.expect("ready");
        Instant::now()
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "third caller waits at the limit");
    let start = Instant::now();
    fa.await.expect("a");
    let woke_at =
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("woken").expect("task");
    assert_eq!(woke_at - start, Duration::from_millis(100), "woken when a's permit was released");
    fb.await.expect("b");
}

#[tokio::test(start_paused = true)]
async fn dropped_futures_services_and_clones_release_permits() {
    let layer = AdaptiveConcurrencyLayer::seeded(cfg().with_limits(1, 1, 1), 0).expect("valid");
    let backend = Backend::new(Duration::from_secs(10), 1000);
    let mut a = layer.layer(backend.service());
    let fut = a.ready().await.expect("ready").call(());
    assert_eq!(layer.in_flight(), 1);
    drop(fut);
    assert_eq!(layer.in_flight(), 0, "a dropped response future releases its permit");

    a.ready().await.expect("ready");
    assert_eq!(layer.in_flight(), 1, "reserved in poll_ready");
    let mut clone = a.clone();
    let pending =
        std::future::poll_fn(|cx| std::task::Poll::Ready(clone.poll_ready(cx).is_pending())).await;
    assert!(pending, "a clone holds no reservation");
    drop(a);
    assert_eq!(layer.in_flight(), 0, "a dropped service gives its reservation back");
    tokio::time::timeout(Duration::from_secs(1), clone.ready())
        .await
        .expect("free")
        .expect("ready");
}

#[tokio::test(start_paused = true)]
async fn rejections_and_fast_failures_do_not_feed_the_rtt() {
    let layer = AdaptiveConcurrencyLayer::seeded(cfg(), 0).expect("valid");
    let rejecting = service_fn(|()| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err::<(), BoxError>(Box::new(Overloaded::new("downstream bulkhead")))
    });
    let mut svc = layer.layer(rejecting);
    for _ in 0..50 {
        let _ = svc.ready().await.expect("ready").call(()).await;
    }
    assert_eq!(layer.long_rtt(), None, "local rejections are not RTT samples");
    let failing = service_fn(|()| async { Err::<(), BoxError>("connection refused".into()) });
    let mut svc = layer.layer(failing);
    for _ in 0..50 {
        let _ = svc.ready().await.expect("ready").call(()).await;
    }
    assert_eq!(layer.long_rtt(), None, "fast failures are not RTT samples");
}

#[tokio::test(start_paused = true)]
async fn shadow_mode_computes_but_never_blocks() {
    let (listeners, events) = recording();
    let cfg = cfg().with_limits(1, 1, 1).with_mode(Mode::Shadow);
    let layer = AdaptiveConcurrencyLayer::seeded(cfg, 0).expect("valid").with_listeners(listeners);
    let backend = Backend::new(Duration::from_millis(100), 1000);
    let mut a = layer.layer(backend.service());
    let mut b = a.clone();
    let fa = a.ready().await.expect("ready").call(());
    let fb = b.ready().await.expect("not blocked in shadow mode").call(());
    assert_eq!(layer.in_flight(), 2);
    assert!(
        events
            .lock()
            .expect("lock")
            .iter()
            .any(|e| matches!(e, AdaptiveEvent::ShadowOverLimit { in_flight: 2, limit: 1 }))
    );
    fa.await.expect("a");
    fb.await.expect("b");
}

#[tokio::test(start_paused = true)]
async fn live_reconfiguration_keeps_permits_and_clamps_the_limit() {
    let (tx, rx) = watch::channel(cfg());
    let layer = AdaptiveConcurrencyLayer::seeded(cfg(), 0).expect("valid").watch_config(rx);
    let backend = Backend::new(Duration::from_secs(1), 1000);
    let mut a = layer.layer(backend.service());
    let fut = a.ready().await.expect("ready").call(());
    assert_eq!(layer.limit(), 10);
    tx.send(cfg().with_limits(2, 4, 5)).expect("send");
    tokio::task::yield_now().await;
    assert_eq!(layer.limit(), 5, "clamped to the new max");
    assert_eq!(layer.in_flight(), 1, "the permit survived");
    tx.send(cfg().with_limits(0, 4, 5)).expect("send"); // invalid: skipped
    tokio::task::yield_now().await;
    assert_eq!(layer.config().min_limit, 2);
    fut.await.expect("call");
    assert_eq!(layer.in_flight(), 0);
}

#[test]
fn validation_names_the_field() {
    let err = AdaptiveConcurrencyConfig::default()
        .with_limits(5, 3, 10)
        .validate()
        .expect_err("initial < min");
    assert_eq!(err.field(), "initial_limit");
    let err = AdaptiveConcurrencyConfig::default()
        .with_probing(Some(Duration::ZERO), 0.1)
        .validate()
        .expect_err("zero");
    assert_eq!(err.field(), "probe_interval");
    let err =
        serde_json::from_str::<AdaptiveConcurrencyConfig>(r#"{"max_limt":3}"#).expect_err("typo");
    assert!(err.to_string().contains("max_limt"), "{err}");
}

proptest! {
    #[test]
    fn limit_stays_within_bounds(
        rtts in proptest::collection::vec((1u64..500, 1usize..600), 1..400),
        min in 1usize..10,
        span in 0usize..200,
    ) {
        let cfg = AdaptiveConcurrencyConfig::default()
            .with_limits(min, min, min + span)
            .with_window(Duration::from_millis(1), 1)
            .with_probing(Some(Duration::from_millis(50)), 0.5);
        let start = Instant::now();
        let mut limiter = Limiter::new(cfg, start, 1);
        let mut now = start;
        for (ms, in_flight) in rtts {
            now += Duration::from_millis(ms);
            let rtt = Duration::from_millis(ms);
            limiter.on_sample(now, now - rtt, rtt, in_flight);
            prop_assert!((min..=min + span).contains(&limiter.limit()));
        }
    }
}
