//! Errors: upstream failures (mapped to 502/503/504 JSON answers) and build errors.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::LengthLimitError;
use platform_core::error::{Elapsed, Rejection};
use platform_core::registry::RegistryError;
use serde::{Deserialize, Serialize};

use crate::body::{self, Body};

/// Why a request could not be proxied to an upstream.
///
/// Every variant names the upstream and, once one was chosen, the endpoint. The gateway
/// answers with [`status`](Self::status) and a JSON [`ErrorBody`] whose `error` is
/// [`code`](Self::code).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// No endpoint is in rotation (none registered, or all ejected and the panic
    /// threshold not reached). 503.
    #[error("upstream `{upstream}` has no endpoint to send the request to")]
    NoEndpoint {
        /// The upstream.
        upstream: Arc<str>,
    },
    /// The TCP connection to the endpoint failed. 502.
    #[error("could not connect to {endpoint} of upstream `{upstream}`: {source}")]
    Connect {
        /// The upstream.
        upstream: Arc<str>,
        /// The endpoint (`host:port`).
        endpoint: Arc<str>,
        /// The connection error.
        #[source]
        source: platform_core::BoxError,
    },
    /// The TLS handshake with an `https` endpoint failed (a certificate not trusted or
    /// not for this name, a client certificate refused, no common protocol). 502.
    #[error("TLS with {endpoint} of upstream `{upstream}` failed: {source}")]
    Tls {
        /// The upstream.
        upstream: Arc<str>,
        /// The endpoint (`host:port`).
        endpoint: Arc<str>,
        /// The handshake error.
        #[source]
        source: platform_core::BoxError,
    },
    /// The TCP connection to the endpoint was not established in time. 504.
    #[error("connecting to {endpoint} of upstream `{upstream}` timed out after {after:?}")]
    ConnectTimeout {
        /// The upstream.
        upstream: Arc<str>,
        /// The endpoint (`host:port`).
        endpoint: Arc<str>,
        /// The connect timeout.
        after: Duration,
    },
    /// The endpoint sent no response head in time. 504.
    #[error("{endpoint} of upstream `{upstream}` sent no response within {after:?}")]
    ResponseTimeout {
        /// The upstream.
        upstream: Arc<str>,
        /// The endpoint (`host:port`).
        endpoint: Arc<str>,
        /// The response timeout.
        after: Duration,
        /// The timeout as the shared leaf type, so layers classify it as a timeout.
        #[source]
        source: Elapsed,
    },
    /// The response body stalled for longer than the idle timeout (the response is cut
    /// off; its status was already sent).
    #[error(
        "{endpoint} of upstream `{upstream}` sent nothing for {after:?} in the middle of a body"
    )]
    IdleTimeout {
        /// The upstream.
        upstream: Arc<str>,
        /// The endpoint (`host:port`).
        endpoint: Arc<str>,
        /// The idle timeout.
        after: Duration,
    },
    /// A WebSocket over HTTP/2 (extended CONNECT) for an upstream that speaks only
    /// HTTP/2: the gateway turns those into HTTP/1.1 upgrades. 501.
    #[error(
        "upstream `{upstream}` speaks HTTP/2 only; WebSockets over HTTP/2 are forwarded to HTTP/1.1 upstreams (protocol `auto` or `http1`)"
    )]
    UpgradeUnsupported {
        /// The upstream.
        upstream: Arc<str>,
    },
    /// The exchange with the endpoint failed otherwise (reset, protocol error). 502.
    #[error("request to {endpoint} of upstream `{upstream}` failed: {source}")]
    Upstream {
        /// The upstream.
        upstream: Arc<str>,
        /// The endpoint (`host:port`).
        endpoint: Arc<str>,
        /// What failed.
        #[source]
        source: platform_core::BoxError,
    },
}

impl ProxyError {
    /// The HTTP status the gateway answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoEndpoint { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpgradeUnsupported { .. } => StatusCode::NOT_IMPLEMENTED,
            Self::Connect { .. } | Self::Tls { .. } | Self::Upstream { .. } => {
                StatusCode::BAD_GATEWAY
            }
            Self::ConnectTimeout { .. }
            | Self::ResponseTimeout { .. }
            | Self::IdleTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The stable `error` code of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoEndpoint { .. } => "no_endpoint",
            Self::UpgradeUnsupported { .. } => "upgrade_unsupported",
            Self::Connect { .. } => "upstream_connect_failed",
            Self::Tls { .. } => "upstream_tls_failed",
            Self::ConnectTimeout { .. } => "upstream_connect_timeout",
            Self::ResponseTimeout { .. } => "upstream_timeout",
            Self::IdleTimeout { .. } => "upstream_idle_timeout",
            Self::Upstream { .. } => "bad_gateway",
        }
    }
}

