//! Versioned configuration documents with history: the config service's backend.
//!
//! A [`ConfigStore`] keeps one document per namespace and environment. Every write makes
//! a new version (1, 2, …); a write may name the version it expects to replace
//! (compare-and-set), so two editors cannot silently overwrite each other. The last
//! versions are kept as history (capped), and [`watch`](ConfigStore::watch) follows the
//! document.
//!
//! Backends: [`MemoryConfigStore`] (this process) and, with the `redis` feature,
//! [`RedisDocumentStore`] (the same Redis layout [`RedisSource`](crate::config::RedisSource)
//! follows, so processes reading Redis directly see the service's writes).
//!
//! ```
//! use platform_core::config::Format;
//! use platform_core::control::{ConfigStore, ConfigStoreError, MemoryConfigStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ConfigStoreError> {
//! let store = MemoryConfigStore::new();
//! let v1 = store.put("billing", "prod", Format::Toml, "workers = 4\n", None).await?;
//! assert_eq!(v1.version, 1);
//! // Compare-and-set: a write based on version 1 succeeds once…
//! store.put("billing", "prod", Format::Toml, "workers = 8\n", Some(1)).await?;
//! // …and a second writer still based on version 1 is told about the conflict.
//! let err = store.put("billing", "prod", Format::Toml, "workers = 2\n", Some(1)).await.unwrap_err();
//! assert!(matches!(err, ConfigStoreError::Conflict { expected: 1, current: 2 }));
//!
//! let history = store.history("billing", "prod", 10).await?;
//! assert_eq!(history.iter().map(|d| d.version).collect::<Vec<_>>(), [2, 1]);
//! # Ok(()) }
//! ```

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;

use async_trait::async_trait;
use futures_util::stream::BoxStream;

use super::wire::ConfigDocument;
use crate::BoxError;
use crate::config::Format;

pub use memory::MemoryConfigStore;
#[cfg(feature = "redis")]
pub use redis::RedisDocumentStore;

/// Versions kept per document unless a backend is configured otherwise.
pub const DEFAULT_HISTORY_LEN: usize = 50;

/// Versioned configuration documents by namespace and environment; see the
/// [module docs](self).
///
/// Object safe: share a backend as `Arc<dyn ConfigStore>`.
#[async_trait]
pub trait ConfigStore: Send + Sync + fmt::Debug {
    /// The current document, or `None` when none was ever written.
    ///
    /// # Errors
    /// [`ConfigStoreError::Invalid`] for a bad name; [`ConfigStoreError::Unavailable`].
    async fn get(
        &self,
        namespace: &str,
        environment: &str,
    ) -> Result<Option<ConfigDocument>, ConfigStoreError>;

    /// Writes a new version. With `expected = Some(v)` the write happens only if the
    /// current version is `v` (`Some(0)`: only if no document exists yet).
    ///
    /// # Errors
    /// [`ConfigStoreError::Conflict`] when `expected` is not the current version;
    /// [`ConfigStoreError::Invalid`] for a bad name or a document that does not parse in
    /// its format (the message has line and column); [`ConfigStoreError::Unavailable`].
    async fn put(
        &self,
        namespace: &str,
        environment: &str,
        format: Format,
        text: &str,
        expected: Option<u64>,
    ) -> Result<ConfigDocument, ConfigStoreError>;

    /// Up to `limit` of the most recent versions, newest first (the current one included).
    ///
    /// # Errors
    /// [`ConfigStoreError::Invalid`] for a bad name; [`ConfigStoreError::Unavailable`].
    async fn history(
        &self,
        namespace: &str,
        environment: &str,
        limit: usize,
    ) -> Result<Vec<ConfigDocument>, ConfigStoreError>;

    /// Follows the document: the current one first (when there is one), then newer
    /// versions as they are written. A slow consumer may skip intermediate versions (it
    /// always gets the latest); versions only increase.
    ///
    /// # Errors
    /// [`ConfigStoreError::Invalid`] for a bad name; [`ConfigStoreError::Unavailable`].
    async fn watch(
        &self,
        namespace: &str,
        environment: &str,
    ) -> Result<BoxStream<'static, ConfigDocument>, ConfigStoreError>;
}

/// Why a [`ConfigStore`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigStoreError {
    /// A name or document is invalid; fix the caller.
    #[error("invalid `{field}`: {reason}")]
    Invalid {
        /// `namespace`, `environment` or `text`.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A compare-and-set write lost: the document changed since `expected`.
    #[error("version conflict: expected version {expected}, the current version is {current}")]
    Conflict {
        /// The version the writer based its change on.
        expected: u64,
        /// The version the store holds (0: no document).
        current: u64,
    },
    /// The backend could not be reached or failed; the call may be retried.
    #[error("config store `{backend}` failed to {operation}: {source}")]
    Unavailable {
        /// Backend name (`redis`).
        backend: &'static str,
        /// What was being done.
        operation: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The backend holds data this version cannot read.
    #[error("config store `{backend}` holds unreadable data at {location}: {reason}")]
    Corrupt {
        /// Backend name.
        backend: &'static str,
        /// Where.
        location: String,
        /// What could not be read.
        reason: String,
    },
}

/// Checks a namespace or environment name: 1–128 of `[A-Za-z0-9._-]`.
pub(crate) fn check_name(field: &'static str, name: &str) -> Result<(), ConfigStoreError> {
    crate::names::check(name).map_err(|reason| ConfigStoreError::Invalid { field, reason })
}

/// A validated namespace and environment: where a document lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Named<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) environment: &'a str,
}

impl<'a> Named<'a> {
    /// Checks both names.
    pub(crate) fn checked(
        namespace: &'a str,
        environment: &'a str,
    ) -> Result<Self, ConfigStoreError> {
        check_name("namespace", namespace)?;
        check_name("environment", environment)?;
        Ok(Self { namespace, environment })
    }

    /// One version of the document living here.
    pub(crate) fn document(
        self,
        version: u64,
        format: Format,
        text: String,
        updated_at_ms: u64,
    ) -> ConfigDocument {
        ConfigDocument {
            namespace: self.namespace.to_owned(),
            environment: self.environment.to_owned(),
            version,
            format,
            text,
            updated_at_ms,
        }
    }
}

/// Checks both names and that `text` parses as `format`.
pub(crate) fn check_put(
    namespace: &str,
    environment: &str,
    format: Format,
    text: &str,
) -> Result<(), ConfigStoreError> {
    Named::checked(namespace, environment)?;
    let origin = crate::config::Origin::Remote(format!("config {namespace}/{environment}"));
    format
        .parse(text, &origin)
        .map(drop)
        .map_err(|e| ConfigStoreError::Invalid { field: "text", reason: e.to_string() })
}

/// Milliseconds since the Unix epoch by this host's clock.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
