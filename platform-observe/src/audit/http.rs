//! The audit trail over HTTP: [`audit_router`] with `GET /audit/records` and
//! `GET|POST /audit/verify`.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use platform_core::error::ErrorBody;
use serde::{Deserialize, Serialize};

use super::error::full_message;
use super::{AuditError, AuditLog, AuditPage, AuditQuery, ChainHash, ChainHead, VerifyOptions};
use super::{Order, VerifyReport};

/// The JSON body of an audit endpoint's error: the SDK's [`ErrorBody`] (`error`,
/// `message`) plus the parameter at fault, when one is.
///
/// ```json
/// {"error":"invalid_query","message":"invalid audit query: `limit` must be 1 to 1000, got 0","field":"limit"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditErrorBody {
    /// Code and message.
    #[serde(flatten)]
    pub body: ErrorBody,
    /// The query parameter or JSON field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A failed request: status and JSON body.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    body: AuditErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: String, field: Option<&str>) -> Self {
        let body =
            AuditErrorBody { body: ErrorBody::new(code, message), field: field.map(Into::into) };
        Self { status, body }
    }

    fn invalid(field: &str, message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", message, Some(field))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        let message = full_message(&e);
        match e {
            AuditError::InvalidQuery { field, .. } => Self::invalid(field, message),
            AuditError::Corrupt { .. } => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt_log", message, None)
            }
            AuditError::Database(_) | AuditError::Migrate(_) => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", message, None)
            }
            _ => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message, None),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text(), None)
    }
}

/// Parses an optional parameter, naming it and what was expected on failure.
fn parse<T: FromStr>(
    field: &str,
    value: Option<String>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::invalid(field, format!("`{field}` must be {expected}, got `{v}`"))
            })
        })
        .transpose()
}

/// The parameters of `GET /audit/records`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsParams {
    actor: Option<String>,
    action: Option<String>,
    resource: Option<String>,
    outcome: Option<String>,
    trace_id: Option<String>,
    since_ms: Option<String>,
    until_ms: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
    order: Option<String>,
}

impl RecordsParams {
    fn into_query(self) -> Result<AuditQuery, ApiError> {
        const MS: &str = "milliseconds since the Unix epoch";
        let outcome_names = "success, failure, denied, error or unknown";
        let order = match self.order.as_deref() {
            None | Some("desc") => Order::Desc,
            Some("asc") => Order::Asc,
            Some(other) => {
                return Err(ApiError::invalid(
                    "order",
                    format!("`order` must be asc or desc, got `{other}`"),
                ));
            }
        };
        let mut q = AuditQuery::new().order(order);
        q.actor = self.actor;
        q.action = self.action;
        q.resource = self.resource;
        q.trace_id = self.trace_id;
        q.outcome = parse("outcome", self.outcome, outcome_names)?;
        q.since_ms = parse("since_ms", self.since_ms, MS)?;
        q.until_ms = parse("until_ms", self.until_ms, MS)?;
        q.cursor = parse("cursor", self.cursor, "the `next_cursor` of a previous page")?;
        q.limit = parse("limit", self.limit, "a whole number from 1 to 1000")?;
        Ok(q)
    }
}

async fn records(
    State(log): State<AuditLog>,
    params: Result<Query<RecordsParams>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let query = params?.0.into_query()?;
    Ok(Json(log.query(&query).await?))
}

/// The parameters of `GET /audit/verify`, as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyParams {
    anchor_seq: Option<String>,
    anchor_hash: Option<String>,
    page_size: Option<String>,
    max_faults: Option<String>,
}

impl VerifyParams {
    fn into_options(self) -> Result<VerifyOptions, ApiError> {
        let seq: Option<u64> = parse("anchor_seq", self.anchor_seq, "a record's seq")?;
        let hash = match self.anchor_hash {
            None => None,
            Some(h) => Some(ChainHash::parse(&h).ok_or_else(|| {
                ApiError::invalid(
                    "anchor_hash",
                    format!("`anchor_hash` must be 64 hex digits, got `{h}`"),
                )
            })?),
        };
        let anchor = match (seq, hash) {
            (Some(seq), Some(hash)) => Some(ChainHead { seq, hash }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ApiError::invalid(
                    "anchor_hash",
                    "`anchor_hash` is required with `anchor_seq`".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(ApiError::invalid(
                    "anchor_seq",
                    "`anchor_seq` is required with `anchor_hash`".into(),
                ));
            }
        };
        Ok(VerifyOptions {
            anchor,
            page_size: parse("page_size", self.page_size, "a whole number from 1 to 10000")?,
            max_faults: parse("max_faults", self.max_faults, "a whole number")?,
        })
    }
}

async fn verify_get(
    State(log): State<AuditLog>,
    params: Result<Query<VerifyParams>, QueryRejection>,
) -> Result<Json<VerifyReport>, ApiError> {
    let opts = params?.0.into_options()?;
    Ok(Json(log.verify_with(&opts).await?))
}

async fn verify_post(
    State(log): State<AuditLog>,
    body: Bytes,
) -> Result<Json<VerifyReport>, ApiError> {
    let opts = if body.iter().all(u8::is_ascii_whitespace) {
        VerifyOptions::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the body must be JSON VerifyOptions ({{\"anchor\": {{\"seq\", \"hash\"}}, \"page_size\", \"max_faults\"}}): {e}"),
                None,
            )
        })?
    };
    Ok(Json(log.verify_with(&opts).await?))
}

/// A router serving the audit trail, to merge into an admin router:
///
/// * `GET /audit/records?actor=&action=&resource=&outcome=&trace_id=&since_ms=&until_ms=&cursor=&limit=&order=asc|desc`
///   — an [`AuditPage`] as JSON (`entries`, `next_cursor`);
/// * `GET /audit/verify?anchor_seq=&anchor_hash=&page_size=&max_faults=` and
///   `POST /audit/verify` with an optional JSON [`VerifyOptions`] body — a
///   [`VerifyReport`] as JSON, `200` whether or not the chain is valid (read `valid`).
///
/// Bad parameters (unknown, malformed, out of range) get `400` with an
/// [`AuditErrorBody`] naming the parameter; a database failure gets `503`.
///
/// The routes expose who did what: mount them on an admin listener behind
/// authentication.
///
/// ```
/// use axum::body::Body;
/// use http::{Request, StatusCode};
/// use platform_core::store::Store;
/// use platform_observe::audit::{AuditLog, audit_router};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let log = AuditLog::new(Store::connect("sqlite::memory:").await?).await?;
/// let app: axum::Router = audit_router(log);
/// let res = app.oneshot(Request::get("/audit/records?limit=zero").body(Body::empty())?).await?;
/// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
/// # Ok(()) }
/// ```
pub fn audit_router<S>(log: AuditLog) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/audit/records", get(records))
        .route("/audit/verify", get(verify_get).post(verify_post))
        .with_state(log)
}
