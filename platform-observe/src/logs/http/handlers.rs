//! The ingest and search handlers.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use http::StatusCode;

use super::error::ApiError;
use crate::logs::ndjson::parse_ndjson;
use crate::logs::query::{LogPage, LogQuery};
use crate::logs::store::LogStore;
use crate::logs::wire::IngestResponse;

pub(super) async fn ingest(
    State(store): State<Arc<dyn LogStore>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    let body = body.map_err(|rej| {
        let status = rej.status();
        let code =
            if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "invalid_body" };
        ApiError::new(status, code, rej.body_text())
    })?;
    let records = parse_ndjson(&body)?;
    store.append(&records).await?;
    Ok(Json(IngestResponse { accepted: records.len() }))
}

pub(super) async fn search(
    State(store): State<Arc<dyn LogStore>>,
    params: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<LogPage>, ApiError> {
    let Query(params) = params
        .map_err(|rej| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rej.body_text()))?;
    let query = LogQuery::from_params(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok(Json(store.search(&query).await?))
}
