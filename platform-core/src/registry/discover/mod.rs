//! Discovery: registry instances as a `tower::discover::Discover` stream, and the
//! default balancer over it.
//!
//! [`RegistryDiscover`] follows one service through [`Registry::watch`](super::Registry::watch)
//! and hands a balancer one endpoint service per instance (keyed by instance id), built
//! by your factory `Fn(&ServiceInstance) -> S`. It routes to the instances that
//!
//! * pass the filters of [`DiscoverConfig`]: version (exact or by prefix, see
//!   [`version_matches`]), metadata labels, and optionally a predicate of your own;
//! * are in the local zone when one is set ([`ZonePolicy::Prefer`] falls back to every
//!   zone when the local one has no healthy instance or is in panic;
//!   [`ZonePolicy::Require`] never does);
//! * are [`Health::Ready`](super::Health::Ready) and not ejected by an attached
//!   [`OutlierDetector`](super::health::OutlierDetector) — **unless** more than
//!   [`panic_threshold`](DiscoverConfig::panic_threshold) of the candidates are out,
//!   in which case it routes to all of them (panic mode, announced by a
//!   [`DiscoverEvent`]). Ejecting most of a fleet usually means the health signal is
//!   wrong, and spreading load over all instances beats overloading the few left.
//!
//! [`RegistryDiscover::peak_ewma`] builds the default balancer — tower's power-of-two
//! choices over PeakEwma load ([`BalanceConfig`]) — and
//! [`RegistryDiscover::pending_requests`] the simpler requests-in-flight variant. The
//! guide is `docs/discovery.md`.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use platform_core::registry::discover::{BalanceConfig, DiscoverConfig, RegistryDiscover};
//! use platform_core::registry::{MemoryRegistry, Registry, ServiceInstance};
//! use tower::{ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let registry = MemoryRegistry::new();
//! let ttl = Duration::from_secs(15);
//! let _v1 = registry.register(ServiceInstance::new("orders", "a", "10.0.0.1", 80).with_version("1.4.2"), ttl).await?;
//! let _v2 = registry.register(ServiceInstance::new("orders", "b", "10.0.0.2", 80).with_version("2.0.0"), ttl).await?;
//!
//! // One endpoint per instance; a real one would be an HTTP client for `instance.url()`.
//! let make = |instance: &ServiceInstance| {
//!     let id = instance.id.clone();
//!     service_fn(move |_req: ()| {
//!         let id = id.clone();
//!         async move { Ok::<_, std::convert::Infallible>(id) }
//!     })
//! };
//! let config = DiscoverConfig::default().with_version("1.4");
//! let discover = RegistryDiscover::new(&registry, "orders", config, make).await?;
//! let balancer = discover.peak_ewma(&BalanceConfig::default())?;
//!
//! // Only the 1.4 instance matches.
//! assert_eq!(balancer.oneshot(()).await?, "a");
//! # Ok(()) }
//! ```

mod adapter;
mod balance;
mod config;
mod event;
mod select;

#[cfg(test)]
mod tests;

pub use adapter::RegistryDiscover;
pub use balance::{BalanceConfig, PeakEwmaBalance, PendingRequestsBalance};
pub use config::{DiscoverConfig, ZonePolicy};
pub use event::DiscoverEvent;
pub use select::version_matches;

/// The guide `docs/discovery.md`, whose Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/discovery.md")]
pub struct DiscoveryGuide;
