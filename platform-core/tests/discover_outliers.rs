//! Passive outlier detection wired into the discovery adapter: a failing instance is
//! ejected from the balancer after consecutive failures, readmitted after its backoff,
//! and the ejection cap keeps most of the fleet in rotation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use platform_core::BoxError;
use platform_core::classify::ResultClassifier;
use platform_core::registry::discover::{DiscoverConfig, RegistryDiscover};
use platform_core::registry::health::{OutlierConfig, OutlierDetector, OutlierEvent};
use platform_core::registry::{Lease, MemoryRegistry, Registry, ServiceInstance};
use platform_core::resilience::Listeners;
use tower::buffer::Buffer;
use tower::{Layer, Service, ServiceExt, service_fn};

type Served = Arc<Mutex<BTreeMap<String, usize>>>;
type Events = Arc<Mutex<Vec<OutlierEvent>>>;
type Client = Buffer<(), futures_util::future::BoxFuture<'static, Result<String, BoxError>>>;

async fn setup(
    ids: &[&str],
    failing: &'static [&'static str],
) -> (Vec<Lease>, Served, OutlierDetector, Events, Client) {
    let registry = MemoryRegistry::new();
    let mut leases = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        let instance = ServiceInstance::new("orders", *id, "10.0.0.1", 8000 + n as u16);
        leases.push(registry.register(instance, Duration::from_secs(3600)).await.unwrap());
    }
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let config = OutlierConfig {
        consecutive_failures: 3,
        base_ejection: Duration::from_secs(10),
        max_ejection: Duration::from_secs(60),
        ..OutlierConfig::default()
    };
    let detector = OutlierDetector::new("orders", config).unwrap().with_listeners(
        Listeners::new().with(move |e: &OutlierEvent| sink.lock().unwrap().push(e.clone())),
    );
    let served = Served::default();
    let (outliers, counts) = (detector.clone(), Arc::clone(&served));
    let make = move |instance: &ServiceInstance| {
        let (id, counts) = (instance.id.clone(), Arc::clone(&counts));
        let fails = failing.contains(&id.as_str());
        let endpoint = service_fn(move |()| {
            let (id, counts) = (id.clone(), Arc::clone(&counts));
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                *counts.lock().unwrap().entry(id.clone()).or_default() += 1;
                if fails { Err::<String, BoxError>("500 from upstream".into()) } else { Ok(id) }
            }
        });
        outliers.layer(&instance.id, ResultClassifier).layer(endpoint)
    };
    let discover = RegistryDiscover::new(&registry, "orders", DiscoverConfig::default(), make)
        .await
        .unwrap()
        .with_outliers(&detector);
    let balancer = tower::util::BoxService::new(discover.pending_requests());
    let buffer = Buffer::new(balancer, 64);
    (leases, served, detector, events, buffer)
}

async fn send<S>(svc: &mut S, n: usize)
where
    S: Service<(), Response = String, Error = BoxError>,
{
    for _ in 0..n {
        let _ = svc.ready().await.unwrap().call(()).await;
    }
}

fn take(served: &Served, id: &str) -> usize {
    served.lock().unwrap().remove(id).unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn a_failing_instance_is_ejected_and_readmitted_after_its_backoff() {
    let (_leases, served, detector, events, mut svc) = setup(&["a", "b", "bad"], &["bad"]).await;
    send(&mut svc, 60).await;
    assert_eq!(detector.ejected(), ["bad"]);
    assert!(take(&served, "bad") >= 3);

    // While ejected it gets nothing.
    served.lock().unwrap().clear();
    send(&mut svc, 100).await;
    assert_eq!(take(&served, "bad"), 0);

    // After the 10 s backoff it is back, fails again and is ejected for 20 s.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(detector.ejected().is_empty());
    send(&mut svc, 60).await;
    assert!(take(&served, "bad") >= 3);
    assert_eq!(detector.ejected(), ["bad"]);
    let last = events.lock().unwrap().last().cloned();
    assert!(
        matches!(&last, Some(OutlierEvent::Ejected { ejections: 2, duration, .. }) if *duration == Duration::from_secs(20)),
        "{last:?}"
    );
    let readmitted = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, OutlierEvent::Readmitted { .. }))
        .count();
    assert_eq!(readmitted, 1);
}

#[tokio::test(start_paused = true)]
async fn ejection_is_capped_when_most_instances_fail() {
    let (_leases, served, detector, events, mut svc) =
        setup(&["a", "b", "c", "ok"], &["a", "b", "c"]).await;
    send(&mut svc, 200).await;
    // Four hosts, share 0.5: at most two ejected; the third failing one stays routed.
    assert_eq!(detector.ejected().len(), 2);
    assert!(
        events.lock().unwrap().iter().any(|e| matches!(e, OutlierEvent::EjectionCapped { .. }))
    );
    served.lock().unwrap().clear();
    send(&mut svc, 100).await;
    let routed: Vec<String> = served.lock().unwrap().keys().cloned().collect();
    assert_eq!(routed.len(), 2, "the ok instance and the capped failing one: {routed:?}");
    assert!(routed.contains(&"ok".to_owned()));
}
