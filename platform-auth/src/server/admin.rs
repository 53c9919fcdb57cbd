//! The admin API under `/admin`: users, groups, roles, clients and API keys, behind the
//! crate's own [`AuthenticateLayer`] and [`AuthorizeLayer`].
//!
//! Every route asks the admin authorizer for `admin:<area>:read` (GET) or
//! `admin:<area>:write` (other methods) on the request path (`admin/users/…`), where
//! `<area>` is `users`, `groups`, `roles`, `clients` or `api-keys`.

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use http::StatusCode;
use platform_core::error::ErrorBody;

use super::TokenServer;
use crate::authz::Resource;
use crate::error::StoreError;
use crate::identity::IdentityError;
use crate::layer::AccessRequest;
use crate::refresh::RefreshError;
use crate::{AuthenticateLayer, Authenticator, AuthorizeLayer};

mod handlers;

/// Why an admin request failed; answered as a JSON [`ErrorBody`].
#[derive(Debug)]
pub(crate) enum AdminError {
    BadInput(String),
    NotFound(String),
    Conflict(String),
    Unavailable(String),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            Self::BadInput(m) => (StatusCode::BAD_REQUEST, "invalid_input", m),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m),
            Self::Conflict(m) => (StatusCode::CONFLICT, "conflict", m),
            Self::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
        };
        (status, Json(ErrorBody::new(code, message))).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(_) => Self::Conflict(e.to_string()),
            StoreError::NotFound(_) => Self::NotFound(e.to_string()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<IdentityError> for AdminError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Store(s) => s.into(),
            e @ (IdentityError::InvalidName { .. } | IdentityError::WeakPassword(_)) => {
                Self::BadInput(e.to_string())
            }
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<RefreshError> for AdminError {
    fn from(e: RefreshError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<JsonRejection> for AdminError {
    fn from(e: JsonRejection) -> Self {
        Self::BadInput(e.body_text())
    }
}

/// `admin:<area>:read|write` on the request path.
fn permission(r: &AccessRequest<'_>) -> (String, Resource) {
    let path = r.uri.path().trim_matches('/');
    let area = path.split('/').nth(1).unwrap_or_default();
    let verb = if r.method == http::Method::GET { "read" } else { "write" };
    (format!("admin:{area}:{verb}"), Resource::new(path))
}

/// The admin routes with their authentication and authorization layers.
pub(crate) fn router(server: TokenServer) -> Router {
    use handlers::*;
    let inner = &server.inner;
    let mut auth = Authenticator::new().jwt(inner.verifier.clone()).realm("admin");
    if let Some(keys) = &inner.api_keys {
        auth = auth.api_keys(keys.clone());
    }
    let authorize = AuthorizeLayer::permission_with(
        inner.admin_authorizer.clone(),
        "admin:<area>:<read|write>",
        permission,
    )
    .realm("admin");
    Router::new()
        .route("/admin/users", get(list_users).post(create_user))
        .route("/admin/users/{id}", get(get_user).delete(delete_user))
        .route("/admin/users/{id}/password", put(set_password))
        .route("/admin/users/{id}/disabled", put(set_disabled))
        .route("/admin/users/{id}/roles", post(grant_user_role))
        .route("/admin/users/{id}/roles/{role}", delete(revoke_user_role))
        .route("/admin/groups", get(list_groups).post(create_group))
        .route("/admin/groups/{name}", delete(delete_group))
        .route("/admin/groups/{name}/members", post(add_member))
        .route("/admin/groups/{name}/roles", post(grant_group_role))
        .route("/admin/roles", get(list_roles).post(create_role))
        .route("/admin/roles/{name}", delete(delete_role))
        .route("/admin/clients", get(list_clients).post(create_client))
        .route("/admin/clients/{id}", get(get_client).delete(delete_client))
        .route("/admin/api-keys", get(list_api_keys).post(create_api_key))
        .route("/admin/api-keys/{id}", delete(revoke_api_key))
        .with_state(server.clone())
        .layer(authorize)
        .layer(AuthenticateLayer::new(auth))
}
