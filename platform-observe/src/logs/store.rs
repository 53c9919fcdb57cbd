//! The [`LogStore`] trait, retention policy and store errors.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::query::{LogPage, LogQuery, LogQueryError};
use super::record::LogRecord;

/// Where log records are kept and searched.
///
/// Backends: [`SqlLogStore`](super::SqlLogStore) (SQLite with FTS5, the embedded
/// default; PostgreSQL full-text search) and, with feature `logs-client`,
/// `HttpLogStore` (a central instance over HTTP). Object safe: share one as
/// `Arc<dyn LogStore>`.
#[async_trait]
pub trait LogStore: Send + Sync + 'static {
    /// Stores `batch` atomically (all records or none).
    async fn append(&self, batch: &[LogRecord]) -> Result<(), LogStoreError>;

    /// One page of the records matching `query`, newest first.
    async fn search(&self, query: &LogQuery) -> Result<LogPage, LogStoreError>;

    /// Deletes what `policy` no longer keeps, judged at `now`, and says how much went.
    async fn enforce_retention(
        &self,
        policy: &RetentionPolicy,
        now: SystemTime,
    ) -> Result<RetentionReport, LogStoreError>;
}

/// How long and how many records a store keeps. Both limits apply; `None` disables one.
///
/// ```
/// let p: platform_observe::logs::RetentionPolicy =
///     serde_json::from_str(r#"{"max_age": "7d", "max_records": 5000000}"#).unwrap();
/// assert_eq!(p.max_age, Some(std::time::Duration::from_secs(7 * 86_400)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Delete records older than this, by their `time` (default 7 days).
    #[serde(with = "humantime_serde")]
    pub max_age: Option<Duration>,
    /// Keep at most this many records, deleting the oldest by `time` (default 10 million).
    ///
    /// The limit is a record count rather than bytes: it means the same on both backends
    /// and is exact, whereas file sizes lag deletions (SQLite reuses freed pages instead of
    /// shrinking the file; PostgreSQL reclaims space at vacuum). Size it from your average
    /// record (a few hundred bytes plus index).
    pub max_records: Option<u64>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self { max_age: Some(Duration::from_secs(7 * 86_400)), max_records: Some(10_000_000) }
    }
}

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Records deleted for being older than `max_age`.
    pub expired: u64,
    /// Records deleted to bring the count down to `max_records`.
    pub trimmed: u64,
}

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogStoreError {
    /// The query is invalid (a remote store rejected it, or it failed local checks).
    #[error(transparent)]
    Query(#[from] LogQueryError),
    /// Setting up the store (connecting, migrating) failed.
    #[error("log store setup failed")]
    Setup(#[from] platform_core::store::StoreError),
    /// A database statement failed.
    #[error("log store: {operation} failed")]
    Database {
        /// What was being done (`append`, `search`, `retention by age`, …).
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A remote store could not be reached or answered unreadably.
    #[error("log store at {endpoint} unavailable: {reason}")]
    Unavailable {
        /// The remote endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// A remote store refused the request.
    #[error("log store at {endpoint} refused the request with {status}: {message}")]
    Rejected {
        /// The remote endpoint.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The remote error message.
        message: String,
    },
    /// The store cannot do this (e.g. retention through a remote ingest endpoint).
    #[error("{0}")]
    Unsupported(String),
}

impl LogStoreError {
    pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }
}
