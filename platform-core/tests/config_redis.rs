//! The Redis source against a real server (`PLATFORM_TEST_REDIS_URL`): pushed changes,
//! a lost push caught by reconciliation, invalid documents and an unreachable server.
#![cfg(all(feature = "config", feature = "redis", feature = "test-util"))]

mod config_support;

use std::time::Duration;

use config_support::{WAIT, next_event};
use platform_core::config::{
    ConfigEvent, ConfigHandle, ConfigLoader, Format, Origin, RedisConfigStore, RedisSource,
    Reloader,
};
use platform_core::test_util::{RedisPrefix, Service};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct App {
    workers: u32,
    level: String,
}

struct Setup {
    store: RedisConfigStore,
    prefix: RedisPrefix,
    client: redis::Client,
    handle: ConfigHandle<App>,
    events: broadcast::Receiver<ConfigEvent>,
    _reloader: Reloader,
}

async fn setup(test: &str, reconcile: Duration) -> Option<Setup> {
    let url = Service::Redis.url_or_skip(test).await?;
    let client = redis::Client::open(url).unwrap();
    let prefix = RedisPrefix::new(test);
    let store = RedisConfigStore::new(client.clone(), prefix.as_str(), "billing", "prod");
    let loader = ConfigLoader::<App>::new().without_env();
    let handle = ConfigHandle::builder()
        .validate(|c: &App| if c.workers > 100 { Err("workers > 100".into()) } else { Ok(()) })
        .build(loader.load().unwrap())
        .unwrap();
    let events = handle.events();
    let source = RedisSource::new(store.clone()).reconcile_interval(reconcile);
    let reloader = loader.spawn_reloader(handle.clone(), vec![Box::new(source)]);
    Some(Setup { store, prefix, client, handle, events, _reloader: reloader })
}

impl Setup {
    async fn cleanup(self) {
        let mut conn = self.client.get_multiplexed_async_connection().await.unwrap();
        self.prefix.cleanup(&mut conn).await.unwrap();
    }
}

#[tokio::test]
async fn pushed_documents_are_applied_in_order() {
    // A long reconciliation interval: only the push can deliver the second version in time.
    let Some(mut s) = setup("config_redis_push", Duration::from_secs(3600)).await else { return };
    // Give the source its subscription: the first document is fetched at start.
    let v1 = s.store.put(Format::Toml, "workers = 2\nlevel = \"info\"\n").await.unwrap();
    next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
    assert_eq!(s.handle.load().workers, 2);
    let v2 = s.store.put(Format::Yaml, "workers: 3\nlevel: debug\n").await.unwrap();
    assert_eq!(v2, v1 + 1);
    tokio::time::timeout(WAIT, async {
        while s.handle.load().workers != 3 {
            next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
        }
    })
    .await
    .expect("pushed document applied within the bound");
    assert_eq!(s.handle.load().level, "debug");
    let doc = s.store.get().await.unwrap().unwrap();
    assert_eq!((doc.version, doc.format), (v2, Format::Yaml));
    s.cleanup().await;
}

#[tokio::test]
async fn lost_push_is_caught_by_reconciliation() {
    let Some(mut s) = setup("config_redis_lost_push", Duration::from_millis(200)).await else {
        return;
    };
    s.store.put(Format::Toml, "workers = 2\n").await.unwrap();
    next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
    // Write a new version without publishing: only reconciliation can see it.
    let mut conn = s.client.get_multiplexed_async_connection().await.unwrap();
    redis::pipe()
        .atomic()
        .cmd("HSET")
        .arg(s.store.key())
        .arg("doc")
        .arg("workers = 9\n")
        .cmd("HINCRBY")
        .arg(s.store.key())
        .arg("version")
        .arg(1)
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let event = next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { .. })).await;
    assert!(
        matches!(&event, ConfigEvent::Applied { origin: Origin::Remote(o), .. } if o.contains(s.store.key())),
        "{event:?}"
    );
    assert_eq!(s.handle.load().workers, 9);
    s.cleanup().await;
}

#[tokio::test]
async fn invalid_remote_document_keeps_last_good_value() {
    let Some(mut s) = setup("config_redis_invalid", Duration::from_secs(3600)).await else {
        return;
    };
    s.store.put(Format::Toml, "workers = 2\n").await.unwrap();
    next_event(&mut s.events, |e| matches!(e, ConfigEvent::Applied { .. })).await;

    s.store.put(Format::Toml, "workers = \"many\"\n").await.unwrap();
    let event = next_event(&mut s.events, |e| matches!(e, ConfigEvent::Rejected { .. })).await;
    let ConfigEvent::Rejected { reason, .. } = event else { unreachable!() };
    assert!(reason.contains("key `workers`"), "{reason}");
    assert!(reason.contains(":1:11"), "{reason}");

    s.store.put(Format::Toml, "workers = 500\n").await.unwrap();
    let event = next_event(&mut s.events, |e| matches!(e, ConfigEvent::Rejected { .. })).await;
    assert!(matches!(event, ConfigEvent::Rejected { reason, .. } if reason == "workers > 100"));
    assert_eq!(s.handle.load().workers, 2);
    assert_eq!(s.handle.version(), 2);
    s.cleanup().await;
}

#[tokio::test]
async fn unreachable_redis_keeps_the_value_and_is_reported() {
    // Only runs where Redis tests run; the address itself is a closed local port.
    if Service::Redis.url_or_skip("config_redis_unreachable").await.is_none() {
        return;
    }
    let client = redis::Client::open("redis://127.0.0.1:1/").unwrap();
    let store = RedisConfigStore::new(client, "", "billing", "prod");
    let loader = ConfigLoader::<App>::new().without_env();
    let handle = ConfigHandle::new(App { workers: 4, level: "info".into() });
    let mut events = handle.events();
    let source = RedisSource::new(store).reconnect_delay(Duration::from_millis(50));
    let _reloader = loader.spawn_reloader(handle.clone(), vec![Box::new(source)]);
    let event =
        next_event(&mut events, |e| matches!(e, ConfigEvent::SourceUnavailable { .. })).await;
    assert!(
        matches!(&event, ConfigEvent::SourceUnavailable { source, .. } if source == "redis config:billing:prod"),
        "{event:?}"
    );
    assert_eq!(handle.load().workers, 4);
    assert_eq!(handle.version(), 1);
}
