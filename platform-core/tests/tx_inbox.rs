//! The inbox records processed ids in the handler's transaction: duplicates are skipped,
//! a failed handler leaves no record and no effect.
#![cfg(all(feature = "tx", feature = "test-util"))]

mod tx_support;

use std::sync::Arc;

use platform_core::messaging::{
    Consumer, MemoryBroker, OutgoingMessage, Publisher, SubscribeOptions, Subscriber,
};
use platform_core::store::{Migration, Migrations, Store};
use platform_core::tx::{Handled, Inbox, StoreTx, handler_fn};

const LEDGER: Migrations = Migrations::new(
    "test.ledger",
    &[Migration {
        version: 1,
        description: "ledger",
        sqlite: "CREATE TABLE ledger (message_id TEXT NOT NULL, amount INTEGER NOT NULL)",
        postgres: "CREATE TABLE ledger (message_id TEXT NOT NULL, amount BIGINT NOT NULL)",
    }],
);

fn message(id: &str) -> platform_core::messaging::Message {
    OutgoingMessage::new("payments", "5").id(id).into_message().0
}

async fn ledger_rows(store: &Store) -> i64 {
    let sql = "SELECT count(*) FROM ledger";
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        _ => unreachable!(),
    }
}

/// Books the payment; fails when the payload is `fail`.
fn book() -> impl platform_core::tx::InboxHandler {
    handler_fn(|tx: &mut StoreTx, msg| {
        Box::pin(async move {
            let sql = "INSERT INTO ledger (message_id, amount) VALUES ($1, 5)";
            let id = msg.id.as_str();
            match tx {
                StoreTx::Sqlite(t) => sqlx::query(sql).bind(id).execute(&mut **t).await.map(drop),
                StoreTx::Postgres(t) => sqlx::query(sql).bind(id).execute(&mut **t).await.map(drop),
                _ => unreachable!(),
            }?;
            if &msg.payload[..] == b"fail" {
                return Err("handler failed after writing".into());
            }
            Ok(())
        })
    })
}

async fn dedup_in_the_same_transaction(store: Store) {
    store.migrate(&LEDGER).await.unwrap();
    let inbox = Inbox::new(store.clone(), "billing").await.unwrap();
    let handler = book();
    let m = message("m-1");
    assert_eq!(inbox.handle(&m, &handler).await.unwrap(), Handled::Processed);
    assert_eq!(inbox.handle(&m, &handler).await.unwrap(), Handled::Duplicate);
    assert_eq!(ledger_rows(&store).await, 1);
    assert!(inbox.is_processed(&m.id).await.unwrap());
    // Another consumer name has its own records.
    let other = Inbox::new(store.clone(), "audit").await.unwrap();
    assert_eq!(other.handle(&m, &handler).await.unwrap(), Handled::Processed);
    assert_eq!(ledger_rows(&store).await, 2);

    // A failing handler rolls back its write and the record: a redelivery runs again.
    let mut bad = OutgoingMessage::new("payments", "fail").id("m-2").into_message().0;
    assert!(inbox.handle(&bad, &handler).await.is_err());
    assert_eq!(ledger_rows(&store).await, 2);
    assert!(!inbox.is_processed(&bad.id).await.unwrap());
    bad.payload = "5".into();
    assert_eq!(inbox.handle(&bad, &handler).await.unwrap(), Handled::Processed);
    assert_eq!(ledger_rows(&store).await, 3);
}

#[tokio::test]
async fn sqlite_inbox_dedups_in_the_same_transaction() {
    let (store, _dir) = tx_support::sqlite_file().await;
    dedup_in_the_same_transaction(store).await;
}

#[tokio::test]
async fn postgres_inbox_dedups_in_the_same_transaction() {
    let Some((store, schema)) = tx_support::postgres("tx_inbox_dedup").await else { return };
    dedup_in_the_same_transaction(store.clone()).await;
    store.close().await;
    schema.cleanup().await.unwrap();
}

/// Concurrent deliveries of one message: exactly one effect (PostgreSQL blocks the
/// second on the first's primary-key entry, then skips it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_duplicates_apply_once() {
    let Some((store, schema)) = tx_support::postgres("tx_inbox_race").await else { return };
    store.migrate(&LEDGER).await.unwrap();
    let inbox = Inbox::new(store.clone(), "billing").await.unwrap();
    let handler = Arc::new(book());
    let runs = (0..8).map(|_| {
        let (inbox, handler) = (inbox.clone(), handler.clone());
        tokio::spawn(async move { inbox.handle(&message("same"), &*handler).await.unwrap() })
    });
    let outcomes = futures_util::future::join_all(runs).await;
    let processed = outcomes.into_iter().filter(|o| *o.as_ref().unwrap() == Handled::Processed);
    assert_eq!(processed.count(), 1);
    assert_eq!(ledger_rows(&store).await, 1);
    store.close().await;
    schema.cleanup().await.unwrap();
}

/// As a Consumer handler: a message published twice (same id, as an outbox relay
/// re-publishes) has one effect and both deliveries are acked.
#[tokio::test]
async fn inbox_service_under_a_consumer_acks_duplicates() {
    let (store, _dir) = tx_support::sqlite_file().await;
    store.migrate(&LEDGER).await.unwrap();
    let inbox = Inbox::new(store.clone(), "billing").await.unwrap();
    let broker = MemoryBroker::default();
    let sub = broker.subscribe("payments", "billing", SubscribeOptions::default()).await.unwrap();
    let twice = OutgoingMessage::new("payments", "5").id("dup");
    broker.publish(vec![twice.clone(), twice]).await.unwrap();
    let consumer = Consumer::new(sub, inbox.service(book()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(consumer.run_until(async {
        let _ = stopped.await;
    }));
    while !broker.is_empty("payments", "billing") {
        tokio::task::yield_now().await;
    }
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    assert_eq!(ledger_rows(&store).await, 1);
}
