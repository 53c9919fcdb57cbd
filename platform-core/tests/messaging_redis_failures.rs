//! Failure behaviour of the Redis Streams backend against a real Redis (skipped without
//! `PLATFORM_TEST_REDIS_URL`): connections killed mid-stream, a poison message that
//! crashes every consumer, and consumer cleanup that must keep consumers with pending
//! entries.

#![cfg(all(feature = "messaging", feature = "redis", feature = "test-util"))]

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use platform_core::messaging::conformance::next_delivery;
use platform_core::messaging::{
    DEAD_LETTER_ATTEMPTS, DEAD_LETTER_REASON, OutgoingMessage, Publisher, RedisStreams,
    RedisStreamsConfig, SubscribeOptions, Subscriber, dead_letter_topic,
};
use platform_core::test_util::{RedisPrefix, Service};
use redis::aio::MultiplexedConnection;

const WAIT: Duration = Duration::from_secs(20);
const VISIBILITY: Duration = Duration::from_millis(400);

struct Setup {
    streams: RedisStreams,
    prefix: RedisPrefix,
    admin: MultiplexedConnection,
    name: String,
}

async fn setup(
    test: &str,
    tune: impl FnOnce(RedisStreamsConfig) -> RedisStreamsConfig,
) -> Option<Setup> {
    let url = Service::Redis.url_or_skip(test).await?;
    let prefix = RedisPrefix::new(test);
    let name = prefix.as_str().trim_end_matches(':').to_owned();
    let config = RedisStreamsConfig::new(&url)
        .prefix(prefix.as_str())
        .client_name(&name)
        .block(Duration::from_millis(100));
    let streams = RedisStreams::new(tune(config)).expect("config");
    let client = redis::Client::open(url).expect("url");
    let admin = client.get_multiplexed_async_connection().await.expect("connect");
    Some(Setup { streams, prefix, admin, name })
}

impl Setup {
    async fn cleanup(mut self) {
        self.prefix.cleanup(&mut self.admin).await.expect("cleanup");
    }

    /// `CLIENT KILL ID` for every connection of this test's backend; returns how many.
    async fn kill_connections(&mut self) -> usize {
        let list: String =
            redis::cmd("CLIENT").arg("LIST").query_async(&mut self.admin).await.expect("list");
        let wanted = format!("name={}", self.name);
        let ids: Vec<String> = list
            .lines()
            .filter(|l| l.split(' ').any(|f| f == wanted))
            .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("id=")).map(str::to_owned))
            .collect();
        for id in &ids {
            redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(id)
                .query_async::<i64>(&mut self.admin)
                .await
                .expect("kill");
        }
        ids.len()
    }

    async fn pending(&mut self, topic: &str, group: &str) -> i64 {
        let summary: redis::Value = redis::cmd("XPENDING")
            .arg(self.streams.stream_key(topic))
            .arg(group)
            .query_async(&mut self.admin)
            .await
            .expect("xpending");
        match summary {
            redis::Value::Array(items) => match items.first() {
                Some(redis::Value::Int(n)) => *n,
                other => panic!("unexpected XPENDING reply {other:?}"),
            },
            other => panic!("unexpected XPENDING reply {other:?}"),
        }
    }
}

fn options() -> SubscribeOptions {
    SubscribeOptions::default().visibility_timeout(VISIBILITY).prefetch(4)
}

/// Connections killed with `CLIENT KILL` while deliveries are in flight: every message
/// whose ack succeeded stays acknowledged, every one that was not acknowledged comes
/// back, and the subscription carries on over new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_mid_stream_loses_nothing() {
    let Some(mut s) = setup("msg_redis_kill", |c| c).await else { return };
    let topic = "kill";
    let mut sub = s.streams.subscribe(topic, "g", options()).await.expect("subscribe");
    let batch = (0..30).map(|i| OutgoingMessage::new(topic, format!("m{i}"))).collect();
    let ids: BTreeSet<String> =
        s.streams.publish(batch).await.expect("publish").iter().map(|i| i.to_string()).collect();

    let mut acked = BTreeSet::new();
    for _ in 0..10 {
        let d = next_delivery(&mut sub, WAIT).await;
        let id = d.message().id.to_string();
        d.ack().await.expect("ack before the kill");
        acked.insert(id);
    }
    // Hold three deliveries unacknowledged across the kill.
    let held: Vec<String> = [
        next_delivery(&mut sub, WAIT).await,
        next_delivery(&mut sub, WAIT).await,
        next_delivery(&mut sub, WAIT).await,
    ]
    .into_iter()
    .map(|d| d.message().id.to_string())
    .collect();
    assert!(s.kill_connections().await >= 2, "the shared and the reader connection");

    let mut redelivered = BTreeSet::new();
    while acked.len() < ids.len() {
        let d = next_delivery(&mut sub, WAIT).await;
        let id = d.message().id.to_string();
        assert!(!acked.contains(&id), "{id} was acknowledged but delivered again");
        if held.contains(&id) {
            assert!(d.message().attempt >= 2, "a held delivery comes back as a redelivery");
            redelivered.insert(id.clone());
        }
        // An ack racing the killed connection may fail; the message then comes back.
        if d.ack().await.is_ok() {
            acked.insert(id);
        }
    }
    assert_eq!(acked, ids, "every message acknowledged exactly once");
    assert_eq!(redelivered.len(), held.len(), "every held delivery redelivered");
    assert_eq!(s.pending(topic, "g").await, 0);
    drop(sub);
    s.cleanup().await;
}

