//! Centralized logs with search (feature `logs`).
//!
//! * [`LogShipper`] and its [`LogShipLayer`] capture `tracing` events as [`LogRecord`]s
//!   (time, level, target, service, message, fields, trace and span id) into a bounded
//!   buffer that never blocks the application, and ship them in batches to a
//!   [`LogStore`]; what does not fit is dropped and counted ([`ShipStats`], metrics).
//! * [`SqlLogStore`] keeps records in SQLite with an FTS5 index (the embedded default) or
//!   PostgreSQL with full-text search; [`LogQuery`] searches by text, level, service,
//!   trace id and time range with keyset pagination; [`RetentionPolicy`] bounds age and
//!   count ([`RetentionTask`] applies it periodically).
//! * With feature `axum`, [`logs_router`] serves NDJSON ingest (`POST /logs/ingest`) and
//!   search (`GET /logs/search`), so other services ship to a central instance; with
//!   feature `logs-client`, `HttpLogStore` is that shipping client.
//!
//! The guide is the "Log search" section of `docs/observability.md`.
//!
//! ```
//! use std::sync::Arc;
//! use platform_core::store::Store;
//! use platform_observe::logs::{LogLevel, LogQuery, LogShipConfig, LogShipper, LogStore, SqlLogStore};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 1. With the subscriber: no runtime or store needed yet.
//! let shipper = LogShipper::new(LogShipConfig::new("orders"))?;
//! let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(shipper.layer()));
//!
//! // 2. Once the store exists: start shipping.
//! let logs = Arc::new(SqlLogStore::new(Store::connect("sqlite::memory:").await?).await?);
//! shipper.start(logs.clone())?;
//!
//! tracing::error!(order_id = 42, "card declined");
//! shipper.flush().await?;
//!
//! let q = LogQuery::new().text("declined")?.min_level(LogLevel::Warn).service("orders");
//! let page = logs.search(&q).await?;
//! assert_eq!(page.records.len(), 1);
//! # Ok(()) }
//! ```

mod ndjson;
mod params;
mod query;
mod record;
mod retention;
mod ship;
mod sql;
mod store;
mod text;
mod wire;

#[cfg(feature = "axum")]
mod http;

#[cfg(feature = "logs-client")]
mod client;

#[cfg(test)]
mod tests;

pub use ndjson::{BadLine, MAX_REPORTED_LINES, NdjsonError, parse_ndjson, to_ndjson};
pub use query::{DEFAULT_LIMIT, LogCursor, LogEntry, LogPage, LogQuery, LogQueryError, MAX_LIMIT};
pub use record::{InvalidRecord, LogLevel, LogRecord, MAX_NAME_LEN, UnknownLevel};
pub use retention::RetentionTask;
pub use ship::{LogShipConfig, LogShipConfigError, LogShipLayer, LogShipper, ShipError, ShipStats};
pub use sql::SqlLogStore;
pub use store::{LogStore, LogStoreError, RetentionPolicy, RetentionReport};
pub use text::{MAX_TERMS, MAX_TEXT_LEN, SearchText};
pub use wire::{IngestResponse, LogErrorBody};

#[cfg(feature = "axum")]
pub use http::{LogRouterConfig, logs_router};

#[cfg(feature = "logs-client")]
pub use client::{HttpLogStore, HttpLogStoreError};
