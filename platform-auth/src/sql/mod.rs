//! SQL backends on [`platform_core::store::Store`] (SQLite and PostgreSQL): refresh
//! tokens, revocations, API keys, (with `identity`) users, groups and roles, and (with
//! `authz`) policy documents.
//!
//! Run [`migrate`] once at start-up (it is idempotent and safe when several instances
//! start at once).
//!
//! ```
//! use platform_auth::refresh::RefreshTokens;
//! use platform_auth::sql::{self, SqlRefreshStore};
//! use platform_core::store::Store;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect("sqlite::memory:").await?;
//! sql::migrate(&store).await?;
//! let tokens = RefreshTokens::new(SqlRefreshStore::new(store));
//! let first = tokens.issue("alice", "").await?;
//! assert!(tokens.rotate(&first.token).await.is_ok());
//! # Ok(()) }
//! ```

mod apikey;
#[cfg(feature = "server")]
mod client;
#[cfg(feature = "identity")]
mod identity;
#[cfg(feature = "authz")]
mod policy;
mod refresh;
mod revocation;

pub use apikey::SqlApiKeyStore;
#[cfg(feature = "server")]
pub use client::SqlClientStore;
#[cfg(feature = "identity")]
pub use identity::SqlIdentityStore;
#[cfg(feature = "authz")]
pub use policy::SqlPolicyStore;
pub use refresh::SqlRefreshStore;
pub use revocation::SqlRevocationStore;

use platform_core::store::{Migration, Migrations, Store};

use crate::error::StoreError;

const SCHEMA_V1: &str = "
CREATE TABLE auth_refresh_families (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, scope TEXT NOT NULL,
    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, revoked_at BIGINT);
CREATE INDEX auth_refresh_families_subject ON auth_refresh_families (subject);
CREATE TABLE auth_refresh_tokens (
    hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES auth_refresh_families (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL, rotated_at BIGINT);
CREATE INDEX auth_refresh_tokens_family ON auth_refresh_tokens (family_id);
CREATE TABLE auth_revocations (
    kind TEXT NOT NULL, value TEXT NOT NULL, revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL, PRIMARY KEY (kind, value));
CREATE TABLE auth_api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, subject TEXT NOT NULL, scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT,
    last_used_at BIGINT, revoked_at BIGINT);
CREATE INDEX auth_api_keys_subject ON auth_api_keys (subject);
";

const SCHEMA_V2: &str = "
CREATE TABLE auth_users (
    id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, attributes TEXT NOT NULL,
    disabled BOOLEAN NOT NULL, created_at BIGINT NOT NULL, password_hash TEXT);
CREATE TABLE auth_groups (name TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE auth_group_members (
    group_name TEXT NOT NULL REFERENCES auth_groups (name) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_name, user_id));
CREATE INDEX auth_group_members_user ON auth_group_members (user_id);
CREATE TABLE auth_roles (name TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE auth_user_roles (
    user_id TEXT NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    role TEXT NOT NULL REFERENCES auth_roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role));
CREATE TABLE auth_group_roles (
    group_name TEXT NOT NULL REFERENCES auth_groups (name) ON DELETE CASCADE,
    role TEXT NOT NULL REFERENCES auth_roles (name) ON DELETE CASCADE,
    PRIMARY KEY (group_name, role));
CREATE TABLE auth_login_failures (
    key_name TEXT PRIMARY KEY, failures BIGINT NOT NULL, last_at BIGINT NOT NULL);
";

const SCHEMA_V3: &str = "
CREATE TABLE auth_policies (
    name TEXT PRIMARY KEY, document TEXT NOT NULL, version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL);
";

const SCHEMA_V4: &str = "
ALTER TABLE auth_refresh_families ADD COLUMN client_id TEXT;
CREATE TABLE auth_clients (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT NOT NULL, grants TEXT NOT NULL,
    scopes TEXT NOT NULL, roles TEXT NOT NULL, created_at BIGINT NOT NULL);
";

/// The migrations of the auth tables (module `auth`).
pub const MIGRATIONS: Migrations = Migrations::new(
    "auth",
    &[
        Migration {
            version: 1,
            description: "refresh families and tokens, revocations, API keys",
            sqlite: SCHEMA_V1,
            postgres: SCHEMA_V1,
        },
        Migration {
            version: 2,
            description: "users, groups, roles, grants, failed-login counters",
            sqlite: SCHEMA_V2,
            postgres: SCHEMA_V2,
        },
        Migration {
            version: 3,
            description: "authorization policy documents",
            sqlite: SCHEMA_V3,
            postgres: SCHEMA_V3,
        },
        Migration {
            version: 4,
            description: "OAuth clients; the client of each refresh family",
            sqlite: SCHEMA_V4,
            postgres: SCHEMA_V4,
        },
    ],
);

/// Applies [`MIGRATIONS`] to `store`.
pub async fn migrate(store: &Store) -> Result<(), StoreError> {
    store.migrate(&MIGRATIONS).await?;
    Ok(())
}

/// Maps a unique-key violation to [`StoreError::Conflict`] naming `what`.
#[cfg(any(feature = "identity", feature = "server"))]
pub(crate) fn conflict(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what()),
        _ => StoreError::Database(e),
    }
}

/// Unix seconds as stored (BIGINT).
pub(crate) fn db_time(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Unix seconds as read back.
pub(crate) fn from_db(secs: i64) -> u64 {
    u64::try_from(secs).unwrap_or_default()
}

/// Runs `$body` with `$pool` bound to the SQLite or PostgreSQL pool of `$store`: the same
/// SQL on both backends, typed per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            platform_core::store::Store::Sqlite($pool) => $body,
            platform_core::store::Store::Postgres($pool) => $body,
            _ => unreachable!("platform-core stores are SQLite or PostgreSQL"),
        }
    };
}
pub(crate) use with_pool;
