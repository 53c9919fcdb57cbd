//! The NDJSON ingest format: one [`LogRecord`] JSON object per line.

use serde::{Deserialize, Serialize};

use super::record::LogRecord;

/// At most this many bad lines are listed in one [`NdjsonError`].
pub const MAX_REPORTED_LINES: usize = 100;

/// One line of an NDJSON body that is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    /// 1-based line number in the body.
    pub line: usize,
    /// The offending field (`level`, `fields.user`, `trace_id`), when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// An NDJSON body with bad lines; nothing of it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} of {total_lines} lines are not valid log records; first: {}", bad.len(), describe(&bad[0]))]
pub struct NdjsonError {
    /// The bad lines, in order (at most [`MAX_REPORTED_LINES`]).
    pub bad: Vec<BadLine>,
    /// Non-empty lines in the body.
    pub total_lines: usize,
}

fn describe(b: &BadLine) -> String {
    match &b.field {
        Some(f) => format!("line {}: field `{f}`: {}", b.line, b.message),
        None => format!("line {}: {}", b.line, b.message),
    }
}

/// Parses an NDJSON body: every non-blank line must be a valid [`LogRecord`] (JSON types,
/// then [`LogRecord::validate`]). All or nothing: one bad line fails the whole body, and
/// the error lists the bad lines (1-based) with the field at fault.
///
/// ```
/// use platform_observe::logs::parse_ndjson;
///
/// let body = concat!(
///     r#"{"time":"2026-11-26T10:00:00Z","level":"info","service":"a","message":"ok"}"#, "\n",
///     r#"{"time":"2026-11-26T10:00:01Z","level":"loud","service":"a","message":"no"}"#, "\n",
/// );
/// let err = parse_ndjson(body.as_bytes()).unwrap_err();
/// assert_eq!(err.bad[0].line, 2);
/// assert_eq!(err.bad[0].field.as_deref(), Some("level"));
/// ```
pub fn parse_ndjson(body: &[u8]) -> Result<Vec<LogRecord>, NdjsonError> {
    let mut records = Vec::new();
    let mut bad = Vec::new();
    let mut total_lines = 0;
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        total_lines += 1;
        match parse_line(line) {
            Ok(r) => records.push(r),
            Err((field, message)) => {
                if bad.len() < MAX_REPORTED_LINES {
                    bad.push(BadLine { line: i + 1, field, message });
                }
            }
        }
    }
    if bad.is_empty() { Ok(records) } else { Err(NdjsonError { bad, total_lines }) }
}

/// One line to a record, or the field at fault and the problem.
fn parse_line(line: &[u8]) -> Result<LogRecord, (Option<String>, String)> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let record: LogRecord = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let field = if path == "." { missing_field(&message) } else { Some(path) };
        (field, message)
    })?;
    de.end().map_err(|e| (None, format!("text after the JSON object: {e}")))?;
    record.validate().map_err(|e| (Some(e.field), e.problem))?;
    Ok(record)
}

/// serde reports a missing field at the root as "missing field `name` at …".
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

/// Writes `records` as an NDJSON body (one object per line, each line ending in `\n`).
pub fn to_ndjson(records: &[LogRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 200);
    for r in records {
        // A record is strings, numbers and a JSON map: serialising it cannot fail.
        if serde_json::to_writer(&mut out, r).is_ok() {
            out.push(b'\n');
        }
    }
    out
}
