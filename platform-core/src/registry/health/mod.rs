//! Health checking: active probes and passive outlier detection.
//!
//! * [`HealthProber`] — **active**: probes every instance of a service (HTTP `GET` with
//!   an expected status range, or TCP connect) on an interval with jitter and a timeout,
//!   and marks instances [`Unhealthy`](super::Health::Unhealthy) after
//!   `unhealthy_after` failures in a row and [`Ready`](super::Health::Ready) after
//!   `healthy_after` successes, through [`Registry::set_health`](super::Registry::set_health).
//!   Every process watching the registry sees the verdict.
//! * [`OutlierDetector`] — **passive**: an [`OutlierLayer`] per endpoint classifies real
//!   responses with the shared [`Classify`](crate::classify::Classify); after
//!   `consecutive_failures` failures in a row the endpoint is ejected for a backoff
//!   (`base × multiplier^k`, at most `max_ejection`) and then readmitted. Never more than
//!   `max_ejected_share` of the endpoints are ejected at once; the discovery adapter's
//!   panic threshold caps it again.
//!
//! Both emit events with the reason ([`ProbeEvent`], [`OutlierEvent`]) to
//! [`Listeners`](crate::resilience::Listeners) and as `tracing` events (target
//! `platform::registry::health`). The guide is `docs/discovery.md`.
//!
//! # Example
//!
//! Outlier detection wired into discovery: each endpoint reports its outcomes, ejected
//! instances leave the balancer.
//!
//! ```
//! use std::time::Duration;
//! use platform_core::classify::ResultClassifier;
//! use platform_core::registry::discover::{BalanceConfig, DiscoverConfig, RegistryDiscover};
//! use platform_core::registry::health::{OutlierConfig, OutlierDetector};
//! use platform_core::registry::{MemoryRegistry, Registry, ServiceInstance};
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let registry = MemoryRegistry::new();
//! let _lease = registry
//!     .register(ServiceInstance::new("orders", "a", "10.0.0.1", 80), Duration::from_secs(15))
//!     .await?;
//!
//! let detector = OutlierDetector::new("orders", OutlierConfig::default())?;
//! let outliers = detector.clone();
//! let make = move |instance: &ServiceInstance| {
//!     let endpoint = service_fn(|req: u32| async move { Ok::<_, std::io::Error>(req * 2) });
//!     outliers.layer(&instance.id, ResultClassifier).layer(endpoint)
//! };
//! let discover = RegistryDiscover::new(&registry, "orders", DiscoverConfig::default(), make)
//!     .await?
//!     .with_outliers(&detector);
//! let balancer = discover.peak_ewma(&BalanceConfig::default())?;
//! assert_eq!(balancer.oneshot(21).await?, 42);
//! assert!(detector.ejected().is_empty());
//! # Ok(()) }
//! ```

mod check;
mod detector;
mod event;
mod outlier;
mod outlier_config;
mod probe_config;
mod prober;

pub mod future;

#[cfg(test)]
mod tests;

pub use detector::OutlierDetector;
pub use event::{OutlierEvent, ProbeEvent, ProbeFailure};
pub use outlier::{Outlier, OutlierLayer};
pub use outlier_config::OutlierConfig;
pub use probe_config::{ProbeCheck, ProbeConfig, StatusRange};
pub use prober::HealthProber;
