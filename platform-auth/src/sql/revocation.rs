//! [`SqlRevocationStore`].

use async_trait::async_trait;
use platform_core::store::Store;

use super::{db_time, from_db, with_pool};
use crate::error::StoreError;
use crate::revocation::{Revocation, RevocationKind, RevocationStore};

/// Revocation records in the `auth_revocations` table, shared by every instance on the
/// database.
#[derive(Debug, Clone)]
pub struct SqlRevocationStore {
    store: Store,
}

impl SqlRevocationStore {
    /// Records in `store` (run [`migrate`](super::migrate) first).
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

const UPSERT: &str = "INSERT INTO auth_revocations (kind, value, revoked_at, expires_at)
    VALUES ($1, $2, $3, $4) ON CONFLICT (kind, value)
    DO UPDATE SET revoked_at = excluded.revoked_at, expires_at = excluded.expires_at";
const PRUNE: &str = "DELETE FROM auth_revocations WHERE expires_at <= $1";
const ACTIVE: &str =
    "SELECT kind, value, revoked_at, expires_at FROM auth_revocations WHERE expires_at > $1";

#[async_trait]
impl RevocationStore for SqlRevocationStore {
    async fn revoke(&self, r: &Revocation) -> Result<(), StoreError> {
        with_pool!(&self.store, pool => {
            sqlx::query(UPSERT)
                .bind(r.kind.as_str())
                .bind(&r.value)
                .bind(db_time(r.revoked_at))
                .bind(db_time(r.expires_at))
                .execute(pool)
                .await?;
            sqlx::query(PRUNE).bind(db_time(r.revoked_at)).execute(pool).await?;
        });
        Ok(())
    }

    async fn active(&self, now: u64) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<(String, String, i64, i64)> = with_pool!(&self.store, pool => {
            sqlx::query_as(ACTIVE).bind(db_time(now)).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|(kind, value, at, exp)| {
                let kind = RevocationKind::parse(&kind)
                    .ok_or(StoreError::Corrupt("auth_revocations.kind"))?;
                Ok(Revocation { kind, value, revoked_at: from_db(at), expires_at: from_db(exp) })
            })
            .collect()
    }
}
