use std::time::Duration;

use futures_util::StreamExt;

use super::*;

fn inst(id: &str) -> ServiceInstance {
    ServiceInstance::new("svc", id, "10.0.0.1", 80)
}

#[test]
fn validation_names_the_field() {
    let cases = [
        (ServiceInstance::new("", "a", "h", 1), "service"),
        (ServiceInstance::new("s p", "a", "h", 1), "service"),
        (ServiceInstance::new("s", "", "h", 1), "id"),
        (ServiceInstance::new("s", "a/b", "h", 1), "id"),
        (ServiceInstance::new("s", "a", "", 1), "host"),
        (ServiceInstance::new("s", "a", "http://h", 1), "host"),
        (ServiceInstance::new("s", "a", "h", 0), "port"),
        (ServiceInstance::new("s", "a", "h", 1).with_scheme("HTTP"), "scheme"),
        (ServiceInstance::new("s", "a", "h", 1).with_weight(0), "weight"),
    ];
    for (instance, field) in cases {
        let err = instance.validate().expect_err(field);
        assert_eq!(err.field(), field, "{err}");
        assert!(err.to_string().contains(field), "{err}");
    }
    ServiceInstance::new("s", "a", "::1", 1).with_scheme("grpc+tls").validate().unwrap();
}

#[test]
fn addresses_and_serde() {
    let v6 = ServiceInstance::from_addr("s", "a", "[::1]:9000".parse().unwrap());
    assert_eq!(v6.authority(), "[::1]:9000");
    assert_eq!(v6.socket_addr(), Some("[::1]:9000".parse().unwrap()));
    assert_eq!(ServiceInstance::new("s", "a", "db.local", 1).socket_addr(), None);
    let json = r#"{"service":"s","id":"a","host":"h","port":1}"#;
    let parsed: ServiceInstance = serde_json::from_str(json).unwrap();
    assert_eq!(parsed, ServiceInstance::new("s", "a", "h", 1));
    let with_health = serde_json::to_string(&parsed.with_health(Health::Draining)).unwrap();
    assert!(with_health.contains(r#""health":"draining""#), "{with_health}");
    assert!(
        serde_json::from_str::<ServiceInstance>(
            r#"{"service":"s","id":"a","host":"h","port":1,"x":1}"#
        )
        .is_err()
    );
}

#[test]
fn snapshot_apply_ignores_old_events_and_keeps_order() {
    let mut view = Snapshot::default();
    assert!(view.apply(&WatchEvent::Added { version: 1, instance: inst("b") }));
    assert!(view.apply(&WatchEvent::Added { version: 2, instance: inst("a") }));
    assert!(!view.apply(&WatchEvent::Removed { version: 2, id: "a".into() }));
    assert_eq!(view.ids().collect::<Vec<_>>(), ["a", "b"]);
    assert!(view.apply(&WatchEvent::Removed { version: 3, id: "b".into() }));
    assert_eq!((view.version, view.ids().collect::<Vec<_>>()), (3, vec!["a"]));
    let resync = Snapshot::new(1, vec![inst("z")]);
    assert!(view.apply(&WatchEvent::Resync(resync.clone())));
    assert_eq!(view, resync);
}

#[tokio::test(start_paused = true)]
async fn abandoned_lease_expires_exactly_at_its_ttl() {
    let registry = MemoryRegistry::new();
    let ttl = Duration::from_secs(30);
    registry.register(inst("a"), ttl).await.unwrap().abandon();
    tokio::time::advance(ttl - Duration::from_millis(1)).await;
    assert_eq!(registry.instances("svc").await.unwrap().instances.len(), 1);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(registry.instances("svc").await.unwrap().instances.is_empty());
}

#[tokio::test(start_paused = true)]
async fn forgotten_lease_keeps_renewing_while_the_runtime_lives() {
    let registry = MemoryRegistry::new();
    let lease = registry.register(inst("a"), Duration::from_secs(3)).await.unwrap();
    std::mem::forget(lease);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(registry.instances("svc").await.unwrap().instances.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn renewal_re_registers_an_instance_removed_under_a_live_lease() {
    let registry = MemoryRegistry::new();
    let lease = registry.register(inst("a"), Duration::from_secs(3)).await.unwrap();
    assert!(registry.deregister("svc", "a").await.unwrap());
    tokio::time::sleep(lease.renewal_interval() + Duration::from_millis(1)).await;
    let listed = registry.instances("svc").await.unwrap();
    assert_eq!((listed.version, listed.instances.len()), (3, 1));
}

#[tokio::test(start_paused = true)]
async fn lagging_watcher_gets_a_resync_with_the_current_state() {
    let registry = MemoryRegistry::with_watch_capacity(2);
    let mut watch = registry.watch("svc").await.unwrap();
    assert!(matches!(watch.next().await, Some(WatchEvent::Resync(_))));
    let mut leases = Vec::new();
    for id in ["a", "b", "c", "d", "e"] {
        leases.push(registry.register(inst(id), Duration::from_secs(10)).await.unwrap());
    }
    match watch.next().await {
        Some(WatchEvent::Resync(s)) => {
            assert_eq!(s.version, 5);
            assert_eq!(s.ids().collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
        }
        other => panic!("expected a resync, got {other:?}"),
    }
    drop(leases);
    // After the resync, events continue in order from the snapshot's version.
    let next = watch.next().await.unwrap();
    assert!(next.version() > 5, "{next:?}");
}

#[tokio::test(start_paused = true)]
async fn watch_ends_when_the_registry_is_dropped() {
    let registry = MemoryRegistry::new();
    let mut watch = registry.watch("svc").await.unwrap();
    assert!(matches!(watch.next().await, Some(WatchEvent::Resync(_))));
    drop(registry);
    assert!(watch.next().await.is_none());
}
