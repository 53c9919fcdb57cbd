//! The in-memory registry: the embedded default and the deterministic fake for tests.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use super::instance::check_service;
use super::lease::{LeaseBackend, check_registration};
use super::{Health, Lease, Registry, RegistryError, ServiceInstance, Snapshot, Watch, WatchEvent};

/// Events a slow watcher may fall behind by before it gets a [`WatchEvent::Resync`].
const DEFAULT_WATCH_CAPACITY: usize = 256;

/// A registry held in this process's memory.
///
/// Clones share one registry. Expiry runs on tokio's clock, so under a paused test clock
/// (`#[tokio::test(start_paused = true)]`) leases expire exactly when time is advanced
/// past their TTL. A background task (spawned on the first registration, ended with the
/// registry) removes expired instances so watchers see them leave.
///
/// ```
/// use std::time::Duration;
/// use futures_util::StreamExt;
/// use platform_core::registry::{MemoryRegistry, Registry, ServiceInstance, WatchEvent};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let registry = MemoryRegistry::new();
/// let mut watch = registry.watch("orders").await.unwrap();
/// assert!(matches!(watch.next().await, Some(WatchEvent::Resync(s)) if s.instances.is_empty()));
///
/// let lease = registry
///     .register(ServiceInstance::new("orders", "a", "127.0.0.1", 8080), Duration::from_secs(10))
///     .await
///     .unwrap();
/// assert!(matches!(watch.next().await, Some(WatchEvent::Added { version: 1, .. })));
///
/// lease.release().await.unwrap();
/// assert!(matches!(watch.next().await, Some(WatchEvent::Removed { version: 2, .. })));
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemoryRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    services: Mutex<HashMap<String, ServiceState>>,
    watch_capacity: usize,
    sweeper_started: AtomicBool,
    expiry_changed: Arc<Notify>,
}

impl Default for Inner {
    fn default() -> Self {
        Self::new(DEFAULT_WATCH_CAPACITY)
    }
}

impl Inner {
    fn new(watch_capacity: usize) -> Self {
        Self {
            services: Mutex::default(),
            watch_capacity,
            sweeper_started: AtomicBool::new(false),
            expiry_changed: Arc::default(),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Wakes the sweeper so it notices the registry is gone.
        self.expiry_changed.notify_one();
    }
}

struct ServiceState {
    version: u64,
    entries: BTreeMap<String, Entry>,
    events: broadcast::Sender<WatchEvent>,
}

struct Entry {
    instance: ServiceInstance,
    expires_at: Instant,
}

impl ServiceState {
    fn new(capacity: usize) -> Self {
        Self { version: 0, entries: BTreeMap::new(), events: broadcast::channel(capacity).0 }
    }

    fn snapshot(&self) -> Snapshot {
        let instances = self.entries.values().map(|e| e.instance.clone()).collect();
        Snapshot::new(self.version, instances)
    }

    /// Records one change: bumps the version and tells watchers.
    fn publish(&mut self, event: impl FnOnce(u64) -> WatchEvent) {
        self.version += 1;
        // No receivers is fine: nobody watches.
        let _ = self.events.send(event(self.version));
    }

    fn remove(&mut self, id: &str) -> bool {
        if self.entries.remove(id).is_none() {
            return false;
        }
        self.publish(|version| WatchEvent::Removed { version, id: id.to_owned() });
        true
    }

    /// Removes instances whose lease ran out; returns the earliest remaining expiry.
    fn sweep(&mut self, now: Instant) -> Option<Instant> {
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            tracing::info!(target: "platform::registry", id = %id, "instance lease expired");
            self.remove(&id);
        }
        self.entries.values().map(|e| e.expires_at).min()
    }
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty registry whose watchers may fall `capacity` events behind before they
    /// are resynchronised (default 256).
    pub fn with_watch_capacity(capacity: usize) -> Self {
        Self { inner: Arc::new(Inner::new(capacity.max(1))) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, ServiceState>> {
        // A panic while holding the lock leaves the maps consistent (every change is one
        // insert or remove), so poisoning is ignored.
        self.inner.services.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the service's state after removing expired instances.
    fn with_service<T>(&self, service: &str, f: impl FnOnce(&mut ServiceState) -> T) -> T {
        let mut services = self.lock();
        let state = services
            .entry(service.to_owned())
            .or_insert_with(|| ServiceState::new(self.inner.watch_capacity));
        state.sweep(Instant::now());
        f(state)
    }

    /// Inserts or replaces `instance`; `renew_only` skips the write when it exists.
    fn put(&self, instance: &ServiceInstance, ttl: Duration, renew_only: bool) {
        self.start_sweeper();
        let expires_at = Instant::now() + ttl;
        self.with_service(&instance.service, |state| {
            let entry = state.entries.get_mut(&instance.id);
            match entry {
                Some(entry) if renew_only || entry.instance == *instance => {
                    entry.expires_at = expires_at;
                }
                Some(entry) => {
                    entry.instance = instance.clone();
                    entry.expires_at = expires_at;
                    state.publish(|version| WatchEvent::Updated {
                        version,
                        instance: instance.clone(),
                    });
                }
                None => {
                    let entry = Entry { instance: instance.clone(), expires_at };
                    state.entries.insert(instance.id.clone(), entry);
                    state.publish(|version| WatchEvent::Added {
                        version,
                        instance: instance.clone(),
                    });
                }
            }
        });
        self.inner.expiry_changed.notify_one();
    }

    fn start_sweeper(&self) {
        if self.inner.sweeper_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let registry = Arc::downgrade(&self.inner);
        let wake = Arc::clone(&self.inner.expiry_changed);
        tokio::spawn(sweep_until_dropped(registry, wake));
    }
}

/// Removes expired instances at their expiry until the registry is dropped.
async fn sweep_until_dropped(registry: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(inner) = registry.upgrade() else { return };
            let registry = MemoryRegistry { inner };
            let mut services = registry.lock();
            let now = Instant::now();
            services.values_mut().filter_map(|s| s.sweep(now)).min()
        };
        match next {
            Some(at) => tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = wake.notified() => {}
            },
            None => wake.notified().await,
        }
    }
}

