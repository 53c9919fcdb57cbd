//! [`AuditQuery`]: filters and keyset pagination over the trail.

use platform_core::store::Store;
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;

use super::error::AuditError;
use super::log::{AuditLog, seq_i64};
use super::record::{MAX_ACTION_LEN, MAX_TEXT_LEN, Outcome, check_text};
use super::row::{AuditEntry, Row, entry_of};
use super::schema::COLUMNS;

/// Records per page when the query does not say.
pub const DEFAULT_LIMIT: u32 = 100;
/// The most records one page returns; larger limits are capped to it.
pub const MAX_LIMIT: u32 = 1000;

/// Page order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Order {
    /// Highest `seq` first (the default: most recent activity on top).
    #[default]
    Desc,
    /// Lowest `seq` first (chain order).
    Asc,
}

/// Which records to return, and where the page starts.
///
/// Every filter set must match (AND); unset filters match everything. Text filters are
/// exact matches. The time range is `since_ms <= time_ms < until_ms`. Pages are keyset
/// pages on `seq`: pass the previous page's [`next_cursor`](AuditPage::next_cursor) as
/// [`cursor`](Self::cursor) to continue, which stays correct while records are appended.
///
/// ```
/// use platform_core::store::Store;
/// use platform_observe::audit::{AuditLog, AuditQuery, AuditRecord, Order, Outcome};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let log = AuditLog::new(Store::connect("sqlite::memory:").await?).await?;
/// for user in ["ann", "bob", "ann", "ann"] {
///     log.append(AuditRecord::new("login", Outcome::Success).actor(user)).await?;
/// }
/// let q = AuditQuery::new().actor("ann").order(Order::Asc).limit(2);
/// let first = log.query(&q).await?;
/// assert_eq!(first.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3]);
/// let rest = log.query(&q.clone().cursor(first.next_cursor.unwrap())).await?;
/// assert_eq!(rest.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
/// assert_eq!(rest.next_cursor, None);
///
/// let err = log.query(&AuditQuery::new().limit(0)).await.unwrap_err();
/// assert!(err.to_string().contains("`limit`"), "{err}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only records by this actor.
    pub actor: Option<String>,
    /// Only records of this action.
    pub action: Option<String>,
    /// Only records on this resource.
    pub resource: Option<String>,
    /// Only records with this outcome.
    pub outcome: Option<Outcome>,
    /// Only records of this trace.
    pub trace_id: Option<String>,
    /// Only records at or after this time (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only records before this time (ms since the Unix epoch).
    pub until_ms: Option<i64>,
    /// Continue after this `seq` (in the page order): the previous page's `next_cursor`.
    pub cursor: Option<u64>,
    /// Records per page: 1 to [`MAX_LIMIT`] (larger values are capped), default
    /// [`DEFAULT_LIMIT`].
    pub limit: Option<u32>,
    /// Page order (default newest first).
    pub order: Order,
}

/// One page of records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditPage {
    /// The records, in the query's order.
    pub entries: Vec<AuditEntry>,
    /// The cursor of the next page; `None` when this page is the last.
    pub next_cursor: Option<u64>,
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty => $field:ident $(.$conv:ident())?;)*) => {$(
        #[$doc]
        pub fn $name(mut self, value: $ty) -> Self {
            self.$field = Some(value$(.$conv())?);
            self
        }
    )*};
}

impl AuditQuery {
    /// A query matching every record, newest first, [`DEFAULT_LIMIT`] per page.
    pub fn new() -> Self {
        Self::default()
    }

    setter! {
        /// Only records by `actor`.
        actor: impl Into<String> => actor.into();
        /// Only records of `action`.
        action: impl Into<String> => action.into();
        /// Only records on `resource`.
        resource: impl Into<String> => resource.into();
        /// Only records with `outcome`.
        outcome: Outcome => outcome;
        /// Only records of the trace `trace_id`.
        trace_id: impl Into<String> => trace_id.into();
        /// Only records at or after `ms`.
        since_ms: i64 => since_ms;
        /// Only records before `ms`.
        until_ms: i64 => until_ms;
        /// Continues after `seq` (a previous page's `next_cursor`).
        cursor: u64 => cursor;
        /// Records per page.
        limit: u32 => limit;
    }

