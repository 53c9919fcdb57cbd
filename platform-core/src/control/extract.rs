//! Request extractors whose rejections are JSON [`ApiError`]s naming the problem.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use super::api_error::ApiError;

/// A JSON body; a bad one is a 400 naming the JSON path (`instance.port`), an oversized
/// one a 413.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(body_error)?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut de) {
            Ok(value) => Ok(Self(value)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if matches!(path.as_str(), "." | "?" | "") {
                    Err(ApiError::invalid("body", format!("invalid JSON body: {inner}")))
                } else {
                    Err(ApiError::invalid(
                        &*path,
                        format!("invalid JSON body at `{path}`: {inner}"),
                    ))
                }
            }
        }
    }
}

fn body_error(e: BytesRejection) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", e.body_text())
    } else {
        ApiError::new(e.status(), "invalid_request", e.body_text())
    }
}

/// Path parameters; a bad one (invalid percent-encoding) is a 400.
#[derive(Debug)]
pub(crate) struct PathParams<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e: PathRejection| ApiError::invalid("path", e.body_text()))
    }
}

/// Query parameters; a bad one is a 400 naming the query.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e: QueryRejection| ApiError::invalid("query", e.body_text()))
    }
}
