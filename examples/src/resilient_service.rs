//! An ordinary axum service with the platform-core resilience layers added.
//!
//! This is the template for "tower middleware in an existing service": the handlers
//! know nothing about resilience; one `ServiceBuilder` stack around the router adds it,
//! and `platform_core::error::handle_error` turns local rejections into 503 / 429 / 504
//! responses with `Retry-After` and a JSON body. Every layer is built from its serde
//! config, so the whole stack can be tuned from a TOML file ([`Settings`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::extract::Query;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use platform_core::classify::HttpClassifier;
use platform_core::resilience::circuit_breaker::{CircuitBreakerConfig, CircuitBreakerLayer};
use platform_core::resilience::key::{ClientIpKey, RouteKey};
use platform_core::resilience::rate_limit::{RateLimitConfig, RateLimitLayer};
use platform_core::resilience::retry::ReplayBody;
use platform_core::resilience::shed::{LoadShedConfig, LoadShedLayer, Pressure};
use platform_core::resilience::{
    BulkheadConfig, BulkheadLayer, ConfigError, RetryConfig, RetryLayer, TimeoutConfig,
    TimeoutLayer,
};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;

/// Settings of the demo service: one section per layer, each the layer's own serde config.
///
/// ```
/// let settings: platform_examples::resilient_service::Settings =
///     toml::from_str("[timeout]\ntimeout = \"500ms\"").unwrap();
/// assert_eq!(settings.timeout.timeout, std::time::Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Whole-request timeout.
    pub timeout: TimeoutConfig,
    /// Load shedding under CPU / memory pressure.
    pub shed: LoadShedConfig,
    /// Quota per client IP address.
    pub rate_limit: RateLimitConfig,
    /// Retries of idempotent requests that failed with 5xx.
    pub retry: RetryConfig,
    /// One circuit breaker per route.
    pub breaker: CircuitBreakerConfig,
    /// Concurrency cap for the whole service.
    pub bulkhead: BulkheadConfig,
}

impl Settings {
    /// Parses TOML settings; errors name the key that was wrong.
    pub fn from_toml(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

#[derive(Debug, Deserialize)]
struct SlowParams {
    #[serde(default)]
    ms: u64,
}

#[derive(Debug, Serialize)]
struct Reply {
    ok: bool,
    waited_ms: u64,
}

async fn hello() -> &'static str {
    "hello from the platform SDK\n"
}

async fn slow(Query(p): Query<SlowParams>) -> Json<Reply> {
    tokio::time::sleep(Duration::from_millis(p.ms)).await;
    Json(Reply { ok: true, waited_ms: p.ms })
}

/// Builds the service: plain handlers, then the resilience stack around them.
///
/// Layers run top to bottom (outermost first): error mapping sees every rejection; the
/// timeout bounds the whole request; shedding is the cheapest rejection; the rate limit is
/// per client and outside retries so retries spend quota; the breaker is per route and
/// inside retry so its rejections are not retried; the bulkhead holds its slot until the
/// response body is sent.
pub fn app(settings: &Settings, pressure: Arc<dyn Pressure>) -> Result<Router, ConfigError> {
    // `/flaky` fails two calls out of three: the retry layer hides it from clients.
    let flaky_calls = Arc::new(AtomicU64::new(0));
    let flaky = move || {
        let n = flaky_calls.fetch_add(1, Ordering::Relaxed);
        async move {
            if n % 3 == 2 {
                (StatusCode::OK, "worked this time\n")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "transient failure\n")
            }
        }
    };
    let routes = Router::new()
        .route("/hello", get(hello))
        .route("/slow", get(slow))
        .route("/flaky", get(flaky));

    let stack = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(platform_core::error::handle_error))
        .layer(TimeoutLayer::from_config(settings.timeout.clone())?)
        .layer(LoadShedLayer::from_config(pressure, settings.shed.clone())?)
        .layer(RateLimitLayer::keyed(settings.rate_limit.clone(), ClientIpKey)?)
        .layer(RetryLayer::http(settings.retry.clone())?)
        .map_request(|req: Request<ReplayBody<Body>>| req.map(Body::new))
        .layer(
            CircuitBreakerLayer::builder()
                .config(settings.breaker.clone())
                .classifier(HttpClassifier::default())
                .keyed(RouteKey)?,
        )
        .layer(BulkheadLayer::http(settings.bulkhead.clone())?);
    Ok(routes.layer(stack))
}

/// The client address as the rate limiter reads it (set by `axum::serve` with connect info,
/// or by a test).
pub fn with_client_addr<B>(mut req: Request<B>, addr: SocketAddr) -> Request<B> {
    req.extensions_mut().insert(addr);
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use platform_core::resilience::shed::ManualPressure;
    use tower::ServiceExt;

    async fn get_req(app: &Router, uri: &str) -> (u16, serde_json::Value, String) {
        let req = Request::get(uri).body(Body::empty()).expect("request");
        let req = with_client_addr(req, "192.0.2.7:4000".parse().expect("addr"));
        let res = app.clone().oneshot(req).await.expect("infallible");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text)
    }

    fn calm() -> Arc<dyn Pressure> {
        Arc::new(ManualPressure::new())
    }

    #[tokio::test(start_paused = true)]
    async fn fast_requests_pass() {
        let app = app(&Settings::default(), calm()).expect("valid");
        let (status, body, _) = get_req(&app, "/slow?ms=10").await;
        assert_eq!(status, 200);
        assert_eq!(body["waited_ms"], 10);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_get_504_json() {
        let settings = Settings::from_toml("[timeout]\ntimeout = \"100ms\"").expect("toml");
        let app = app(&settings, calm()).expect("valid");
        let (status, body, _) = get_req(&app, "/slow?ms=1000").await;
        assert_eq!(status, 504);
        assert_eq!(body["error"], "timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn flaky_route_is_retried_into_success() {
        let app = app(&Settings::default(), calm()).expect("valid");
        let (status, _, text) = get_req(&app, "/flaky").await;
        assert_eq!(status, 200, "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn clients_over_quota_get_429() {
        let settings = Settings::from_toml("[rate_limit]\nrate = 1\nperiod = \"1m\"\nburst = 2")
            .expect("toml");
        let app = app(&settings, calm()).expect("valid");
        assert_eq!(get_req(&app, "/hello").await.0, 200);
        assert_eq!(get_req(&app, "/hello").await.0, 200);
        let (status, body, _) = get_req(&app, "/hello").await;
        assert_eq!(status, 429);
        assert_eq!(body["error"], "rate_limited");
    }

    #[test]
    fn shipped_config_file_is_valid() {
        let text = include_str!("../config/resilient-service.toml");
        let settings = Settings::from_toml(text).expect("valid TOML settings");
        assert!(app(&settings, calm()).is_ok());
    }

    #[test]
    fn bad_settings_name_the_key() {
        let err = Settings::from_toml("[bulkhead]\nmax_concurent = 3").expect_err("typo");
        assert!(err.to_string().contains("max_concurent"), "{err}");
        let settings = Settings::from_toml("[timeout]\ntimeout = \"0s\"").expect("parses");
        let err = app(&settings, calm()).expect_err("zero timeout");
        assert_eq!(err.field(), "timeout");
    }
}
