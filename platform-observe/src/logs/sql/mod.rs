//! [`SqlLogStore`]: log records in SQLite (FTS5) or PostgreSQL (full-text search).

mod insert;
pub(crate) mod schema;
mod search;

use std::time::SystemTime;

use async_trait::async_trait;
use platform_core::store::Store;

use super::query::{LogEntry, LogPage, LogQuery};
use super::record::{LogLevel, LogRecord, micros_of, time_of_micros};
use super::store::{LogStore, LogStoreError, RetentionPolicy, RetentionReport};
use crate::trace::{SpanId, TraceId};
use search::Dialect;

/// Runs `$body` with `$pool` bound to the store's typed pool: the same code on both
/// backends, typed per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident, $dialect:ident => $body:expr) => {
        match $store {
            Store::Sqlite($pool) => {
                #[allow(unused_variables)]
                let $dialect = Dialect::Sqlite;
                $body
            }
            Store::Postgres($pool) => {
                #[allow(unused_variables)]
                let $dialect = Dialect::Postgres;
                $body
            }
            _ => unreachable!("platform-core stores are SQLite or PostgreSQL"),
        }
    };
}

/// Log records in a [`Store`]: SQLite with an FTS5 index (the embedded default) or
/// PostgreSQL with a `tsvector` GIN index. Cheap to clone (the pool is shared).
///
/// * [`append`](LogStore::append) writes a batch in one transaction with multi-row
///   statements (SQLite) or one `UNNEST` insert (PostgreSQL);
/// * [`search`](LogStore::search) combines full-text, level, service, trace and time
///   conditions with keyset pagination, newest first;
/// * [`enforce_retention`](LogStore::enforce_retention) deletes by age and count in
///   chunks of 5000 rows, so writers are not locked out for long.
///
/// ```
/// use platform_core::store::Store;
/// use platform_observe::logs::{LogLevel, LogQuery, LogRecord, LogStore, SqlLogStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let logs = SqlLogStore::new(Store::connect("sqlite::memory:").await?).await?;
/// let mut rec = LogRecord::new(LogLevel::Warn, "orders", "orders::pay", "payment timed out");
/// rec.fields.insert("order_id".into(), 42.into());
/// logs.append(&[rec]).await?;
///
/// let page = logs.search(&LogQuery::new().text("timed out 42")?).await?;
/// assert_eq!(page.records[0].record.message, "payment timed out");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SqlLogStore {
    store: Store,
}

/// A search result row: id, time, level, target, service, message, fields, trace, span.
type Row = (i64, i64, i32, String, String, String, String, Option<String>, Option<String>);

