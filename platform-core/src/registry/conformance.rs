//! The conformance suite every [`Registry`] backend passes.
//!
//! [`run_all`] runs each check against fresh registries from a factory. The factory
//! returns two handles on **one shared store** (for the in-memory backend, two clones;
//! for Redis, two registries with the same URL and prefix, as two processes would have),
//! and a fresh store each call so checks do not see each other.
//!
//! The checks never assert on elapsed time: they wait for events with a bound
//! ([`Settings::wait`]) and fail when it passes. Under a paused tokio clock those waits
//! cost nothing.
//!
//! ```
//! use std::sync::Arc;
//! use platform_core::registry::{MemoryRegistry, Registry, conformance};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! conformance::run_all("memory", conformance::Settings::default(), || async {
//!     let registry = MemoryRegistry::new();
//!     (Arc::new(registry.clone()) as Arc<dyn Registry>, Arc::new(registry) as Arc<dyn Registry>)
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;

use super::{Health, Registry, RegistryError, ServiceInstance, Snapshot, Watch, WatchEvent};

/// Two handles on one fresh store.
pub type Pair = (Arc<dyn Registry>, Arc<dyn Registry>);

/// Time parameters of the suite.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// TTL of the leases the checks register (keep it short for real-time backends).
    pub ttl: Duration,
    /// Longest wait for any expected event (must exceed the TTL plus the backend's
    /// expiry detection delay).
    pub wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(1), wait: Duration::from_secs(10) }
    }
}

