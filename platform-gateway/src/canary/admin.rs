//! The canary admin API: an axum [`Router`] over a [`Rollouts`].

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use http::request::Parts;
use serde::Deserialize;

use super::{Action, CanaryError, Rollouts};
use crate::error::ErrorBody;

/// The admin routes of the canaries in `rollouts`:
///
/// | route | does |
/// |---|---|
/// | `GET /admin/canary` | every live canary's [`RolloutStatus`](super::RolloutStatus), as a JSON array |
/// | `GET /admin/canary/{name}` | one canary's status |
/// | `POST /admin/canary/{name}/{action}` | `promote`, `pause`, `resume`, `rollback` or `retry`; optional JSON body `{"reason": "...", "actor": "..."}`; answers the new status |
///
/// Errors are JSON [`ErrorBody`]s: 404 `unknown_canary`, 400 `unknown_action` or
/// `bad_request`, 409 `action_refused` (with the phases the action applies to),
/// `no_plan` or `conflict`, 503 `store_unavailable`. The actor recorded in the audit
/// trail is the authenticated platform-auth principal when there is one (feature
/// `auth`), else the body's `actor`, else `admin`. Serve it on the admin listener only.
///
/// ```
/// use platform_gateway::canary::{Rollouts, admin_router};
///
/// let app: axum::Router = admin_router(Rollouts::in_memory());
/// # let _ = app;
/// ```
pub fn admin_router(rollouts: Rollouts) -> Router {
    Router::new()
        .route("/admin/canary", get(list))
        .route("/admin/canary/{name}", get(show))
        .route("/admin/canary/{name}/{action}", post(act))
        .with_state(rollouts)
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    let body =
        ErrorBody { error: code.to_owned(), message, trace_id: None, retry_after_secs: None };
    (status, Json(body)).into_response()
}

fn canary_error(e: &CanaryError) -> Response {
    let (status, code) = match e {
        CanaryError::Refused { .. } => (StatusCode::CONFLICT, "action_refused"),
        CanaryError::NoPlan { .. } => (StatusCode::CONFLICT, "no_plan"),
        CanaryError::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
        CanaryError::Store { .. } | CanaryError::Corrupt { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "canary_error"),
    };
    error(status, code, e.to_string())
}

fn unknown(name: &str) -> Response {
    error(StatusCode::NOT_FOUND, "unknown_canary", format!("no live canary is named `{name}`"))
}

async fn list(State(rollouts): State<Rollouts>) -> Response {
    let mut out = Vec::new();
    for canary in rollouts.list() {
        match canary.status().await {
            Ok(s) => out.push(s),
            Err(e) => return canary_error(&e),
        }
    }
    Json(out).into_response()
}

async fn show(State(rollouts): State<Rollouts>, Path(name): Path<String>) -> Response {
    let Some(canary) = rollouts.get(&name) else { return unknown(&name) };
    match canary.status().await {
        Ok(s) => Json(s).into_response(),
        Err(e) => canary_error(&e),
    }
}

/// The optional body of an action.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    reason: Option<String>,
    actor: Option<String>,
}

async fn act(
    State(rollouts): State<Rollouts>,
    Path((name, action)): Path<(String, String)>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let action: Action = match action.parse() {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, "unknown_action", e),
    };
    let body: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                let msg = format!("the body must be JSON like {{\"reason\": \"...\"}}: {e}");
                return error(StatusCode::BAD_REQUEST, "bad_request", msg);
            }
        }
    };
    let Some(canary) = rollouts.get(&name) else { return unknown(&name) };
    let actor = principal(&parts).or(body.actor).unwrap_or_else(|| "admin".to_owned());
    match canary.act(action, &actor, body.reason.as_deref()).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => canary_error(&e),
    }
}

#[cfg(feature = "auth")]
fn principal(parts: &Parts) -> Option<String> {
    parts.extensions.get::<platform_auth::Principal>().map(|p| p.subject.clone())
}

#[cfg(not(feature = "auth"))]
fn principal(_parts: &Parts) -> Option<String> {
    None
}
