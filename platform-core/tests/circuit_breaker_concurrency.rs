//! Heavy concurrency never lets more than `half_open_probes` probes run at once, and
//! dropped or cancelled probes never leak a permit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use platform_core::error::{BoxError, CircuitOpen};
use platform_core::resilience::circuit_breaker::{CircuitBreakerLayer, CircuitState};
use tower::{Layer, Service, ServiceExt, service_fn};

/// Counts calls running in the inner service and the most seen at once.
#[derive(Clone, Default)]
struct Gauge {
    running: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
}

impl Gauge {
    fn enter(&self) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    fn leave(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

fn is_open(e: &BoxError) -> bool {
    e.downcast_ref::<CircuitOpen>().is_some()
}

#[tokio::test(start_paused = true)]
async fn paused_clock_150_callers_get_exactly_the_probe_limit() {
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(1))
        .half_open_probes(3)
        .build()
        .expect("valid");
    let gauge = Gauge::default();
    let g = gauge.clone();
    let svc = layer.layer(service_fn(move |fail: bool| {
        let g = g.clone();
        async move {
            g.enter();
            tokio::time::sleep(Duration::from_millis(10)).await;
            g.leave();
            if fail { Err::<(), BoxError>("down".into()) } else { Ok(()) }
        }
    }));
    let _ = svc.clone().oneshot(true).await;
    assert_eq!(layer.handle().state(), CircuitState::Open);
    tokio::time::advance(Duration::from_secs(1)).await;
    gauge.max.store(0, Ordering::SeqCst);
    gauge.calls.store(0, Ordering::SeqCst);

    let tasks: Vec<_> = (0..150).map(|_| tokio::spawn(svc.clone().oneshot(false))).collect();
    let (mut passed, mut rejected) = (0, 0);
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => passed += 1,
            Err(e) if is_open(&e) => rejected += 1,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(gauge.max.load(Ordering::SeqCst), 3, "never more than 3 probes at once");
    assert_eq!((passed, rejected), (3, 147));
    assert_eq!(layer.handle().state(), CircuitState::Closed, "3 successful probes close it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_thread_200_callers_never_exceed_the_probe_limit() {
    const PROBES: usize = 4;
    // Every probe fails and the open period is 1ns: the breaker flips between open and
    // half-open as fast as callers arrive, while earlier probes are still running.
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_nanos(1))
        .max_open_duration(Duration::from_nanos(1))
        .half_open_probes(PROBES as u32)
        .build()
        .expect("valid");
    let gauge = Gauge::default();
    let g = gauge.clone();
    let svc = layer.layer(service_fn(move |_: u32| {
        let g = g.clone();
        async move {
            g.enter();
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            g.leave();
            Err::<(), BoxError>("still down".into())
        }
    }));
    let _ = svc.clone().oneshot(0).await;
    gauge.calls.store(0, Ordering::SeqCst);

    let tasks: Vec<_> = (0..200u32)
        .map(|i| {
            let mut svc = svc.clone();
            tokio::spawn(async move {
                for round in 0..50u32 {
                    match (i + round) % 4 {
                        // Reserve in poll_ready, then drop the reservation unused.
                        0 => {
                            let mut reserved = svc.clone();
                            reserved.ready().await.expect("ready");
                            drop(reserved);
                        }
                        // Start a call, then cancel it before it is polled.
                        1 => {
                            let fut = svc.ready().await.expect("ready").call(round);
                            drop(fut);
                        }
                        _ => {
                            let _ = svc.ready().await.expect("ready").call(round).await;
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    assert!(gauge.calls.load(Ordering::SeqCst) > 0, "some probes ran");
    assert!(
        gauge.max.load(Ordering::SeqCst) <= PROBES,
        "{} probes ran at once",
        gauge.max.load(Ordering::SeqCst)
    );

    // No permit leaked: all of them can be reserved at once again, and no more.
    let mut holders: Vec<_> = (0..PROBES).map(|_| svc.clone()).collect();
    for h in &mut holders {
        h.ready().await.expect("ready");
    }
    let mut extra = svc.clone();
    let err = extra.ready().await.expect("ready").call(0).await.expect_err("rejected");
    assert!(is_open(&err), "a fifth caller is rejected while four permits are reserved");
    for mut h in holders {
        let err = h.call(0).await.expect_err("the backend fails");
        assert!(!is_open(&err), "every reserved permit reached the backend");
    }
}