/// The JSON body of every error the gateway answers itself.
///
/// ```json
/// {"error":"upstream_timeout","message":"...","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `upstream_timeout`.
    pub error: String,
    /// What went wrong, for a person.
    pub message: String,
    /// The trace id of the request, to find its logs and spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Seconds to wait before retrying, when known (mirrors `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// A JSON error answer.
pub(crate) fn json_error(
    status: StatusCode,
    code: &str,
    message: String,
    trace_id: Option<String>,
    retry_after_secs: Option<u64>,
) -> Response<Body> {
    let body = ErrorBody { error: code.to_owned(), message, trace_id, retry_after_secs };
    // A struct of strings and integers always serialises.
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    let mut res = Response::new(body::full(bytes));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secs) = retry_after_secs {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}

/// `err` and its `source()` chain.
pub(crate) fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(err), |e| (*e).source())
}

/// `true` when the error chain holds a body-size-limit error.
pub(crate) fn is_body_too_large(err: &(dyn StdError + 'static)) -> bool {
    chain(err).any(|e| e.is::<LengthLimitError>() || e.is::<crate::filter::BodyTooLarge>())
}

/// The answer for an error that ended a proxied request: 413 for a body over the limit,
/// a [`ProxyError`]'s own status, a local rejection's (rate limit 429, open breaker 503,
/// timeout 504, …), and 502 for anything else.
pub fn error_response(err: &(dyn StdError + 'static), trace_id: Option<String>) -> Response<Body> {
    if is_body_too_large(err) {
        let msg = "the request body is larger than this route accepts".to_owned();
        return json_error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", msg, trace_id, None);
    }
    if let Some(p) = chain(err).find_map(|e| e.downcast_ref::<ProxyError>()) {
        return json_error(p.status(), p.code(), p.to_string(), trace_id, None);
    }
    if let Some(r) = Rejection::find(err) {
        let retry = r.retry_after().map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        return json_error(r.status(), r.code(), r.as_error().to_string(), trace_id, retry);
    }
    json_error(StatusCode::BAD_GATEWAY, "bad_gateway", err.to_string(), trace_id, None)
}

/// Why a gateway could not be built from its routes and upstreams.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// A route setting is invalid.
    #[error("route `{route}`: `{field}` {reason}")]
    Route {
        /// The route id.
        route: String,
        /// The setting.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// An upstream setting is invalid.
    #[error("upstream `{upstream}`: `{field}` {reason}")]
    Upstream {
        /// The upstream name.
        upstream: String,
        /// The setting.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A route names an upstream that is not defined.
    #[error(
        "route `{route}` sends to upstream `{upstream}`, which is not defined; add the upstream or fix the name"
    )]
    UnknownUpstream {
        /// The route id.
        route: String,
        /// The missing upstream.
        upstream: String,
    },
    /// Two routes share an id.
    #[error("route `{route}` is defined twice; route ids must be unique")]
    DuplicateRoute {
        /// The route id.
        route: String,
    },
    /// Two upstreams share a name.
    #[error("upstream `{upstream}` is defined twice; upstream names must be unique")]
    DuplicateUpstream {
        /// The upstream name.
        upstream: String,
    },
    /// Following an upstream's registry service failed.
    #[error("upstream `{upstream}`: cannot follow its registry service: {source}")]
    Registry {
        /// The upstream name.
        upstream: String,
        /// The registry's error.
        #[source]
        source: RegistryError,
    },
    /// A server or proxy setting is invalid.
    #[error("`{field}` {reason}")]
    Setting {
        /// The setting.
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

impl GatewayError {
    pub(crate) fn route(route: &str, field: &'static str, reason: impl Into<String>) -> Self {
        Self::Route { route: route.to_owned(), field, reason: reason.into() }
    }

    pub(crate) fn upstream(upstream: &str, field: &'static str, reason: impl Into<String>) -> Self {
        Self::Upstream { upstream: upstream.to_owned(), field, reason: reason.into() }
    }

    /// The route this error is about, if any.
    pub fn route_id(&self) -> Option<&str> {
        match self {
            Self::Route { route, .. }
            | Self::UnknownUpstream { route, .. }
            | Self::DuplicateRoute { route } => Some(route),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_errors_map_to_their_status_with_a_trace_id() {
        let err = ProxyError::ResponseTimeout {
            upstream: "users".into(),
            endpoint: "10.0.0.1:80".into(),
            after: Duration::from_secs(1),
            source: Elapsed::new(Duration::from_secs(1)),
        };
        let boxed: platform_core::BoxError = Box::new(err);
        let res = error_response(&*boxed, Some("abc".into()));
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn unknown_errors_are_bad_gateway() {
        let err: platform_core::BoxError = "boom".into();
        assert_eq!(error_response(&*err, None).status(), StatusCode::BAD_GATEWAY);
    }
}
