use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use platform_core::BoxError;

use super::*;

fn counting(calls: &Arc<AtomicUsize>, ok: bool) -> impl HealthCheck {
    let calls = Arc::clone(calls);
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        async move { if ok { Ok::<_, BoxError>(()) } else { Err("down".into()) } }
    }
}

#[tokio::test(start_paused = true)]
async fn critical_failure_is_down_non_critical_is_degraded() {
    let h = HealthRegistry::new();
    let calls = Arc::new(AtomicUsize::new(0));
    h.register("ok", CheckOptions::readiness(), counting(&calls, true));
    h.register("cache", CheckOptions::readiness().non_critical(), counting(&calls, false));
    let r = h.readiness().await;
    assert_eq!((r.status, r.http_status().as_u16()), (Status::Degraded, 200));
    assert_eq!(r.checks["cache"].error.as_deref(), Some("down"));
    h.register("db", CheckOptions::readiness(), counting(&calls, false));
    let r = h.readiness().await;
    assert_eq!((r.status, r.http_status().as_u16()), (Status::Down, 503));
    assert_eq!(r.checks.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn liveness_and_readiness_run_their_own_checks() {
    let h = HealthRegistry::new();
    let calls = Arc::new(AtomicUsize::new(0));
    h.register("deps", CheckOptions::readiness(), counting(&calls, false));
    h.register("loop", CheckOptions::liveness(), counting(&calls, true));
    h.register("both", CheckOptions::liveness().both_probes(), counting(&calls, true));
    let live = h.liveness().await;
    assert_eq!(live.status, Status::Up);
    assert_eq!(live.checks.keys().collect::<Vec<_>>(), ["both", "loop"]);
    assert_eq!(h.readiness().await.checks.keys().collect::<Vec<_>>(), ["both", "deps"]);
}

#[tokio::test(start_paused = true)]
async fn a_slow_check_times_out() {
    let h = HealthRegistry::new();
    h.register("slow", CheckOptions::readiness().timeout(Duration::from_millis(100)), || async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, BoxError>(())
    });
    let r = h.readiness().await;
    assert_eq!(r.status, Status::Down);
    assert!(r.checks["slow"].error.as_ref().unwrap().contains("no answer within 100ms"));
}

#[tokio::test(start_paused = true)]
async fn results_are_cached_for_the_ttl() {
    let h = HealthRegistry::new();
    let calls = Arc::new(AtomicUsize::new(0));
    h.register(
        "db",
        CheckOptions::readiness().cache_for(Duration::from_secs(5)),
        counting(&calls, true),
    );
    assert!(!h.readiness().await.checks["db"].cached);
    let (a, b) = tokio::join!(h.readiness(), h.readiness());
    assert!(a.checks["db"].cached && b.checks["db"].cached);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(!h.readiness().await.checks["db"].cached);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_empty_registry_is_up_and_the_report_serializes() {
    let r = HealthRegistry::new().readiness().await;
    assert_eq!(r.status, Status::Up);
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"status": "up", "checks": {}})
    );
}
