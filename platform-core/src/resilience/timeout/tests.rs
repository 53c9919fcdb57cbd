use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tower::{Service, ServiceExt, service_fn};

use super::*;
use crate::error::{BoxError, Elapsed};
use crate::resilience::Listeners;

fn slow(
    delay: Duration,
) -> impl Service<
    (),
    Response = &'static str,
    Error = BoxError,
    Future = impl Future<Output = Result<&'static str, BoxError>> + Send,
> + Clone {
    service_fn(move |_: ()| async move {
        tokio::time::sleep(delay).await;
        Ok::<_, BoxError>("done")
    })
}

#[tokio::test(start_paused = true)]
async fn fast_call_passes() {
    let svc = TimeoutLayer::new(Duration::from_secs(1));
    let svc = tower_layer::Layer::layer(&svc, slow(Duration::from_millis(10)));
    assert_eq!(svc.oneshot(()).await.expect("ok"), "done");
}

#[tokio::test(start_paused = true)]
async fn slow_call_elapses_and_reports() {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let layer = TimeoutLayer::new(Duration::from_millis(100)).with_listeners(
        Listeners::new().with(move |e: &TimeoutEvent| {
            if matches!(e, TimeoutEvent::Elapsed { .. }) {
                s.fetch_add(1, Ordering::SeqCst);
            }
        }),
    );
    let svc = tower_layer::Layer::layer(&layer, slow(Duration::from_secs(5)));
    let start = tokio::time::Instant::now();
    let err = svc.oneshot(()).await.expect_err("times out");
    let elapsed = err.downcast_ref::<Elapsed>().expect("Elapsed");
    assert_eq!(elapsed.after(), Duration::from_millis(100));
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn inner_sees_tightest_deadline() {
    let inner =
        service_fn(|_: ()| async { Ok::<_, BoxError>(Deadline::current().map(|d| d.remaining())) });
    let outer = TimeoutLayer::new(Duration::from_millis(100));
    let inner_layer = TimeoutLayer::new(Duration::from_secs(10));
    let svc = tower::ServiceBuilder::new().layer(outer).layer(inner_layer).service(inner);
    let left = svc.oneshot(()).await.expect("ok").expect("deadline set");
    assert_eq!(left, Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn deadline_visible_in_inner_call() {
    #[derive(Clone)]
    struct SeesDeadlineInCall;
    impl Service<()> for SeesDeadlineInCall {
        type Response = bool;
        type Error = BoxError;
        type Future = std::future::Ready<Result<bool, BoxError>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), BoxError>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: ()) -> Self::Future {
            std::future::ready(Ok(Deadline::current().is_some()))
        }
    }
    let svc =
        tower_layer::Layer::layer(&TimeoutLayer::new(Duration::from_secs(1)), SeesDeadlineInCall);
    assert!(svc.oneshot(()).await.expect("ok"));
    assert!(Deadline::current().is_none(), "deadline must not leak out of the call");
}

#[tokio::test(start_paused = true)]
async fn live_reconfiguration_applies_to_existing_services() {
    let (tx, rx) = watch::channel(TimeoutConfig::new(Duration::from_secs(10)));
    let layer = TimeoutLayer::new(Duration::from_secs(1)).watch_config(rx);
    assert_eq!(layer.timeout(), Duration::from_secs(10), "current value applied at once");
    let mut svc = tower_layer::Layer::layer(&layer, slow(Duration::from_secs(2)));
    svc.ready().await.expect("ready");
    assert!(svc.call(()).await.is_ok());
    tx.send(TimeoutConfig::new(Duration::from_millis(500))).expect("send");
    tokio::task::yield_now().await;
    assert_eq!(layer.timeout(), Duration::from_millis(500));
    svc.ready().await.expect("ready");
    assert!(svc.call(()).await.is_err());
    // An invalid config is skipped and the old one stays.
    tx.send(TimeoutConfig::new(Duration::ZERO)).expect("send");
    tokio::task::yield_now().await;
    assert_eq!(layer.timeout(), Duration::from_millis(500));
}

#[test]
fn zero_timeout_is_rejected() {
    let err = TimeoutLayer::from_config(TimeoutConfig::new(Duration::ZERO)).expect_err("invalid");
    assert_eq!(err.field(), "timeout");
    assert!(err.to_string().contains("greater than zero"), "{err}");
}

#[test]
fn config_rejects_unknown_fields() {
    let err = serde_json::from_str::<TimeoutConfig>(r#"{"timeuot":"1s"}"#).expect_err("typo");
    assert!(err.to_string().contains("timeuot"), "{err}");
}
