//! Canary rollouts on the platform: rollout state in the platform's database (so a
//! rollout survives restarts, and several platforms on one PostgreSQL database follow
//! one rollout), per-version metrics in its registry, and the canary admin API on the
//! admin listener.

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::Method;
use platform_core::store::Store;
use platform_gateway::canary::{CanaryMetrics, Rollouts, SqlRolloutStore, admin_router, migrate};
use platform_observe::metrics::MetricsRegistry;
use tower::ServiceExt;

use super::error::PlatformError;

/// The rollouts every canary route of the routes file keeps its state in, at the start
/// and across reloads; their tables are created in `store` when missing.
pub(crate) async fn rollouts(
    store: &Store,
    metrics: &MetricsRegistry,
) -> Result<Rollouts, PlatformError> {
    migrate(store).await.map_err(|e| {
        PlatformError::Store(format!("cannot create the canary rollout tables: {e}"))
    })?;
    let metrics = CanaryMetrics::new(metrics)
        .map_err(|e| PlatformError::Telemetry(format!("canary metrics: {e}")))?;
    Ok(Rollouts::new(SqlRolloutStore::new(store.clone())).with_metrics(metrics))
}

/// The canary admin API: `GET /admin/canary` and `GET /admin/canary/{name}` answer
/// anyone who reaches the admin listener, like `/admin/routes`; the actions
/// (`POST /admin/canary/{name}/{action}`), which change what users get, go through
/// `guard` (authentication and authorization layers over whatever it is given).
pub(crate) fn admin<G>(rollouts: Rollouts, guard: G) -> Router
where
    G: Fn(Router) -> Router + Clone + Send + Sync + 'static,
{
    admin_router(rollouts).layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        let guard = guard.clone();
        async move {
            if matches!(*req.method(), Method::GET | Method::HEAD) {
                return next.run(req).await;
            }
            // The canary router already matched; the guard wraps the rest of its way.
            let guarded = guard(Router::new().fallback_service(next));
            let res: Response = match guarded.oneshot(req).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            res
        }
    }))
}
