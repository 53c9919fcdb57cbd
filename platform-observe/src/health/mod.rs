//! Health checks: a [`HealthRegistry`] of named liveness and readiness checks with
//! per-check timeouts, criticality and cached results, and (feature `axum`) the
//! `/health/live` and `/health/ready` endpoints answering JSON with 200 or 503.
//!
//! Built-in checks: [`store_check`] (feature `store`) and [`redis_check`] (feature `redis`).

mod builtin;
mod check;
mod registry;
mod report;

#[cfg(feature = "axum")]
mod handler;

#[cfg(feature = "redis")]
pub use builtin::redis_check;
#[cfg(feature = "store")]
pub use builtin::store_check;
pub use check::{CheckOptions, HealthCheck, Probe};
#[cfg(feature = "axum")]
pub use handler::{health_router, live_handler, ready_handler};
pub use registry::HealthRegistry;
pub use report::{CheckReport, HealthReport, Status};

#[cfg(test)]
mod tests;
