//! [`StoreConfig`]: the URL, pool sizes, timeouts and SQLite pragmas of a [`Store`](super::Store).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{StoreError, StoreKind};

/// SQLite's `synchronous` pragma: how often SQLite waits for the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SqliteSynchronous {
    /// Never waits: fastest, a power loss may corrupt the database.
    Off,
    /// With WAL, waits at checkpoints only: a power loss may lose the last transactions,
    /// never corrupts (the default, and SQLite's advice for WAL).
    #[default]
    Normal,
    /// Waits at every commit: durable against power loss, slower writes.
    Full,
}

/// Settings of a [`Store`](super::Store).
///
/// Every field has a default; a config file usually sets only `url`:
///
/// ```
/// use platform_core::store::StoreConfig;
///
/// let cfg: StoreConfig = serde_json::from_str(r#"{"url":"sqlite://data/app.db"}"#).unwrap();
/// assert!(cfg.validate().is_ok());
/// assert_eq!(cfg.effective_max_connections(), 4);
///
/// let bad = StoreConfig::new("mysql://localhost/app");
/// let err = bad.validate().unwrap_err().to_string();
/// assert!(err.contains("`url`") && err.contains("postgres://"), "{err}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StoreConfig {
    /// `sqlite://PATH` (file, created if missing), `sqlite::memory:` or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`. Default `sqlite://platform.db`.
    pub url: String,
    /// Pool size. Default: 4 for a SQLite file (readers run in parallel under WAL, writers
    /// take turns), 1 for `sqlite::memory:` (one shared connection is the database),
    /// 10 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// Connections kept open when idle (default 0; at least 1 for `sqlite::memory:`).
    pub min_connections: u32,
    /// How long opening one connection may take (default 5s).
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How long a caller waits for a free pooled connection (default 5s).
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// Idle connections above `min_connections` are closed after this (default 10min).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    /// SQLite: how long a writer waits for the write lock before failing with "database is
    /// locked" (default 5s).
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// SQLite: write-ahead logging, so readers never block the writer (default true).
    /// Ignored for `sqlite::memory:`.
    pub wal: bool,
    /// SQLite: the `synchronous` pragma (default `normal`).
    pub synchronous: SqliteSynchronous,
    /// SQLite: enforce foreign keys (default true).
    pub foreign_keys: bool,
    /// PostgreSQL: the schema every connection uses (`search_path`), created if missing.
    /// Default: none (the server's `search_path`, usually `public`). Lets one database
    /// host several isolated deployments or tests.
    pub schema: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://platform.db".to_owned(),
            max_connections: None,
            min_connections: 0,
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
            busy_timeout: Duration::from_secs(5),
            wal: true,
            synchronous: SqliteSynchronous::Normal,
            foreign_keys: true,
            schema: None,
        }
    }
}

const URL_EXPECTED: &str = "expected `sqlite://PATH`, `sqlite::memory:` or \
                            `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`";

impl StoreConfig {
    /// The defaults with `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ..Self::default() }
    }

    /// Sets the PostgreSQL schema (see [`schema`](Self::schema)).
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sets the pool size.
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// The backend the URL names, or a `url` error saying what was expected.
    pub fn kind(&self) -> Result<StoreKind, StoreError> {
        let url = self.url.trim();
        if let Some(rest) = url.strip_prefix("sqlite:") {
            if rest.trim_start_matches('/').is_empty() {
                return Err(StoreError::config("url", format!("has no path: {URL_EXPECTED}")));
            }
            Ok(StoreKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(StoreKind::Postgres)
        } else {
            Err(StoreError::config("url", format!("{URL_EXPECTED}, got `{}`", redact(url))))
        }
    }

    /// `true` for `sqlite::memory:` (and `sqlite://:memory:`).
    pub fn is_sqlite_memory(&self) -> bool {
        let url = self.url.trim();
        url == "sqlite::memory:"
            || url.starts_with("sqlite://:memory:")
            || url.contains("mode=memory")
    }

    /// The pool size actually used: `max_connections` or the backend's default.
    pub fn effective_max_connections(&self) -> u32 {
        self.max_connections.unwrap_or(match self.kind() {
            Ok(StoreKind::Postgres) => 10,
            _ if self.is_sqlite_memory() => 1,
            _ => 4,
        })
    }

    /// Checks every field; the error names the field.
    pub fn validate(&self) -> Result<(), StoreError> {
        let kind = self.kind()?;
        let max = self.effective_max_connections();
        if max == 0 {
            return Err(StoreError::config("max_connections", "must be at least 1"));
        }
        if self.min_connections > max {
            return Err(StoreError::config(
                "min_connections",
                format!("({}) must not exceed max_connections ({max})", self.min_connections),
            ));
        }
        for (field, d) in
            [("connect_timeout", self.connect_timeout), ("acquire_timeout", self.acquire_timeout)]
        {
            if d.is_zero() {
                return Err(StoreError::config(field, "must be greater than zero"));
            }
        }
        if let Some(schema) = &self.schema {
            if kind != StoreKind::Postgres {
                return Err(StoreError::config("schema", "is only supported for PostgreSQL"));
            }
            if !is_identifier(schema) {
                return Err(StoreError::config(
                    "schema",
                    format!("`{schema}` must match [A-Za-z_][A-Za-z0-9_]* (at most 63 characters)"),
                ));
            }
        }
        Ok(())
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
}

/// The URL with the password (if any) replaced by `***`, for error messages and logs.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    match path {
        Some(p) => format!("{scheme}://{authority}/{p}"),
        None => format!("{scheme}://{authority}"),
    }
}