impl SqlLogStore {
    /// The log tables of `store`; applies their migrations (module `observe.logs`).
    pub async fn new(store: Store) -> Result<Self, LogStoreError> {
        store.migrate(&schema::MIGRATIONS).await?;
        Ok(Self { store })
    }

    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many records are stored.
    pub async fn count(&self) -> Result<u64, LogStoreError> {
        let n: i64 = with_pool!(&self.store, pool, _d => {
            sqlx::query_scalar("SELECT COUNT(*) FROM platform_logs")
                .fetch_one(pool)
                .await
                .map_err(LogStoreError::db("count"))?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn entry(row: Row) -> LogEntry {
    let (id, time_us, level, target, service, message, fields, trace_id, span_id) = row;
    LogEntry {
        id,
        record: LogRecord {
            time: time_of_micros(time_us),
            level: LogLevel::from_severity_number(level).unwrap_or_default(),
            target,
            service,
            message,
            fields: serde_json::from_str(&fields).unwrap_or_default(),
            trace_id: trace_id.as_deref().and_then(TraceId::parse),
            span_id: span_id.as_deref().and_then(SpanId::parse),
        },
    }
}

/// Runs a chunked `DELETE` (its last parameter is the chunk size) until a chunk deletes
/// fewer rows than the chunk size; returns the total.
macro_rules! delete_chunked {
    ($pool:expr, $op:literal, $sql:expr, $($arg:expr),*) => {{
        let mut total = 0u64;
        loop {
            let n = sqlx::query($sql)
                $(.bind($arg))*
                .bind(schema::DELETE_CHUNK)
                .execute($pool)
                .await
                .map_err(LogStoreError::db($op))?
                .rows_affected();
            total += n;
            if n < schema::DELETE_CHUNK.unsigned_abs() {
                break total;
            }
        }
    }};
}

#[async_trait]
impl LogStore for SqlLogStore {
    async fn append(&self, batch: &[LogRecord]) -> Result<(), LogStoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        match &self.store {
            Store::Sqlite(pool) => insert::sqlite(pool, batch).await,
            Store::Postgres(pool) => {
                insert::postgres(pool, batch.iter().map(insert::Prepared::from).collect()).await
            }
            _ => unreachable!("platform-core stores are SQLite or PostgreSQL"),
        }
        .map_err(LogStoreError::db("append"))
    }

    async fn search(&self, query: &LogQuery) -> Result<LogPage, LogStoreError> {
        let rows: Vec<Row> = with_pool!(&self.store, pool, dialect => {
            search::build(query, dialect)
                .build_query_as::<Row>()
                .fetch_all(pool)
                .await
                .map_err(LogStoreError::db("search"))?
        });
        let entries = rows.into_iter().map(entry).collect();
        Ok(LogPage::from_overfetch(entries, query.effective_limit()))
    }

    async fn enforce_retention(
        &self,
        policy: &RetentionPolicy,
        now: SystemTime,
    ) -> Result<RetentionReport, LogStoreError> {
        let mut report = RetentionReport::default();
        if let Some(age) = policy.max_age {
            let age_us = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            let cutoff = micros_of(now).saturating_sub(age_us);
            report.expired = with_pool!(&self.store, pool, _d => {
                delete_chunked!(pool, "retention by age", schema::DELETE_OLDER, cutoff)
            });
        }
        if let Some(max) = policy.max_records {
            let offset = i64::try_from(max).unwrap_or(i64::MAX);
            report.trimmed = with_pool!(&self.store, pool, _d => {
                let newest_excess: Option<(i64, i64)> = sqlx::query_as(schema::NTH_NEWEST)
                    .bind(offset)
                    .fetch_optional(pool)
                    .await
                    .map_err(LogStoreError::db("retention by count"))?;
                match newest_excess {
                    Some((t, id)) => {
                        delete_chunked!(pool, "retention by count", schema::DELETE_UP_TO, t, id)
                    }
                    None => 0,
                }
            });
        }
        if report.expired + report.trimmed > 0 {
            tracing::info!(
                target: "platform::observe::logs",
                expired = report.expired,
                trimmed = report.trimmed,
                "log retention deleted records"
            );
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use platform_core::store::Migrations;

    use super::*;
    use crate::logs::SearchText;

    /// A database written under migration 1 (positional FTS5 index, unicode61 tokenizer)
    /// keeps every record searchable after migration 2 rebuilds the index.
    #[tokio::test]
    async fn records_stored_before_the_index_rebuild_are_still_found() {
        let store = Store::connect("sqlite::memory:").await.unwrap();
        let v1 = Migrations::new(schema::MIGRATIONS.module(), &schema::MIGRATIONS.steps()[..1]);
        store.migrate(&v1).await.unwrap();
        let Store::Sqlite(pool) = &store else { unreachable!("a SQLite URL") };
        sqlx::query(
            "INSERT INTO platform_logs (id, time_us, level, target, service, message, fields)
             VALUES (1, 10, 9, 't', 'orders', 'Payment DECLINED for order', '{\"order_id\":4711}'),
                    (2, 20, 9, 't', 'orders', 'payment accepted', '{}')",
        )
        .execute(pool)
        .await
        .unwrap();

        let logs = SqlLogStore::new(store.clone()).await.unwrap();
        let find = |text: &str| {
            let query =
                LogQuery { text: Some(SearchText::parse(text).unwrap()), ..LogQuery::default() };
            let logs = &logs;
            async move {
                let page = logs.search(&query).await.unwrap();
                page.records.iter().map(|e| e.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(find("declined").await, vec![1], "case folded");
        assert_eq!(find("4711").await, vec![1], "field values indexed");
        assert_eq!(find("order_id").await, vec![1], "field names indexed");
        assert_eq!(find("pay*").await, vec![2, 1], "prefixes, newest first");
        // New records go through the Rust tokenizer into the rebuilt index.
        let mut r = LogRecord::new(LogLevel::Warn, "orders", "t", "Refund ISSUED");
        r.time = time_of_micros(30);
        logs.append(&[r]).await.unwrap();
        assert_eq!(find("issued").await.len(), 1);
        // Retention still removes index entries with their rows.
        let policy = RetentionPolicy { max_age: None, max_records: Some(2) };
        logs.enforce_retention(&policy, SystemTime::now()).await.unwrap();
        assert_eq!(find("declined").await, Vec::<i64>::new());
    }
}
