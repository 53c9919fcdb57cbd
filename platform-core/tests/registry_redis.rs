//! Failure behaviour of the Redis registry against a real Redis (skipped without
//! `PLATFORM_TEST_REDIS_URL`): a watcher whose connection is killed, notifications that
//! never arrive, a process that dies holding a lease, and Redis becoming unreachable.

#![cfg(all(feature = "registry", feature = "redis", feature = "test-util"))]

use std::time::Duration;

use futures_util::StreamExt;
use platform_core::registry::{
    Health, RedisRegistry, RedisRegistryConfig, Registry, ServiceInstance, Snapshot, Watch,
    WatchEvent,
};
use platform_core::test_util::{RedisPrefix, Service};
use redis::aio::MultiplexedConnection;

const WAIT: Duration = Duration::from_secs(10);
const TTL: Duration = Duration::from_secs(1);

fn instance(id: &str) -> ServiceInstance {
    ServiceInstance::new("orders", id, "127.0.0.1", 9000)
}

async fn setup(test: &str) -> Option<(String, RedisPrefix, MultiplexedConnection)> {
    let url = Service::Redis.url_or_skip(test).await?;
    let client = redis::Client::open(url.as_str()).expect("url");
    let conn = client.get_multiplexed_async_connection().await.expect("connect");
    Some((url, RedisPrefix::new(test), conn))
}

async fn next(watch: &mut Watch) -> WatchEvent {
    tokio::time::timeout(WAIT, watch.next()).await.expect("event within bound").expect("open")
}

async fn first_snapshot(watch: &mut Watch) -> Snapshot {
    match next(watch).await {
        WatchEvent::Resync(s) => s,
        other => panic!("first event is not a resync: {other:?}"),
    }
}

