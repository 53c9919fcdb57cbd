//! `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect` (RFC 7662).

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use serde_json::{Map, Value, json};

use super::TokenServer;
use super::error::{OAuthError, no_store};
use super::form;
use crate::error::AuthError;
use crate::jwt::{Audience, Claims};

/// Refresh tokens start with this (see [`RefreshTokens`](crate::refresh::RefreshTokens)).
const REFRESH_PREFIX: &str = "rt_";

pub(crate) async fn revoke_handler(
    State(server): State<TokenServer>,
    req: Request<Body>,
) -> Response {
    respond(revoke(&server, req).await)
}

pub(crate) async fn introspect_handler(
    State(server): State<TokenServer>,
    req: Request<Body>,
) -> Response {
    respond(introspect(&server, req).await)
}

fn respond(result: Result<Response, OAuthError>) -> Response {
    let mut res = result.unwrap_or_else(IntoResponse::into_response);
    no_store(&mut res);
    res
}

/// Revokes a refresh token's family or an access token (by `jti`). Unknown, invalid or
/// other clients' tokens get `200` and nothing happens (RFC 7009 §2.2: no probing).
async fn revoke(server: &TokenServer, req: Request<Body>) -> Result<Response, OAuthError> {
    let (parts, form, _) = form::read(req).await?;
    let client = form::client(server, &parts, &form).await?;
    let token = form.require("token")?;
    let unavailable = |e: &dyn std::fmt::Display| OAuthError::unavailable(e.to_string());
    if token.starts_with(REFRESH_PREFIX) {
        let refresh = &server.inner.refresh;
        let family = refresh.family_of(token).await.map_err(|e| unavailable(&e))?;
        if let Some(f) = family.filter(|f| f.client_id.as_deref() == Some(client.id.as_str())) {
            refresh.revoke_family(&f.id).await.map_err(|e| unavailable(&e))?;
        }
        return Ok(StatusCode::OK.into_response());
    }
    let claims = match server.inner.verifier.verify(token).await {
        Ok(c) => c,
        Err(AuthError::Unavailable(e)) => return Err(OAuthError::unavailable(e)),
        Err(_) => return Ok(StatusCode::OK.into_response()),
    };
    if claims.extra.get("client_id").and_then(Value::as_str) != Some(client.id.as_str()) {
        return Ok(StatusCode::OK.into_response());
    }
    let (Some(revocations), Some(jti)) = (&server.inner.revocations, claims.jti.as_deref()) else {
        return Err(OAuthError::unsupported_token_type(
            "access tokens cannot be revoked here (no revocation list is configured); they expire",
        ));
    };
    revocations.revoke_token(jti).await.map_err(|e| unavailable(&e))?;
    Ok(StatusCode::OK.into_response())
}

/// `{"active": true, …claims}` for a valid access token of this server, else
/// `{"active": false}`. Refresh tokens are reported inactive: they are only ever
/// presented to this server.
async fn introspect(server: &TokenServer, req: Request<Body>) -> Result<Response, OAuthError> {
    let (parts, form, _) = form::read(req).await?;
    let client = form::client(server, &parts, &form).await?;
    let token = form.require("token")?;
    let inactive = || Json(json!({ "active": false })).into_response();
    if token.starts_with(REFRESH_PREFIX) {
        return Ok(inactive());
    }
    let claims = match server.inner.verifier.verify(token).await {
        Ok(c) => c,
        Err(AuthError::Unavailable(e)) => return Err(OAuthError::unavailable(e)),
        Err(_) => return Ok(inactive()),
    };
    tracing::info!(target: "audit", event = "token_introspected", client_id = %client.id, sub = %claims.sub, "token introspected");
    Ok(Json(Value::Object(active(&claims))).into_response())
}

fn active(c: &Claims) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("active".into(), Value::Bool(true));
    out.insert("token_type".into(), "Bearer".into());
    out.insert("iss".into(), c.iss.as_str().into());
    out.insert("sub".into(), c.sub.as_str().into());
    out.insert(
        "aud".into(),
        match &c.aud {
            Audience::One(a) => a.as_str().into(),
            Audience::Many(v) => v.clone().into(),
        },
    );
    out.insert("exp".into(), c.exp.into());
    for (k, v) in [("iat", c.iat), ("nbf", c.nbf)] {
        if let Some(v) = v {
            out.insert(k.into(), v.into());
        }
    }
    for (k, v) in [("jti", &c.jti), ("scope", &c.scope)] {
        if let Some(v) = v {
            out.insert(k.into(), v.as_str().into());
        }
    }
    for k in ["client_id", "username", "roles"] {
        if let Some(v) = c.extra.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out
}
