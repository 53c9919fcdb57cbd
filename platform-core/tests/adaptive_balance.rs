//! `tower::balance::p2c::Balance` over two endpoints, each behind its own adaptive
//! concurrency limit: the saturated (slow) endpoint's `poll_ready` returns `Pending`,
//! so the balancer sends the traffic to the fast one.
//!
//! Kept as an integration test because it builds a balancer and a buffer (heavier than
//! the unit tests in `src/resilience/adaptive/tests.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use platform_core::BoxError;
use platform_core::resilience::{AdaptiveConcurrencyConfig, AdaptiveConcurrencyLayer, Mode};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::balance::p2c::Balance;
use tower::buffer::Buffer;
use tower::discover::ServiceList;
use tower::load::Constant;
use tower::{Layer, Service, ServiceExt, service_fn};

/// An endpoint whose latency is `base × max(1, in_flight / capacity)`; counts its calls.
fn endpoint(
    base: Duration,
    capacity: usize,
    served: Arc<AtomicUsize>,
) -> impl Service<
    (),
    Response = (),
    Error = BoxError,
    Future = impl Future<Output = Result<(), BoxError>> + Send,
> + Clone
+ Send
+ 'static {
    let in_flight = Arc::new(AtomicUsize::new(0));
    service_fn(move |()| {
        let (in_flight, served) = (in_flight.clone(), served.clone());
        async move {
            served.fetch_add(1, Ordering::SeqCst);
            let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(base.mul_f64((n as f64 / capacity as f64).max(1.0))).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, BoxError>(())
        }
    })
}

async fn run(limited: bool) -> (usize, usize) {
    let (fast_n, slow_n) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let fast = endpoint(Duration::from_millis(5), 1000, fast_n.clone());
    let slow = endpoint(Duration::from_millis(50), 2, slow_n.clone());
    let cfg = AdaptiveConcurrencyConfig::default()
        .with_limits(1, 4, 200)
        .with_window(Duration::from_millis(100), 5)
        .with_probing(None, 0.0);
    let limit = |svc| {
        let mode = if limited { Mode::Enforce } else { Mode::Shadow };
        let layer =
            AdaptiveConcurrencyLayer::seeded(cfg.clone().with_mode(mode), 1).expect("valid");
        Constant::new(layer.layer(svc).map_err(Into::<BoxError>::into).boxed(), 0u32)
    };
    let balance = Balance::new(ServiceList::new(vec![limit(fast.boxed()), limit(slow.boxed())]));
    let svc = Buffer::new(balance, 1024);
    let end = Instant::now() + Duration::from_secs(3);
    let mut set = JoinSet::new();
    for _ in 0..40 {
        let mut s = svc.clone();
        set.spawn(async move {
            while Instant::now() < end {
                s.ready().await.expect("ready").call(()).await.expect("call");
            }
        });
    }
    while set.join_next().await.is_some() {}
    (fast_n.load(Ordering::SeqCst), slow_n.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn balancer_routes_around_the_saturated_endpoint() {
    let (fast, slow) = run(true).await;
    let share = fast as f64 / (fast + slow) as f64;
    assert!(share > 0.9, "fast endpoint served {fast}, slow {slow}");

    // Control: the same limits in shadow mode never push back, and p2c (with constant
    // load) splits the calls evenly, so the slow endpoint gets about half.
    let (fast, slow) = run(false).await;
    let share = fast as f64 / (fast + slow) as f64;
    assert!((0.35..0.65).contains(&share), "without backpressure: fast {fast}, slow {slow}");
}
