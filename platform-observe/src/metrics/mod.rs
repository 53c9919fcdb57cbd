//! Metrics in the Prometheus text format: a registry, the RED layer, process and runtime
//! collectors, and (feature `axum`) the scrape endpoint.
//!
//! The store is this crate's own: atomic counters and histograms in labelled families
//! that enforce a series cap (with an `__overflow__` series) and evict idle series. It
//! was chosen by measurement against the OpenTelemetry SDK, `metrics` +
//! `metrics-exporter-prometheus` and `prometheus-client` (see `docs/dependencies.md`).
//!
//! ```
//! use platform_observe::metrics::{FamilyLimits, MetricsRegistry, ProcessCollector};
//!
//! let registry = MetricsRegistry::new();
//! registry.register(ProcessCollector);
//! let jobs = registry
//!     .counter("jobs_done_total", "Jobs finished.", ["queue"], FamilyLimits::default())
//!     .unwrap();
//! jobs.inc(["email"]);
//! assert!(registry.encode().contains(r#"jobs_done_total{queue="email"} 1"#));
//! ```

mod encode;
mod family;
mod primitives;
mod process;
pub mod red;
mod registry;

#[cfg(feature = "axum")]
mod handler;

pub use encode::{CONTENT_TYPE, Exposition, MetricType};
pub use family::{FamilyLimits, OVERFLOW};
pub use primitives::DEFAULT_LATENCY_BUCKETS;
pub use process::{ProcessCollector, RuntimeCollector};
pub use red::{
    DefaultRoute, Metrics, MetricsConfig, MetricsLayer, MetricsLayerError, Route, RouteLabel,
};
pub use registry::{
    Collector, CounterFamily, GaugeFamily, HistogramFamily, MetricError, MetricsRegistry,
};

#[cfg(feature = "axum")]
pub use handler::{metrics_handler, metrics_router};

#[cfg(test)]
mod tests;
