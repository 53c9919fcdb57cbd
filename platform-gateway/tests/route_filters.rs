//! Per-route resilience and CORS filters, and the upstream idle timeout, end to end.

mod common;

use std::time::Duration;

use common::{echo_upstream, get, serve, status_upstream};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use platform_core::resilience::RateLimitConfig;
use platform_core::resilience::circuit_breaker::CircuitBreakerConfig;
use platform_gateway::filter::RateKey;
use platform_gateway::{Gateway, Route, Upstream, UpstreamConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn one_route(address: String, route: platform_gateway::RouteBuilder) -> std::net::SocketAddr {
    let upstream = Upstream::builder("u")
        .endpoint(address)
        .config(UpstreamConfig { eject_outliers: false, ..UpstreamConfig::default() })
        .build()
        .await
        .unwrap();
    serve(
        Gateway::builder()
            .upstream(upstream)
            .route(route.upstream("u").build().unwrap())
            .build()
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let up = echo_upstream("a").await;
    let limit = RateLimitConfig::new(1, Duration::from_secs(60));
    let gw =
        one_route(up.to_string(), Route::builder("r").rate_limit(limit, RateKey::ClientAddress))
            .await;
    assert_eq!(get(gw, "/").await.0, StatusCode::OK);
    let res = common::client()
        .request(Request::get(format!("http://{gw}/")).body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"], "rate_limited");
}

#[tokio::test]
async fn circuit_breaker_opens_on_failures() {
    let up = status_upstream("bad", 500).await;
    let breaker: CircuitBreakerConfig = serde_json::from_value(serde_json::json!({
        "consecutive_failures": 2, "open_duration": "60s"
    }))
    .unwrap();
    let gw = one_route(up.to_string(), Route::builder("r").circuit_breaker(breaker)).await;
    assert_eq!(get(gw, "/").await.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(get(gw, "/").await.0, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) = get(gw, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "circuit_open");
}

#[tokio::test]
async fn cors_preflight_is_answered_by_the_gateway() {
    let up = echo_upstream("a").await;
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin([http::HeaderValue::from_static("https://app.example")])
        .allow_methods([Method::GET, Method::PUT]);
    let gw = one_route(up.to_string(), Route::builder("r").cors(cors)).await;
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri(format!("http://{gw}/things"))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "PUT")
        .body(Full::default())
        .unwrap();
    let res = common::client().request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
    assert!(!res.headers().contains_key("x-upstream"), "a preflight never reaches the upstream");
    let req = Request::get(format!("http://{gw}/things"))
        .header("origin", "https://app.example")
        .body(Full::default())
        .unwrap();
    let res = common::client().request(req).await.unwrap();
    assert_eq!(res.headers()["x-upstream"], "a");
    assert_eq!(res.headers()["access-control-allow-origin"], "https://app.example");
}

#[tokio::test]
async fn a_stalled_response_body_is_cut_off() {
    // An upstream that promises 100 bytes, sends 3 and goes quiet.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc").await.unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    });
    let upstream = Upstream::builder("u")
        .endpoint(addr.to_string())
        .config(UpstreamConfig {
            idle_timeout: Duration::from_millis(200),
            ..UpstreamConfig::default()
        })
        .build()
        .await
        .unwrap();
    let route = Route::builder("r").upstream("u").build().unwrap();
    let gw = serve(Gateway::builder().upstream(upstream).route(route).build().unwrap()).await;
    let res = common::client()
        .request(Request::get(format!("http://{gw}/")).body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = tokio::time::timeout(Duration::from_secs(20), res.into_body().collect())
        .await
        .expect("the stalled body was never cut off");
    assert!(body.is_err(), "a truncated body must end in an error, not look complete");
}
