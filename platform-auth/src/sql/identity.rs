//! [`SqlIdentityStore`].

use async_trait::async_trait;
use platform_core::store::Store;

use super::{conflict, db_time, from_db, with_pool};
use crate::error::StoreError;
use crate::identity::{Failures, Grantee, Group, IdentityStore, Role, User, UserRecord};

/// Users, groups, roles, grants and failed-login counters in the `auth_users`,
/// `auth_groups`, `auth_group_members`, `auth_roles`, `auth_user_roles`,
/// `auth_group_roles` and `auth_login_failures` tables. Deletes cascade through foreign
/// keys; counters are updated with one atomic upsert.
#[derive(Debug, Clone)]
pub struct SqlIdentityStore {
    store: Store,
}

impl SqlIdentityStore {
    /// Identities in `store` (run [`migrate`](super::migrate) first).
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Runs `sql` binding `a` and `b`; returns the number of rows changed.
    async fn exec2(&self, sql: &'static str, a: &str, b: &str) -> Result<u64, sqlx::Error> {
        Ok(with_pool!(&self.store, pool => {
            sqlx::query(sql).bind(a).bind(b).execute(pool).await?.rows_affected()
        }))
    }

    async fn exec1(&self, sql: &'static str, a: &str) -> Result<u64, StoreError> {
        Ok(with_pool!(&self.store, pool => {
            sqlx::query(sql).bind(a).execute(pool).await?.rows_affected()
        }))
    }

    async fn strings(&self, sql: &'static str, a: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = with_pool!(&self.store, pool => {
            sqlx::query_as(sql).bind(a).fetch_all(pool).await?
        });
        let mut out: Vec<String> = rows.into_iter().map(|(s,)| s).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn exists(&self, sql: &'static str, a: &str) -> Result<bool, StoreError> {
        Ok(!self.strings(sql, a).await?.is_empty())
    }

    /// Inserts a link row (`a` then `b`); a foreign-key violation names whichever side is
    /// missing (`check_a` looks `a` up).
    async fn link(
        &self,
        sql: &'static str,
        (kind_a, check_a, a): (&str, &'static str, &str),
        (kind_b, b): (&str, &str),
    ) -> Result<(), StoreError> {
        match self.exec2(sql, a, b).await {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => {
                let (kind, id) =
                    if self.exists(check_a, a).await? { (kind_b, b) } else { (kind_a, a) };
                Err(StoreError::NotFound(format!("{kind} `{id}`")))
            }
            Err(e) => Err(e.into()),
        }
    }
}

type UserRow = (String, String, String, bool, i64, Option<String>);

const USER_COLUMNS: &str = "id, username, attributes, disabled, created_at, password_hash";
const GROUP_EXISTS: &str = "SELECT name FROM auth_groups WHERE name = $1";
const ROLE_EXISTS: &str = "SELECT name FROM auth_roles WHERE name = $1";
const RECORD_FAILURE: &str = "INSERT INTO auth_login_failures (key_name, failures, last_at)
    VALUES ($1, 1, $2) ON CONFLICT (key_name) DO UPDATE SET
    failures = CASE WHEN auth_login_failures.last_at <= $3 THEN 1
                 ELSE auth_login_failures.failures + 1 END,
    last_at = excluded.last_at
    RETURNING failures, last_at";

fn user_record(r: UserRow) -> Result<UserRecord, StoreError> {
    let attributes =
        serde_json::from_str(&r.2).map_err(|_| StoreError::Corrupt("auth_users.attributes"))?;
    let user = User { id: r.0, username: r.1, attributes, disabled: r.3, created_at: from_db(r.4) };
    Ok(UserRecord::new(user, r.5))
}

fn sorted<T>(mut v: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    v.sort_by(|a, b| key(a).cmp(key(b)));
    v
}

