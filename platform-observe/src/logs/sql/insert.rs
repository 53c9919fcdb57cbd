//! Batched inserts: one transaction per batch.

use std::borrow::Cow;
use std::sync::LazyLock;

use futures_util::future::join;
use sqlx::{AssertSqlSafe, PgPool, SqlSafeStr, SqlStr, Sqlite, SqlitePool, Transaction};

use super::schema;
use crate::logs::record::LogRecord;
use crate::logs::text::{push_tokens, push_value_tokens};

/// Rows per SQLite statement: 9 parameters each stays far below SQLite's 32 766 limit,
/// and full chunks share one cached prepared statement.
const SQLITE_CHUNK: usize = 256;

/// A record as its columns (borrowed from the record where it can be), plus the text to
/// index.
pub(super) struct Prepared<'r> {
    time_us: i64,
    level: i32,
    target: Cow<'r, str>,
    service: Cow<'r, str>,
    message: Cow<'r, str>,
    fields: String,
    trace_id: Option<String>,
    span_id: Option<String>,
    body: String,
}

/// PostgreSQL refuses NUL in text; both backends store U+FFFD instead, so they agree.
fn no_nul(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{fffd}")) } else { Cow::Borrowed(s) }
}

impl<'r> From<&'r LogRecord> for Prepared<'r> {
    fn from(r: &'r LogRecord) -> Self {
        let mut body = String::with_capacity(r.message.len() + 32);
        push_tokens(&mut body, &r.message);
        for (k, v) in &r.fields {
            push_tokens(&mut body, k);
            push_value_tokens(&mut body, v);
        }
        // Serialising a JSON map cannot fail; JSON escapes NUL as `\u0000`.
        let fields = serde_json::to_string(&r.fields).unwrap_or_else(|_| "{}".to_owned());
        Self {
            time_us: r.time_micros(),
            level: r.level.severity_number(),
            target: no_nul(&r.target),
            service: no_nul(&r.service),
            message: no_nul(&r.message),
            fields,
            trace_id: r.trace_id.map(|t| t.to_string()),
            span_id: r.span_id.map(|s| s.to_string()),
            body,
        }
    }
}

const SQLITE_ROWS: &str = "INSERT INTO platform_logs \
    (id, time_us, level, target, service, message, fields, trace_id, span_id) VALUES ";
const SQLITE_INDEX: &str = "INSERT INTO platform_logs_fts (rowid, body) VALUES ";

/// `head` followed by `rows` groups of `columns` placeholders.
fn values_sql(head: &str, columns: usize, rows: usize) -> String {
    let group = format!("({})", vec!["?"; columns].join(", "));
    let mut sql = String::with_capacity(head.len() + rows * (group.len() + 2));
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&group);
    }
    sql
}

/// The statements of a full chunk, built once: the text is also sqlx's cache key for the
/// prepared statement.
static FULL_CHUNK: LazyLock<(String, String)> = LazyLock::new(|| {
    (values_sql(SQLITE_ROWS, 9, SQLITE_CHUNK), values_sql(SQLITE_INDEX, 2, SQLITE_CHUNK))
});

/// SQLite: under the write lock (`BEGIN IMMEDIATE`) the next ids are known, so the rows
/// and their index entries go in as multi-row `INSERT`s with explicit ids.
///
/// Statements run on sqlx's SQLite worker thread; while it writes one chunk, this task
/// prepares the next (tokenizing, JSON), so the two threads overlap.
pub(super) async fn sqlite(pool: &SqlitePool, records: &[LogRecord]) -> Result<(), sqlx::Error> {
    let mut chunks = records.chunks(SQLITE_CHUNK);
    let mut prepare_next =
        || chunks.next().map(|c| c.iter().map(Prepared::from).collect::<Vec<_>>());
    let begin = async {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let max: i64 = sqlx::query_scalar(schema::SQLITE_MAX_ID).fetch_one(&mut *tx).await?;
        Ok::<_, sqlx::Error>((tx, max))
    };
    let (begun, mut next) = join(begin, async { prepare_next() }).await;
    let (mut tx, mut last_id) = begun?;
    while let Some(chunk) = next.take() {
        let write = write_chunk(&mut tx, &chunk, last_id);
        let (written, following) = join(write, async { prepare_next() }).await;
        last_id = written?;
        next = following;
    }
    tx.commit().await
}

/// Inserts one chunk's rows and index entries with ids after `last_id`; returns the last
/// id used.
async fn write_chunk(
    tx: &mut Transaction<'_, Sqlite>,
    chunk: &[Prepared<'_>],
    mut last_id: i64,
) -> Result<i64, sqlx::Error> {
    // Only placeholders are generated here, never data: safe to assert.
    let (rows_sql, index_sql): (SqlStr, SqlStr) = if chunk.len() == SQLITE_CHUNK {
        (FULL_CHUNK.0.as_str().into_sql_str(), FULL_CHUNK.1.as_str().into_sql_str())
    } else {
        (
            AssertSqlSafe(values_sql(SQLITE_ROWS, 9, chunk.len())).into_sql_str(),
            AssertSqlSafe(values_sql(SQLITE_INDEX, 2, chunk.len())).into_sql_str(),
        )
    };
    let first_id = last_id + 1;
    // Text is bound borrowed: SQLite copies it while binding, so nothing is cloned here.
    let mut insert = sqlx::query::<Sqlite>(rows_sql);
    for r in chunk {
        last_id += 1;
        insert = insert
            .bind(last_id)
            .bind(r.time_us)
            .bind(r.level)
            .bind(r.target.as_ref())
            .bind(r.service.as_ref())
            .bind(r.message.as_ref())
            .bind(r.fields.as_str())
            .bind(r.trace_id.as_deref())
            .bind(r.span_id.as_deref());
    }
    insert.execute(&mut **tx).await?;
    let mut index = sqlx::query::<Sqlite>(index_sql);
    for (r, id) in chunk.iter().zip(first_id..) {
        index = index.bind(id).bind(r.body.as_str());
    }
    index.execute(&mut **tx).await?;
    Ok(last_id)
}

/// PostgreSQL: one `INSERT … SELECT FROM UNNEST(arrays)` for the whole batch; the
/// statement is atomic on its own.
pub(super) async fn postgres(pool: &PgPool, rows: Vec<Prepared<'_>>) -> Result<(), sqlx::Error> {
    let n = rows.len();
    let mut time = Vec::with_capacity(n);
    let mut level = Vec::with_capacity(n);
    let mut target = Vec::with_capacity(n);
    let mut service = Vec::with_capacity(n);
    let mut message = Vec::with_capacity(n);
    let mut fields = Vec::with_capacity(n);
    let mut trace = Vec::with_capacity(n);
    let mut span = Vec::with_capacity(n);
    let mut body = Vec::with_capacity(n);
    for r in rows {
        time.push(r.time_us);
        level.push(r.level);
        target.push(r.target.into_owned());
        service.push(r.service.into_owned());
        message.push(r.message.into_owned());
        fields.push(r.fields);
        trace.push(r.trace_id);
        span.push(r.span_id);
        body.push(r.body);
    }
    sqlx::query(schema::PG_INSERT)
        .bind(time)
        .bind(level)
        .bind(target)
        .bind(service)
        .bind(message)
        .bind(fields)
        .bind(trace)
        .bind(span)
        .bind(body)
        .execute(pool)
        .await?;
    Ok(())
}
