//! [`SqlApiKeyStore`].

use async_trait::async_trait;
use platform_core::store::Store;

use super::{db_time, from_db, with_pool};
use crate::apikey::{ApiKeyRecord, ApiKeyStore};
use crate::error::StoreError;

/// API keys in the `auth_api_keys` table (hashes only).
#[derive(Debug, Clone)]
pub struct SqlApiKeyStore {
    store: Store,
}

impl SqlApiKeyStore {
    /// Keys in `store` (run [`migrate`](super::migrate) first).
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

type Row = (String, String, String, String, String, i64, Option<i64>, Option<i64>, Option<i64>);

const COLUMNS: &str =
    "id, name, subject, scopes, secret_hash, created_at, expires_at, last_used_at, revoked_at";

fn record(r: Row) -> ApiKeyRecord {
    ApiKeyRecord {
        id: r.0,
        name: r.1,
        subject: r.2,
        scopes: r.3.split_ascii_whitespace().map(str::to_owned).collect(),
        secret_hash: r.4,
        created_at: from_db(r.5),
        expires_at: r.6.map(from_db),
        last_used_at: r.7.map(from_db),
        revoked_at: r.8.map(from_db),
    }
}

#[async_trait]
impl ApiKeyStore for SqlApiKeyStore {
    async fn insert(&self, k: &ApiKeyRecord) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO auth_api_keys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        );
        with_pool!(&self.store, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&k.id)
                .bind(&k.name)
                .bind(&k.subject)
                .bind(k.scopes.join(" "))
                .bind(&k.secret_hash)
                .bind(db_time(k.created_at))
                .bind(k.expires_at.map(db_time))
                .bind(k.last_used_at.map(db_time))
                .bind(k.revoked_at.map(db_time))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM auth_api_keys WHERE id = $1");
        let row: Option<Row> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        });
        Ok(row.map(record))
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), StoreError> {
        with_pool!(&self.store, pool => {
            sqlx::query("UPDATE auth_api_keys SET last_used_at = $1 WHERE id = $2")
                .bind(db_time(at))
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    async fn revoke(&self, id: &str, at: u64) -> Result<bool, StoreError> {
        let sql = "UPDATE auth_api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2";
        let n = with_pool!(&self.store, pool => {
            sqlx::query(sql).bind(db_time(at)).bind(id).execute(pool).await?.rows_affected()
        });
        Ok(n > 0)
    }

    async fn list(&self, subject: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM auth_api_keys WHERE subject = $1 ORDER BY created_at, id"
        );
        let rows: Vec<Row> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(subject).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(record).collect())
    }
}
