//! Service registry: who runs which service where, and whether it should get traffic.
//!
//! A process [`register`](Registry::register)s each [`ServiceInstance`] it runs and keeps
//! the returned [`Lease`]; the lease renews the registration in the background and
//! deregisters when dropped, and if the process dies the instance expires after its TTL.
//! Clients read a [`Snapshot`] with [`instances`](Registry::instances) or follow changes
//! with [`watch`](Registry::watch): a versioned stream of [`WatchEvent`]s that starts
//! with the full state and re-sends it ([`WatchEvent::Resync`]) whenever the watcher may
//! have missed something, so folding it with [`Snapshot::apply`] never silently diverges.
//! Health checkers mark instances [`Health::Ready`], [`Health::Draining`] or
//! [`Health::Unhealthy`] with [`set_health`](Registry::set_health).
//!
//! Backends, chosen at run time behind `Arc<dyn Registry>`:
//!
//! * [`MemoryRegistry`] — in this process; the embedded default and the test fake;
//! * `RedisRegistry` (features `registry` + `redis`) — shared by a fleet through Redis,
//!   with TTL leases, pub/sub notification and periodic reconciliation;
//! * `HttpRegistry` (features `registry` + `http-client`) — the client of the registry
//!   service (`platform_core::control`), heartbeating leases and SSE watches.
//!
//! Every backend passes the same conformance suite (`conformance`, feature `test-util`).
//! The guide with the guarantees and their bounds is `docs/registry.md`.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use platform_core::registry::{Health, MemoryRegistry, Registry, ServiceInstance};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry: Arc<dyn Registry> = Arc::new(MemoryRegistry::new());
//! let instance = ServiceInstance::new("orders", "orders-1", "10.0.0.7", 8080).with_zone("a");
//! let lease = registry.register(instance, Duration::from_secs(15)).await?;
//!
//! registry.set_health("orders", "orders-1", Health::Draining).await?;
//! let snapshot = registry.instances("orders").await?;
//! assert_eq!(snapshot.version, 2);
//! assert_eq!(snapshot.instances[0].health, Health::Draining);
//! assert_eq!(snapshot.ready().count(), 0);
//!
//! lease.release().await?;
//! assert!(registry.instances("orders").await?.instances.is_empty());
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

mod error;
mod instance;
mod lease;
mod memory;
mod watch;

#[cfg(feature = "redis")]
pub mod redis;

#[cfg(feature = "discovery")]
pub mod discover;
#[cfg(feature = "discovery")]
pub mod health;
#[cfg(feature = "http-client")]
mod http;

#[cfg(feature = "test-util")]
pub mod conformance;

#[cfg(test)]
mod tests;

#[cfg(feature = "discovery")]
pub use discover::{BalanceConfig, DiscoverConfig, RegistryDiscover};
pub use error::{InvalidInstance, RegistryError};
#[cfg(feature = "discovery")]
pub use health::{HealthProber, OutlierDetector};
#[cfg(feature = "http-client")]
pub use http::{DEFAULT_HTTP_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_RECONNECT_MAX, HttpRegistry};
pub use instance::{Health, ServiceInstance};
pub use lease::{Lease, LeaseBackend, MIN_TTL};
pub use memory::MemoryRegistry;
#[cfg(feature = "redis")]
pub use redis::{RedisRegistry, RedisRegistryConfig};
pub use watch::{Snapshot, Watch, WatchEvent};

/// A registry of service instances; see the [module docs](self).
///
/// Object safe: pick a backend at run time and share it as `Arc<dyn Registry>`.
/// Instances are identified by (service, id). Versions are per service and grow by one
/// per change.
#[async_trait]
pub trait Registry: Send + Sync + fmt::Debug {
    /// Registers `instance` (replacing one with the same service and id) for `ttl`, and
    /// returns the lease that keeps it registered.
    ///
    /// # Errors
    /// [`RegistryError::Invalid`] for an invalid instance or a TTL below [`MIN_TTL`];
    /// [`RegistryError::Unavailable`] when the backend cannot be reached.
    async fn register(
        &self,
        instance: ServiceInstance,
        ttl: Duration,
    ) -> Result<Lease, RegistryError>;

    /// Removes an instance now; `Ok(false)` when it was not registered. A live lease
    /// re-registers its instance at its next renewal: to take a running instance out of
    /// rotation, mark it [`Health::Draining`] instead, or drop its lease.
    ///
    /// # Errors
    /// [`RegistryError::Unavailable`] when the backend cannot be reached.
    async fn deregister(&self, service: &str, id: &str) -> Result<bool, RegistryError>;

    /// Sets an instance's health (a no-op, with no event, when it already has it).
    ///
    /// # Errors
    /// [`RegistryError::NotFound`] when the instance is not registered.
    async fn set_health(
        &self,
        service: &str,
        id: &str,
        health: Health,
    ) -> Result<(), RegistryError>;

    /// The service's current instances (empty, version 0, for an unknown service).
    ///
    /// # Errors
    /// [`RegistryError::Unavailable`] when the backend cannot be reached and it has no
    /// last known state to serve (backends that keep one return it marked
    /// [`stale`](Snapshot::stale)).
    async fn instances(&self, service: &str) -> Result<Snapshot, RegistryError>;

    /// Follows the service: a [`WatchEvent::Resync`] with the current state first, then
    /// every change in version order, and a new `Resync` whenever changes may have been
    /// missed.
    ///
    /// # Errors
    /// [`RegistryError::Unavailable`] when the backend cannot be reached to take the
    /// first snapshot.
    async fn watch(&self, service: &str) -> Result<Watch, RegistryError>;
}

/// The guide `docs/registry.md`, whose Rust examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/registry.md")]
pub struct RegistryGuide;
