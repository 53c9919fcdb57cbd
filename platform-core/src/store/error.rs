//! Errors of the storage module.

/// An error from [`Store`](super::Store): bad configuration, a failed connection, a failed
/// migration or a database error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A [`StoreConfig`](super::StoreConfig) field is invalid.
    #[error("invalid store config: `{field}` {problem}")]
    Config {
        /// The config field at fault (e.g. `url`, `max_connections`).
        field: &'static str,
        /// What is wrong and what was expected.
        problem: String,
    },
    /// The database could not be reached or opened.
    #[error("cannot connect to {kind} store at {target}")]
    Connect {
        /// The backend.
        kind: super::StoreKind,
        /// The URL with any password removed.
        target: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A module's migration list is malformed or no longer matches what was applied.
    #[error("migrations of module `{module}`: {problem}")]
    Migration {
        /// The module whose migrations failed.
        module: &'static str,
        /// What went wrong and how to fix it.
        problem: String,
    },
    /// A migration step failed to apply; nothing of the module's pending steps was kept.
    #[error("migration {version} (`{description}`) of module `{module}` failed")]
    MigrationStep {
        /// The module.
        module: &'static str,
        /// The failing step's version.
        version: u32,
        /// The failing step's description.
        description: &'static str,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// A database operation failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn config(field: &'static str, problem: impl Into<String>) -> Self {
        Self::Config { field, problem: problem.into() }
    }
}
