//! `/health/live` and `/health/ready` over axum, with the built-in store and Redis checks.
#![cfg(feature = "axum")]

use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use platform_core::BoxError;
use platform_observe::health::{CheckOptions, HealthRegistry, HealthReport, Status, health_router};
use tower::ServiceExt;

async fn probe(health: &HealthRegistry, path: &str) -> (StatusCode, HealthReport) {
    let app: axum::Router = health_router(health.clone());
    let res = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn live_and_ready_answer_json_with_200_or_503() {
    let health = HealthRegistry::new();
    health.register("event-loop", CheckOptions::liveness(), || async { Ok::<_, BoxError>(()) });
    health.register("queue", CheckOptions::readiness().cache_for(Duration::ZERO), || async {
        Err::<(), BoxError>("broker unreachable".into())
    });
    let (status, report) = probe(&health, "/health/live").await;
    assert_eq!((status, report.status), (StatusCode::OK, Status::Up));
    let (status, report) = probe(&health, "/health/ready").await;
    assert_eq!((status, report.status), (StatusCode::SERVICE_UNAVAILABLE, Status::Down));
    assert_eq!(report.checks["queue"].error.as_deref(), Some("broker unreachable"));
}

#[cfg(feature = "store")]
#[tokio::test]
async fn store_check_reports_a_live_and_a_closed_pool() {
    let store = platform_core::store::Store::connect("sqlite::memory:").await.unwrap();
    let health = HealthRegistry::new();
    let opts = CheckOptions::readiness().cache_for(Duration::ZERO);
    health.register("db", opts, platform_observe::health::store_check(store.clone()));
    assert_eq!(probe(&health, "/health/ready").await.0, StatusCode::OK);
    store.close().await;
    let (status, report) = probe(&health, "/health/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(report.checks["db"].error.is_some());
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_check_pings_a_real_server() {
    let Some(url) = platform_core::test_util::Service::Redis
        .url_or_skip("redis_check_pings_a_real_server")
        .await
    else {
        return;
    };
    let conn = redis::Client::open(url).unwrap().get_connection_manager().await.unwrap();
    let health = HealthRegistry::new();
    health.register(
        "redis",
        CheckOptions::readiness(),
        platform_observe::health::redis_check(conn),
    );
    let (status, report) = probe(&health, "/health/ready").await;
    assert_eq!(status, StatusCode::OK, "{report:?}");
    let bad = redis::Client::open("redis://127.0.0.1:1").unwrap();
    let cfg = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(Duration::from_millis(200)));
    if let Ok(conn) = bad.get_connection_manager_with_config(cfg).await {
        health.register(
            "down",
            CheckOptions::readiness(),
            platform_observe::health::redis_check(conn),
        );
        assert_eq!(probe(&health, "/health/ready").await.0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
