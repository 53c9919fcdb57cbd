//! SQL storage: sqlx pools built from a URL, per-module migrations and a health check.
//!
//! A [`Store`] is a SQLite file (the embedded default, nothing to install),
//! `sqlite::memory:` (tests, throwaway state) or PostgreSQL (when one machine is
//! outgrown). Every SQL-backed feature of the SDK runs on both databases.
//!
//! # Why an enum and not `sqlx::AnyPool`
//!
//! `Store` is `enum { Sqlite(SqlitePool), Postgres(PgPool) }`. `AnyPool` would hide the
//! backend behind a lowest common denominator: no typed transactions a caller can enqueue
//! outbox messages into, no `LISTEN/NOTIFY`, no advisory locks, a narrower set of types.
//! SDK modules match on the variant once and write each backend's SQL where it differs
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `UPDATE … RETURNING` on SQLite), and
//! applications keep full access to the typed pool ([`Store::as_sqlite`],
//! [`Store::as_postgres`]).
//!
//! # Defaults
//!
//! SQLite: WAL journal, `busy_timeout` 5s, foreign keys on, `synchronous=NORMAL`, file
//! created if missing, 4 connections (readers run in parallel; SQLite serialises writers,
//! who wait up to `busy_timeout` for the write lock). `sqlite::memory:` uses one
//! connection that is never closed, because the database lives in it.
//! PostgreSQL: 10 connections. Both: 5s connect and acquire timeouts. See [`StoreConfig`].
//!
//! # Migrations
//!
//! Each module declares its own [`Migrations`]: a module name and ordered steps with one
//! SQL script per backend. [`Store::migrate`] records applied steps per module in the
//! `platform_migrations` table, so modules migrate independently; re-running is a no-op,
//! an edited applied step is an error, and two processes migrating at once are safe
//! (PostgreSQL: a transaction-scoped advisory lock; SQLite: `BEGIN IMMEDIATE`).
//!
//! ```
//! use platform_core::store::{Migration, Migrations, Store};
//!
//! const NOTES: Migrations = Migrations::new("notes", &[Migration {
//!     version: 1,
//!     description: "notes table",
//!     sqlite: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
//!     postgres: "CREATE TABLE notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)",
//! }]);
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect("sqlite::memory:").await?;
//! assert_eq!(store.migrate(&NOTES).await?.applied, vec![1]);
//! assert!(store.migrate(&NOTES).await?.applied.is_empty()); // already applied
//!
//! let pool = store.as_sqlite().expect("a SQLite store");
//! sqlx::query("INSERT INTO notes (body) VALUES ('hello')").execute(pool).await?;
//! assert!(store.health().await.is_healthy());
//! # Ok(()) }
//! ```

mod config;
mod connect;
mod error;
mod health;
mod migrate;

#[cfg(test)]
mod tests;

pub use config::{SqliteSynchronous, StoreConfig};
pub use error::StoreError;
pub use health::Health;
pub use migrate::{Migration, MigrationReport, Migrations};

use std::fmt;

use sqlx::{PgPool, SqlitePool};

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreKind {
    /// SQLite (file or memory).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// A pool of connections to SQLite or PostgreSQL. Cheap to clone (the pools are `Arc`s).
#[derive(Clone)]
#[non_exhaustive]
pub enum Store {
    /// A SQLite database.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = match self {
            Self::Sqlite(p) => p.size(),
            Self::Postgres(p) => p.size(),
        };
        f.debug_struct("Store").field("kind", &self.kind()).field("connections", &size).finish()
    }
}

impl Store {
    /// Connects to `url` with the default settings (see [`StoreConfig`]).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::from_config(&StoreConfig::new(url)).await
    }

    /// Validates `cfg` and connects.
    pub async fn from_config(cfg: &StoreConfig) -> Result<Self, StoreError> {
        cfg.validate()?;
        match cfg.kind()? {
            StoreKind::Sqlite => connect::sqlite(cfg).await.map(Self::Sqlite),
            StoreKind::Postgres => connect::postgres(cfg).await.map(Self::Postgres),
        }
    }

    /// The backend.
    pub fn kind(&self) -> StoreKind {
        match self {
            Self::Sqlite(_) => StoreKind::Sqlite,
            Self::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// The SQLite pool, when this is a SQLite store.
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match self {
            Self::Sqlite(p) => Some(p),
            Self::Postgres(_) => None,
        }
    }

    /// The PostgreSQL pool, when this is a PostgreSQL store.
    pub fn as_postgres(&self) -> Option<&PgPool> {
        match self {
            Self::Postgres(p) => Some(p),
            Self::Sqlite(_) => None,
        }
    }

    /// Closes every connection; later queries fail.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(p) => p.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}
