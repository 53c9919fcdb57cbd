//! Clients of the control plane across a service restart: the watcher resyncs and ends
//! with the right instances, leases re-register with the new service.

#![cfg(all(feature = "control", feature = "http-client"))]

mod control_support;

use std::sync::Arc;
use std::time::Duration;

use control_support::{TestServer, eventually};
use futures_util::StreamExt;
use platform_core::control::MemoryConfigStore;
use platform_core::registry::{
    HttpRegistry, MemoryRegistry, Registry, ServiceInstance, Snapshot, WatchEvent,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_and_lease_survive_a_service_restart() {
    let server =
        TestServer::start(Arc::new(MemoryRegistry::new()), Arc::new(MemoryConfigStore::new()))
            .await;
    let addr = server.addr;
    let client =
        HttpRegistry::new(&server.url()).unwrap().reconnect_max(Duration::from_millis(200));
    let ttl = Duration::from_millis(600);
    let _lease =
        client.register(ServiceInstance::new("orders", "a", "10.0.0.1", 80), ttl).await.unwrap();
    let mut watch = client.watch("orders").await.unwrap();
    let mut view = Snapshot::default();
    let first = watch.next().await.unwrap();
    assert!(matches!(first, WatchEvent::Resync(_)));
    view.apply(&first);
    assert_eq!(view.ids().collect::<Vec<_>>(), ["a"]);

    // The service goes away with its in-memory registry; a new one starts on the same port.
    server.stop().await;
    let fresh = MemoryRegistry::new();
    let server =
        TestServer::start_on(addr, Arc::new(fresh.clone()), Arc::new(MemoryConfigStore::new()))
            .await;
    // Something only the new service knows about.
    let _other =
        fresh.register(ServiceInstance::new("orders", "b", "10.0.0.2", 80), ttl).await.unwrap();

    // The lease's next heartbeat finds no lease and registers again; the watcher
    // reconnects, resyncs and folds to the new service's state.
    let mut resynced = false;
    let deadline = tokio::time::Instant::now() + control_support::WAIT;
    while view.ids().collect::<Vec<_>>() != ["a", "b"] {
        let event = tokio::time::timeout_at(deadline, watch.next())
            .await
            .expect("converges in time")
            .unwrap();
        resynced |= matches!(event, WatchEvent::Resync(_));
        view.apply(&event);
    }
    assert!(resynced, "the reconnect started with a resync");
    assert_eq!(view, fresh.instances("orders").await.unwrap());
    eventually("the lease held by the new service", || async { server.plane.held_leases() == 1 })
        .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_heartbeating_expires() {
    let backend = MemoryRegistry::new();
    let server =
        TestServer::start(Arc::new(backend.clone()), Arc::new(MemoryConfigStore::new())).await;
    let client = HttpRegistry::new(&server.url()).unwrap();
    let lease = client
        .register(ServiceInstance::new("orders", "a", "10.0.0.1", 80), Duration::from_millis(300))
        .await
        .unwrap();
    lease.abandon(); // the client process "dies"
    eventually("the instance to expire", || async {
        backend.instances("orders").await.unwrap().instances.is_empty()
    })
    .await;
    assert_eq!(server.plane.held_leases(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_service_serves_the_last_snapshot_as_stale() {
    let server =
        TestServer::start(Arc::new(MemoryRegistry::new()), Arc::new(MemoryConfigStore::new()))
            .await;
    let client = HttpRegistry::new(&server.url()).unwrap().timeout(Duration::from_secs(1));
    let _lease = client
        .register(ServiceInstance::new("orders", "a", "10.0.0.1", 80), Duration::from_secs(5))
        .await
        .unwrap();
    let fresh = client.instances("orders").await.unwrap();
    assert!(!fresh.stale);
    server.stop().await;
    let stale = client.instances("orders").await.unwrap();
    assert!(stale.stale);
    assert_eq!(stale.instances, fresh.instances);
    assert!(client.instances("billing").await.is_err(), "nothing known: Unavailable");
    assert!(client.watch("orders").await.is_err(), "a watch needs the service to start");
}
