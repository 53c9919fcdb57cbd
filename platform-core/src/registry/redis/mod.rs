//! The Redis registry: a fleet shares instances through one Redis.
//!
//! Instances live in a hash per service with their expiry in a sorted set (see
//! `scripts` for the key layout); every change is one Lua script that bumps the service's
//! version, appends to a capped change log and publishes the version on the service's
//! channel. Watchers subscribe on their own RESP3 connection, read the log from their last
//! version on each notification, and re-read it every
//! [`reconcile_interval`](RedisRegistryConfig::reconcile_interval) anyway — so a lost
//! notification is repaired within that interval. A gap in the log, a version that went
//! backwards (Redis lost its data) or a reconnect makes the watcher re-list and emit
//! [`WatchEvent::Resync`](super::WatchEvent::Resync).
//!
//! While Redis is unreachable, [`instances`](super::Registry::instances) serves the last
//! snapshot read for the service marked [`stale`](super::Snapshot::stale), watchers keep
//! their state and resync when Redis is back, and leases keep retrying.
//!
//! ```no_run
//! # // no_run: needs a Redis server at 127.0.0.1:6379
//! use std::time::Duration;
//! use platform_core::registry::{Registry, RedisRegistry, RedisRegistryConfig, ServiceInstance};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = RedisRegistry::new(RedisRegistryConfig::new("redis://127.0.0.1:6379"))?;
//! let _lease = registry
//!     .register(ServiceInstance::new("orders", "orders-1", "10.0.0.7", 8080), Duration::from_secs(15))
//!     .await?;
//! # Ok(()) }
//! ```

mod config;
mod scripts;
mod store;
mod watcher;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use config::RedisRegistryConfig;
use store::Store;

use super::instance::check_service;
use super::lease::{LeaseBackend, check_registration};
use super::{Health, Lease, Registry, RegistryError, ServiceInstance, Snapshot, Watch};

/// A [`Registry`] stored in Redis; see the [module docs](self). Clones share connections.
#[derive(Debug, Clone)]
pub struct RedisRegistry {
    store: Arc<Store>,
}

impl RedisRegistry {
    /// A registry on the configured Redis; connects on first use.
    ///
    /// # Errors
    /// [`RegistryError::Config`] for an invalid configuration or URL.
    pub fn new(config: RedisRegistryConfig) -> Result<Self, RegistryError> {
        Ok(Self { store: Arc::new(Store::open(config)?) })
    }

    /// The configuration in use.
    pub fn config(&self) -> &RedisRegistryConfig {
        self.store.config()
    }
}

#[async_trait]
impl LeaseBackend for RedisRegistry {
    async fn keep_alive(
        &self,
        instance: &ServiceInstance,
        ttl: Duration,
    ) -> Result<(), RegistryError> {
        self.store.put(instance, ttl, true).await
    }

    async fn release(&self, service: &str, id: &str) -> Result<bool, RegistryError> {
        self.store.remove(service, id).await
    }
}

#[async_trait]
impl Registry for RedisRegistry {
    async fn register(
        &self,
        instance: ServiceInstance,
        ttl: Duration,
    ) -> Result<Lease, RegistryError> {
        check_registration(&instance, ttl)?;
        self.store.put(&instance, ttl, false).await?;
        Ok(Lease::start(Arc::new(self.clone()), instance, ttl))
    }

    async fn deregister(&self, service: &str, id: &str) -> Result<bool, RegistryError> {
        check_service(service)?;
        self.store.remove(service, id).await
    }

    async fn set_health(
        &self,
        service: &str,
        id: &str,
        health: Health,
    ) -> Result<(), RegistryError> {
        check_service(service)?;
        self.store.set_health(service, id, health).await
    }

    async fn instances(&self, service: &str) -> Result<Snapshot, RegistryError> {
        check_service(service)?;
        self.store.instances(service).await
    }

    async fn watch(&self, service: &str) -> Result<Watch, RegistryError> {
        check_service(service)?;
        watcher::start(Arc::clone(&self.store), service).await
    }
}
