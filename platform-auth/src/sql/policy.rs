//! [`SqlPolicyStore`].

use async_trait::async_trait;
use platform_core::store::Store;

use super::{db_time, from_db, with_pool};
use crate::authz::{PolicyStore, StoredPolicy};
use crate::error::StoreError;

/// Policy documents in the `auth_policies` table; each save bumps the version in one
/// upsert, so concurrent saves get distinct versions.
#[derive(Debug, Clone)]
pub struct SqlPolicyStore {
    store: Store,
}

impl SqlPolicyStore {
    /// Documents in `store` (run [`migrate`](super::migrate) first).
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

const SAVE: &str = "INSERT INTO auth_policies (name, document, version, updated_at)
    VALUES ($1, $2, 1, $3) ON CONFLICT (name) DO UPDATE SET
    document = excluded.document, version = auth_policies.version + 1,
    updated_at = excluded.updated_at
    RETURNING version";

#[async_trait]
impl PolicyStore for SqlPolicyStore {
    async fn load(&self, name: &str) -> Result<Option<StoredPolicy>, StoreError> {
        let sql = "SELECT document, version, updated_at FROM auth_policies WHERE name = $1";
        let row: Option<(String, i64, i64)> = with_pool!(&self.store, pool => {
            sqlx::query_as(sql).bind(name).fetch_optional(pool).await?
        });
        Ok(row.map(|(document, version, at)| StoredPolicy {
            name: name.to_owned(),
            document,
            version: from_db(version),
            updated_at: from_db(at),
        }))
    }

    async fn save(&self, name: &str, document: &str, now: u64) -> Result<u64, StoreError> {
        let (version,): (i64,) = with_pool!(&self.store, pool => {
            sqlx::query_as(SAVE).bind(name).bind(document).bind(db_time(now)).fetch_one(pool).await?
        });
        Ok(from_db(version))
    }
}
