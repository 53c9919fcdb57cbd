//! Building the pools from a validated [`StoreConfig`].

use std::str::FromStr;
use std::sync::Mutex;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

use super::config::redact;
use super::{SqliteSynchronous, StoreConfig, StoreError, StoreKind};

pub(super) async fn sqlite(cfg: &StoreConfig) -> Result<SqlitePool, StoreError> {
    let memory = cfg.is_sqlite_memory();
    let mut opts = SqliteConnectOptions::from_str(cfg.url.trim())
        .map_err(|e| StoreError::config("url", format!("is not a SQLite URL: {e}")))?
        .create_if_missing(true)
        .busy_timeout(cfg.busy_timeout)
        .foreign_keys(cfg.foreign_keys)
        .synchronous(match cfg.synchronous {
            SqliteSynchronous::Off => sqlx::sqlite::SqliteSynchronous::Off,
            SqliteSynchronous::Normal => sqlx::sqlite::SqliteSynchronous::Normal,
            SqliteSynchronous::Full => sqlx::sqlite::SqliteSynchronous::Full,
        });
    if cfg.wal && !memory {
        opts = opts.journal_mode(SqliteJournalMode::Wal);
    }
    let mut pool = SqlitePoolOptions::new()
        .max_connections(cfg.effective_max_connections())
        .acquire_timeout(cfg.acquire_timeout);
    pool = if memory {
        // The in-memory database lives while any connection to it is open, and the pool
        // replaces a connection it finds broken (one whose query was cancelled midway,
        // say): with that connection the data would go. One more connection, never
        // used, keeps the database alive meanwhile; the pool's hook holds it, so it
        // lives exactly as long as the pool.
        use sqlx::ConnectOptions;
        let keeper = timed(cfg, StoreKind::Sqlite, opts.connect()).await?;
        let keeper = Mutex::new(keeper);
        pool.min_connections(cfg.min_connections.max(1))
            .idle_timeout(None)
            .max_lifetime(None)
            .after_connect(move |_, _| {
                let _held = &keeper;
                Box::pin(async { Ok(()) })
            })
    } else {
        pool.min_connections(cfg.min_connections).idle_timeout(cfg.idle_timeout)
    };
    let connect = pool.connect_with(opts);
    timed(cfg, StoreKind::Sqlite, connect).await
}

pub(super) async fn postgres(cfg: &StoreConfig) -> Result<PgPool, StoreError> {
    let mut opts = PgConnectOptions::from_str(cfg.url.trim())
        .map_err(|e| StoreError::config("url", format!("is not a PostgreSQL URL: {e}")))?;
    if let Some(schema) = &cfg.schema {
        create_schema(cfg, opts.clone(), schema).await?;
        opts = opts.options([("search_path", schema.as_str())]);
    }
    let connect = PgPoolOptions::new()
        .max_connections(cfg.effective_max_connections())
        .min_connections(cfg.min_connections)
        .acquire_timeout(cfg.acquire_timeout)
        .idle_timeout(cfg.idle_timeout)
        .connect_with(opts);
    timed(cfg, StoreKind::Postgres, connect).await
}

/// `CREATE SCHEMA IF NOT EXISTS`, tolerating the race where two processes create it at once.
async fn create_schema(
    cfg: &StoreConfig,
    opts: PgConnectOptions,
    schema: &str,
) -> Result<(), StoreError> {
    use sqlx::Connection;
    let connect = sqlx::PgConnection::connect_with(&opts);
    let mut conn = timed(cfg, StoreKind::Postgres, connect).await?;
    // `validate` allowed only [A-Za-z0-9_] in the name, so quoting it is enough.
    let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    let res = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
    let _ = conn.close().await;
    match res {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("23505" | "42P06")) => {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn timed<T>(
    cfg: &StoreConfig,
    kind: StoreKind,
    fut: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    let err = |source| StoreError::Connect { kind, target: redact(cfg.url.trim()), source };
    match tokio::time::timeout(cfg.connect_timeout, fut).await {
        Ok(res) => res.map_err(err),
        Err(_) => Err(err(sqlx::Error::PoolTimedOut)),
    }
}
