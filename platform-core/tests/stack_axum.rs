//! Every resilience layer stacked with `ServiceBuilder` around an ordinary axum `Router`,
//! each one observed doing its job through real HTTP requests, with errors mapped by
//! `platform_core::error::handle_error`.
//!
//! Order (outermost first): error mapping → timeout → load shedding → rate limit (per
//! client) → retry → circuit breaker (per route) → bulkhead → adaptive concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use platform_core::classify::HttpClassifier;
use platform_core::resilience::circuit_breaker::CircuitBreakerLayer;
use platform_core::resilience::key::{HeaderKey, RouteKey};
use platform_core::resilience::rate_limit::{RateLimitClock, RateLimitConfig, RateLimitLayer};
use platform_core::resilience::retry::ReplayBody;
use platform_core::resilience::shed::{LoadShedLayer, ManualPressure};
use platform_core::resilience::{
    AdaptiveConcurrencyLayer, BulkheadConfig, BulkheadLayer, RetryConfig, RetryLayer, TimeoutLayer,
};
use tokio::sync::Notify;
use tower::{ServiceBuilder, ServiceExt};

struct Fixture {
    app: Router,
    pressure: Arc<ManualPressure>,
    flaky_calls: Arc<AtomicU32>,
    fail_calls: Arc<AtomicU32>,
    release: Arc<Notify>,
}

fn fixture() -> Fixture {
    let pressure = Arc::new(ManualPressure::new());
    let flaky_calls = Arc::new(AtomicU32::new(0));
    let fail_calls = Arc::new(AtomicU32::new(0));
    let release = Arc::new(Notify::new());

    let flaky = flaky_calls.clone();
    let fail = fail_calls.clone();
    let hold = release.clone();
    let routes = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/flaky",
            get(move || {
                let n = flaky.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        (StatusCode::BAD_GATEWAY, "not yet")
                    } else {
                        (StatusCode::OK, "recovered")
                    }
                }
            }),
        )
        .route(
            "/fail",
            get(move || {
                fail.fetch_add(1, Ordering::SeqCst);
                async { (StatusCode::INTERNAL_SERVER_ERROR, "down") }
            }),
        )
        .route(
            "/hold",
            get(move || {
                let hold = hold.clone();
                async move {
                    hold.notified().await;
                    "released"
                }
            }),
        );

    let rate_limit = RateLimitLayer::keyed(
        RateLimitConfig::builder()
            .rate(1, Duration::from_secs(60))
            .burst(5)
            .build()
            .expect("quota"),
        HeaderKey::new(http::HeaderName::from_static("x-client")),
    )
    .expect("rate limit")
    .with_clock(RateLimitClock::tokio());
    let retry = RetryLayer::http(RetryConfig::builder().max_attempts(3).backoff(
        Duration::from_millis(10),
        Duration::from_millis(50),
        2.0,
    ))
    .expect("retry");
    let breaker = CircuitBreakerLayer::builder()
        .count_window(4)
        .minimum_calls(4)
        .failure_rate_threshold(0.5)
        .open_duration(Duration::from_secs(30))
        .classifier(HttpClassifier::default())
        .keyed(RouteKey)
        .expect("breaker");
    let bulkhead = BulkheadLayer::http(BulkheadConfig::new(2)).expect("bulkhead");
    let adaptive = AdaptiveConcurrencyLayer::new().classifier(HttpClassifier::default());

    let app = routes.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(platform_core::error::handle_error))
            .layer(TimeoutLayer::new(Duration::from_secs(5)))
            .layer(LoadShedLayer::new(pressure.clone()))
            .layer(rate_limit)
            .layer(retry)
            .map_request(|req: Request<ReplayBody<Body>>| req.map(Body::new))
            .layer(breaker)
            .layer(bulkhead)
            .layer(adaptive),
    );
    Fixture { app, pressure, flaky_calls, fail_calls, release }
}

async fn send(app: &Router, uri: &str, client: &str) -> (StatusCode, http::HeaderMap, String) {
    let req = Request::get(uri).header("x-client", client).body(Body::empty()).expect("request");
    let res = app.clone().oneshot(req).await.expect("axum services are infallible");
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(start_paused = true)]
async fn healthy_requests_pass_every_layer() {
    let f = fixture();
    let (status, _, body) = send(&f.app, "/ok", "a").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "ok");
}

#[tokio::test(start_paused = true)]
async fn timeout_answers_504_with_json() {
    let f = fixture();
    let (status, _, body) = send(&f.app, "/slow", "a").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(body.contains(r#""error":"timeout""#), "{body}");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_is_per_client_and_shared_across_router_clones() {
    let f = fixture();
    for i in 0..5 {
        let (status, _, _) = send(&f.app, "/ok", "a").await;
        assert_eq!(status, StatusCode::OK, "request {i} within the burst");
    }
    let (status, headers, body) = send(&f.app, "/ok", "a").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = headers[http::header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(body.contains("rate_limited"), "{body}");
    // Another client has its own bucket.
    assert_eq!(send(&f.app, "/ok", "b").await.0, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn load_shedding_rejects_sheddable_traffic_under_pressure() {
    let f = fixture();
    f.pressure.set_cpu(0.99);
    let req = Request::get("/ok")
        .header("x-client", "a")
        .header("x-criticality", "sheddable")
        .body(Body::empty())
        .unwrap();
    let res = f.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    f.pressure.set_cpu(0.1);
    assert_eq!(send(&f.app, "/ok", "a").await.0, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn retry_hides_transient_failures() {
    let f = fixture();
    let (status, _, body) = send(&f.app, "/flaky", "a").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "recovered");
    assert_eq!(f.flaky_calls.load(Ordering::SeqCst), 3, "two failures retried");
}

#[tokio::test(start_paused = true)]
async fn breaker_opens_for_the_failing_route_only() {
    let f = fixture();
    // Each request makes up to 3 attempts; the 4th failed attempt opens the route's breaker.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(send(&f.app, "/fail", "a").await.0);
    }
    let calls_when_open = f.fail_calls.load(Ordering::SeqCst);
    assert_eq!(calls_when_open, 4, "statuses so far: {statuses:?}");
    let (status, headers, body) = send(&f.app, "/fail", "b").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("circuit_open"), "{body}");
    assert!(headers.contains_key(http::header::RETRY_AFTER));
    assert_eq!(f.fail_calls.load(Ordering::SeqCst), calls_when_open, "open breaker short-circuits");
    // Other routes have their own breaker.
    assert_eq!(send(&f.app, "/ok", "c").await.0, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn bulkhead_rejects_beyond_its_limit_and_recovers() {
    let f = fixture();
    let a = tokio::spawn({
        let app = f.app.clone();
        async move { send(&app, "/hold", "a").await.0 }
    });
    let b = tokio::spawn({
        let app = f.app.clone();
        async move { send(&app, "/hold", "b").await.0 }
    });
    // Let both requests reach the handler and hold their slots.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let (status, _, body) = send(&f.app, "/ok", "c").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("overloaded"), "{body}");
    f.release.notify_waiters();
    assert_eq!(a.await.unwrap(), StatusCode::OK);
    assert_eq!(b.await.unwrap(), StatusCode::OK);
    assert_eq!(send(&f.app, "/ok", "c").await.0, StatusCode::OK);
}
