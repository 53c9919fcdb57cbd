//! `/health/live` and `/health/ready` for axum.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::registry::HealthRegistry;

/// Answers the liveness probe: the JSON [`HealthReport`](super::HealthReport), 200 or 503.
pub async fn live_handler(State(health): State<HealthRegistry>) -> impl IntoResponse {
    let report = health.liveness().await;
    (report.http_status(), Json(report))
}

/// Answers the readiness probe: the JSON [`HealthReport`](super::HealthReport), 200 or 503.
pub async fn ready_handler(State(health): State<HealthRegistry>) -> impl IntoResponse {
    let report = health.readiness().await;
    (report.http_status(), Json(report))
}

/// A router serving `GET /health/live` and `GET /health/ready`, to merge into an admin router.
pub fn health_router<S>(health: HealthRegistry) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/health/live", get(live_handler))
        .route("/health/ready", get(ready_handler))
        .with_state(health)
}
