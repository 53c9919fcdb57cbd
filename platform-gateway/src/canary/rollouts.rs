//! [`Rollouts`]: the state store, instance id and metrics canaries share, and the list
//! the admin API shows.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

use super::metrics::CanaryMetrics;
use super::store::{MemoryRolloutStore, RolloutStore};
use super::{Canary, Inner};

/// Where this gateway's canaries keep their rollout state, who this instance is, where
/// their metrics go, and which canaries are live (for the admin API). Cheap to clone:
/// clones share everything.
///
/// Give every gateway instance on one store a `Rollouts` over that store; each
/// instance gets a unique id (default: process id and a random suffix), under which
/// it publishes its measurements.
///
/// ```
/// use platform_gateway::canary::{MemoryRolloutStore, Rollouts};
///
/// let rollouts = Rollouts::new(MemoryRolloutStore::new()).with_instance("gw-a");
/// assert_eq!(rollouts.instance(), "gw-a");
/// assert!(rollouts.get("users").is_none());
/// ```
#[derive(Clone)]
pub struct Rollouts {
    inner: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn RolloutStore>,
    instance: String,
    metrics: Option<CanaryMetrics>,
    /// Every canary built under a name that is still alive, oldest first: during a
    /// reload the old and the new one serve side by side, and a reload that fails after
    /// building the new one leaves the old one the live one.
    canaries: Mutex<BTreeMap<String, Vec<Weak<Inner>>>>,
}

impl Default for Rollouts {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl Rollouts {
    /// Rollouts saved in `store`.
    pub fn new(store: impl RolloutStore) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Rollouts saved in a shared `store`.
    pub fn from_arc(store: Arc<dyn RolloutStore>) -> Self {
        let instance = format!("{}-{:08x}", std::process::id(), fastrand::u32(..));
        Self::build(store, instance, None)
    }

    /// Rollouts in this process's memory ([`MemoryRolloutStore`]).
    pub fn in_memory() -> Self {
        Self::new(MemoryRolloutStore::new())
    }

    fn build(
        store: Arc<dyn RolloutStore>,
        instance: String,
        metrics: Option<CanaryMetrics>,
    ) -> Self {
        let shared = Shared { store, instance, metrics, canaries: Mutex::new(BTreeMap::new()) };
        Self { inner: Arc::new(shared) }
    }

    /// Uses `id` as this instance's id (unique per gateway process on the store).
    /// Call it before building canaries: canaries already built keep the old value.
    pub fn with_instance(self, id: impl Into<String>) -> Self {
        Self::build(self.inner.store.clone(), id.into(), self.inner.metrics.clone())
    }

    /// Records per-version metrics in `metrics` (see [`CanaryMetrics`]). Call it before
    /// building canaries.
    pub fn with_metrics(self, metrics: CanaryMetrics) -> Self {
        Self::build(self.inner.store.clone(), self.inner.instance.clone(), Some(metrics))
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// The state store.
    pub fn store(&self) -> &Arc<dyn RolloutStore> {
        &self.inner.store
    }

    pub(crate) fn metrics(&self) -> Option<&CanaryMetrics> {
        self.inner.metrics.as_ref()
    }

    /// The live canary named `name` (the newest built that is still alive, after a
    /// reload).
    pub fn get(&self, name: &str) -> Option<Canary> {
        let canaries = self.inner.canaries.lock().unwrap_or_else(|e| e.into_inner());
        canaries.get(name).and_then(|built| newest(built))
    }

    /// Every live canary, by name.
    pub fn list(&self) -> Vec<Canary> {
        let mut canaries = self.inner.canaries.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut canaries);
        canaries.values().filter_map(|built| newest(built)).collect()
    }

    pub(crate) fn register(&self, canary: &Canary) {
        let mut canaries = self.inner.canaries.lock().unwrap_or_else(|e| e.into_inner());
        prune(&mut canaries);
        let built = canaries.entry(canary.name().to_owned()).or_default();
        built.push(Arc::downgrade(&canary.inner));
    }
}

/// The newest canary of `built` still alive.
fn newest(built: &[Weak<Inner>]) -> Option<Canary> {
    built.iter().rev().find_map(Weak::upgrade).map(|inner| Canary { inner })
}

/// Forgets canaries that were dropped.
fn prune(canaries: &mut BTreeMap<String, Vec<Weak<Inner>>>) {
    canaries.retain(|_, built| {
        built.retain(|c| c.strong_count() > 0);
        !built.is_empty()
    });
}

impl fmt::Debug for Rollouts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rollouts")
            .field("store", &self.inner.store)
            .field("instance", &self.inner.instance)
            .field("metrics", &self.inner.metrics.is_some())
            .finish_non_exhaustive()
    }
}