/// Writes an instance the way another writer would, but without publishing, so only
/// reconciliation or a reconnect can reveal it. `log` false also skips the change-log
/// entry (a gap).
async fn write_unannounced(
    conn: &mut MultiplexedConnection,
    prefix: &RedisPrefix,
    inst: &ServiceInstance,
    log: bool,
) {
    let base = prefix.key(&format!("registry:{}", inst.service));
    let body = serde_json::to_string(inst).unwrap();
    let (secs, _): (u64, u64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    let expiry = (secs + 3600) * 1000;
    let current: Option<u64> =
        redis::cmd("GET").arg(format!("{base}:version")).query_async(conn).await.unwrap();
    let version = current.unwrap_or(0) + 1;
    // One transaction, so a watcher never sees the version without its log entry.
    let mut tx = redis::pipe();
    tx.atomic()
        .hset(&base, &inst.id, &body)
        .zadd(format!("{base}:expiry"), &inst.id, expiry)
        .set(format!("{base}:version"), version);
    if log {
        tx.cmd("XADD")
            .arg(format!("{base}:log"))
            .arg(format!("{version}-0"))
            .arg(&["kind", "added", "id", &inst.id, "instance", &body]);
    }
    tx.query_async::<()>(conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_notifications_are_repaired_by_reconciliation() {
    let Some((url, prefix, mut conn)) = setup("registry_lost_notification").await else { return };
    let config = RedisRegistryConfig::new(&url)
        .with_prefix(prefix.as_str())
        .with_reconcile_interval(Duration::from_millis(200));
    let registry = RedisRegistry::new(config).unwrap();
    let mut watch = registry.watch("orders").await.unwrap();
    assert_eq!(first_snapshot(&mut watch).await.version, 0);

    // Logged but not published: reconciliation reads the log and emits the change itself.
    write_unannounced(&mut conn, &prefix, &instance("a"), true).await;
    match next(&mut watch).await {
        WatchEvent::Added { version: 1, instance } => assert_eq!(instance.id, "a"),
        other => panic!("expected Added a at version 1, got {other:?}"),
    }
    // Neither logged nor published: the version gap forces a full resync.
    write_unannounced(&mut conn, &prefix, &instance("b"), false).await;
    match next(&mut watch).await {
        WatchEvent::Resync(s) => {
            assert_eq!(s.version, 2);
            assert_eq!(s.ids().collect::<Vec<_>>(), ["a", "b"]);
        }
        other => panic!("expected a resync at version 2, got {other:?}"),
    }
    prefix.cleanup(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_across_a_killed_connection_resyncs_to_the_right_set() {
    let Some((url, prefix, mut conn)) = setup("registry_killed_watch").await else { return };
    let client_name = format!("kill-me-{}", prefix.as_str().replace(':', "-"));
    // Reconciliation far away: only the reconnect can reveal what changed meanwhile.
    let config = RedisRegistryConfig::new(&url)
        .with_prefix(prefix.as_str())
        .with_client_name(&client_name)
        .with_reconcile_interval(Duration::from_secs(3600));
    let registry = RedisRegistry::new(config).unwrap();
    let lease_a = registry.register(instance("a"), Duration::from_secs(30)).await.unwrap();
    let lease_b = registry.register(instance("b"), Duration::from_secs(30)).await.unwrap();
    let mut watch = registry.watch("orders").await.unwrap();
    let mut view = first_snapshot(&mut watch).await;
    assert_eq!(view.ids().collect::<Vec<_>>(), ["a", "b"]);

    // Wait until the watch connection is subscribed (named), then change the set without
    // announcing it and kill the connection.
    let name = format!("{client_name}:watch:orders");
    let find = async {
        loop {
            let list: String =
                redis::cmd("CLIENT").arg("LIST").query_async(&mut conn).await.unwrap();
            let found = list.lines().find(|l| l.contains(&format!(" name={name} ")));
            if let Some(line) = found.filter(|l| l.contains(" sub=1 ")) {
                let id = line.split(' ').find_map(|f| f.strip_prefix("id=")).unwrap();
                break id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let id = tokio::time::timeout(WAIT, find).await.expect("watch connection subscribed");
    // An announced change seen as an event: the watcher is past its first catch-up, so
    // from here on only a notification or the reconnect makes it read Redis.
    registry.set_health("orders", "a", Health::Draining).await.unwrap();
    assert!(matches!(next(&mut watch).await, WatchEvent::Updated { .. }));
    lease_b.abandon();
    let base = prefix.key("registry:orders");
    redis::pipe()
        .atomic()
        .hdel(&base, "b")
        .zrem(format!("{base}:expiry"), "b")
        .incr(format!("{base}:version"), 1)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    write_unannounced(&mut conn, &prefix, &instance("c"), true).await;
    let killed: u64 =
        redis::cmd("CLIENT").arg("KILL").arg("ID").arg(&id).query_async(&mut conn).await.unwrap();
    assert_eq!(killed, 1);

    let expected = registry.instances("orders").await.unwrap();
    assert_eq!(expected.ids().collect::<Vec<_>>(), ["a", "c"]);
    assert_eq!(expected.get("a").unwrap().health, Health::Draining);
    // Nothing was announced and reconciliation is an hour away, so only a resync (the
    // one after the reconnect; a notification still in flight from set_health may add an
    // earlier one) can bring the watcher to the new set. Fold until it has.
    loop {
        let event = next(&mut watch).await;
        view.apply(&event);
        if matches!(event, WatchEvent::Resync(_)) && view == expected {
            break;
        }
    }

    // And the new subscription delivers later changes as events.
    lease_a.release().await.unwrap();
    loop {
        match next(&mut watch).await {
            WatchEvent::Removed { id, version } => {
                assert_eq!((id.as_str(), version), ("a", expected.version + 1));
                break;
            }
            WatchEvent::Resync(s) if s.version == expected.version => {}
            other => panic!("expected Removed a, got {other:?}"),
        }
    }
    prefix.cleanup(&mut conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_process_lease_expires_after_its_ttl() {
    let Some((url, prefix, mut conn)) = setup("registry_dead_process").await else { return };
    let config = RedisRegistryConfig::new(&url)
        .with_prefix(prefix.as_str())
        .with_reconcile_interval(Duration::from_millis(200));
    let registry = RedisRegistry::new(config.clone()).unwrap();
    let mut watch = registry.watch("orders").await.unwrap();
    first_snapshot(&mut watch).await;

    // "Another process": its own runtime and registry. It leaks the lease (no Drop) and
    // then its runtime stops, taking the renewal task with it, as a crash would.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let other = RedisRegistry::new(config).unwrap();
            std::mem::forget(other.register(instance("doomed"), TTL).await.unwrap());
        });
    })
    .join()
    .unwrap();

    match next(&mut watch).await {
        WatchEvent::Added { instance, .. } => assert_eq!(instance.id, "doomed"),
        other => panic!("expected the registration, got {other:?}"),
    }
    match next(&mut watch).await {
        WatchEvent::Removed { id, .. } => assert_eq!(id, "doomed"),
        other => panic!("expected the expiry, got {other:?}"),
    }
    assert!(registry.instances("orders").await.unwrap().instances.is_empty());
    prefix.cleanup(&mut conn).await.unwrap();
}

#[path = "registry_redis/proxy.rs"]
mod proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_redis_serves_the_last_known_snapshot_as_stale() {
    let Some((url, prefix, mut conn)) = setup("registry_unreachable").await else { return };
    let proxy = proxy::Proxy::start(&url).await;
    let config = RedisRegistryConfig::new(proxy.url())
        .with_prefix(prefix.as_str())
        .with_timeout(Duration::from_millis(500));
    let registry = RedisRegistry::new(config).unwrap();
    let lease = registry.register(instance("a"), Duration::from_secs(30)).await.unwrap();
    let fresh = registry.instances("orders").await.unwrap();
    assert!(!fresh.stale);

    proxy.cut();
    let stale = registry.instances("orders").await.unwrap();
    assert!(stale.stale, "{stale:?}");
    assert_eq!((stale.version, stale.instances.clone()), (fresh.version, fresh.instances));
    // A service never read before has nothing to fall back on.
    assert!(registry.instances("payments").await.is_err());
    lease.abandon();
    prefix.cleanup(&mut conn).await.unwrap();
}
