//! Unit tests of the backends' specifics and of the handler layers. The behaviour every
//! backend shares is in the conformance suite (`tests/messaging_conformance.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};
use std::time::Duration;

use futures_util::StreamExt;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

use super::*;
use crate::BoxError;

fn msg(id: &str, key: Option<&str>, attempt: u32) -> Message {
    let mut out = OutgoingMessage::new("t", id.to_owned()).id(id);
    if let Some(k) = key {
        out = out.key(k);
    }
    let (mut m, _) = out.into_message();
    m.attempt = attempt;
    m
}

#[tokio::test(start_paused = true)]
async fn memory_publish_waits_for_room() {
    let broker = MemoryBroker::new(MemoryConfig { capacity: 2 });
    let mut sub = broker.subscribe("t", "g", SubscribeOptions::default()).await.unwrap();
    broker
        .publish(vec![OutgoingMessage::new("t", "a"), OutgoingMessage::new("t", "b")])
        .await
        .unwrap();
    let third = broker.publish_one(OutgoingMessage::new("t", "c"));
    tokio::pin!(third);
    assert!(
        tokio::time::timeout(Duration::from_secs(60), &mut third).await.is_err(),
        "full: publish waits"
    );
    assert_eq!(broker.len("t", "g"), 2);
    sub.next().await.unwrap().unwrap().ack().await.unwrap();
    third.await.unwrap();
    assert_eq!(broker.len("t", "g"), 2);
}

#[tokio::test(start_paused = true)]
async fn memory_keeps_messages_published_before_the_first_group() {
    let broker = MemoryBroker::default();
    broker.publish_one(OutgoingMessage::new("t", "early")).await.unwrap();
    let mut first = broker.subscribe("t", "first", SubscribeOptions::default()).await.unwrap();
    let late = broker.subscribe("t", "late", SubscribeOptions::default()).await.unwrap();
    assert_eq!(first.next().await.unwrap().unwrap().message().payload, "early");
    assert!(broker.is_empty("t", "late"));
    drop(late);
}

#[tokio::test(start_paused = true)]
async fn delayed_publish_is_invisible_until_due() {
    let broker = MemoryBroker::default();
    let mut sub = broker.subscribe("t", "g", SubscribeOptions::default()).await.unwrap();
    let start = tokio::time::Instant::now();
    broker
        .publish_one(OutgoingMessage::new("t", "later").delay(Duration::from_secs(5)))
        .await
        .unwrap();
    let d = sub.next().await.unwrap().unwrap();
    assert!(start.elapsed() >= Duration::from_secs(5));
    assert_eq!(d.message().attempt, 1);
}

#[test]
fn requirements_mismatch_names_every_missing_capability() {
    let caps = MemoryBroker::default().capabilities();
    let needs =
        Requirements::default().persistence(Persistence::Durable).ordering(Ordering::PerKey);
    let err = needs.check(&caps).unwrap_err();
    assert_eq!(err.backend(), "memory");
    assert_eq!(err.missing().len(), 1, "{err}");
    let mut weak = Capabilities::none("weak");
    weak.consumer_groups = true;
    let err = Requirements::default()
        .ordering(Ordering::PerKey)
        .dead_letter(true)
        .delayed_redelivery(true)
        .check(&weak)
        .unwrap_err()
        .to_string();
    for name in ["ordering PerKey", "dead_letter", "delayed_redelivery", "`weak`"] {
        assert!(err.contains(name), "{name} missing from: {err}");
    }
    let parsed: Requirements =
        serde_json::from_str(r#"{"ordering":"per_key","dead_letter":true}"#).unwrap();
    assert!(parsed.check(&caps).is_ok());
}

#[tokio::test]
async fn dead_letter_layer_gives_up_after_n_attempts() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let mut svc = DeadLetterLayer::new(3).layer(service_fn(move |_m: Message| {
        counter.fetch_add(1, AtomicOrdering::SeqCst);
        async { Err::<(), BoxError>("boom".into()) }
    }));
    let err = svc.ready().await.unwrap().call(msg("a", None, 2)).await.unwrap_err();
    assert!(PoisonMessage::find(&*err).is_none(), "attempt 2 of 3 is an ordinary failure");
    let err = svc.ready().await.unwrap().call(msg("a", None, 3)).await.unwrap_err();
    let poison = PoisonMessage::find(&*err).expect("dead-letter at attempt 3");
    assert!(poison.reason().contains("boom"));
    // Beyond the limit (earlier deliveries never finished): not even called.
    let err = svc.ready().await.unwrap().call(msg("a", None, 4)).await.unwrap_err();
    assert!(PoisonMessage::find(&*err).is_some());
    assert_eq!(calls.load(AtomicOrdering::SeqCst), 2);
}

#[tokio::test]
async fn dedup_skips_processed_ids_within_its_window() {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let mut svc = DedupLayer::new(2).layer(service_fn(move |_m: Message| {
        counter.fetch_add(1, AtomicOrdering::SeqCst);
        async { Ok::<(), BoxError>(()) }
    }));
    for id in ["a", "a", "b", "a", "c", "a"] {
        svc.ready().await.unwrap().call(msg(id, None, 1)).await.unwrap();
    }
    // a, b, c, then a again once evicted by b and c.
    assert_eq!(calls.load(AtomicOrdering::SeqCst), 4);
}

