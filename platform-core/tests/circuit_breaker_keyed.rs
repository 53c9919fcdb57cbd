//! Keyed breakers: one per key, isolated from each other, in bounded memory.

use std::sync::{Arc, Mutex};

use platform_core::error::{BoxError, CircuitOpen};
use platform_core::resilience::Listeners;
use platform_core::resilience::circuit_breaker::{
    CircuitBreakerConfig, CircuitBreakerEvent, CircuitBreakerLayer, CircuitState,
};
use platform_core::resilience::key::KeyFn;
use tower::{Layer, ServiceExt, service_fn};

/// A request: which host, and whether the backend fails it.
type Req = (Option<&'static str>, bool);

fn by_host() -> KeyFn<fn(&Req) -> Option<&'static str>> {
    KeyFn::new(|r: &Req| r.0)
}

fn backend() -> impl tower::Service<
    Req,
    Response = (),
    Error = BoxError,
    Future = impl Future<Output = Result<(), BoxError>> + Send,
> + Clone {
    service_fn(|(_, fail): Req| async move {
        if fail { Err::<(), BoxError>("down".into()) } else { Ok(()) }
    })
}

fn open(r: &Result<(), BoxError>) -> bool {
    r.as_ref().err().is_some_and(|e| e.downcast_ref::<CircuitOpen>().is_some())
}

#[tokio::test(start_paused = true)]
async fn keys_are_isolated_and_unkeyed_requests_share_the_default() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(2)
        .listeners(Listeners::new().with(move |e: &CircuitBreakerEvent| {
            s.lock().expect("lock").push(e.clone());
        }))
        .keyed(by_host())
        .expect("valid");
    let svc = layer.layer(backend());
    for _ in 0..2 {
        let _ = svc.clone().oneshot((Some("a"), true)).await;
    }
    assert!(open(&svc.clone().oneshot((Some("a"), false)).await), "a is open");
    assert!(svc.clone().oneshot((Some("b"), false)).await.is_ok(), "b is not");
    assert!(svc.clone().oneshot((None, false)).await.is_ok(), "default is not");
    assert_eq!(layer.handle(&"a").state(), CircuitState::Open);
    assert_eq!(layer.handle(&"b").state(), CircuitState::Closed);

    for _ in 0..2 {
        let _ = svc.clone().oneshot((None, true)).await;
    }
    assert_eq!(layer.default_handle().state(), CircuitState::Open);
    assert!(svc.clone().oneshot((Some("b"), false)).await.is_ok(), "keys ignore the default");

    let keys: Vec<Option<String>> = seen
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|e| match e {
            CircuitBreakerEvent::StateChanged { key, to: CircuitState::Open, .. } => {
                Some(key.as_deref().map(str::to_owned))
            }
            _ => None,
        })
        .collect();
    assert_eq!(keys, vec![Some("\"a\"".to_owned()), None], "events name the key");
}

#[tokio::test(start_paused = true)]
async fn key_count_is_bounded() {
    let layer = CircuitBreakerLayer::builder().max_keys(16).keyed(by_host()).expect("valid");
    let svc = layer.layer(backend());
    let hosts: Vec<&'static str> =
        (0..500).map(|i| &*Box::leak(format!("host-{i}").into_boxed_str())).collect();
    for h in &hosts {
        svc.clone().oneshot((Some(*h), false)).await.expect("ok");
    }
    let count = layer.key_count();
    assert!(count <= 16, "{count} breakers kept");
    assert!(count > 0);
}

#[tokio::test(start_paused = true)]
async fn reconfiguration_reaches_existing_and_future_keys() {
    let layer =
        CircuitBreakerLayer::builder().consecutive_failures(5).keyed(by_host()).expect("valid");
    let svc = layer.layer(backend());
    let _ = svc.clone().oneshot((Some("old"), true)).await;
    let mut cfg = CircuitBreakerConfig::default();
    cfg.consecutive_failures = Some(2);
    layer.reconfigure(&cfg).expect("valid");
    let _ = svc.clone().oneshot((Some("old"), true)).await;
    assert_eq!(layer.handle(&"old").state(), CircuitState::Open, "kept its first failure");
    for _ in 0..2 {
        let _ = svc.clone().oneshot((Some("new"), true)).await;
    }
    assert_eq!(layer.handle(&"new").state(), CircuitState::Open);
}
