use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::watch;

use super::*;
use crate::resilience::Mode;

#[tokio::test(start_paused = true)]
async fn force_open_force_closed_and_reset() {
    let (layer, rec) = build(CircuitBreakerLayer::builder().consecutive_failures(1));
    let handle = layer.handle();
    handle.force_open();
    let err = is_open_err(&call(&layer, Call::Ok).await).expect("forced open");
    assert_eq!(err.retry_after(), None);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(handle.state(), CircuitState::ForcedOpen, "no half-open from forced open");

    handle.force_closed();
    for _ in 0..10 {
        assert!(is_open_err(&call(&layer, Call::Fail).await).is_none());
    }
    assert_eq!(handle.state(), CircuitState::ForcedClosed, "failures are not counted");

    handle.reset();
    assert_eq!(handle.state(), CircuitState::Closed);
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(handle.state(), CircuitState::Open);
    let reasons: Vec<_> = rec.transitions().into_iter().map(|t| t.1).collect();
    assert_eq!(
        reasons,
        vec![
            TransitionReason::ForcedOpen,
            TransitionReason::ForcedClosed,
            TransitionReason::Reset,
            TransitionReason::ConsecutiveFailures { threshold: 1 },
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn shadow_mode_decides_and_reports_but_lets_calls_through() {
    let (layer, rec) =
        build(CircuitBreakerLayer::builder().consecutive_failures(2).mode(Mode::Shadow));
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let svc = layer.layer(service_fn(move |fail: bool| {
        h.fetch_add(1, Ordering::SeqCst);
        async move { if fail { Err::<(), BoxError>("down".into()) } else { Ok(()) } }
    }));
    for _ in 0..2 {
        let _ = svc.clone().oneshot(true).await;
    }
    assert_eq!(layer.handle().state(), CircuitState::Open, "the decision is still made");
    for _ in 0..3 {
        svc.clone().oneshot(false).await.expect("shadow mode lets it through");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 5);
    let events = rec.events();
    let would = events
        .iter()
        .filter(|e| {
            matches!(e, CircuitBreakerEvent::ShadowWouldReject { state: CircuitState::Open, .. })
        })
        .count();
    assert_eq!(would, 3);
    assert!(!events.iter().any(|e| matches!(e, CircuitBreakerEvent::Rejected { .. })));
}

#[tokio::test(start_paused = true)]
async fn reconfiguration_keeps_state_and_window() {
    let base = CircuitBreakerConfig {
        window: WindowConfig::Count { size: 10 },
        minimum_calls: 5,
        ..CircuitBreakerConfig::default()
    };
    let (tx, rx) = watch::channel(base.clone());
    let rec = Recorder::default();
    let layer = CircuitBreakerLayer::builder()
        .config(base.clone())
        .listeners(rec.listeners())
        .build()
        .expect("valid")
        .watch_config(rx);
    for _ in 0..3 {
        let _ = call(&layer, Call::Fail).await;
    }
    // Lower the bar: the three failures already in the window must still count.
    tx.send(CircuitBreakerConfig { minimum_calls: 4, ..base.clone() }).expect("send");
    tokio::task::yield_now().await;
    assert_eq!(layer.handle().config().minimum_calls, 4);
    assert_eq!(layer.handle().state(), CircuitState::Closed);
    let _ = call(&layer, Call::Fail).await;
    assert_eq!(layer.handle().state(), CircuitState::Open, "window survived reconfiguration");

    // An open breaker stays open, with the open period it had.
    let cfg = CircuitBreakerConfig { open_duration: Duration::from_secs(60), ..base.clone() };
    layer.reconfigure(&cfg).expect("valid");
    assert_eq!(layer.handle().state(), CircuitState::Open);
    assert_eq!(layer.handle().retry_after(), Some(Duration::from_secs(5)));

    // A new window shape cannot be adopted live; the event says the window was kept.
    let resized = CircuitBreakerConfig { window: WindowConfig::Count { size: 50 }, ..base.clone() };
    layer.reconfigure(&resized).expect("valid");
    assert_eq!(layer.handle().config().window, WindowConfig::Count { size: 10 });
    let kept: Vec<bool> = rec
        .events()
        .iter()
        .filter_map(|e| match e {
            CircuitBreakerEvent::Reconfigured { window_kept } => Some(*window_kept),
            _ => None,
        })
        .collect();
    assert_eq!(kept, vec![false, false, false, true], "initial watch value, update, two calls");

    // Invalid configs are refused and change nothing.
    let bad = CircuitBreakerConfig { failure_rate_threshold: Some(1.5), ..base };
    let err = layer.reconfigure(&bad).expect_err("invalid");
    assert_eq!(err.field(), "failure_rate_threshold");
}

/// A call admitted while the breaker needs no clock (count window, no slow-call trigger)
/// carries no start time: turning the slow trigger on while it runs never makes it count
/// as slow, and dropping it unfinished records nothing. Calls admitted after the change
/// are timed.
#[tokio::test(start_paused = true)]
async fn calls_admitted_before_the_slow_trigger_are_never_slow() {
    use futures_util::FutureExt;

    let base = CircuitBreakerConfig {
        window: WindowConfig::Count { size: 4 },
        minimum_calls: 4,
        ..CircuitBreakerConfig::default()
    };
    let layer = CircuitBreakerLayer::builder().config(base.clone()).build().expect("valid");
    let mut svc = layer.layer(backend());
    let plain = svc.ready().await.expect("ready").call(Call::Slow(Duration::from_secs(10)));
    let mut abandoned = Box::pin(svc.ready().await.expect("ready").call(Call::Hang));
    assert!((&mut abandoned).now_or_never().is_none(), "hangs");

    let timed = CircuitBreakerConfig {
        slow_call_rate_threshold: Some(0.6),
        slow_call_duration: Duration::from_secs(1),
        ..base
    };
    layer.reconfigure(&timed).expect("valid");
    drop(abandoned);
    assert_eq!(plain.await.expect("passes"), "slow");

    let two_secs = Call::Slow(Duration::from_secs(2));
    for c in [two_secs, Call::Ok, two_secs] {
        call(&layer, c).await.expect("passes");
    }
    // Window: the plain call (fast), slow, fast, slow: 2 of 4 slow, under 0.6.
    assert_eq!(layer.handle().state(), CircuitState::Closed);
    call(&layer, two_secs).await.expect("passes");
    // Window: slow, fast, slow, slow: 3 of 4.
    assert_eq!(layer.handle().state(), CircuitState::Open);
}

#[test]
fn config_defaults_serde_and_validation() {
    let cfg: CircuitBreakerConfig = serde_json::from_str("{}").expect("all defaults");
    assert_eq!(cfg, CircuitBreakerConfig::default());
    cfg.validate().expect("defaults are valid");
    let cfg: CircuitBreakerConfig = serde_json::from_str(
        r#"{"window":{"kind":"time","duration":"1m","buckets":6},"mode":"shadow","consecutive_failures":3}"#,
    )
    .expect("parses");
    assert_eq!(cfg.window, WindowConfig::Time { duration: Duration::from_secs(60), buckets: 6 });
    assert!(cfg.mode.is_shadow());
    assert!(serde_json::from_str::<CircuitBreakerConfig>(r#"{"treshold":1}"#).is_err());
    for (bad, field) in [
        (
            CircuitBreakerConfig { window: WindowConfig::Count { size: 0 }, ..Default::default() },
            "window.size",
        ),
        (CircuitBreakerConfig { minimum_calls: 0, ..Default::default() }, "minimum_calls"),
        (
            CircuitBreakerConfig { slow_call_rate_threshold: Some(0.0), ..Default::default() },
            "slow_call_rate_threshold",
        ),
        (
            CircuitBreakerConfig { consecutive_failures: Some(0), ..Default::default() },
            "consecutive_failures",
        ),
        (
            CircuitBreakerConfig { open_backoff_multiplier: 0.5, ..Default::default() },
            "open_backoff_multiplier",
        ),
        (
            CircuitBreakerConfig {
                max_open_duration: Duration::from_secs(1),
                ..Default::default()
            },
            "max_open_duration",
        ),
        (CircuitBreakerConfig { half_open_probes: 0, ..Default::default() }, "half_open_probes"),
    ] {
        assert_eq!(bad.validate().expect_err("invalid").field(), field);
    }
}

#[test]
fn open_duration_backoff_is_capped() {
    let cfg = CircuitBreakerConfig {
        open_duration: Duration::from_secs(1),
        open_backoff_multiplier: 3.0,
        max_open_duration: Duration::from_secs(20),
        ..Default::default()
    };
    let got: Vec<_> = (0..5).map(|n| cfg.open_duration_after(n).as_secs()).collect();
    assert_eq!(got, vec![1, 3, 9, 20, 20]);
    assert_eq!(cfg.open_duration_after(u32::MAX), Duration::from_secs(20));
}