#[tokio::test]
async fn dedup_refuses_a_duplicate_in_flight_and_forgets_failures() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let mut svc = DedupLayer::new(8).layer(service_fn(move |m: Message| {
        let rx = rx.clone();
        async move {
            if m.attempt == 1 {
                let rx = rx.lock().await.take().expect("once");
                let _ = rx.await;
                return Err::<(), BoxError>("failed".into());
            }
            Ok(())
        }
    }));
    let first = svc.ready().await.unwrap().call(msg("a", None, 1));
    let dup = svc.ready().await.unwrap().call(msg("a", None, 2)).await.unwrap_err();
    assert!(dup.downcast_ref::<layer::DuplicateInFlight>().is_some());
    tx.send(()).unwrap();
    assert!(first.await.is_err());
    // The failure was forgotten: the redelivery runs.
    svc.ready().await.unwrap().call(msg("a", None, 2)).await.unwrap();
}

#[tokio::test]
async fn keyed_ordering_serialises_a_key_and_survives_cancellation() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let g = gate.clone();
    let mut svc = KeyedOrderingLayer::new().layer(service_fn(move |m: Message| {
        let g = g.clone();
        async move {
            if m.id.as_str() == "first" {
                g.acquire().await.unwrap().forget();
            }
            Ok::<(), BoxError>(())
        }
    }));
    let first = tokio::spawn(svc.call(msg("first", Some("k"), 1)));
    let cancelled = svc.call(msg("cancelled", Some("k"), 1));
    let third = svc.call(msg("third", Some("k"), 1));
    let other_key = svc.call(msg("other", Some("j"), 1));
    let no_key = svc.call(msg("none", None, 1));
    other_key.await.unwrap();
    no_key.await.unwrap();
    drop(cancelled);
    tokio::pin!(third);
    assert!(futures_util::FutureExt::now_or_never(third.as_mut()).is_none(), "waits for `first`");
    gate.add_permits(1);
    first.await.unwrap().unwrap();
    third.await.unwrap();
    // The key was freed: a new call runs at once.
    svc.call(msg("again", Some("k"), 1)).await.unwrap();
}

#[cfg(feature = "resilience")]
#[tokio::test(start_paused = true)]
async fn resilience_retry_and_timeout_stack_in_a_consumer() {
    use crate::resilience::{RetryConfig, RetryLayer, TimeoutLayer};
    let broker = MemoryBroker::default();
    let sub = broker.subscribe("t", "g", SubscribeOptions::default()).await.unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let flaky = service_fn(move |m: Message| {
        let n = counter.fetch_add(1, AtomicOrdering::SeqCst);
        let seen_tx = seen_tx.clone();
        async move {
            match n {
                // First call hangs: the timeout cuts it, the delivery is nacked.
                0 => std::future::pending().await,
                // Second delivery: fails once, the retry layer tries again.
                1 => Err::<(), BoxError>("transient".into()),
                _ => {
                    let _ = seen_tx.send(m.attempt);
                    Ok(())
                }
            }
        }
    });
    let retry = RetryLayer::from_config(RetryConfig::builder().max_attempts(3).backoff(
        Duration::from_millis(10),
        Duration::from_millis(50),
        2.0,
    ))
    .unwrap();
    let handler = ServiceBuilder::new()
        .layer(DeadLetterLayer::new(5))
        .layer(KeyedOrderingLayer::new())
        .layer(TimeoutLayer::new(Duration::from_secs(2)))
        .layer(retry)
        .service(flaky);
    let config = ConsumerConfig::default().nack_delay(Duration::from_millis(100));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(Consumer::new(sub, handler).config(config).run_until(async {
        let _ = stopped.await;
    }));
    broker.publish_one(OutgoingMessage::new("t", "x").key("k")).await.unwrap();
    assert_eq!(seen.recv().await, Some(2), "second delivery succeeds after an in-process retry");
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(calls.load(AtomicOrdering::SeqCst), 3);
    assert!(broker.is_empty("t", "g"), "acked");
}

#[cfg(feature = "store")]
#[tokio::test]
async fn sql_publish_in_tx_commits_or_rolls_back_with_the_caller() {
    let store = crate::store::Store::connect("sqlite::memory:").await.unwrap();
    let queue = SqlQueue::with_config(
        store.clone(),
        SqlQueueConfig::default().poll_interval(Duration::from_millis(10)),
    )
    .await
    .unwrap();
    let pool = store.as_sqlite().unwrap();
    sqlx::query("CREATE TABLE orders (id TEXT)").execute(pool).await.unwrap();
    let mut sub = queue.subscribe("orders", "g", SubscribeOptions::default()).await.unwrap();
    for (payload, commit) in [("rolled-back", false), ("committed", true)] {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO orders VALUES (?1)")
            .bind(payload)
            .execute(&mut *tx)
            .await
            .unwrap();
        queue.publish_in_tx(&mut tx, vec![OutgoingMessage::new("orders", payload)]).await.unwrap();
        if commit { tx.commit().await.unwrap() } else { tx.rollback().await.unwrap() }
    }
    let d = sub.next().await.unwrap().unwrap();
    assert_eq!(d.message().payload, "committed");
    d.ack().await.unwrap();
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT id FROM orders").fetch_all(pool).await.unwrap();
    assert_eq!(rows, vec!["committed".to_owned()]);
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM platform_queue").fetch_one(pool).await.unwrap();
    assert_eq!(left, 0, "the rolled-back message never existed; the committed one was acked");
}
