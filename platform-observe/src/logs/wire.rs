//! The JSON bodies the log router answers with, shared with the HTTP client.

use platform_core::error::ErrorBody;
use serde::{Deserialize, Serialize};

use super::ndjson::BadLine;

/// The answer to a successful ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Records stored (every line of the body).
    pub accepted: usize,
}

/// The JSON error body of the log router: the SDK's
/// [`ErrorBody`] plus what was wrong where.
///
/// ```json
/// {"error":"invalid_records","message":"1 of 3 lines are not valid log records; first: line 2: field `level`: …",
///  "field":"level","line":2,"bad_lines":[{"line":2,"field":"level","message":"…"}]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogErrorBody {
    /// Code (`invalid_records`, `invalid_query`, `body_too_large`, `log_store_unavailable`)
    /// and message.
    #[serde(flatten)]
    pub body: ErrorBody,
    /// The query parameter or record field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The first bad line of an ingest body (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Every bad line of an ingest body (at most 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bad_lines: Vec<BadLine>,
}
