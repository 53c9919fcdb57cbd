//! The admin listener's router: the gateway's admin router (`/metrics`, `/health/*`,
//! `/admin/routes`, `/admin/upstreams`, `/admin/config`, `/admin/explain`), the canary
//! admin API, the token server's admin API and the audit trail.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use http::{Request, StatusCode};
use platform_auth::server::{TokenServer, default_admin_policies};
use platform_auth::{AuthenticateLayer, Authenticator, AuthorizeLayer};
use platform_core::error::ErrorBody;
use platform_gateway::Shutdown;
use platform_gateway::admin::Admin;
use platform_gateway::canary::Rollouts;
use platform_gateway::reload::LiveConfig;
use platform_observe::audit::{AuditLog, audit_router};
use platform_observe::health::HealthRegistry;
use platform_observe::metrics::MetricsRegistry;
use tower::ServiceExt;

/// The token server's admin areas, served on the admin listener under `/admin/<area>`.
const AUTH_ADMIN_AREAS: [&str; 5] = ["users", "groups", "roles", "clients", "api-keys"];

/// What the admin listener serves.
pub(crate) struct AdminParts {
    pub(crate) metrics: MetricsRegistry,
    pub(crate) health: HealthRegistry,
    pub(crate) live: LiveConfig,
    pub(crate) shutdown: Shutdown,
    pub(crate) token_server: TokenServer,
    pub(crate) audit: Option<AuditLog>,
    pub(crate) rollouts: Rollouts,
}

pub(crate) fn router(parts: AdminParts) -> Router {
    // The gateway's admin router: /metrics, /health/*, /admin/routes, /admin/upstreams,
    // /admin/config, /admin/explain; readiness goes down once the shutdown begins.
    let mut router = Admin::new(parts.live.gateway())
        .metrics(&parts.metrics)
        .health(&parts.health)
        .shutdown(&parts.shutdown)
        .live_config(&parts.live)
        .router();
    // The token server's own router authenticates and authorizes its admin routes; only
    // those paths are sent to it here (its OAuth endpoints are reached through the
    // gateway). A fallback rather than routes: a route's path parameters would reach the
    // token server's extractors as well.
    let auth = parts.token_server.router();
    router = router.fallback(move |req: Request<Body>| {
        let auth = auth.clone();
        async move {
            let path = req.uri().path();
            let is_auth_admin = AUTH_ADMIN_AREAS.iter().any(|area| {
                path.strip_prefix("/admin/")
                    .and_then(|rest| rest.strip_prefix(area))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            });
            if is_auth_admin {
                match auth.oneshot(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                }
            } else {
                let message = format!("no admin endpoint at {path}; see docs/platform.md");
                (StatusCode::NOT_FOUND, Json(ErrorBody::new("not_found", message))).into_response()
            }
        }
    });
    let server = parts.token_server;
    // Canary actions are recorded under the administrator's name (the token's subject).
    let (authorize, authenticate) = admin_only(&server, "canary");
    let guard = move |r: Router| r.layer(authorize.clone()).layer(authenticate.clone());
    router = router.merge(super::canary::admin(parts.rollouts, guard));
    if let Some(log) = parts.audit {
        let (authorize, authenticate) = admin_only(&server, "audit");
        router = router.nest("/admin", audit_router(log).layer(authorize).layer(authenticate));
    }
    router
}

/// The layers that let through principals the admin policies allow
/// `admin:<area>:<read|write>` on `admin/<area>/…` (the `auth-admin` role):
/// `GET /admin/audit/records`, `GET|POST /admin/audit/verify`,
/// `POST /admin/canary/{name}/{action}`. Authentication runs first: add it last.
fn admin_only(server: &TokenServer, area: &'static str) -> (AuthorizeLayer, AuthenticateLayer) {
    let authenticate =
        AuthenticateLayer::new(Authenticator::new().jwt(server.verifier().clone()).realm("admin"));
    let authorize = AuthorizeLayer::permission_with(
        default_admin_policies(),
        format!("admin:{area}:<read|write>"),
        move |r| {
            let verb = if r.method == http::Method::GET { "read" } else { "write" };
            // Under `nest` the path has lost its `/admin`; the policies name it.
            let path = r.uri.path().trim_matches('/');
            let path = format!("admin/{}", path.strip_prefix("admin/").unwrap_or(path));
            (format!("admin:{area}:{verb}"), platform_auth::authz::Resource::new(path))
        },
    )
    .realm("admin");
    (authorize, authenticate)
}
