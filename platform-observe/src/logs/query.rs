//! What a search asks for ([`LogQuery`]) and what it returns ([`LogPage`]).

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::record::{LogLevel, LogRecord};
use super::text::SearchText;
use crate::trace::TraceId;

/// Records per page unless the query says otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// Most records per page; larger limits are lowered to this.
pub const MAX_LIMIT: usize = 1000;

/// A search that cannot run: which part is wrong and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogQueryError {
    /// The full-text part is unusable.
    #[error("search text {problem}")]
    Text {
        /// What is wrong.
        problem: String,
    },
    /// Another parameter is malformed.
    #[error("parameter `{param}`: {problem}")]
    Param {
        /// The parameter (`level`, `since`, `cursor`, …).
        param: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
}

impl LogQueryError {
    /// The parameter at fault (`q` for the search text).
    pub fn param(&self) -> &'static str {
        match self {
            Self::Text { .. } => "q",
            Self::Param { param, .. } => param,
        }
    }

    pub(crate) fn param_err(param: &'static str, problem: impl Into<String>) -> Self {
        Self::Param { param, problem: problem.into() }
    }
}

/// Where a page ended: pass it back as [`LogQuery::cursor`] to get the next page.
///
/// Results are ordered newest first by (time, id); the cursor is the last record's
/// position, so pages neither skip nor repeat records while new ones arrive. Its text
/// form (`Display` / `FromStr`) is opaque: hand back what you received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogCursor {
    pub(crate) time_us: i64,
    pub(crate) id: i64,
}

impl LogCursor {
    /// The cursor just after `entry` (the next page starts with the record after it).
    pub fn after(entry: &LogEntry) -> Self {
        Self { time_us: entry.record.time_micros(), id: entry.id }
    }
}

impl fmt::Display for LogCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.time_us, self.id)
    }
}

impl FromStr for LogCursor {
    type Err = LogQueryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            LogQueryError::param_err(
                "cursor",
                format!("`{s}` is not a cursor; pass back the `next_cursor` of the previous page"),
            )
        };
        let (t, id) = s.split_once('.').ok_or_else(bad)?;
        Ok(Self { time_us: t.parse().map_err(|_| bad())?, id: id.parse().map_err(|_| bad())? })
    }
}

impl Serialize for LogCursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LogCursor {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A search: every condition set must hold. Build it with the chained setters.
///
/// ```
/// use platform_observe::logs::{LogLevel, LogQuery};
///
/// let q = LogQuery::new()
///     .text("payment timeout")
///     .unwrap()
///     .min_level(LogLevel::Warn)
///     .service("orders")
///     .limit(50);
/// assert_eq!(q.limit, 50);
/// assert!(LogQuery::new().text("!!!").is_err()); // no word to search for
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogQuery {
    /// Full-text condition on message and fields.
    pub text: Option<SearchText>,
    /// Only records at this level or more severe.
    pub min_level: Option<LogLevel>,
    /// Only records of this service (exact match).
    pub service: Option<String>,
    /// Only records of this trace.
    pub trace_id: Option<TraceId>,
    /// Only records at or after this time.
    pub since: Option<SystemTime>,
    /// Only records before this time.
    pub until: Option<SystemTime>,
    /// Continue after this position (from the previous page's [`LogPage::next_cursor`]).
    pub cursor: Option<LogCursor>,
    /// Records per page, 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]).
    pub limit: usize,
}

impl Default for LogQuery {
    fn default() -> Self {
        Self {
            text: None,
            min_level: None,
            service: None,
            trace_id: None,
            since: None,
            until: None,
            cursor: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

impl LogQuery {
    /// Every record, newest first, [`DEFAULT_LIMIT`] per page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Full-text condition; see [`SearchText`] for the syntax and what is refused.
    pub fn text(mut self, text: &str) -> Result<Self, LogQueryError> {
        self.text = Some(SearchText::parse(text)?);
        Ok(self)
    }

    /// Only records at `level` or more severe.
    pub fn min_level(mut self, level: LogLevel) -> Self {
        self.min_level = Some(level);
        self
    }

    /// Only records of `service`.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// Only records of the trace `id`.
    pub fn trace_id(mut self, id: TraceId) -> Self {
        self.trace_id = Some(id);
        self
    }

    /// Only records at or after `t`.
    pub fn since(mut self, t: SystemTime) -> Self {
        self.since = Some(t);
        self
    }

    /// Only records before `t`.
    pub fn until(mut self, t: SystemTime) -> Self {
        self.until = Some(t);
        self
    }

    /// Continue after `cursor`.
    pub fn cursor(mut self, cursor: LogCursor) -> Self {
        self.cursor = Some(cursor);
        self
    }

    /// Records per page, clamped to 1 ..= [`MAX_LIMIT`].
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// The page size the stores use: [`limit`](Self::limit) clamped to 1 ..= [`MAX_LIMIT`].
    pub fn effective_limit(&self) -> usize {
        self.limit.clamp(1, MAX_LIMIT)
    }
}

/// A stored record with its store-assigned id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The store's id of the record (increasing in insertion order within one store).
    pub id: i64,
    /// The record.
    #[serde(flatten)]
    pub record: LogRecord,
}

/// One page of search results, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogPage {
    /// The records.
    pub records: Vec<LogEntry>,
    /// Pass to [`LogQuery::cursor`] for the next page; `None` on the last page.
    pub next_cursor: Option<LogCursor>,
}

impl LogPage {
    /// A page of `records` fetched with one extra row beyond `limit` to learn whether
    /// more follow: the extra row is removed and the cursor set.
    pub(crate) fn from_overfetch(mut records: Vec<LogEntry>, limit: usize) -> Self {
        let more = records.len() > limit;
        records.truncate(limit);
        let next_cursor = if more { records.last().map(LogCursor::after) } else { None };
        Self { records, next_cursor }
    }
}
