//! Canary rollouts end to end: a gateway serving real upstream servers, the canary
//! version answering injected 500s and rolled back by the gateway's own analysis, a
//! healthy canary promoted to all traffic, and overrides through HTTP.

mod canary_support;
mod common;

use std::sync::Arc;
use std::time::Duration;

use canary_support::{NEXT, STABLE};
use common::{serve, status_upstream, who};
use http::{HeaderName, StatusCode};
use platform_gateway::canary::{
    AnalysisConfig, Canary, CohortKey, DecisionKind, Phase, RolloutPlan, Rollouts,
};
use platform_gateway::{Gateway, Route, Upstream};

/// Steps of 30 and 100 %, judged as soon as each version has 20 requests.
fn quick() -> RolloutPlan {
    RolloutPlan::steps([30.0, 100.0]).min_duration(Duration::ZERO).min_requests(20)
}

/// A gateway whose `/users` route is a canary between two servers answering
/// `stable_status` and `next_status`, judged every 20 ms in the background.
async fn gateway(
    stable_status: u16,
    next_status: u16,
    plan: RolloutPlan,
) -> (std::net::SocketAddr, Canary) {
    let stable_addr = status_upstream(STABLE, stable_status).await;
    let next_addr = status_upstream(NEXT, next_status).await;
    let stable = Upstream::builder(STABLE).endpoint(stable_addr.to_string()).build().await.unwrap();
    let next = Upstream::builder(NEXT).endpoint(next_addr.to_string()).build().await.unwrap();
    let canary = Canary::builder("users")
        .stable(stable)
        .candidate(next)
        .cohort(CohortKey::Header(HeaderName::from_static("x-user-id")))
        .override_header("x-canary")
        .plan(plan)
        .analysis(AnalysisConfig { interval: Duration::from_millis(20), ..Default::default() })
        .rollouts(&Rollouts::in_memory())
        .build()
        .await
        .unwrap();
    let route = Route::builder("users")
        .path_prefix("/users")
        .backend(Arc::new(canary.clone()))
        .build()
        .unwrap();
    let gateway = Gateway::builder().route(route).build().unwrap();
    (serve(gateway).await, canary)
}

/// A server that accepts connections and never answers.
async fn silent_upstream() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// Sends requests of users `u0..u{n}` until the rollout reaches `phase` (polling, with a
/// generous deadline; nothing here asserts how long it takes).
async fn until_phase(addr: std::net::SocketAddr, canary: &Canary, phase: Phase) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut i = 0u32;
    while canary.state().unwrap().state.phase != phase {
        assert!(tokio::time::Instant::now() < deadline, "not {phase}: {:?}", canary.state());
        for _ in 0..20 {
            who(addr, "/users", &[("x-user-id", &format!("u{i}"))]).await;
            i += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn injected_errors_roll_the_canary_back_and_stable_serves_everything() {
    let (addr, canary) = gateway(200, 500, quick()).await;
    until_phase(addr, &canary, Phase::RolledBack).await;
    let state = canary.state().unwrap().state;
    assert_eq!(state.step, 0, "rolled back within the first step");
    let decision = state.last.unwrap();
    assert_eq!(decision.kind, DecisionKind::Rollback);
    assert!(decision.reason.contains("error rate 100.00%"), "{}", decision.reason);
    for i in 0..100 {
        let (status, served_by) = who(addr, "/users", &[("x-user-id", &format!("u{i}"))]).await;
        assert_eq!((status, served_by.as_str()), (StatusCode::OK, STABLE), "user u{i}");
    }
    let (_, keyless) = who(addr, "/users", &[]).await;
    assert_eq!(keyless, STABLE);
    // A tester can still reach the rolled-back version on purpose.
    let (status, forced) = who(addr, "/users", &[("x-canary", NEXT)]).await;
    assert_eq!((status, forced.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, NEXT));
}

#[tokio::test]
async fn a_healthy_canary_is_promoted_and_serves_everything() {
    let (addr, canary) = gateway(200, 200, quick()).await;
    until_phase(addr, &canary, Phase::Promoted).await;
    let state = canary.state().unwrap().state;
    assert_eq!((state.step, state.weight_bp), (1, 10_000));
    for i in 0..50 {
        let (_, served_by) = who(addr, "/users", &[("x-user-id", &format!("u{i}"))]).await;
        assert_eq!(served_by, NEXT, "user u{i}");
    }
    let status = canary.status().await.unwrap();
    let next = status.versions.iter().find(|v| v.name == NEXT).unwrap();
    assert!(next.instance_total.requests > 0, "{status:?}");
    assert_eq!(next.instance_total.failures, 0);
}

#[tokio::test]
async fn sticky_users_see_one_version_through_the_proxy() {
    // A step that is never judged: the weights stay at 30 %.
    let (addr, canary) = gateway(200, 200, quick().min_requests(1_000_000)).await;
    let mut on_next = 0;
    for i in 0..60 {
        let user = format!("sticky-{i}");
        let headers = [("x-user-id", user.as_str())];
        let (_, first) = who(addr, "/users", &headers).await;
        on_next += usize::from(first == NEXT);
        for _ in 0..3 {
            let (_, again) = who(addr, "/users", &headers).await;
            assert_eq!(again, first, "{user}");
        }
    }
    assert!((5..40).contains(&on_next), "about 30 % of 60 users: {on_next}");
    assert_eq!(canary.state().unwrap().state.step, 0);
}

#[tokio::test]
async fn a_version_that_hangs_past_the_route_timeout_is_rolled_back() {
    let stable_addr = status_upstream(STABLE, 200).await;
    let stable = Upstream::builder(STABLE).endpoint(stable_addr.to_string()).build().await.unwrap();
    let next = Upstream::builder(NEXT)
        .endpoint(silent_upstream().await.to_string())
        .build()
        .await
        .unwrap();
    let canary = Canary::builder("users")
        .stable(stable)
        .candidate(next)
        .cohort(CohortKey::Header(HeaderName::from_static("x-user-id")))
        .plan(quick())
        .analysis(AnalysisConfig { interval: Duration::from_millis(20), ..Default::default() })
        .build()
        .await
        .unwrap();
    // The route gives up after 50 ms, long before the upstream's own response timeout:
    // the abandoned attempts still count against the version.
    let route = Route::builder("users")
        .path_prefix("/users")
        .timeout(Duration::from_millis(50))
        .backend(Arc::new(canary.clone()))
        .build()
        .unwrap();
    let addr = serve(Gateway::builder().route(route).build().unwrap()).await;
    until_phase(addr, &canary, Phase::RolledBack).await;
    let reason = canary.state().unwrap().state.last.unwrap().reason;
    assert!(reason.contains("error rate 100.00%"), "{reason}");
}