/// Runs every check; panics naming the backend and the check on the first failure.
pub async fn run_all<F, Fut>(backend: &str, settings: Settings, factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Pair>,
{
    let cx = |check: &'static str| Cx { backend: backend.to_owned(), check, settings };
    register_list_deregister(cx("register_list_deregister"), factory().await).await;
    rejects_invalid_input(cx("rejects_invalid_input"), factory().await).await;
    set_health_versions(cx("set_health_versions"), factory().await).await;
    watch_sees_changes_in_order(cx("watch_sees_changes_in_order"), factory().await).await;
    watch_converges_after_a_burst(cx("watch_converges_after_a_burst"), factory().await).await;
    dropped_lease_deregisters(cx("dropped_lease_deregisters"), factory().await).await;
    held_lease_outlives_its_ttl(cx("held_lease_outlives_its_ttl"), factory().await).await;
    abandoned_lease_expires(cx("abandoned_lease_expires"), factory().await).await;
    peers_see_each_other(cx("peers_see_each_other"), factory().await).await;
}

/// Which check is running, for failure messages.
struct Cx {
    backend: String,
    check: &'static str,
    settings: Settings,
}

impl Cx {
    fn instance(&self, id: &str) -> ServiceInstance {
        ServiceInstance::new(self.check.replace('_', "-"), id, "127.0.0.1", 8000)
    }

    fn service(&self) -> String {
        self.check.replace('_', "-")
    }

    fn fail(&self, what: impl std::fmt::Display) -> ! {
        panic!("[{} conformance / {}] {what}", self.backend, self.check)
    }

    /// The next event within the bound.
    async fn next(&self, watch: &mut Watch) -> WatchEvent {
        match tokio::time::timeout(self.settings.wait, watch.next()).await {
            Ok(Some(event)) => event,
            Ok(None) => self.fail("watch ended"),
            Err(_) => self.fail(format!("no watch event within {:?}", self.settings.wait)),
        }
    }

    async fn watch(&self, registry: &dyn Registry) -> (Watch, Snapshot) {
        let mut watch = registry.watch(&self.service()).await.unwrap_or_else(|e| self.fail(e));
        match self.next(&mut watch).await {
            WatchEvent::Resync(snapshot) => (watch, snapshot),
            other => self.fail(format!("first watch event is not a resync: {other:?}")),
        }
    }

    /// Folds events into `view` until `done(view)` holds; checks versions grow.
    async fn until(
        &self,
        watch: &mut Watch,
        view: &mut Snapshot,
        done: impl Fn(&Snapshot) -> bool,
    ) {
        while !done(view) {
            let event = self.next(watch).await;
            let before = view.version;
            if !matches!(event, WatchEvent::Resync(_)) && event.version() <= before {
                self.fail(format!("event version did not grow past {before}: {event:?}"));
            }
            view.apply(&event);
        }
    }

    async fn list(&self, registry: &dyn Registry) -> Snapshot {
        registry.instances(&self.service()).await.unwrap_or_else(|e| self.fail(e))
    }
}

async fn register_list_deregister(cx: Cx, (a, _): Pair) {
    let ttl = cx.settings.ttl;
    let service = cx.service();
    assert_eq!(cx.list(&*a).await, Snapshot::default(), "unknown service is empty at version 0");
    let _b = a.register(cx.instance("b"), ttl).await.unwrap_or_else(|e| cx.fail(e));
    let _a = a.register(cx.instance("a"), ttl).await.unwrap_or_else(|e| cx.fail(e));
    let listed = cx.list(&*a).await;
    if listed.ids().collect::<Vec<_>>() != ["a", "b"] || listed.version != 2 || listed.stale {
        cx.fail(format!("expected a, b at version 2, got {listed:?}"));
    }
    if !a.deregister(&service, "a").await.unwrap_or_else(|e| cx.fail(e)) {
        cx.fail("deregister of a registered instance returned false");
    }
    if a.deregister(&service, "a").await.unwrap_or_else(|e| cx.fail(e)) {
        cx.fail("second deregister returned true");
    }
    let listed = cx.list(&*a).await;
    if listed.ids().collect::<Vec<_>>() != ["b"] || listed.version != 3 {
        cx.fail(format!("expected b at version 3, got {listed:?}"));
    }
}

async fn rejects_invalid_input(cx: Cx, (a, _): Pair) {
    let invalid = [
        cx.instance("").with_weight(1),
        cx.instance("x").with_weight(0),
        ServiceInstance::new(cx.service(), "x", "", 80),
        ServiceInstance::new(cx.service(), "x", "h", 0),
        ServiceInstance::new("", "x", "h", 80),
    ];
    for instance in invalid {
        match a.register(instance.clone(), cx.settings.ttl).await {
            Err(RegistryError::Invalid(_)) => {}
            other => cx.fail(format!("{instance:?} was not rejected as invalid: {other:?}")),
        }
    }
    match a.register(cx.instance("x"), Duration::from_millis(1)).await {
        Err(RegistryError::Invalid(e)) if e.field() == "ttl" => {}
        other => cx.fail(format!("a 1ms TTL was not rejected: {other:?}")),
    }
    if !cx.list(&*a).await.instances.is_empty() {
        cx.fail("a rejected instance was stored");
    }
}

async fn set_health_versions(cx: Cx, (a, _): Pair) {
    let service = cx.service();
    let _lease = a.register(cx.instance("a"), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    a.set_health(&service, "a", Health::Draining).await.unwrap_or_else(|e| cx.fail(e));
    let listed = cx.list(&*a).await;
    if listed.version != 2 || listed.get("a").map(|i| i.health) != Some(Health::Draining) {
        cx.fail(format!("expected a draining at version 2, got {listed:?}"));
    }
    a.set_health(&service, "a", Health::Draining).await.unwrap_or_else(|e| cx.fail(e));
    if cx.list(&*a).await.version != 2 {
        cx.fail("setting the same health again changed the version");
    }
    match a.set_health(&service, "missing", Health::Unhealthy).await {
        Err(RegistryError::NotFound { id, .. }) if id == "missing" => {}
        other => cx.fail(format!("set_health of an unknown id: {other:?}")),
    }
}

async fn watch_sees_changes_in_order(cx: Cx, (a, _): Pair) {
    let service = cx.service();
    let (mut watch, start) = cx.watch(&*a).await;
    if !start.instances.is_empty() {
        cx.fail(format!("fresh service has instances: {start:?}"));
    }
    let v = start.version;
    let lease = a.register(cx.instance("a"), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    match cx.next(&mut watch).await {
        WatchEvent::Added { version, instance } if version == v + 1 && instance.id == "a" => {}
        other => cx.fail(format!("expected Added a at {}, got {other:?}", v + 1)),
    }
    a.set_health(&service, "a", Health::Unhealthy).await.unwrap_or_else(|e| cx.fail(e));
    match cx.next(&mut watch).await {
        WatchEvent::Updated { version, instance }
            if version == v + 2 && instance.health == Health::Unhealthy => {}
        other => cx.fail(format!("expected Updated a unhealthy at {}, got {other:?}", v + 2)),
    }
    let reweighted = cx.instance("a").with_weight(7);
    let lease2 = a.register(reweighted, cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    match cx.next(&mut watch).await {
        WatchEvent::Updated { version, instance } if version == v + 3 && instance.weight == 7 => {}
        other => cx.fail(format!("expected Updated a weight 7 at {}, got {other:?}", v + 3)),
    }
    lease2.abandon();
    lease.release().await.unwrap_or_else(|e| cx.fail(e));
    match cx.next(&mut watch).await {
        WatchEvent::Removed { version, id } if version == v + 4 && id == "a" => {}
        other => cx.fail(format!("expected Removed a at {}, got {other:?}", v + 4)),
    }
}

async fn watch_converges_after_a_burst(cx: Cx, (a, b): Pair) {
    let service = cx.service();
    let (mut watch, mut view) = cx.watch(&*b).await;
    let mut leases = Vec::new();
    for id in ["a", "b", "c", "d"] {
        leases.push(
            a.register(cx.instance(id), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e)),
        );
    }
    a.set_health(&service, "b", Health::Draining).await.unwrap_or_else(|e| cx.fail(e));
    a.deregister(&service, "c").await.unwrap_or_else(|e| cx.fail(e));
    let expected = cx.list(&*a).await;
    cx.until(&mut watch, &mut view, |v| v.version >= expected.version).await;
    if view.instances != expected.instances || view.version != expected.version {
        cx.fail(format!("watcher folded to {view:?}, registry holds {expected:?}"));
    }
    for lease in leases {
        lease.abandon();
    }
}

async fn dropped_lease_deregisters(cx: Cx, (a, _): Pair) {
    let (mut watch, mut view) = cx.watch(&*a).await;
    let lease = a.register(cx.instance("a"), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    cx.until(&mut watch, &mut view, |v| v.get("a").is_some()).await;
    drop(lease);
    match cx.next(&mut watch).await {
        WatchEvent::Removed { id, .. } if id == "a" => {}
        other => cx.fail(format!("expected Removed a after dropping the lease, got {other:?}")),
    }
    if !cx.list(&*a).await.instances.is_empty() {
        cx.fail("instance still listed after its lease was dropped");
    }
}

async fn held_lease_outlives_its_ttl(cx: Cx, (a, _): Pair) {
    let lease = a.register(cx.instance("a"), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    let (mut watch, start) = cx.watch(&*a).await;
    // Three TTLs: without renewal the instance would have expired twice over.
    tokio::time::sleep(cx.settings.ttl * 3).await;
    let listed = cx.list(&*a).await;
    if listed.get("a").is_none() {
        cx.fail(format!("a held lease expired: {listed:?}"));
    }
    if listed.version != start.version {
        cx.fail(format!(
            "renewals changed the version from {} to {}",
            start.version, listed.version
        ));
    }
    lease.release().await.unwrap_or_else(|e| cx.fail(e));
    match cx.next(&mut watch).await {
        WatchEvent::Removed { version, .. } if version == start.version + 1 => {}
        other => cx.fail(format!("renewals produced events, or release did not: {other:?}")),
    }
}

async fn abandoned_lease_expires(cx: Cx, (a, b): Pair) {
    let (mut watch, mut view) = cx.watch(&*b).await;
    let lease = a.register(cx.instance("a"), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    cx.until(&mut watch, &mut view, |v| v.get("a").is_some()).await;
    lease.abandon();
    if cx.list(&*b).await.get("a").is_none() {
        cx.fail("abandoning a lease deregistered its instance");
    }
    cx.until(&mut watch, &mut view, |v| v.get("a").is_none()).await;
    if cx.list(&*b).await.get("a").is_some() {
        cx.fail("expired instance still listed");
    }
}

async fn peers_see_each_other(cx: Cx, (a, b): Pair) {
    let service = cx.service();
    let _la =
        a.register(cx.instance("from-a"), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    let _lb =
        b.register(cx.instance("from-b"), cx.settings.ttl).await.unwrap_or_else(|e| cx.fail(e));
    for registry in [&a, &b] {
        let listed = cx.list(&**registry).await;
        if listed.ids().collect::<Vec<_>>() != ["from-a", "from-b"] {
            cx.fail(format!("a peer does not see both instances: {listed:?}"));
        }
    }
    let (mut watch, mut view) = cx.watch(&*a).await;
    b.set_health(&service, "from-a", Health::Unhealthy).await.unwrap_or_else(|e| cx.fail(e));
    cx.until(&mut watch, &mut view, |v| {
        v.get("from-a").is_some_and(|i| i.health == Health::Unhealthy)
    })
    .await;
}
