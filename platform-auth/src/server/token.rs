//! `POST /oauth/token`: the client_credentials, password and refresh_token grants.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::Request;
use serde::Serialize;
use serde_json::Value;

use super::TokenServer;
use super::client::{GrantType, OAuthClient};
use super::error::{OAuthError, no_store};
use super::form::{self, Form};
use crate::identity::{LoginError, User};
use crate::refresh::RefreshError;

/// RFC 6749 §5.1.
#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    scope: String,
}

/// Claims the token server sets itself; user attributes never override them.
const RESERVED: [&str; 14] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "scope",
    "roles",
    "client_id",
    "username",
    "typ",
    "permissions",
];

pub(crate) async fn handler(State(server): State<TokenServer>, req: Request<Body>) -> Response {
    match token(&server, req).await {
        Ok(res) => res,
        Err(e) => {
            tracing::warn!(target: "audit", event = "token_request_refused", error = e.code, description = e.description(), "token request refused");
            e.into_response()
        }
    }
}

async fn token(server: &TokenServer, req: Request<Body>) -> Result<Response, OAuthError> {
    let (parts, form, source) = form::read(req).await?;
    let client = form::client(server, &parts, &form).await?;
    let name = form.require("grant_type")?;
    let grant = GrantType::parse(name).ok_or_else(|| {
        let shown: String = name.chars().take(32).collect();
        OAuthError::unsupported_grant_type(format!(
            "grant type `{shown}` is not supported; use client_credentials, password or refresh_token"
        ))
    })?;
    if !client.grants.contains(&grant) {
        return Err(OAuthError::unauthorized_client(format!(
            "client `{}` may not use the {} grant",
            client.id,
            grant.as_str()
        )));
    }
    let issued = match grant {
        GrantType::ClientCredentials => {
            let scopes = within(form.get("scope"), &client.scopes)?;
            let access =
                server.access_token(&client.id, &scopes, &client.roles, &client, None, None)?;
            (access, None, scopes)
        }
        GrantType::Password => password(server, &client, &form, source).await?,
        GrantType::RefreshToken => refresh(server, &client, &form).await?,
    };
    let (access_token, refresh_token, scopes) = issued;
    let body = TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: server.inner.issuer.lifetime().as_secs(),
        refresh_token,
        scope: scopes.join(" "),
    };
    let mut res = Json(body).into_response();
    no_store(&mut res);
    Ok(res)
}

type Issued = (String, Option<String>, Vec<String>);

async fn password(
    server: &TokenServer,
    client: &OAuthClient,
    form: &Form,
    source: Option<std::net::IpAddr>,
) -> Result<Issued, OAuthError> {
    let scopes = within(form.get("scope"), &client.scopes)?;
    let (username, password) = (form.require("username")?, form.require("password")?);
    let login = match server.inner.identity.login(username, password, source).await {
        Ok(l) => l,
        Err(LoginError::InvalidCredentials) => {
            return Err(OAuthError::invalid_grant("invalid username or password"));
        }
        Err(LoginError::Locked { retry_after }) => {
            let e = OAuthError::invalid_grant("too many failed login attempts; retry later");
            return Err(e.retry_after(retry_after));
        }
        Err(e) => return Err(OAuthError::unavailable(e.to_string())),
    };
    let family = server
        .inner
        .refresh
        .issue_for_client(&client.id, &login.user.id, &scopes.join(" "))
        .await
        .map_err(refresh_error)?;
    let access = server.access_token(
        &login.user.id,
        &scopes,
        &login.roles,
        client,
        Some(&family.family_id),
        Some(&login.user),
    )?;
    Ok((access, Some(family.token), scopes))
}

async fn refresh(
    server: &TokenServer,
    client: &OAuthClient,
    form: &Form,
) -> Result<Issued, OAuthError> {
    let token = form.require("refresh_token")?;
    let refresh = &server.inner.refresh;
    let Some(family) = refresh.family_of(token).await.map_err(refresh_error)? else {
        return Err(OAuthError::invalid_grant("invalid refresh token"));
    };
    if family.client_id.as_deref() != Some(client.id.as_str()) {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    let granted: Vec<String> = family.scope.split_ascii_whitespace().map(str::to_owned).collect();
    let scopes = within(form.get("scope"), &granted)?;
    let next = refresh.rotate(token).await.map_err(refresh_error)?;
    let identity = &server.inner.identity;
    let user =
        identity.user(&next.subject).await.map_err(|e| OAuthError::unavailable(e.to_string()))?;
    let Some(user) = user.filter(|u| !u.disabled) else {
        refresh.revoke_family(&next.family_id).await.map_err(refresh_error)?;
        return Err(OAuthError::invalid_grant("the user no longer exists or is disabled"));
    };
    let roles = identity
        .effective_roles(&user.id)
        .await
        .map_err(|e| OAuthError::unavailable(e.to_string()))?;
    let access = server.access_token(
        &user.id,
        &scopes,
        &roles,
        client,
        Some(&next.family_id),
        Some(&user),
    )?;
    Ok((access, Some(next.token), scopes))
}

fn refresh_error(e: RefreshError) -> OAuthError {
    match e {
        RefreshError::Invalid => OAuthError::invalid_grant("invalid refresh token"),
        RefreshError::ReuseDetected => {
            OAuthError::invalid_grant("refresh token reuse detected; the session is revoked")
        }
        other => OAuthError::unavailable(other.to_string()),
    }
}

/// The requested scopes when all are within `allowed`; all of `allowed` when none are
/// requested (RFC 6749 §3.3).
fn within(requested: Option<&str>, allowed: &[String]) -> Result<Vec<String>, OAuthError> {
    let Some(requested) = requested else { return Ok(allowed.to_vec()) };
    let mut out: Vec<String> = Vec::new();
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.iter().any(|a| a == s) {
            let shown: String = s.chars().take(64).collect();
            return Err(OAuthError::invalid_scope(format!("scope `{shown}` is not allowed here")));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(out)
}

impl TokenServer {
    /// Signs an access token for `sub`.
    fn access_token(
        &self,
        sub: &str,
        scopes: &[String],
        roles: &[String],
        client: &OAuthClient,
        sid: Option<&str>,
        user: Option<&User>,
    ) -> Result<String, OAuthError> {
        let refs: Vec<&str> = scopes.iter().map(String::as_str).collect();
        let issuer = &self.inner.issuer;
        let mut c = issuer.claims(sub, &refs);
        c.sid = sid.map(str::to_owned);
        if let Some(u) = user {
            for (k, v) in &u.attributes {
                if !RESERVED.contains(&k.as_str()) {
                    c.extra.insert(k.clone(), v.clone());
                }
            }
            c.extra.insert("username".into(), Value::from(u.username.as_str()));
        }
        c.extra.insert("client_id".into(), Value::from(client.id.as_str()));
        if !roles.is_empty() {
            c.extra.insert("roles".into(), Value::from(roles.to_vec()));
        }
        issuer.sign(&c).map_err(|e| OAuthError::unavailable(format!("cannot sign: {e}")))
    }
}
