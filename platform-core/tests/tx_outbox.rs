//! The transactional outbox and its relay, on SQLite and a real PostgreSQL.
#![cfg(all(feature = "tx", feature = "test-util"))]

mod tx_support;

use std::sync::Arc;
use std::time::Duration;

use platform_core::messaging::OutgoingMessage;
use platform_core::store::{Migration, Migrations, Store};
use platform_core::tx::{Clock, Outbox, RelayConfig, StoreTx};
use tokio::sync::Semaphore;
use tx_support::{Recorder, postgres, sqlite_file};

const ORDERS: Migrations = Migrations::new(
    "test.orders",
    &[Migration {
        version: 1,
        description: "orders",
        sqlite: "CREATE TABLE orders (id TEXT PRIMARY KEY)",
        postgres: "CREATE TABLE orders (id TEXT PRIMARY KEY)",
    }],
);

/// Inserts an order and enqueues its event in one transaction, then commits or not.
async fn place(store: &Store, outbox: &Outbox, id: &str, commit: bool) {
    let mut tx = StoreTx::begin(store).await.unwrap();
    match &mut tx {
        StoreTx::Sqlite(t) => sqlx::query("INSERT INTO orders (id) VALUES ($1)")
            .bind(id)
            .execute(&mut **t)
            .await
            .map(drop),
        StoreTx::Postgres(t) => sqlx::query("INSERT INTO orders (id) VALUES ($1)")
            .bind(id)
            .execute(&mut **t)
            .await
            .map(drop),
        _ => unreachable!(),
    }
    .unwrap();
    outbox.enqueue(&mut tx, vec![OutgoingMessage::new("orders", id.to_owned())]).await.unwrap();
    if commit { tx.commit().await.unwrap() } else { tx.rollback().await.unwrap() }
}

async fn orders(store: &Store) -> i64 {
    let sql = "SELECT count(*) FROM orders";
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        _ => unreachable!(),
    }
}