#[async_trait]
impl IdentityStore for SqlIdentityStore {
    async fn insert_user(&self, r: &UserRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO auth_users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)");
        let attrs = serde_json::Value::Object(r.user.attributes.clone()).to_string();
        let result = with_pool!(&self.store, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&r.user.id)
                .bind(&r.user.username)
                .bind(&attrs)
                .bind(r.user.disabled)
                .bind(db_time(r.user.created_at))
                .bind(r.password_hash.as_deref())
                .execute(pool)
                .await
                .map(drop)
        });
        result.map_err(|e| conflict(e, || format!("user `{}`", r.user.username)))
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM auth_users WHERE id = $1");
        let row: Option<UserRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?
        });
        row.map(user_record).transpose()
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM auth_users WHERE username = $1");
        let row: Option<UserRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(username).fetch_optional(pool).await?
        });
        row.map(user_record).transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM auth_users");
        let rows: Vec<UserRow> = with_pool!(&self.store, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?
        });
        let users: Result<Vec<User>, _> =
            rows.into_iter().map(|r| user_record(r).map(|r| r.user)).collect();
        Ok(sorted(users?, |u| &u.username))
    }

    async fn update_user(&self, user: &User) -> Result<bool, StoreError> {
        let attrs = serde_json::Value::Object(user.attributes.clone()).to_string();
        let sql = "UPDATE auth_users SET attributes = $1, disabled = $2 WHERE id = $3";
        let n = with_pool!(&self.store, pool => {
            sqlx::query(sql).bind(&attrs).bind(user.disabled).bind(&user.id).execute(pool).await?.rows_affected()
        });
        Ok(n > 0)
    }

    async fn set_password_hash(&self, id: &str, hash: &str) -> Result<bool, StoreError> {
        let sql = "UPDATE auth_users SET password_hash = $1 WHERE id = $2";
        Ok(self.exec2(sql, hash, id).await? > 0)
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec1("DELETE FROM auth_users WHERE id = $1", id).await? > 0)
    }

    async fn insert_group(&self, g: &Group) -> Result<(), StoreError> {
        let sql = "INSERT INTO auth_groups (name, description) VALUES ($1, $2)";
        let r = self.exec2(sql, &g.name, &g.description).await;
        r.map(drop).map_err(|e| conflict(e, || format!("group `{}`", g.name)))
    }

    async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(&self.store, pool => {
            sqlx::query_as("SELECT name, description FROM auth_groups").fetch_all(pool).await?
        });
        let groups = rows.into_iter().map(|(n, d)| Group::new(n, d)).collect();
        Ok(sorted(groups, |g| &g.name))
    }

    async fn delete_group(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.exec1("DELETE FROM auth_groups WHERE name = $1", name).await? > 0)
    }

    async fn add_member(&self, group: &str, user_id: &str) -> Result<(), StoreError> {
        let sql = "INSERT INTO auth_group_members (group_name, user_id) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING";
        self.link(sql, ("group", GROUP_EXISTS, group), ("user", user_id)).await
    }

    async fn remove_member(&self, group: &str, user_id: &str) -> Result<bool, StoreError> {
        let sql = "DELETE FROM auth_group_members WHERE group_name = $1 AND user_id = $2";
        Ok(self.exec2(sql, group, user_id).await? > 0)
    }

    async fn groups_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT group_name FROM auth_group_members WHERE user_id = $1";
        self.strings(sql, user_id).await
    }

    async fn members(&self, group: &str) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT user_id FROM auth_group_members WHERE group_name = $1";
        self.strings(sql, group).await
    }

    async fn insert_role(&self, role: &Role) -> Result<(), StoreError> {
        let sql = "INSERT INTO auth_roles (name, description) VALUES ($1, $2)";
        let r = self.exec2(sql, &role.name, &role.description).await;
        r.map(drop).map_err(|e| conflict(e, || format!("role `{}`", role.name)))
    }

    async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(&self.store, pool => {
            sqlx::query_as("SELECT name, description FROM auth_roles").fetch_all(pool).await?
        });
        let roles = rows.into_iter().map(|(n, d)| Role::new(n, d)).collect();
        Ok(sorted(roles, |r| &r.name))
    }

    async fn delete_role(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.exec1("DELETE FROM auth_roles WHERE name = $1", name).await? > 0)
    }

    async fn grant(&self, grantee: &Grantee, role: &str) -> Result<(), StoreError> {
        let role_side = ("role", ROLE_EXISTS, role);
        match grantee {
            Grantee::User(id) => {
                let sql = "INSERT INTO auth_user_roles (role, user_id) VALUES ($1, $2)
                           ON CONFLICT DO NOTHING";
                self.link(sql, role_side, ("user", id)).await
            }
            Grantee::Group(name) => {
                let sql = "INSERT INTO auth_group_roles (role, group_name) VALUES ($1, $2)
                           ON CONFLICT DO NOTHING";
                self.link(sql, role_side, ("group", name)).await
            }
        }
    }

    async fn revoke(&self, grantee: &Grantee, role: &str) -> Result<bool, StoreError> {
        let sql = match grantee {
            Grantee::User(_) => "DELETE FROM auth_user_roles WHERE user_id = $1 AND role = $2",
            Grantee::Group(_) => "DELETE FROM auth_group_roles WHERE group_name = $1 AND role = $2",
        };
        Ok(self.exec2(sql, grantee.id(), role).await? > 0)
    }

    async fn roles_of(&self, grantee: &Grantee) -> Result<Vec<String>, StoreError> {
        let sql = match grantee {
            Grantee::User(_) => "SELECT role FROM auth_user_roles WHERE user_id = $1",
            Grantee::Group(_) => "SELECT role FROM auth_group_roles WHERE group_name = $1",
        };
        self.strings(sql, grantee.id()).await
    }

    async fn effective_roles(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT role FROM auth_user_roles WHERE user_id = $1
                   UNION SELECT gr.role FROM auth_group_roles gr
                   JOIN auth_group_members m ON m.group_name = gr.group_name
                   WHERE m.user_id = $1";
        self.strings(sql, user_id).await
    }

    async fn failures(&self, key: &str) -> Result<Option<Failures>, StoreError> {
        let sql = "SELECT failures, last_at FROM auth_login_failures WHERE key_name = $1";
        let row: Option<(i64, i64)> = with_pool!(&self.store, pool => {
            sqlx::query_as(sql).bind(key).fetch_optional(pool).await?
        });
        Ok(row.map(|(c, at)| Failures::new(u32::try_from(c).unwrap_or(u32::MAX), from_db(at))))
    }

    async fn record_failure(
        &self,
        key: &str,
        now: u64,
        reset_after_secs: u64,
    ) -> Result<Failures, StoreError> {
        let now = db_time(now);
        let cutoff = now.saturating_sub(db_time(reset_after_secs));
        let (c, at): (i64, i64) = with_pool!(&self.store, pool => {
            sqlx::query_as(RECORD_FAILURE).bind(key).bind(now).bind(cutoff).fetch_one(pool).await?
        });
        Ok(Failures::new(u32::try_from(c).unwrap_or(u32::MAX), from_db(at)))
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        self.exec1("DELETE FROM auth_login_failures WHERE key_name = $1", key).await.map(drop)
    }
}
