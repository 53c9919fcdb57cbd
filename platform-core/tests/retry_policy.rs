//! The generic retry layer: attempts, classification, budget, deadline, readiness.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use platform_core::BoxError;
use platform_core::error::{BudgetExhausted, CircuitOpen};
use platform_core::resilience::{Listeners, RetryConfig, RetryEvent, RetryLayer, TimeoutLayer};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

/// A service that fails its first `failures` calls with `err()` and then echoes.
fn flaky(
    failures: u32,
    err: fn() -> BoxError,
) -> (Arc<AtomicU32>, impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let svc = service_fn(move |x: u32| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move { if n < failures { Err(err()) } else { Ok(x) } }
    });
    (calls, svc)
}

fn reset() -> BoxError {
    "connection reset".into()
}

fn quick() -> RetryConfig {
    RetryConfig::builder().backoff(Duration::from_millis(10), Duration::from_millis(80), 2.0)
}

fn recorded() -> (Arc<Mutex<Vec<RetryEvent>>>, Listeners<RetryEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let listeners =
        Listeners::new().with(move |e: &RetryEvent| sink.lock().unwrap().push(e.clone()));
    (events, listeners)
}

#[tokio::test(start_paused = true)]
async fn retries_until_success() {
    let (calls, inner) = flaky(2, reset);
    let (events, listeners) = recorded();
    let layer = RetryLayer::from_config(quick().max_attempts(5)).unwrap().with_listeners(listeners);
    assert_eq!(layer.layer(inner).oneshot(9).await.unwrap(), 9);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let retrying =
        events.lock().unwrap().iter().filter(|e| matches!(e, RetryEvent::Retrying { .. })).count();
    assert_eq!(retrying, 2);
}

#[tokio::test(start_paused = true)]
async fn stops_at_max_attempts_with_the_last_error() {
    let (calls, inner) = flaky(u32::MAX, reset);
    let (events, listeners) = recorded();
    let layer = RetryLayer::from_config(quick().max_attempts(3)).unwrap().with_listeners(listeners);
    let err = layer.layer(inner).oneshot(1).await.unwrap_err();
    assert_eq!(err.to_string(), "connection reset");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(events.lock().unwrap().contains(&RetryEvent::AttemptsExhausted { attempts: 3 }));
}

#[tokio::test(start_paused = true)]
async fn local_rejections_are_not_retried() {
    let (calls, inner) = flaky(u32::MAX, || Box::new(CircuitOpen::new(None)));
    let layer = RetryLayer::from_config(quick().max_attempts(5)).unwrap();
    let err = layer.layer(inner).oneshot(1).await.unwrap_err();
    assert!(err.downcast_ref::<CircuitOpen>().is_some(), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn budget_caps_retries_at_ratio_under_a_stream_of_failures() {
    let (calls, inner) = flaky(u32::MAX, reset);
    let cfg = quick().max_attempts(3).budget(0.1, 0, Duration::from_secs(60));
    let layer = RetryLayer::from_config(cfg).unwrap();
    let svc = layer.layer(inner);
    let mut exhausted = 0;
    for i in 0..100 {
        let err = svc.clone().oneshot(i).await.unwrap_err();
        if let Some(b) = err.downcast_ref::<BudgetExhausted>() {
            assert_eq!(b.last_error().unwrap().to_string(), "connection reset");
            exhausted += 1;
        }
    }
    // 100 requests earn 10 retries; every other failure is refused by the budget.
    assert_eq!(calls.load(Ordering::SeqCst), 100 + 10);
    assert!(exhausted >= 90, "{exhausted}");
}

#[tokio::test(start_paused = true)]
async fn budget_floor_allows_retries_with_little_traffic() {
    let (calls, inner) = flaky(u32::MAX, reset);
    let cfg = quick().max_attempts(2).budget(0.0, 1, Duration::from_secs(3));
    let svc = RetryLayer::from_config(cfg).unwrap().layer(inner);
    for i in 0..10 {
        let _ = svc.clone().oneshot(i).await;
    }
    // Floor: 1 retry per second over a 3s window = 3 retries (the test runs well within 3s).
    assert_eq!(calls.load(Ordering::SeqCst), 10 + 3);
}

#[tokio::test(start_paused = true)]
async fn rejections_do_not_earn_budget() {
    let (_, rejecting) = flaky(u32::MAX, || Box::new(CircuitOpen::new(None)));
    let (calls, failing) = flaky(u32::MAX, reset);
    let layer =
        RetryLayer::from_config(quick().max_attempts(2).budget(1.0, 0, Duration::from_secs(60)))
            .unwrap();
    for i in 0..50 {
        let _ = layer.layer(rejecting.clone()).oneshot(i).await;
    }
    let err = layer.layer(failing).oneshot(1).await.unwrap_err();
    // The failing request earned exactly one retry for itself, none from the rejections.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(err.to_string(), "connection reset");
}

#[tokio::test(start_paused = true)]
async fn never_sleeps_past_the_deadline() {
    let (calls, inner) = flaky(u32::MAX, reset);
    let (events, listeners) = recorded();
    let cfg = RetryConfig::builder()
        .max_attempts(10)
        .backoff(Duration::from_millis(60), Duration::from_secs(1), 2.0)
        .jitter(false);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_millis(100)))
        .layer(RetryLayer::from_config(cfg).unwrap().with_listeners(listeners))
        .service(inner);
    let start = Instant::now();
    let err = svc.oneshot(1).await.unwrap_err();
    // Attempt 2 fails at 60ms; the next backoff (120ms) would end after the 100ms deadline.
    assert_eq!(err.to_string(), "connection reset", "the last failure, not a timeout");
    assert_eq!(start.elapsed(), Duration::from_millis(60));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let gave_up = events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, RetryEvent::GaveUpAtDeadline { attempt: 2, .. }));
    assert!(gave_up);
}

#[derive(Clone)]
struct CountsReadiness {
    ready: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

impl Service<u32> for CountsReadiness {
    type Response = u32;
    type Error = BoxError;
    type Future = std::future::Ready<Result<u32, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.ready.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, x: u32) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(if n < 2 { Err(reset()) } else { Ok(x) })
    }
}

#[tokio::test(start_paused = true)]
async fn inner_is_readied_before_every_attempt() {
    let inner = CountsReadiness { ready: Arc::default(), calls: Arc::default() };
    let svc = RetryLayer::from_config(quick()).unwrap().layer(inner.clone());
    assert_eq!(svc.oneshot(4).await.unwrap(), 4);
    assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
    assert_eq!(inner.ready.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn live_reconfiguration_keeps_the_budget() {
    let (tx, rx) =
        tokio::sync::watch::channel(quick().max_attempts(2).budget(0.0, 1, Duration::from_secs(1)));
    let layer = RetryLayer::from_config(RetryConfig::default()).unwrap().watch_config(rx);
    assert_eq!(layer.config().max_attempts, 2, "current value applied at once");
    let (calls, inner) = flaky(u32::MAX, reset);
    let svc = layer.layer(inner);
    let _ = svc.clone().oneshot(1).await; // uses the only retry in the window
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    tx.send(quick().max_attempts(5).budget(0.0, 1, Duration::from_secs(1))).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(layer.config().max_attempts, 5);
    let err = svc.clone().oneshot(2).await.unwrap_err();
    assert!(err.downcast_ref::<BudgetExhausted>().is_some(), "budget state survived: {err}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
