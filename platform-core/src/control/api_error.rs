//! Errors of the control-plane handlers, written as JSON [`ApiErrorBody`]s.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::store::ConfigStoreError;
use super::wire::ApiErrorBody;
use crate::registry::RegistryError;

/// A failed request: its status and JSON body.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) body: ApiErrorBody,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, body: ApiErrorBody::new(code, message) }
    }

    /// 400 `invalid_request`, naming the field.
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_request", message);
        e.body.field = Some(field.into());
        e
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let message = e.to_string();
        match e {
            RegistryError::Invalid(invalid) => {
                let mut err = Self::new(StatusCode::BAD_REQUEST, "invalid_instance", message);
                err.body.field = Some(invalid.field().to_owned());
                err
            }
            RegistryError::NotFound { .. } => {
                Self::new(StatusCode::NOT_FOUND, "instance_not_found", message)
            }
            RegistryError::Unavailable { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable", message)
            }
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message),
        }
    }
}

impl From<ConfigStoreError> for ApiError {
    fn from(e: ConfigStoreError) -> Self {
        let message = e.to_string();
        match e {
            ConfigStoreError::Invalid { field, .. } => {
                let mut err = Self::new(StatusCode::BAD_REQUEST, "invalid_document", message);
                err.body.field = Some(field.to_owned());
                err
            }
            ConfigStoreError::Conflict { current, .. } => {
                let mut err = Self::new(StatusCode::CONFLICT, "version_conflict", message);
                err.body.field = Some("If-Match".to_owned());
                err.body.current_version = Some(current);
                err
            }
            ConfigStoreError::Unavailable { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable", message)
            }
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message),
        }
    }
}