#[async_trait]
impl LeaseBackend for MemoryRegistry {
    async fn keep_alive(
        &self,
        instance: &ServiceInstance,
        ttl: Duration,
    ) -> Result<(), RegistryError> {
        self.put(instance, ttl, true);
        Ok(())
    }

    async fn release(&self, service: &str, id: &str) -> Result<bool, RegistryError> {
        Ok(self.with_service(service, |state| state.remove(id)))
    }
}

#[async_trait]
impl Registry for MemoryRegistry {
    async fn register(
        &self,
        instance: ServiceInstance,
        ttl: Duration,
    ) -> Result<Lease, RegistryError> {
        check_registration(&instance, ttl)?;
        self.put(&instance, ttl, false);
        Ok(Lease::start(Arc::new(self.clone()), instance, ttl))
    }

    async fn deregister(&self, service: &str, id: &str) -> Result<bool, RegistryError> {
        check_service(service)?;
        self.release(service, id).await
    }

    async fn set_health(
        &self,
        service: &str,
        id: &str,
        health: Health,
    ) -> Result<(), RegistryError> {
        check_service(service)?;
        self.with_service(service, |state| {
            let entry =
                state.entries.get_mut(id).ok_or_else(|| RegistryError::not_found(service, id))?;
            if entry.instance.health != health {
                entry.instance.health = health;
                let instance = entry.instance.clone();
                state.publish(|version| WatchEvent::Updated { version, instance });
            }
            Ok(())
        })
    }

    async fn instances(&self, service: &str) -> Result<Snapshot, RegistryError> {
        check_service(service)?;
        Ok(self.with_service(service, |state| state.snapshot()))
    }

    async fn watch(&self, service: &str) -> Result<Watch, RegistryError> {
        check_service(service)?;
        let (snapshot, events) =
            self.with_service(service, |state| (state.snapshot(), state.events.subscribe()));
        let resync =
            ResyncSource { registry: Arc::downgrade(&self.inner), service: service.to_owned() };
        let state = (events, Some(snapshot), resync, 0_u64);
        Ok(Watch::new(futures_util::stream::unfold(state, next_event)))
    }
}

/// Re-lists a service for a watcher that fell behind.
struct ResyncSource {
    registry: Weak<Inner>,
    service: String,
}

type WatchState = (broadcast::Receiver<WatchEvent>, Option<Snapshot>, ResyncSource, u64);

async fn next_event(state: WatchState) -> Option<(WatchEvent, WatchState)> {
    let (mut events, pending, source, mut last) = state;
    if let Some(snapshot) = pending {
        let version = snapshot.version;
        return Some((WatchEvent::Resync(snapshot), (events, None, source, version)));
    }
    loop {
        match events.recv().await {
            Ok(event) if event.version() <= last => {}
            Ok(event) => {
                last = event.version();
                return Some((event, (events, None, source, last)));
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let inner = source.registry.upgrade()?;
                let registry = MemoryRegistry { inner };
                tracing::debug!(target: "platform::registry", service = %source.service, missed, "watcher lagged; resyncing");
                let snapshot = registry.with_service(&source.service, |s| s.snapshot());
                last = snapshot.version;
                return Some((WatchEvent::Resync(snapshot), (events, None, source, last)));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

impl fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let services = self.lock();
        let instances: usize = services.values().map(|s| s.entries.len()).sum();
        f.debug_struct("MemoryRegistry")
            .field("services", &services.len())
            .field("instances", &instances)
            .finish()
    }
}
