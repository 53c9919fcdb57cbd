//! Bulkhead limits: shared slots, the bounded queue, the maximum wait, reconfiguration.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_core::BoxError;
use platform_core::error::Overloaded;
use platform_core::resilience::{BulkheadConfig, BulkheadEvent, BulkheadLayer, Listeners};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};

/// A service that takes 10ms per call and records the highest concurrency it saw.
fn tracked() -> (
    Arc<AtomicUsize>,
    impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone + Send,
) {
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let seen = peak.clone();
    let svc = service_fn(move |x: u32| {
        let (now, peak) = (now.clone(), peak.clone());
        async move {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, BoxError>(x)
        }
    });
    (seen, svc)
}

fn echo()
-> impl Service<u32, Response = u32, Error = BoxError, Future: Send> + Clone + Send + 'static {
    service_fn(|x: u32| async move { Ok::<_, BoxError>(x) })
}

fn reason(err: &BoxError) -> &'static str {
    err.downcast_ref::<Overloaded>().expect("Overloaded").reason()
}

#[tokio::test(start_paused = true)]
async fn limit_holds_across_clones_for_100_callers() {
    let (peak, inner) = tracked();
    let cfg = BulkheadConfig::new(10).queue(100, Duration::from_secs(10));
    let svc = BulkheadLayer::from_config(cfg).unwrap().layer(inner);
    let tasks: Vec<_> = (0..100).map(|i| tokio::spawn(svc.clone().oneshot(i))).collect();
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap().unwrap(), i as u32);
    }
    assert_eq!(peak.load(Ordering::SeqCst), 10);
}

#[tokio::test(start_paused = true)]
async fn without_a_queue_extra_callers_are_rejected() {
    let (peak, inner) = tracked();
    let layer = BulkheadLayer::new(10);
    let svc = layer.layer(inner);
    let tasks: Vec<_> = (0..100).map(|i| tokio::spawn(svc.clone().oneshot(i))).collect();
    let mut rejected = 0;
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert_eq!(reason(&e), "bulkhead full");
            rejected += 1;
        }
    }
    assert_eq!(rejected, 90);
    assert_eq!(peak.load(Ordering::SeqCst), 10);
    assert_eq!(layer.available(), 10, "every slot came back");
}

#[tokio::test(start_paused = true)]
async fn queue_is_bounded() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let layer = BulkheadLayer::from_config(BulkheadConfig::new(1).queue(2, Duration::from_secs(5)))
        .unwrap()
        .with_listeners(
            Listeners::new().with(move |e: &BulkheadEvent| sink.lock().unwrap().push(e.clone())),
        );
    let mut holder = layer.layer(echo());
    holder.ready().await.unwrap();
    let waiters: Vec<_> = (0..2).map(|i| tokio::spawn(layer.layer(echo()).oneshot(i))).collect();
    tokio::task::yield_now().await;
    let err = layer.layer(echo()).oneshot(9).await.unwrap_err();
    assert_eq!(reason(&err), "bulkhead full");
    assert_eq!(
        *events.lock().unwrap(),
        vec![BulkheadEvent::Rejected { reason: "bulkhead full", waiting: 2 }]
    );
    assert_eq!(holder.call(7).await.unwrap(), 7);
    for (i, w) in waiters.into_iter().enumerate() {
        assert_eq!(w.await.unwrap().unwrap(), i as u32, "queued callers get their turn");
    }
}

#[tokio::test(start_paused = true)]
async fn waiting_longer_than_max_wait_is_rejected() {
    let layer =
        BulkheadLayer::from_config(BulkheadConfig::new(1).queue(4, Duration::from_millis(50)))
            .unwrap();
    let mut holder = layer.layer(echo());
    holder.ready().await.unwrap();
    let start = Instant::now();
    let err = layer.layer(echo()).oneshot(1).await.unwrap_err();
    assert_eq!(reason(&err), "bulkhead wait timed out");
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    // The timed-out caller left the queue: two more may wait again.
    let w = tokio::spawn(layer.layer(echo()).oneshot(2));
    tokio::task::yield_now().await;
    holder.call(0).await.unwrap();
    assert_eq!(w.await.unwrap().unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_clone_holds_no_slot() {
    let layer = BulkheadLayer::new(1);
    let mut first = layer.layer(echo());
    first.ready().await.unwrap();
    let err = first.clone().oneshot(1).await.unwrap_err();
    assert_eq!(reason(&err), "bulkhead full");
    drop(first);
    assert_eq!(layer.available(), 1, "dropping a ready service returns its slot");
}

#[tokio::test(start_paused = true)]
async fn reconfiguration_down_retires_slots_as_calls_return() {
    let layer = BulkheadLayer::new(2);
    let mut a = layer.layer(echo());
    let mut b = layer.layer(echo());
    a.ready().await.unwrap();
    b.ready().await.unwrap();
    layer.reconfigure(&BulkheadConfig::new(1)).unwrap();
    assert_eq!(layer.config().max_concurrent, 1);
    assert_eq!(a.call(1).await.unwrap(), 1, "in-flight calls are kept");
    assert_eq!(layer.available(), 0, "the first slot back is retired");
    assert!(layer.layer(echo()).oneshot(3).await.is_err());
    assert_eq!(b.call(2).await.unwrap(), 2);
    assert_eq!(layer.available(), 1);
}

#[tokio::test(start_paused = true)]
async fn reconfiguration_up_frees_slots_and_cancels_retirement() {
    let (tx, rx) = tokio::sync::watch::channel(BulkheadConfig::new(2));
    let layer = BulkheadLayer::new(1).watch_config(rx);
    assert_eq!(layer.available(), 2, "current value applied at once");
    let mut a = layer.layer(echo());
    let mut b = layer.layer(echo());
    a.ready().await.unwrap();
    b.ready().await.unwrap();
    tx.send(BulkheadConfig::new(1)).unwrap();
    tokio::task::yield_now().await;
    tx.send(BulkheadConfig::new(4)).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(layer.available(), 2, "raised to 4 with 2 in flight");
    a.call(1).await.unwrap();
    b.call(2).await.unwrap();
    assert_eq!(layer.available(), 4, "no slot was retired after the raise");
    tx.send(BulkheadConfig::new(0)).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(layer.config().max_concurrent, 4, "invalid config ignored");
}