async fn commit_or_roll_back_together(store: Store) {
    store.migrate(&ORDERS).await.unwrap();
    let outbox = Outbox::new(store.clone()).await.unwrap();
    place(&store, &outbox, "kept", true).await;
    place(&store, &outbox, "dropped", false).await;
    assert_eq!(orders(&store).await, 1);
    assert_eq!(outbox.pending().await.unwrap(), 1, "the rolled-back message is gone too");
    let rec = Recorder::default();
    let relay = outbox.relay(Arc::new(rec.clone()));
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    assert_eq!(relay.relay_once().await.unwrap(), 0);
    assert_eq!(rec.payloads(), ["kept"]);
    assert_eq!(outbox.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn sqlite_business_row_and_message_commit_or_roll_back_together() {
    let (store, _dir) = sqlite_file().await;
    commit_or_roll_back_together(store).await;
}

#[tokio::test]
async fn postgres_business_row_and_message_commit_or_roll_back_together() {
    let Some((store, schema)) = postgres("tx_outbox_atomic").await else { return };
    commit_or_roll_back_together(store.clone()).await;
    store.close().await;
    schema.cleanup().await.unwrap();
}

async fn enqueue_keys(outbox: &Outbox, keys: &[&str], per_key: usize) {
    let store = outbox.store().clone();
    for i in 0..per_key {
        let mut tx = StoreTx::begin(&store).await.unwrap();
        let msgs = keys
            .iter()
            .map(|k| OutgoingMessage::new("events", format!("{k}-{i:03}")).key(*k))
            .collect();
        outbox.enqueue(&mut tx, msgs).await.unwrap();
        tx.commit().await.unwrap();
    }
}

fn assert_in_order(rec: &Recorder, keys: &[&str], per_key: usize) {
    for k in keys {
        let got = rec.of_key(k);
        let want: Vec<String> = (0..per_key).map(|i| format!("{k}-{i:03}")).collect();
        assert_eq!(got, want, "key {k} published out of order or not exactly once");
    }
}

/// Two relays drain one outbox concurrently: each key's messages come out in order.
async fn two_relays_keep_key_order(store: Store) {
    let keys = ["a", "b", "c", "d"];
    let outbox = Outbox::new(store).await.unwrap();
    enqueue_keys(&outbox, &keys, 20).await;
    let rec = Recorder::default();
    let cfg = RelayConfig::default().batch_size(3).poll_interval(Duration::from_millis(20));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let relay = outbox.relay(Arc::new(rec.clone())).config(cfg);
        let mut stopped = stopped.clone();
        runs.push(tokio::spawn(relay.run_until(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })));
    }
    while outbox.pending().await.unwrap() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.send(true).unwrap();
    for r in runs {
        r.await.unwrap();
    }
    assert_in_order(&rec, &keys, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_relays_keep_key_order() {
    let (store, _dir) = sqlite_file().await;
    two_relays_keep_key_order(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_relays_keep_key_order() {
    let Some((store, schema)) = postgres("tx_outbox_order").await else { return };
    two_relays_keep_key_order(store.clone()).await;
    store.close().await;
    schema.cleanup().await.unwrap();
}

/// While one relay holds key `a`'s oldest message unconfirmed, another relay publishes
/// other keys but not `a`'s next message.
async fn a_held_key_blocks_only_itself(store: Store) {
    let outbox = Outbox::new(store.clone()).await.unwrap();
    enqueue_keys(&outbox, &["a"], 2).await;
    enqueue_keys(&outbox, &["b"], 1).await;
    let gate = Arc::new(Semaphore::new(0));
    let slow = Recorder::gated(gate.clone());
    let relay = outbox.relay(Arc::new(slow.clone())).config(RelayConfig::default().batch_size(1));
    let held = tokio::spawn(async move { relay.relay_once().await });
    // Wait until the slow relay has claimed a-000 and is stuck publishing it.
    while leased(&store).await == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let fast = Recorder::default();
    let other = outbox.relay(Arc::new(fast.clone()));
    assert_eq!(other.relay_once().await.unwrap(), 1);
    assert_eq!(fast.payloads(), ["b-000"], "a-001 waits for a-000");
    gate.add_permits(1);
    assert_eq!(held.await.unwrap().unwrap(), 1);
    assert_eq!(slow.payloads(), ["a-000"]);
    assert_eq!(other.relay_once().await.unwrap(), 1);
    assert_eq!(fast.of_key("a"), ["a-001"]);
}

async fn leased(store: &Store) -> i64 {
    let sql = "SELECT count(*) FROM platform_outbox WHERE lease IS NOT NULL";
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_held_key_blocks_only_itself() {
    let (store, _dir) = sqlite_file().await;
    a_held_key_blocks_only_itself(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_held_key_blocks_only_itself() {
    let Some((store, schema)) = postgres("tx_outbox_held").await else { return };
    a_held_key_blocks_only_itself(store.clone()).await;
    store.close().await;
    schema.cleanup().await.unwrap();
}

/// A relay that dies between publishing and marking sent: after its lease another relay
/// publishes the message again, with the same id (at-least-once).
#[tokio::test]
async fn a_crash_after_publish_republishes_with_the_same_id() {
    let (store, _dir) = sqlite_file().await;
    let outbox = Outbox::new(store).await.unwrap();
    enqueue_keys(&outbox, &["k"], 2).await;
    let clock = Clock::manual(Clock::system().now_ms() + 1);
    let gate = Arc::new(Semaphore::new(0));
    let dying = Recorder::gated(gate.clone());
    let cfg = RelayConfig::default().batch_size(1).lease(Duration::from_secs(10));
    let relay = outbox.relay(Arc::new(dying.clone())).config(cfg).clock(clock.clone());
    // The publish is stuck behind the gate; dropping the future is the crash.
    let crashed = tokio::time::timeout(Duration::from_millis(50), relay.relay_once()).await;
    assert!(crashed.is_err());
    let rec = Recorder::default();
    let next = outbox.relay(Arc::new(rec.clone())).config(cfg).clock(clock.clone());
    assert_eq!(next.relay_once().await.unwrap(), 0, "leased: neither k-000 nor k-001 is due");
    clock.advance(Duration::from_secs(11));
    assert_eq!(next.relay_once().await.unwrap(), 1);
    assert_eq!(next.relay_once().await.unwrap(), 1);
    assert_eq!(rec.of_key("k"), ["k-000", "k-001"]);
    assert_eq!(outbox.pending().await.unwrap(), 0);
}

#[tokio::test]
async fn a_failed_publish_is_retried_after_the_delay() {
    let (store, _dir) = sqlite_file().await;
    let outbox = Outbox::new(store).await.unwrap();
    enqueue_keys(&outbox, &["k"], 1).await;
    let clock = Clock::manual(Clock::system().now_ms() + 1);
    let rec = Recorder::default();
    rec.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    let cfg = RelayConfig::default().retry_delay(Duration::from_secs(5));
    let relay = outbox.relay(Arc::new(rec.clone())).config(cfg).clock(clock.clone());
    let err = relay.relay_once().await.unwrap_err();
    assert!(err.to_string().contains("recorder"), "{err}");
    rec.failing.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(relay.relay_once().await.unwrap(), 0, "waits for the retry delay");
    clock.advance(Duration::from_secs(5));
    assert_eq!(relay.relay_once().await.unwrap(), 1);
    assert_eq!(rec.payloads(), ["k-000"]);
}

/// On PostgreSQL an idle relay is woken by the commit's NOTIFY, not by its poll (set to
/// an hour here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_relay_is_woken_by_notify() {
    let Some((store, schema)) = postgres("tx_outbox_notify").await else { return };
    let outbox = Outbox::new(store.clone()).await.unwrap();
    let rec = Recorder::default();
    let cfg = RelayConfig::default().poll_interval(Duration::from_secs(3600));
    let relay = outbox.relay(Arc::new(rec.clone())).config(cfg);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(relay.run_until(async {
        let _ = stopped.await;
    }));
    // Give the relay time to run its first (empty) round and LISTEN.
    tokio::time::sleep(Duration::from_millis(300)).await;
    enqueue_keys(&outbox, &["n"], 1).await;
    tokio::time::timeout(Duration::from_secs(20), async {
        while outbox.pending().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("woken by NOTIFY long before the hour-long poll");
    assert_eq!(rec.payloads(), ["n-000"]);
    stop.send(()).unwrap();
    run.await.unwrap();
    store.close().await;
    schema.cleanup().await.unwrap();
}
