//! The search statement, built from a [`LogQuery`] with bound parameters only.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::schema::COLUMNS;
use crate::logs::query::LogQuery;

/// Which full-text syntax to write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// `SELECT … WHERE … ORDER BY time_us DESC, id DESC LIMIT limit + 1`: one row more than the
/// page, so the caller learns whether another page follows. Every value from the query is a
/// bound parameter; the full-text value is the quoted form from
/// [`SearchText`](crate::logs::SearchText).
pub(crate) fn build<DB>(q: &LogQuery, dialect: Dialect) -> QueryBuilder<DB>
where
    DB: Database,
    DB::Arguments: Default,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
    i32: for<'t> Encode<'t, DB> + Type<DB>,
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    let mut qb = QueryBuilder::new(format!("SELECT {COLUMNS} FROM platform_logs WHERE TRUE"));
    if let Some(text) = &q.text {
        match dialect {
            Dialect::Sqlite => {
                qb.push(" AND id IN (SELECT rowid FROM platform_logs_fts WHERE platform_logs_fts MATCH ");
                qb.push_bind(text.to_fts5());
            }
            Dialect::Postgres => {
                qb.push(" AND search @@ to_tsquery('simple', ");
                qb.push_bind(text.to_tsquery());
            }
        }
        qb.push(")");
    }
    if let Some(level) = q.min_level {
        qb.push(" AND level >= ").push_bind(level.severity_number());
    }
    if let Some(service) = &q.service {
        qb.push(" AND service = ").push_bind(service.clone());
    }
    if let Some(trace) = q.trace_id {
        qb.push(" AND trace_id = ").push_bind(trace.to_string());
    }
    if let Some(since) = q.since {
        qb.push(" AND time_us >= ").push_bind(crate::logs::record::micros_of(since));
    }
    if let Some(until) = q.until {
        qb.push(" AND time_us < ").push_bind(crate::logs::record::micros_of(until));
    }
    if let Some(c) = q.cursor {
        qb.push(" AND (time_us < ").push_bind(c.time_us);
        qb.push(" OR (time_us = ").push_bind(c.time_us);
        qb.push(" AND id < ").push_bind(c.id).push("))");
    }
    let limit = i64::try_from(q.effective_limit()).unwrap_or(i64::MAX);
    qb.push(" ORDER BY time_us DESC, id DESC LIMIT ").push_bind(limit + 1);
    qb
}
