//! [`AuditLog`]: migrations, appends and the chain head.

use platform_core::store::Store;
use sqlx::{Connection, QueryBuilder};

use super::error::AuditError;
use super::hash::{ChainHash, ChainHead, Fields, chain_hash};
use super::record::{AuditRecord, canonical_json};
use super::schema;

/// Runs `$body` with `$p` bound to the SQLite or PostgreSQL pool of `$store`.
macro_rules! on_pool {
    ($store:expr, |$p:ident| $body:expr) => {
        match $store {
            platform_core::store::Store::Sqlite($p) => $body,
            platform_core::store::Store::Postgres($p) => $body,
            _ => unreachable!("platform-core stores are SQLite or PostgreSQL"),
        }
    };
}
pub(crate) use on_pool;

/// Inside the open transaction `$tx`: reads (and locks) the head with `$head_sql`, seals
/// and inserts the prepared records, moves the head. Evaluates to the new head.
macro_rules! append_in {
    ($tx:ident, $db:ty, $head_sql:expr, $prepared:expr) => {{
        let row: Option<(i64, String)> =
            sqlx::query_as($head_sql).fetch_optional(&mut *$tx).await?;
        let head = head_of(row)?;
        let (sealed, new_head) = seal(head, $prepared)?;
        for chunk in sealed.chunks(schema::ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<$db>::new(schema::INSERT);
            insert.push_values(chunk, |mut b, s| {
                let r = s.prepared.record;
                b.push_bind(s.seq)
                    .push_bind(r.time_ms)
                    .push_bind(r.actor.as_deref())
                    .push_bind(r.action.as_str())
                    .push_bind(r.resource.as_deref())
                    .push_bind(r.outcome.as_str())
                    .push_bind(r.reason.as_deref())
                    .push_bind(r.trace_id.as_deref())
                    .push_bind(r.source_addr.as_deref())
                    .push_bind(s.prepared.extra.as_str())
                    .push_bind(s.prev.as_str())
                    .push_bind(s.hash.as_str());
            });
            insert.build().execute(&mut *$tx).await?;
        }
        sqlx::query(schema::SET_HEAD)
            .bind(seq_i64(new_head.seq)?)
            .bind(new_head.hash.to_string())
            .execute(&mut *$tx)
            .await?;
        new_head
    }};
}

/// The append-only, hash-chained audit trail in a [`Store`] (SQLite or PostgreSQL).
///
/// Every record gets the next `seq` and `hash = SHA-256(fields, prev_hash)` (see the
/// [module docs](super) for the encoding), so editing, deleting or reordering rows breaks
/// the chain and [`verify`](Self::verify) reports where. Appends take the chain head's
/// lock — a row lock on PostgreSQL (`SELECT … FOR UPDATE`), the database write lock on
/// SQLite (`BEGIN IMMEDIATE`) — so any number of tasks and processes append to one
/// consistent chain. Clones share the store.
///
/// ```
/// use platform_core::store::Store;
/// use platform_observe::audit::{AuditLog, AuditRecord, Outcome};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let log = AuditLog::new(Store::connect("sqlite::memory:").await?).await?;
/// let head = log.append(AuditRecord::new("user_created", Outcome::Success).actor("admin")).await?;
/// assert_eq!(head.seq, 1);
/// let head = log
///     .append_batch(vec![
///         AuditRecord::new("login", Outcome::Success).actor("bob"),
///         AuditRecord::new("login", Outcome::Failure).actor("eve").reason("bad_password"),
///     ])
///     .await?;
/// assert_eq!(head.seq, 3);
/// assert!(log.verify().await?.valid);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AuditLog {
    store: Store,
}

/// A record ready to insert: checked, with its canonical `extra`.
struct Prepared<'r> {
    record: &'r AuditRecord,
    extra: String,
}

/// A prepared record with its place in the chain.
struct Sealed<'a, 'r> {
    seq: i64,
    prepared: &'a Prepared<'r>,
    prev: String,
    hash: String,
}

impl AuditLog {
    /// The audit trail of `store`; applies its migrations (module `observe.audit`).
    pub async fn new(store: Store) -> Result<Self, AuditError> {
        store.migrate(&schema::MIGRATIONS).await?;
        Ok(Self { store })
    }

    /// The store the trail lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Appends one record; returns its place in the chain (the new head).
    pub async fn append(&self, record: AuditRecord) -> Result<ChainHead, AuditError> {
        self.append_batch(vec![record]).await
    }