    /// Sets the page order.
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// The page size used: `limit` capped to [`MAX_LIMIT`], or [`DEFAULT_LIMIT`].
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)
    }

    /// Checks every parameter; the error names the one at fault.
    pub fn validate(&self) -> Result<(), AuditError> {
        self.conditions().map(drop)
    }

    /// The `WHERE` conditions with their values, checked.
    fn conditions(&self) -> Result<Vec<(&'static str, Bind<'_>)>, AuditError> {
        let bad = |(field, problem)| AuditError::InvalidQuery { field, problem };
        let mut out = Vec::new();
        for (column, value, max) in [
            ("actor = ", &self.actor, MAX_TEXT_LEN),
            ("action = ", &self.action, MAX_ACTION_LEN),
            ("resource = ", &self.resource, MAX_TEXT_LEN),
            ("trace_id = ", &self.trace_id, MAX_TEXT_LEN),
        ] {
            if let Some(v) = value {
                let field = column.trim_end_matches(" = ");
                check_text(field, v, max).map_err(bad)?;
                out.push((column, Bind::Text(v)));
            }
        }
        if let Some(o) = self.outcome {
            out.push(("outcome = ", Bind::Text(o.as_str())));
        }
        if let (Some(since), Some(until)) = (self.since_ms, self.until_ms)
            && until <= since
        {
            return Err(AuditError::query(
                "until_ms",
                format!("({until}) must be after since_ms ({since}): the range is [since, until)"),
            ));
        }
        if let Some(since) = self.since_ms {
            out.push(("time_ms >= ", Bind::Int(since)));
        }
        if let Some(until) = self.until_ms {
            out.push(("time_ms < ", Bind::Int(until)));
        }
        if let Some(cursor) = self.cursor {
            let seq = seq_i64(cursor).map_err(|_| {
                AuditError::query("cursor", format!("{cursor} is not a cursor this log returned"))
            })?;
            let cond = match self.order {
                Order::Desc => "seq < ",
                Order::Asc => "seq > ",
            };
            out.push((cond, Bind::Int(seq)));
        }
        if self.limit == Some(0) {
            return Err(AuditError::query("limit", format!("must be 1 to {MAX_LIMIT}, got 0")));
        }
        Ok(out)
    }
}

/// A value bound to one condition.
#[derive(Debug, Clone, Copy)]
enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

/// Selects one page (one row more than the limit, to know whether another page follows).
macro_rules! fetch {
    ($pool:ident, $db:ty, $conds:expr, $order:expr, $fetch:expr) => {{
        let mut qb = QueryBuilder::<$db>::new(format!("SELECT {COLUMNS} FROM platform_audit_log"));
        for (i, (cond, bind)) in $conds.iter().enumerate() {
            qb.push(if i == 0 { " WHERE " } else { " AND " }).push(cond);
            match bind {
                Bind::Text(s) => qb.push_bind(*s),
                Bind::Int(n) => qb.push_bind(*n),
            };
        }
        qb.push(" ORDER BY seq ").push($order).push(" LIMIT ").push_bind($fetch);
        let rows: Vec<Row> = qb.build_query_as().fetch_all($pool).await?;
        rows
    }};
}

impl AuditLog {
    /// The page of records matching `query`. Bad parameters are
    /// [`AuditError::InvalidQuery`] naming the parameter.
    pub async fn query(&self, query: &AuditQuery) -> Result<AuditPage, AuditError> {
        let conds = query.conditions()?;
        let limit = query.effective_limit();
        let order = match query.order {
            Order::Desc => "DESC",
            Order::Asc => "ASC",
        };
        let fetch = i64::from(limit) + 1;
        let mut rows = match self.store() {
            Store::Sqlite(p) => fetch!(p, sqlx::Sqlite, conds, order, fetch),
            Store::Postgres(p) => fetch!(p, sqlx::Postgres, conds, order, fetch),
            _ => unreachable!("platform-core stores are SQLite or PostgreSQL"),
        };
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let entries = rows.into_iter().map(entry_of).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if more { entries.last().map(|e| e.seq) } else { None };
        Ok(AuditPage { entries, next_cursor })
    }
}
