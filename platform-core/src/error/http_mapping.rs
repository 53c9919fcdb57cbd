use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::{Deserialize, Serialize};

use super::Rejection;

/// The JSON body of every error response the SDK writes.
///
/// ```json
/// {"error":"rate_limited","message":"rate limit exceeded; retry after 1500ms","retry_after_secs":2}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `rate_limited`.
    pub error: String,
    /// Human-readable description.
    pub message: String,
    /// Seconds to wait before retrying, when known (mirrors the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ErrorBody {
    /// A body with the given code and message and no retry hint.
    pub fn new(error: impl Into<String>, message: impl Into<String>) -> Self {
        Self { error: error.into(), message: message.into(), retry_after_secs: None }
    }
}

pub(super) fn rejection_response(rejection: &Rejection<'_>) -> Response<Full<Bytes>> {
    let retry_after_secs = rejection.retry_after().map(ceil_secs);
    let body = ErrorBody {
        error: rejection.code().to_owned(),
        message: rejection.as_error().to_string(),
        retry_after_secs,
    };
    json_response(rejection.status(), &body, retry_after_secs)
}

/// Maps any middleware error to an HTTP response.
///
/// Local rejections (anywhere in the `source()` chain) get their own status and
/// `Retry-After`; every other error becomes `500 Internal Server Error` with code
/// `internal` and the error's message.
///
/// ```
/// use platform_core::error::{error_response, BoxError, Overloaded};
///
/// let err: BoxError = Box::new(Overloaded::new("bulkhead full"));
/// let res = error_response(&*err);
/// assert_eq!(res.status(), http::StatusCode::SERVICE_UNAVAILABLE);
/// ```
pub fn error_response(err: &(dyn std::error::Error + 'static)) -> Response<Full<Bytes>> {
    match Rejection::find(err) {
        Some(r) => r.to_http_response(),
        None => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &ErrorBody::new("internal", err.to_string()),
            None,
        ),
    }
}

fn ceil_secs(d: std::time::Duration) -> u64 {
    let secs = d.as_secs();
    if d.subsec_nanos() > 0 { secs + 1 } else { secs }
}

fn json_response(
    status: StatusCode,
    body: &ErrorBody,
    retry_after_secs: Option<u64>,
) -> Response<Full<Bytes>> {
    // Serialising a struct of strings and integers cannot fail.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut res = Response::new(Full::new(Bytes::from(bytes)));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(secs) = retry_after_secs {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    res
}
