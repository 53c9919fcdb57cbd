//! Publishing a [`KeySet`] as a JWKS document with axum.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use http::header;
use jsonwebtoken::jwk::JwkSet;

use super::keyset::KeySet;

/// The conventional JWKS path.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// An axum handler answering with `keys`' public JWKS (HMAC keys are never included),
/// cacheable for 5 minutes.
pub async fn jwks_handler(State(keys): State<KeySet>) -> impl IntoResponse {
    let set: JwkSet = keys.jwks();
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(set))
}

/// A router serving [`jwks_handler`] at [`JWKS_PATH`]; merge it into your app.
pub fn jwks_router(keys: KeySet) -> Router {
    Router::new().route(JWKS_PATH, get(jwks_handler)).with_state(keys)
}
