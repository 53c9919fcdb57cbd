//! Unit tests against a real Redis (skipped without `PLATFORM_TEST_REDIS_URL`).

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::subscription::{CURSOR_START, Member};
use super::{Conn, RedisStreams, RedisStreamsConfig};
use crate::messaging::{OutgoingMessage, Publisher, SubscribeOptions, Subscriber};
use crate::test_util::{RedisPrefix, Service};

/// `XAUTOCLAIM` resumes from the cursor of the previous call: with more stuck entries
/// than one call's `COUNT`, successive calls claim successive slices and the cursor
/// wraps to `0-0` after the last. (Min idle 0 keeps just-claimed entries eligible, so a
/// member that restarted from `0-0` would claim the first slice again.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xautoclaim_cursor_carries_forward() {
    let Some(url) = Service::Redis.url_or_skip("messaging_redis_cursor").await else { return };
    let prefix = RedisPrefix::new("msg_cursor");
    let streams =
        RedisStreams::new(RedisStreamsConfig::new(&url).prefix(prefix.as_str())).expect("config");
    // A member that reads all seven entries and dies holding them.
    let mut doomed = streams
        .subscribe("cur", "g", SubscribeOptions::default().prefetch(16))
        .await
        .expect("subscribe");
    let batch = (0..7).map(|i| OutgoingMessage::new("cur", format!("m{i}"))).collect();
    let ids = streams.publish(batch).await.expect("publish");
    for _ in 0..7 {
        let d = futures_util::StreamExt::next(&mut doomed).await.expect("open").expect("ok");
        drop(d);
    }
    drop(doomed);

    let shared = streams.shared.clone();
    let reader = Conn::new(
        shared.client.clone(),
        "cursor-test",
        shared.config.timeout,
        shared.config.timeout,
    );
    let mut member = Member {
        shared,
        stream: streams.stream_key("cur").into(),
        topic: "cur".to_owned(),
        group: "g".into(),
        consumer: "claimer".into(),
        options: SubscribeOptions::default().visibility_timeout(Duration::ZERO).prefetch(3),
        reader,
        buffer: VecDeque::new(),
        cursor: CURSOR_START.to_owned(),
        next_claim: Instant::now(),
        failures: 0,
    };
    let mut slices = Vec::new();
    for _ in 0..3 {
        let claimed = member.claim().await.expect("claim");
        let got: Vec<String> = claimed
            .entries
            .iter()
            .map(|(_, fields, n)| {
                let m = super::entry::decode("cur", fields, 1).expect("decode");
                assert_eq!(*n, 2, "the claim counts as a second delivery");
                m.id.to_string()
            })
            .collect();
        slices.push((got, claimed.cursor.clone()));
        member.cursor = claimed.cursor;
    }
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(slices[0].0, ids[0..3]);
    assert_ne!(slices[0].1, CURSOR_START);
    assert_eq!(slices[1].0, ids[3..6], "continues after the first slice");
    assert_ne!(slices[1].1, CURSOR_START);
    assert_eq!(slices[2].0, ids[6..7]);
    assert_eq!(slices[2].1, CURSOR_START, "the scan wrapped around");

    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    prefix.cleanup(&mut conn).await.expect("cleanup");
}