    /// Appends `records` in order, in one transaction; returns the new head. The batch
    /// gets consecutive numbers ending at the returned `seq`. An empty batch writes
    /// nothing and returns the current head.
    ///
    /// Every record is checked first: one breaking a limit (see [`AuditRecord`]) fails
    /// the whole batch with [`AuditError::InvalidRecord`] naming it.
    pub async fn append_batch(&self, records: Vec<AuditRecord>) -> Result<ChainHead, AuditError> {
        self.append_slice(&records).await
    }

    /// [`append_batch`](Self::append_batch) of borrowed records (the writer retries
    /// with the same batch).
    pub(crate) async fn append_slice(
        &self,
        records: &[AuditRecord],
    ) -> Result<ChainHead, AuditError> {
        if records.is_empty() {
            return self.head().await;
        }
        let prepared = prepare(records)?;
        let head = match &self.store {
            Store::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let head = append_in!(tx, sqlx::Sqlite, schema::HEAD, &prepared);
                tx.commit().await?;
                head
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let head = append_in!(tx, sqlx::Postgres, schema::PG_LOCK_HEAD, &prepared);
                tx.commit().await?;
                head
            }
            _ => unreachable!("platform-core stores are SQLite or PostgreSQL"),
        };
        Ok(head)
    }

    /// The newest record's `seq` and hash, as recorded in the chain-head row
    /// ([`ChainHead::EMPTY`] before the first append). Store it elsewhere to anchor the
    /// chain (see [`VerifyOptions::anchor`](super::VerifyOptions::anchor)).
    pub async fn head(&self) -> Result<ChainHead, AuditError> {
        let row: Option<(i64, String)> =
            on_pool!(&self.store, |p| sqlx::query_as(schema::HEAD).fetch_optional(p).await?);
        head_of(row)
    }
}

fn prepare(records: &[AuditRecord]) -> Result<Vec<Prepared<'_>>, AuditError> {
    records
        .iter()
        .enumerate()
        .map(|(index, record)| {
            let extra = canonical_json(&record.extra);
            record.check(&extra).map_err(|(field, problem)| AuditError::InvalidRecord {
                index,
                field,
                problem,
            })?;
            Ok(Prepared { record, extra })
        })
        .collect()
}

/// Numbers and hashes `prepared` after `head`; returns the rows and the new head.
fn seal<'a, 'r>(
    head: ChainHead,
    prepared: &'a [Prepared<'r>],
) -> Result<(Vec<Sealed<'a, 'r>>, ChainHead), AuditError> {
    let mut prev = head;
    let mut out = Vec::with_capacity(prepared.len());
    for p in prepared {
        let seq = prev.seq + 1;
        let r = p.record;
        let fields = Fields {
            seq,
            time_ms: r.time_ms,
            actor: r.actor.as_deref(),
            action: &r.action,
            resource: r.resource.as_deref(),
            outcome: r.outcome.as_str(),
            reason: r.reason.as_deref(),
            trace_id: r.trace_id.as_deref(),
            source_addr: r.source_addr.as_deref(),
            extra: &p.extra,
        };
        let hash = chain_hash(&fields, &prev.hash);
        out.push(Sealed {
            seq: seq_i64(seq)?,
            prepared: p,
            prev: prev.hash.to_string(),
            hash: hash.to_string(),
        });
        prev = ChainHead { seq, hash };
    }
    Ok((out, prev))
}

/// The chain head from its row; a missing or unreadable row is [`AuditError::Corrupt`].
pub(crate) fn head_of(row: Option<(i64, String)>) -> Result<ChainHead, AuditError> {
    let corrupt = |problem: &str| AuditError::Corrupt { seq: 0, problem: problem.to_owned() };
    let (seq, hash) = row.ok_or_else(|| corrupt("the chain-head row is missing"))?;
    let seq = u64::try_from(seq).map_err(|_| corrupt("the chain-head seq is negative"))?;
    let hash = ChainHash::parse(&hash).ok_or_else(|| corrupt("the chain-head hash is not hex"))?;
    Ok(ChainHead { seq, hash })
}

/// A sequence number as the databases store it (BIGINT).
pub(crate) fn seq_i64(seq: u64) -> Result<i64, AuditError> {
    i64::try_from(seq)
        .map_err(|_| AuditError::query("seq", format!("{seq} is beyond the largest stored seq")))
}
