//! Observability for Platform SDK services.
//!
//! * [`init`] — one call wiring `tracing` (env-filter, pretty or JSON output), optional
//!   OTLP export of traces, metrics and logs (feature `otlp`) and a Prometheus registry;
//!   the returned [`TelemetryGuard`] flushes and shuts everything down on drop;
//! * [`metrics`] — a Prometheus registry with capped, idle-evicted labelled families, the
//!   RED [`MetricsLayer`](metrics::MetricsLayer), process and tokio runtime collectors, and
//!   (feature `axum`) the `/metrics` endpoint;
//! * [`trace`] — W3C trace-context propagation: a server layer extracting `traceparent`,
//!   `tracestate` and `baggage` into a span per request, a client layer injecting them;
//! * [`health`] — a [`HealthRegistry`](health::HealthRegistry) of liveness and readiness
//!   checks with timeouts and cached results, and (feature `axum`) `/health/live` and
//!   `/health/ready`;
//! * [`pressure`] (feature `pressure`) — cgroup CPU/memory and tokio runtime signals as
//!   one `Pressure` source for platform-core's load shedding, exported as metrics;
//! * [`audit`] (feature `audit`) — a hash-chained, append-only audit trail on SQLite or
//!   PostgreSQL with filtered, paged queries and tamper verification, the
//!   [`AuditLayer`](audit::AuditLayer) capturing `target: "audit"` events without
//!   blocking, and (feature `axum`) the query and verify router;
//! * [`logs`] (feature `logs`) — centralized logs: a `tracing` layer shipping records in
//!   batches through a bounded, never-blocking buffer to a `LogStore` (SQLite FTS5 or
//!   PostgreSQL full-text search), search with keyset pagination, retention, and (with
//!   `axum`) NDJSON ingest and search endpoints; `HttpLogStore` (feature `logs-client`)
//!   ships to a central instance.
//!
//! The guide is `docs/observability.md` in the repository.
//!
//! # Example
//!
//! ```
//! use platform_observe::{TelemetryConfig, metrics::MetricsLayer};
//!
//! let cfg: TelemetryConfig = serde_json::from_str(
//!     r#"{ "service_name": "orders", "filter": "info", "format": "json" }"#,
//! ).unwrap();
//! // `init` installs the global subscriber; a test uses `build` and a scoped dispatch.
//! let (dispatch, guard) = platform_observe::telemetry::build(&cfg).unwrap();
//! let red = MetricsLayer::new(guard.metrics()).unwrap();
//! tracing::dispatcher::with_default(&dispatch, || tracing::info!("ready"));
//! # drop(red);
//! assert!(guard.metrics().encode().contains("process_cpu_seconds_total"));
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "audit")]
pub mod audit;
pub mod health;
#[cfg(feature = "logs")]
#[cfg_attr(docsrs, doc(cfg(feature = "logs")))]
pub mod logs;
pub mod metrics;
#[cfg(feature = "pressure")]
pub mod pressure;
pub mod telemetry;
pub mod trace;

pub use telemetry::{InitError, TelemetryConfig, TelemetryGuard, init};

/// The observability guide's examples, compiled (and run where possible) as doctests.
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "audit",
    feature = "pressure",
    feature = "logs",
    feature = "logs-client"
))]
#[doc = include_str!("../../docs/observability.md")]
pub struct ObservabilityGuideDoctests;
