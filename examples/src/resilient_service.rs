//! An ordinary axum service with the platform-core resilience layers added.
//!
//! This is the template for "tower middleware in an existing service": the handlers
//! know nothing about resilience; one `ServiceBuilder` stack around the router adds it,
//! and `platform_core::error::handle_error` turns local rejections into 503 / 429 / 504
//! responses with `Retry-After` and a JSON body.

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use platform_core::resilience::TimeoutLayer;
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;

/// Settings of the demo service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(2) }
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
/// Layers run top to bottom: `HandleErrorLayer` is outermost so that it sees every
/// rejection produced below it.
pub fn app(settings: &Settings) -> Router {
    Router::new().route("/hello", get(hello)).route("/slow", get(slow)).layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(platform_core::error::handle_error))
            .layer(TimeoutLayer::new(settings.timeout)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get_req(app: Router, uri: &str) -> (u16, serde_json::Value) {
        let res = app
            .oneshot(axum::http::Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    #[tokio::test(start_paused = true)]
    async fn fast_requests_pass() {
        let app = app(&Settings::default());
        let (status, body) = get_req(app, "/slow?ms=10").await;
        assert_eq!(status, 200);
        assert_eq!(body["waited_ms"], 10);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_requests_get_504_json() {
        let app = app(&Settings { timeout: Duration::from_millis(100) });
        let (status, body) = get_req(app, "/slow?ms=1000").await;
        assert_eq!(status, 504);
        assert_eq!(body["error"], "timeout");
    }
}
