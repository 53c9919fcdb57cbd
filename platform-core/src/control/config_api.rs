//! Handlers of `/v1/config/…`.

use axum::Json;
use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;

use super::api_error::ApiError;
use super::extract::{JsonBody, PathParams, QueryParams};
use super::plane::{EventStream, Shared, event_stream};
use super::wire::{ConfigDocument, HistoryResponse, PutConfigRequest};

/// Versions returned by `history` without `?limit=`.
const DEFAULT_HISTORY_LIMIT: usize = 20;
/// Most versions one `history` call returns.
const MAX_HISTORY_LIMIT: usize = 1000;

type Names = PathParams<(String, String)>;

fn with_etag(doc: ConfigDocument) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", doc.version)).ok();
    let mut res = Json(doc).into_response();
    if let Some(etag) = etag {
        res.headers_mut().insert(header::ETAG, etag);
    }
    res
}

/// `GET /v1/config/{namespace}/{environment}`: the current document with its version
/// as `ETag`; 404 `document_not_found` when none was written.
pub(crate) async fn get(
    State(state): Shared,
    PathParams((namespace, environment)): Names,
) -> Result<Response, ApiError> {
    match state.config.get(&namespace, &environment).await? {
        Some(doc) => Ok(with_etag(doc)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "document_not_found",
            format!("no configuration document for {namespace}/{environment} yet"),
        )),
    }
}

/// `PUT /v1/config/{namespace}/{environment}`: writes a new version; with `If-Match`
/// only over that version (409 `version_conflict` otherwise; `If-Match: "0"` creates only).
pub(crate) async fn put(
    State(state): Shared,
    PathParams((namespace, environment)): Names,
    headers: HeaderMap,
    JsonBody(req): JsonBody<PutConfigRequest>,
) -> Result<Response, ApiError> {
    let expected = expected_version(&headers)?;
    let doc = state.config.put(&namespace, &environment, req.format, &req.text, expected).await?;
    Ok(with_etag(doc))
}

/// Reads `If-Match: "7"` (quotes optional, `*` = any version).
fn expected_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let bad = || {
        ApiError::invalid(
            "If-Match",
            format!("{value:?} is not a document version such as \"7\" (or * for any)"),
        )
    };
    let text = value.to_str().map_err(|_| bad())?.trim();
    if text == "*" {
        return Ok(None);
    }
    let unquoted = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(text);
    unquoted.parse().map(Some).map_err(|_| bad())
}

/// Query of `history`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    limit: Option<usize>,
}

/// `GET …/history?limit=N`: the newest versions first.
pub(crate) async fn history(
    State(state): Shared,
    PathParams((namespace, environment)): Names,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_HISTORY_LIMIT);
    if limit == 0 || limit > MAX_HISTORY_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            format!("{limit} is out of range; use 1 to {MAX_HISTORY_LIMIT}"),
        ));
    }
    let versions = state.config.history(&namespace, &environment, limit).await?;
    Ok(Json(HistoryResponse { versions }))
}

/// `GET …/watch`: server-sent `document` events, the current document first.
pub(crate) async fn watch(
    State(state): Shared,
    PathParams((namespace, environment)): Names,
) -> Result<EventStream, ApiError> {
    let docs = state.config.watch(&namespace, &environment).await?;
    let events = docs.map(|doc| {
        let data = serde_json::to_string(&doc).unwrap_or_default();
        Event::default().event("document").id(doc.version.to_string()).data(data)
    });
    Ok(event_stream(&state, events))
}
