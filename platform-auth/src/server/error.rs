//! RFC 6749 §5.2 error responses of the token, revocation and introspection endpoints.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

/// An OAuth error: `{"error": code, "error_description": …}` with `Cache-Control:
/// no-store`. `invalid_client` is 401 with a `WWW-Authenticate: Basic` challenge.
#[derive(Debug, Clone)]
pub(crate) struct OAuthError {
    pub(crate) code: &'static str,
    description: String,
    status: StatusCode,
    retry_after: Option<Duration>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl OAuthError {
    fn new(code: &'static str, status: StatusCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), status, retry_after: None }
    }

    pub(crate) fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", StatusCode::BAD_REQUEST, d)
    }

    pub(crate) fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", StatusCode::UNAUTHORIZED, d)
    }

    pub(crate) fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", StatusCode::BAD_REQUEST, d)
    }

    pub(crate) fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new("unauthorized_client", StatusCode::BAD_REQUEST, d)
    }

    pub(crate) fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", StatusCode::BAD_REQUEST, d)
    }

    pub(crate) fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", StatusCode::BAD_REQUEST, d)
    }

    /// RFC 7009 §2.2.1: the server cannot revoke this kind of token.
    pub(crate) fn unsupported_token_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_token_type", StatusCode::BAD_REQUEST, d)
    }

    /// The store or hasher is down: 503, not the client's fault.
    pub(crate) fn unavailable(d: impl Into<String>) -> Self {
        Self::new("temporarily_unavailable", StatusCode::SERVICE_UNAVAILABLE, d)
    }

    pub(crate) fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = Some(d);
        self
    }

    pub(crate) fn description(&self) -> &str {
        &self.description
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1): responses carrying
/// or about tokens must not be cached.
pub(crate) fn no_store(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Body { error: self.code, error_description: &self.description };
        let mut res = (self.status, Json(body)).into_response();
        no_store(&mut res);
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = HeaderValue::from_static("Basic realm=\"oauth\", charset=\"UTF-8\"");
            res.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(d) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&d.as_secs().max(1).to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }
}
