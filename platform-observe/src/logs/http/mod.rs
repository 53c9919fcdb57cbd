//! The log router for axum: NDJSON ingest and search.

mod error;
mod handlers;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::store::LogStore;

/// Settings of [`logs_router`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogRouterConfig {
    /// Largest ingest body, in bytes (default 4 MiB); larger bodies get `413`.
    pub max_body_bytes: usize,
}

impl Default for LogRouterConfig {
    fn default() -> Self {
        Self { max_body_bytes: 4 << 20 }
    }
}

/// A router serving a [`LogStore`], to merge into an admin router:
///
/// * `POST /logs/ingest` — an NDJSON body, one [`LogRecord`](super::LogRecord) per line.
///   All or nothing: the body is parsed and checked whole before anything is stored, and
///   stored in one transaction. `200 {"accepted": n}` means every line is stored. A bad
///   line gets `400` (`invalid_records`) naming the first bad line and its field, with
///   every bad line (up to 100) in `bad_lines`, and **nothing** of that body is stored —
///   the good lines are not lost: resend them without the bad ones (`HttpLogStore` does).
///   A body over the limit gets `413`; a failing store `503` (nothing stored; retry).
/// * `GET /logs/search?q=…&level=…&service=…&trace_id=…&since=…&until=…&cursor=…&limit=…`
///   — a JSON [`LogPage`](super::LogPage) (`records`, `next_cursor`). A bad parameter
///   gets `400` (`invalid_query`) with the parameter in `field`.
///
/// Errors are JSON [`LogErrorBody`](super::LogErrorBody)s: the SDK's `{"error", "message"}` plus the field,
/// line and bad lines when they apply.
///
/// ```
/// use std::sync::Arc;
/// use axum::body::Body;
/// use http::Request;
/// use platform_core::store::Store;
/// use platform_observe::logs::{LogRouterConfig, SqlLogStore, logs_router};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let logs = Arc::new(SqlLogStore::new(Store::connect("sqlite::memory:").await?).await?);
/// let app: axum::Router = logs_router(logs, LogRouterConfig::default());
/// let line = r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"a","message":"hi"}"#;
/// let res = app
///     .oneshot(Request::post("/logs/ingest").body(Body::from(line))?)
///     .await?;
/// assert_eq!(res.status(), 200);
/// # Ok(()) }
/// ```
pub fn logs_router<S>(store: Arc<dyn LogStore>, config: LogRouterConfig) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route(
            "/logs/ingest",
            post(handlers::ingest).layer(DefaultBodyLimit::max(config.max_body_bytes)),
        )
        .route("/logs/search", get(handlers::search))
        .with_state(store)
}
