//! `GET /.well-known/openid-configuration` (and the RFC 8414 alias): where the endpoints
//! are and what they support.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use http::header;
use serde_json::{Value, json};

use super::TokenServer;
use crate::jwt::JWKS_PATH;

/// The metadata document. Minimal: this server has no authorization endpoint and issues
/// no ID tokens, so only the token-endpoint side of the metadata is present.
pub(crate) async fn handler(State(server): State<TokenServer>) -> impl IntoResponse {
    let base = server.inner.issuer.iss().trim_end_matches('/').to_owned();
    let auth_methods = json!(["client_secret_basic", "client_secret_post"]);
    let doc: Value = json!({
        "issuer": server.inner.issuer.iss(),
        "token_endpoint": format!("{base}/oauth/token"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "jwks_uri": format!("{base}{JWKS_PATH}"),
        "grant_types_supported": ["client_credentials", "password", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
    });
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(doc))
}
