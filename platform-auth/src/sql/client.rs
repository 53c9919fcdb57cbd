//! [`SqlClientStore`].

use async_trait::async_trait;
use platform_core::store::Store;

use super::{conflict, db_time, from_db, with_pool};
use crate::error::StoreError;
use crate::server::{ClientStore, GrantType, OAuthClient};

/// OAuth clients in the `auth_clients` table (secret hashes only).
#[derive(Debug, Clone)]
pub struct SqlClientStore {
    store: Store,
}

impl SqlClientStore {
    /// Clients in `store` (run [`migrate`](super::migrate) first).
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

type Row = (String, String, String, String, String, String, i64);

const COLUMNS: &str = "id, name, secret_hash, grants, scopes, roles, created_at";

fn words(s: &str) -> Vec<String> {
    s.split_ascii_whitespace().map(str::to_owned).collect()
}

fn client(r: Row) -> Result<OAuthClient, StoreError> {
    let grants =
        r.3.split_ascii_whitespace()
            .map(|g| GrantType::parse(g).ok_or(StoreError::Corrupt("auth_clients.grants")))
            .collect::<Result<_, _>>()?;
    Ok(OAuthClient {
        id: r.0,
        name: r.1,
        secret_hash: r.2,
        grants,
        scopes: words(&r.4),
        roles: words(&r.5),
        created_at: from_db(r.6),
    })
}

#[async_trait]
impl ClientStore for SqlClientStore {
    async fn insert(&self, c: &OAuthClient) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO auth_clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        let grants: Vec<&str> = c.grants.iter().map(|g| g.as_str()).collect();
        let result = with_pool!(&self.store, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&c.id)
                .bind(&c.name)
                .bind(&c.secret_hash)
                .bind(grants.join(" "))
                .bind(c.scopes.join(" "))
                .bind(c.roles.join(" "))
                .bind(db_time(c.created_at))
                .execute(pool)
                .await
                .map(drop)
        });
        result.map_err(|e| conflict(e, || format!("client `{}`", c.id)))
    }

    async fn get(&self, id: &str) -> Result<Option<OAuthClient>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM auth_clients WHERE id = $1");
        let row: Option<Row> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        });
        row.map(client).transpose()
    }

    async fn list(&self) -> Result<Vec<OAuthClient>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM auth_clients");
        let rows: Vec<Row> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?
        });
        let mut out = rows.into_iter().map(client).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let n = with_pool!(&self.store, pool => {
            sqlx::query("DELETE FROM auth_clients WHERE id = $1").bind(id).execute(pool).await?.rows_affected()
        });
        Ok(n > 0)
    }
}
