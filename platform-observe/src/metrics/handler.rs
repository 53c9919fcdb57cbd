//! The Prometheus scrape endpoint for axum.

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE as CONTENT_TYPE_HEADER;
use axum::response::IntoResponse;
use axum::routing::get;

use super::encode::CONTENT_TYPE;
use super::registry::MetricsRegistry;

/// Serves `registry` in the Prometheus text format (`State` is the registry).
pub async fn metrics_handler(State(registry): State<MetricsRegistry>) -> impl IntoResponse {
    ([(CONTENT_TYPE_HEADER, CONTENT_TYPE)], registry.encode())
}

/// A router serving `GET /metrics` from `registry`, to merge into an admin router.
pub fn metrics_router<S>(registry: MetricsRegistry) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route("/metrics", get(metrics_handler)).with_state(registry)
}