/// A message that crashes every consumer before it can settle: the backend moves it to
/// the dead-letter stream after `max_deliveries`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_message_dead_lettered_after_max_deliveries() {
    let Some(s) = setup("msg_redis_poison", |c| c.max_deliveries(Some(3))).await else {
        return;
    };
    let topic = "poison";
    let mut dead =
        s.streams.subscribe(&dead_letter_topic(topic), "g", options()).await.expect("dead");
    let id = s.streams.publish_one(OutgoingMessage::new(topic, "boom")).await.expect("publish");
    for attempt in 1..=3 {
        // Each "process" takes the message and dies holding it.
        let mut sub = s.streams.subscribe(topic, "g", options()).await.expect("subscribe");
        let d = next_delivery(&mut sub, WAIT).await;
        assert_eq!((&d.message().id, d.message().attempt), (&id, attempt));
        drop(d);
        drop(sub);
    }
    // The fourth claim goes over the limit: no delivery, a dead letter instead.
    let mut sub = s.streams.subscribe(topic, "g", options()).await.expect("subscribe");
    let quiet = tokio::spawn(async move {
        let got = tokio::time::timeout(VISIBILITY * 4, sub.next()).await;
        got.map(|d| d.map(|d| d.map(|d| d.message().clone())))
    });
    let d = next_delivery(&mut dead, WAIT).await;
    assert_eq!(d.message().id, id);
    assert_eq!(d.message().attempt, 1, "first delivery of the dead letter");
    assert_eq!(d.message().header(DEAD_LETTER_ATTEMPTS), Some("4"));
    let reason = d.message().header(DEAD_LETTER_REASON).expect("reason");
    assert!(reason.contains("max 3"), "{reason}");
    d.ack().await.expect("ack dead letter");
    if let Ok(got) = quiet.await.expect("join") {
        panic!("the poison message must not be delivered a fourth time: {got:?}");
    }
    s.cleanup().await;
}

/// Consumer cleanup deletes idle consumers without pending entries, never one that holds
/// pending entries — whose deliveries then still reach another member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_keeps_consumers_with_pending_entries() {
    let Some(mut s) = setup("msg_redis_cleanup", |c| c.consumer_cleanup_idle(None)).await else {
        return;
    };
    let topic = "cleanup";
    let long = SubscribeOptions::default().visibility_timeout(Duration::from_secs(60));
    let mut holder = s.streams.subscribe(topic, "g", long).await.expect("subscribe");
    let ids = s
        .streams
        .publish(vec![OutgoingMessage::new(topic, "a"), OutgoingMessage::new(topic, "b")])
        .await
        .expect("publish");
    let held = [next_delivery(&mut holder, WAIT).await, next_delivery(&mut holder, WAIT).await];
    let key = s.streams.stream_key(topic);
    for idle in ["idle-1", "idle-2"] {
        redis::cmd("XGROUP")
            .arg("CREATECONSUMER")
            .arg(&key)
            .arg("g")
            .arg(idle)
            .query_async::<i64>(&mut s.admin)
            .await
            .expect("create consumer");
    }

    let mut deleted =
        s.streams.cleanup_consumers(topic, "g", Duration::ZERO).await.expect("cleanup");
    deleted.sort();
    assert_eq!(deleted, ["idle-1", "idle-2"]);
    let consumers: Vec<Vec<redis::Value>> = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&key)
        .arg("g")
        .query_async(&mut s.admin)
        .await
        .expect("xinfo");
    assert_eq!(consumers.len(), 1, "the consumer holding pending entries is kept");
    assert_eq!(s.pending(topic, "g").await, 2);

    drop(held);
    drop(holder);
    // Its entries are still redeliverable to another member (whose visibility timeout
    // is shorter).
    let mut peer = s.streams.subscribe(topic, "g", options()).await.expect("subscribe");
    let mut got = vec![next_delivery(&mut peer, WAIT).await, next_delivery(&mut peer, WAIT).await];
    got.sort_by(|a, b| a.message().id.cmp(&b.message().id));
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got.iter().map(|d| d.message().id.clone()).collect::<Vec<_>>(), want);
    for d in got {
        assert_eq!(d.message().attempt, 2);
        d.ack().await.expect("ack");
    }
    drop(peer);
    s.cleanup().await;
}
