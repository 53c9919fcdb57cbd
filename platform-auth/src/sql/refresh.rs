//! [`SqlRefreshStore`].

use async_trait::async_trait;
use platform_core::store::Store;
use sqlx::Connection;

use super::{db_time, from_db, with_pool};
use crate::error::StoreError;
use crate::refresh::{Family, RefreshStore, RotateOutcome, TokenRecord};

/// Refresh-token families in the `auth_refresh_families` and `auth_refresh_tokens`
/// tables.
///
/// Rotation runs in one transaction (SQLite: `BEGIN IMMEDIATE`, so writers serialise;
/// PostgreSQL: a conditional `UPDATE … WHERE rotated_at IS NULL`, which a concurrent
/// rotation re-checks after the first commits): of concurrent rotations of one token,
/// exactly one changes the row, and the others find it rotated and revoke the family.
#[derive(Debug, Clone)]
pub struct SqlRefreshStore {
    store: Store,
}

impl SqlRefreshStore {
    /// Families in `store` (run [`migrate`](super::migrate) first).
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

type FamilyRow = (String, String, String, i64, i64, Option<i64>, Option<String>);

const FAMILY_COLUMNS: &str =
    "f.id, f.subject, f.scope, f.created_at, f.expires_at, f.revoked_at, f.client_id";
const INSERT_FAMILY: &str = "INSERT INTO auth_refresh_families
    (id, subject, scope, created_at, expires_at, revoked_at, client_id)
    VALUES ($1, $2, $3, $4, $5, NULL, $6)";
const INSERT_TOKEN: &str = "INSERT INTO auth_refresh_tokens (hash, family_id, expires_at, rotated_at) VALUES ($1, $2, $3, NULL)";
const LOOKUP: &str = "SELECT f.id, f.subject, f.scope, f.created_at, f.expires_at, f.revoked_at,
    f.client_id, t.expires_at, t.rotated_at FROM auth_refresh_tokens t
    JOIN auth_refresh_families f ON f.id = t.family_id WHERE t.hash = $1";
const MARK_ROTATED: &str =
    "UPDATE auth_refresh_tokens SET rotated_at = $1 WHERE hash = $2 AND rotated_at IS NULL";
const REVOKE_FAMILY: &str =
    "UPDATE auth_refresh_families SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2";

fn family(r: FamilyRow) -> Family {
    Family {
        id: r.0,
        subject: r.1,
        scope: r.2,
        created_at: from_db(r.3),
        expires_at: from_db(r.4),
        revoked_at: r.5.map(from_db),
        client_id: r.6,
    }
}

type LookupRow = (String, String, String, i64, i64, Option<i64>, Option<String>, i64, Option<i64>);

/// The rotation steps inside the open transaction `$tx`.
macro_rules! rotate_in {
    ($tx:ident, $old:expr, $next:expr, $now:expr) => {{
        let row: Option<LookupRow> =
            sqlx::query_as(LOOKUP).bind($old).fetch_optional(&mut *$tx).await?;
        let Some(r) = row else { return Ok(RotateOutcome::Unknown) };
        let (token_exp, rotated_at) = (from_db(r.7), r.8);
        let mut fam = family((r.0, r.1, r.2, r.3, r.4, r.5, r.6));
        let now = db_time($now);
        if fam.revoked_at.is_some() {
            RotateOutcome::Revoked(fam)
        } else if rotated_at.is_some() {
            sqlx::query(REVOKE_FAMILY).bind(now).bind(&fam.id).execute(&mut *$tx).await?;
            fam.revoked_at = Some($now);
            RotateOutcome::ReuseDetected(fam)
        } else if $now >= token_exp || $now >= fam.expires_at {
            RotateOutcome::Expired
        } else {
            let changed = sqlx::query(MARK_ROTATED)
                .bind(now)
                .bind($old)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
            if changed == 0 {
                // A concurrent rotation won between the lookup and the update.
                sqlx::query(REVOKE_FAMILY).bind(now).bind(&fam.id).execute(&mut *$tx).await?;
                fam.revoked_at = Some($now);
                RotateOutcome::ReuseDetected(fam)
            } else {
                sqlx::query(INSERT_TOKEN)
                    .bind(&$next.hash)
                    .bind(&fam.id)
                    .bind(db_time($next.expires_at.min(fam.expires_at)))
                    .execute(&mut *$tx)
                    .await?;
                RotateOutcome::Rotated(fam)
            }
        }
    }};
}

#[async_trait]
impl RefreshStore for SqlRefreshStore {
    async fn create(&self, f: &Family, first: &TokenRecord) -> Result<(), StoreError> {
        with_pool!(&self.store, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(INSERT_FAMILY)
                .bind(&f.id)
                .bind(&f.subject)
                .bind(&f.scope)
                .bind(db_time(f.created_at))
                .bind(db_time(f.expires_at))
                .bind(f.client_id.as_deref())
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_TOKEN)
                .bind(&first.hash)
                .bind(&f.id)
                .bind(db_time(first.expires_at))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    async fn rotate(
        &self,
        old_hash: &str,
        next: &TokenRecord,
        now: u64,
    ) -> Result<RotateOutcome, StoreError> {
        let outcome = match &self.store {
            Store::Sqlite(pool) => {
                let mut conn = pool.acquire().await?;
                let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
                let outcome = rotate_in!(tx, old_hash, next, now);
                tx.commit().await?;
                outcome
            }
            Store::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let outcome = rotate_in!(tx, old_hash, next, now);
                tx.commit().await?;
                outcome
            }
            _ => unreachable!("platform-core stores are SQLite or PostgreSQL"),
        };
        Ok(outcome)
    }

    async fn family_of(&self, hash: &str) -> Result<Option<Family>, StoreError> {
        let sql = format!(
            "SELECT {FAMILY_COLUMNS} FROM auth_refresh_tokens t \
             JOIN auth_refresh_families f ON f.id = t.family_id WHERE t.hash = $1"
        );
        let row: Option<FamilyRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(hash).fetch_optional(pool).await?
        });
        Ok(row.map(family))
    }

    async fn revoke_family(&self, family_id: &str, now: u64) -> Result<bool, StoreError> {
        let n = with_pool!(&self.store, pool => {
            sqlx::query(REVOKE_FAMILY).bind(db_time(now)).bind(family_id).execute(pool).await?.rows_affected()
        });
        Ok(n > 0)
    }

    async fn revoke_subject(&self, subject: &str, now: u64) -> Result<Vec<String>, StoreError> {
        let sql = "UPDATE auth_refresh_families SET revoked_at = COALESCE(revoked_at, $1) \
                   WHERE subject = $2 RETURNING id";
        let ids: Vec<(String,)> = with_pool!(&self.store, pool => {
            sqlx::query_as(sql).bind(db_time(now)).bind(subject).fetch_all(pool).await?
        });
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }
}
