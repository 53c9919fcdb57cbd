//! The default balancer built from the discovery adapter: PeakEwma steers traffic away
//! from a slow instance, the panic threshold keeps routing when most instances are
//! marked unhealthy, and instances that leave the registry leave the balancer.
//!
//! In-process endpoints with latency on the paused clock: deterministic, no sockets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_core::BoxError;
use platform_core::registry::discover::{BalanceConfig, DiscoverConfig, RegistryDiscover};
use platform_core::registry::{Health, Lease, MemoryRegistry, Registry, ServiceInstance};
use tokio::task::JoinSet;
use tower::buffer::Buffer;
use tower::{Service, ServiceExt, service_fn};

type Served = Arc<Mutex<BTreeMap<String, usize>>>;

/// Endpoints that count their calls per instance id; instance `slow` takes 100 ms,
/// the others 5 ms.
fn make_endpoint(
    served: &Served,
) -> impl FnMut(&ServiceInstance) -> tower::util::BoxService<(), String, BoxError> + Send + 'static
{
    let served = Arc::clone(served);
    move |instance: &ServiceInstance| {
        let (id, served) = (instance.id.clone(), Arc::clone(&served));
        let latency = Duration::from_millis(if id == "slow" { 100 } else { 5 });
        tower::util::BoxService::new(service_fn(move |()| {
            let (id, served) = (id.clone(), Arc::clone(&served));
            async move {
                tokio::time::sleep(latency).await;
                *served.lock().unwrap().entry(id.clone()).or_default() += 1;
                Ok::<_, BoxError>(id)
            }
        }))
    }
}

async fn register(registry: &MemoryRegistry, ids: &[&str]) -> Vec<Lease> {
    let mut leases = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let instance = ServiceInstance::new("orders", *id, "10.0.0.1", 8000 + n as u16);
        leases.push(registry.register(instance, Duration::from_secs(3600)).await.unwrap());
    }
    leases
}

/// Sends `total` requests, `concurrency` at a time, through `balancer`.
async fn drive<S>(balancer: S, concurrency: usize, total: usize)
where
    S: Service<(), Response = String, Error = BoxError> + Send + 'static,
    S::Future: Send,
{
    let buffer = Buffer::new(balancer, 64);
    let mut workers = JoinSet::new();
    for _ in 0..concurrency {
        let mut svc = buffer.clone();
        workers.spawn(async move {
            for _ in 0..total / concurrency {
                svc.ready().await.unwrap().call(()).await.unwrap();
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
}

/// The adapter over every instance of `orders`, with counting endpoints.
async fn discover_all(
    registry: &MemoryRegistry,
) -> (Served, RegistryDiscover<tower::util::BoxService<(), String, BoxError>>) {
    let served = Served::default();
    let make = make_endpoint(&served);
    let discover =
        RegistryDiscover::new(registry, "orders", DiscoverConfig::default(), make).await.unwrap();
    (served, discover)
}

fn count(served: &Served, id: &str) -> usize {
    served.lock().unwrap().get(id).copied().unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn the_slow_instance_receives_clearly_less_traffic() {
    let registry = MemoryRegistry::new();
    let _leases = register(&registry, &["fast-1", "fast-2", "slow"]).await;
    let (served, discover) = discover_all(&registry).await;
    let balancer = discover.peak_ewma(&BalanceConfig::default()).unwrap();
    drive(balancer, 6, 1200).await;

    let (fast1, fast2, slow) =
        (count(&served, "fast-1"), count(&served, "fast-2"), count(&served, "slow"));
    assert_eq!(fast1 + fast2 + slow, 1200);
    // An even split would give each 400; the slow instance gets a small fraction.
    assert!(slow * 5 < fast1.min(fast2), "fast {fast1}/{fast2}, slow {slow}");
}

#[tokio::test(start_paused = true)]
async fn panic_threshold_keeps_every_instance_in_rotation() {
    let registry = MemoryRegistry::new();
    let ids = ["a", "b", "c", "d"];
    let _leases = register(&registry, &ids).await;
    let (served, discover) = discover_all(&registry).await;
    let balancer = discover.pending_requests();
    let buffer = Buffer::new(balancer, 64);

    // One of four unhealthy: it gets nothing.
    registry.set_health("orders", "a", Health::Unhealthy).await.unwrap();
    drive(buffer.clone(), 4, 200).await;
    assert_eq!(count(&served, "a"), 0);

    // Three of four unhealthy (above the 0.5 threshold): every instance gets traffic.
    for id in ["b", "c"] {
        registry.set_health("orders", id, Health::Unhealthy).await.unwrap();
    }
    served.lock().unwrap().clear();
    drive(buffer.clone(), 4, 400).await;
    for id in ids {
        assert!(count(&served, id) > 20, "{id} got {} of 400 in panic mode", count(&served, id));
    }

    // Back under the threshold: the unhealthy ones are out again.
    for id in ["a", "b"] {
        registry.set_health("orders", id, Health::Ready).await.unwrap();
    }
    served.lock().unwrap().clear();
    drive(buffer, 4, 200).await;
    assert_eq!(count(&served, "c"), 0);
}

#[tokio::test(start_paused = true)]
async fn removed_and_filtered_instances_get_no_traffic() {
    let registry = MemoryRegistry::new();
    let mut leases = register(&registry, &["a", "b"]).await;
    let canary = ServiceInstance::new("orders", "canary", "10.0.0.2", 9000)
        .with_version("2.0.0")
        .with_metadata("track", "canary");
    let _canary = registry.register(canary, Duration::from_secs(3600)).await.unwrap();
    let served = Served::default();
    let config = DiscoverConfig::default().with_version("*");
    let discover = RegistryDiscover::new(&registry, "orders", config, make_endpoint(&served))
        .await
        .unwrap()
        .with_predicate(|i| i.metadata.get("track").map(String::as_str) != Some("canary"));
    let buffer = Buffer::new(discover.pending_requests(), 64);

    drive(buffer.clone(), 2, 100).await;
    assert!(count(&served, "a") > 0 && count(&served, "b") > 0);
    assert_eq!(count(&served, "canary"), 0);

    leases.remove(0).release().await.unwrap();
    served.lock().unwrap().clear();
    drive(buffer, 2, 100).await;
    assert_eq!(count(&served, "a"), 0, "a left the registry");
    assert_eq!(count(&served, "b"), 100);
}
