//! The log router's error answers.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use platform_core::error::ErrorBody;

use crate::logs::ndjson::NdjsonError;
use crate::logs::query::LogQueryError;
use crate::logs::store::LogStoreError;
use crate::logs::wire::LogErrorBody;

/// A failed request: status and body.
#[derive(Debug)]
pub(super) struct ApiError {
    status: StatusCode,
    body: LogErrorBody,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        let body = LogErrorBody {
            body: ErrorBody::new(code, message),
            field: None,
            line: None,
            bad_lines: Vec::new(),
        };
        Self { status, body }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<NdjsonError> for ApiError {
    fn from(e: NdjsonError) -> Self {
        let mut err = Self::new(StatusCode::BAD_REQUEST, "invalid_records", e.to_string());
        err.body.line = Some(e.bad[0].line);
        err.body.field.clone_from(&e.bad[0].field);
        err.body.bad_lines = e.bad;
        err
    }
}

impl From<LogQueryError> for ApiError {
    fn from(e: LogQueryError) -> Self {
        let mut err = Self::new(StatusCode::BAD_REQUEST, "invalid_query", e.to_string());
        err.body.field = Some(e.param().to_owned());
        err
    }
}

impl From<LogStoreError> for ApiError {
    fn from(e: LogStoreError) -> Self {
        match e {
            LogStoreError::Query(q) => q.into(),
            other => {
                // The chain (driver error) goes to the server's log, not to the caller.
                tracing::warn!(
                    target: crate::logs::ship::OWN_TARGET,
                    error = &other as &dyn std::error::Error,
                    "log store request failed"
                );
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "log_store_unavailable",
                    other.to_string(),
                )
            }
        }
    }
}
