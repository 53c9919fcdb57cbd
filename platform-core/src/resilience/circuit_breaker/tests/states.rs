use super::*;

fn tripping(probes: u32) -> CircuitBreakerBuilder {
    CircuitBreakerLayer::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(1))
        .open_backoff_multiplier(2.0)
        .max_open_duration(Duration::from_secs(3))
        .half_open_probes(probes)
}

#[tokio::test(start_paused = true)]
async fn open_rejects_with_the_rest_of_the_open_period() {
    let (layer, rec) = build(tripping(1));
    let _ = call(&layer, Call::Fail).await;
    let rejected = is_open_err(&call(&layer, Call::Ok).await).expect("open");
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(1)));
    tokio::time::advance(Duration::from_millis(400)).await;
    let rejected = is_open_err(&call(&layer, Call::Ok).await).expect("still open");
    assert_eq!(rejected.retry_after(), Some(Duration::from_millis(600)));
    assert_eq!(layer.handle().retry_after(), Some(Duration::from_millis(600)));
    let rejections = rec
        .events()
        .iter()
        .filter(|e| matches!(e, CircuitBreakerEvent::Rejected { state: CircuitState::Open, .. }))
        .count();
    assert_eq!(rejections, 2);
}

#[tokio::test(start_paused = true)]
async fn probes_close_and_failed_probes_reopen_with_growing_backoff() {
    let (layer, rec) = build(tripping(2));
    let _ = call(&layer, Call::Fail).await; // open for 1s
    tokio::time::advance(Duration::from_secs(1)).await;
    call(&layer, Call::Ok).await.expect("probe 1");
    assert_eq!(layer.handle().state(), CircuitState::HalfOpen);
    call(&layer, Call::Ok).await.expect("probe 2");
    assert_eq!(layer.handle().state(), CircuitState::Closed);

    let _ = call(&layer, Call::Fail).await; // a close reset the backoff: 1s again
    tokio::time::advance(Duration::from_secs(1)).await;
    let _ = call(&layer, Call::Fail).await; // failed probe: 2s
    assert_eq!(layer.handle().state(), CircuitState::Open);
    tokio::time::advance(Duration::from_millis(1_999)).await;
    assert!(is_open_err(&call(&layer, Call::Ok).await).is_some(), "2s open period");
    tokio::time::advance(Duration::from_millis(1)).await;
    let _ = call(&layer, Call::Fail).await; // failed probe: 4s, capped at 3s
    tokio::time::advance(Duration::from_secs(3)).await;
    call(&layer, Call::Ok).await.expect("probe after the capped period");

    let opens: Vec<_> = rec
        .transitions()
        .into_iter()
        .filter(|(to, ..)| *to == CircuitState::Open)
        .map(|(_, reason, open_for)| (reason, open_for.expect("open duration")))
        .collect();
    let secs = |s| Duration::from_secs(s);
    assert_eq!(
        opens,
        vec![
            (TransitionReason::ConsecutiveFailures { threshold: 1 }, secs(1)),
            (TransitionReason::ConsecutiveFailures { threshold: 1 }, secs(1)),
            (TransitionReason::ProbeFailed, secs(2)),
            (TransitionReason::ProbeFailed, secs(3)),
        ]
    );
    assert!(rec.transitions().iter().any(|(to, reason, _)| *to == CircuitState::Closed
        && *reason == TransitionReason::ProbesSucceeded { probes: 2 }));
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_only_the_probe_limit_and_poll_ready_reserves() {
    let (layer, _rec) = build(tripping(2));
    let _ = call(&layer, Call::Fail).await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let mut a = layer.layer(backend());
    let mut b = layer.layer(backend());
    let mut c = layer.layer(backend());
    a.ready().await.expect("probe permit 1");
    b.ready().await.expect("probe permit 2");
    c.ready().await.expect("ready, but decided to reject");
    assert!(c.call(Call::Ok).await.unwrap_err().downcast_ref::<CircuitOpen>().is_some());
    // A reservation that is dropped (service dropped before `call`) frees its permit.
    drop(b);
    c.ready().await.expect("permit freed by the dropped reservation");
    c.call(Call::Ok).await.expect("probe");
    a.call(Call::Ok).await.expect("probe");
    assert_eq!(layer.handle().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn dropped_probe_future_releases_its_permit() {
    let (layer, _rec) = build(tripping(1));
    let _ = call(&layer, Call::Fail).await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let mut svc = layer.layer(backend());
    let hung = svc.ready().await.expect("ready").call(Call::Hang);
    assert!(is_open_err(&call(&layer, Call::Ok).await).is_some(), "the only permit is taken");
    drop(hung); // cancelled probe
    call(&layer, Call::Ok).await.expect("permit came back");
    assert_eq!(layer.handle().state(), CircuitState::Closed);
}

#[tokio::test(start_paused = true)]
async fn clones_do_not_inherit_a_reservation() {
    let (layer, _rec) = build(tripping(1));
    let _ = call(&layer, Call::Fail).await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let mut svc = layer.layer(backend());
    svc.ready().await.expect("holds the only permit");
    let mut clone = svc.clone();
    clone.ready().await.expect("ready, decided to reject");
    assert!(clone.call(Call::Ok).await.is_err());
    svc.call(Call::Ok).await.expect("the reserved probe");
}

#[tokio::test(start_paused = true)]
async fn slow_probe_counts_as_failed() {
    let (layer, rec) = build(
        tripping(1).slow_call_rate_threshold(1.0).slow_call_duration(Duration::from_millis(100)),
    );
    let _ = call(&layer, Call::Fail).await;
    tokio::time::advance(Duration::from_secs(1)).await;
    call(&layer, Call::Slow(Duration::from_millis(200))).await.expect("slow but ok");
    assert_eq!(layer.handle().state(), CircuitState::Open);
    assert_eq!(rec.transitions().last().map(|t| t.1), Some(TransitionReason::ProbeFailed));
}
