use super::*;

#[tokio::test(start_paused = true)]
async fn failure_rate_waits_for_minimum_calls_then_trips() {
    let (layer, rec) = build(
        CircuitBreakerLayer::builder()
            .count_window(10)
            .minimum_calls(5)
            .failure_rate_threshold(0.5),
    );
    for _ in 0..4 {
        assert!(call(&layer, Call::Fail).await.is_err());
    }
    assert_eq!(layer.handle().state(), CircuitState::Closed, "4 calls < minimum 5");
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(layer.handle().state(), CircuitState::Open);
    match rec.transitions().as_slice() {
        [
            (CircuitState::Open, TransitionReason::FailureRate { rate, threshold, calls }, Some(_)),
        ] => {
            assert_eq!((*rate, *threshold, *calls), (1.0, 0.5, 5));
        }
        other => panic!("unexpected transitions {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn count_window_slides() {
    let (layer, rec) = build(
        CircuitBreakerLayer::builder()
            .count_window(10)
            .minimum_calls(10)
            .failure_rate_threshold(0.5),
    );
    for _ in 0..6 {
        call(&layer, Call::Ok).await.expect("ok");
    }
    for _ in 0..4 {
        let _ = call(&layer, Call::Fail).await;
    }
    assert_eq!(layer.handle().state(), CircuitState::Closed, "4/10 failed");
    // The oldest success leaves the window: 5/10.
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(layer.handle().state(), CircuitState::Open);
    assert!(matches!(
        rec.transitions()[0].1,
        TransitionReason::FailureRate { calls: 10, rate, .. } if rate == 0.5
    ));
}

#[tokio::test(start_paused = true)]
async fn time_window_forgets_old_buckets() {
    let (layer, _rec) = build(
        CircuitBreakerLayer::builder()
            .time_window(Duration::from_secs(10), 10)
            .minimum_calls(2)
            .failure_rate_threshold(0.5),
    );
    let _ = call(&layer, Call::Fail).await;
    tokio::time::advance(Duration::from_secs(11)).await;
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(layer.handle().state(), CircuitState::Closed, "the first failure left the window");
    tokio::time::advance(Duration::from_secs(5)).await;
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(layer.handle().state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn slow_call_rate_trips() {
    let (layer, rec) = build(
        CircuitBreakerLayer::builder()
            .count_window(10)
            .minimum_calls(4)
            .failure_rate_threshold(None)
            .slow_call_rate_threshold(0.5)
            .slow_call_duration(Duration::from_millis(100)),
    );
    call(&layer, Call::Slow(Duration::from_millis(50))).await.expect("fast enough");
    call(&layer, Call::Ok).await.expect("ok");
    call(&layer, Call::Slow(Duration::from_millis(150))).await.expect("slow");
    assert_eq!(layer.handle().state(), CircuitState::Closed, "3 calls < minimum 4");
    call(&layer, Call::Slow(Duration::from_millis(150))).await.expect("slow");
    assert_eq!(layer.handle().state(), CircuitState::Open);
    assert!(matches!(
        rec.transitions()[0].1,
        TransitionReason::SlowCallRate { calls: 4, rate, .. } if rate == 0.5
    ));
}

#[tokio::test(start_paused = true)]
async fn running_calls_past_the_slow_threshold_count_before_they_finish() {
    let (layer, rec) = build(
        CircuitBreakerLayer::builder()
            .count_window(10)
            .minimum_calls(3)
            .failure_rate_threshold(None)
            .slow_call_rate_threshold(0.5)
            .slow_call_duration(Duration::from_millis(100)),
    );
    let mut svc = layer.layer(backend());
    let mut hung = Vec::new();
    for _ in 0..3 {
        hung.push(svc.ready().await.expect("ready").call(Call::Hang));
    }
    tokio::time::advance(Duration::from_millis(50)).await;
    call(&layer, Call::Ok).await.expect("not slow yet");
    assert_eq!(layer.handle().state(), CircuitState::Closed);
    tokio::time::advance(Duration::from_millis(100)).await;
    // This admission starts a new start-time group, which re-judges running calls.
    call(&layer, Call::Ok).await.expect("admitted before the breaker opened");
    assert_eq!(layer.handle().state(), CircuitState::Open, "3 hung calls are slow: 3/4");
    assert!(matches!(rec.transitions()[0].1, TransitionReason::SlowCallRate { calls: 4, .. }));
    assert!(is_open_err(&call(&layer, Call::Ok).await).is_some());
    drop(hung);
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_trip_regardless_of_rate() {
    let (layer, rec) = build(
        CircuitBreakerLayer::builder().count_window(100).minimum_calls(100).consecutive_failures(3),
    );
    for c in [Call::Fail, Call::Fail, Call::Ok, Call::Fail, Call::Fail] {
        let _ = call(&layer, c).await;
    }
    assert_eq!(layer.handle().state(), CircuitState::Closed, "a success breaks the run");
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(layer.handle().state(), CircuitState::Open);
    assert_eq!(rec.transitions()[0].1, TransitionReason::ConsecutiveFailures { threshold: 3 });
}

#[tokio::test(start_paused = true)]
async fn local_rejections_are_not_counted() {
    let (layer, _rec) =
        build(CircuitBreakerLayer::builder().consecutive_failures(1).minimum_calls(1));
    for _ in 0..5 {
        assert!(call(&layer, Call::Reject).await.is_err());
    }
    assert_eq!(layer.handle().state(), CircuitState::Closed);
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(layer.handle().state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn http_classifier_counts_5xx() {
    let layer = CircuitBreakerLayer::builder()
        .consecutive_failures(2)
        .classifier(crate::classify::HttpClassifier::default())
        .build()
        .expect("valid");
    let svc = layer.layer(service_fn(|code: u16| async move {
        Ok::<_, BoxError>(http::Response::builder().status(code).body(()).expect("response"))
    }));
    svc.clone().oneshot(404).await.expect("a 404 is a success");
    svc.clone().oneshot(503).await.expect("responses pass through");
    assert_eq!(layer.handle().state(), CircuitState::Closed);
    svc.clone().oneshot(500).await.expect("responses pass through");
    assert_eq!(layer.handle().state(), CircuitState::Open);
}
