//! The SQL queue: a durable queue in a table, on SQLite or PostgreSQL.
//!
//! One row per message and consumer group. A consumer claims visible rows by setting a
//! lease and pushing `visible_ms` to the end of the visibility timeout: PostgreSQL with
//! `UPDATE … WHERE seq IN (SELECT … FOR UPDATE SKIP LOCKED)`, so competing consumers skip
//! each other's rows instead of waiting; SQLite with the same `UPDATE … RETURNING`, atomic
//! because SQLite runs one writer at a time. Ack deletes the row, nack makes it visible
//! again after the delay, dead-letter moves it to `<topic>.dead-letter` (same group).
//! Every settlement checks the lease, so a consumer whose visibility timeout expired
//! cannot ack a message another consumer now holds.
//!
//! Because rows are ordinary rows, [`SqlQueue::publish_in_tx`] enqueues inside a caller's
//! transaction: the message commits or rolls back with the caller's own writes (the
//! transactional outbox pattern).
//!
//! Consumers poll every `poll_interval` when idle; a publish through the same `SqlQueue`
//! wakes its local consumers at once. Time is the wall clock of the process that claims
//! or settles, in milliseconds: keep clocks synchronised (NTP) and visibility timeouts far
//! above the skew.
//!
//! ```
//! use platform_core::messaging::{OutgoingMessage, Publisher, SqlQueue, SubscribeOptions, Subscriber};
//! use platform_core::store::Store;
//! use futures_util::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect("sqlite::memory:").await?;
//! let queue = SqlQueue::new(store.clone()).await?; // runs the queue's migrations
//!
//! // Enqueue in the same transaction as a business write.
//! let pool = store.as_sqlite().expect("sqlite");
//! let mut tx = pool.begin().await?;
//! sqlx::query("CREATE TABLE orders (id INTEGER)").execute(&mut *tx).await?;
//! queue.publish_in_tx(&mut tx, vec![OutgoingMessage::new("orders", "o-1")]).await?;
//! tx.commit().await?;
//!
//! let mut sub = queue.subscribe("orders", "billing", SubscribeOptions::default()).await?;
//! let delivery = sub.next().await.expect("open")?;
//! assert_eq!(&delivery.message().payload[..], b"o-1");
//! delivery.ack().await?;
//! # Ok(()) }
//! ```

mod claim;
mod schema;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::Notify;

use super::backend::{check_name, check_subscription};
use super::{
    Backend, Capabilities, MessageId, MessagingError, Ordering, OutgoingMessage, Persistence,
    Publisher, SubscribeOptions, Subscriber, Subscription,
};
use crate::store::{Store, StoreError};

/// Settings of a [`SqlQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqlQueueConfig {
    /// How often an idle consumer looks for new rows (default 250ms).
    pub poll_interval: Duration,
}

impl Default for SqlQueueConfig {
    fn default() -> Self {
        Self { poll_interval: Duration::from_millis(250) }
    }
}

impl SqlQueueConfig {
    /// Sets the poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }
}

/// The SQL queue backend. Clones share one queue.
#[derive(Debug, Clone)]
pub struct SqlQueue {
    store: Store,
    config: SqlQueueConfig,
    /// Wakes this process's consumers after a local publish.
    published: Arc<Notify>,
}

/// A caller's open transaction to enqueue into: `&mut sqlx::Transaction` of either
/// backend converts into it.
#[derive(Debug)]
#[non_exhaustive]
pub enum QueueTx<'a, 'c> {
    /// A SQLite transaction.
    Sqlite(&'a mut Transaction<'c, Sqlite>),
    /// A PostgreSQL transaction.
    Postgres(&'a mut Transaction<'c, Postgres>),
}

impl<'a, 'c> From<&'a mut Transaction<'c, Sqlite>> for QueueTx<'a, 'c> {
    fn from(tx: &'a mut Transaction<'c, Sqlite>) -> Self {
        Self::Sqlite(tx)
    }
}

impl<'a, 'c> From<&'a mut Transaction<'c, Postgres>> for QueueTx<'a, 'c> {
    fn from(tx: &'a mut Transaction<'c, Postgres>) -> Self {
        Self::Postgres(tx)
    }
}

/// A row ready to insert.
struct NewRow {
    id: MessageId,
    topic: String,
    key: Option<String>,
    headers: String,
    payload: Vec<u8>,
    published_ms: i64,
    visible_ms: i64,
}

/// Binds a [`NewRow`] to an insert statement in parameter order.
macro_rules! bind_row {
    ($q:expr, $r:expr) => {
        $q.bind($r.id.as_str())
            .bind($r.topic.as_str())
            .bind($r.key.as_deref())
            .bind($r.headers.as_str())
            .bind($r.payload.as_slice())
            .bind($r.published_ms)
            .bind($r.visible_ms)
    };
}

const SQLITE_CAPS: Capabilities = caps("sql-queue/sqlite");
const PG_CAPS: Capabilities = caps("sql-queue/postgres");

const fn caps(backend: &'static str) -> Capabilities {
    Capabilities {
        backend,
        ordering: Ordering::PerTopic,
        persistence: Persistence::Durable,
        consumer_groups: true,
        delayed_redelivery: true,
        visibility_timeout: true,
        dead_letter: true,
    }
}

impl SqlQueue {
    /// A queue on `store` with default settings; applies the queue's migrations.
    pub async fn new(store: Store) -> Result<Self, StoreError> {
        Self::with_config(store, SqlQueueConfig::default()).await
    }

    /// A queue on `store` with `config`; applies the queue's migrations.
    pub async fn with_config(store: Store, config: SqlQueueConfig) -> Result<Self, StoreError> {
        store.migrate(&schema::MIGRATIONS).await?;
        Ok(Self { store, config, published: Arc::new(Notify::new()) })
    }

    /// The store the queue lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Enqueues `messages` inside the caller's open transaction: they become visible to
    /// consumers when, and only if, the caller commits. The transaction must be on the
    /// same database as the queue's store.
    pub async fn publish_in_tx<'a, 'c>(
        &self,
        tx: impl Into<QueueTx<'a, 'c>>,
        messages: Vec<OutgoingMessage>,
    ) -> Result<Vec<MessageId>, MessagingError>
    where
        'c: 'a,
    {
        let rows = prepare(messages)?;
        let ids = rows.iter().map(|r| r.id.clone()).collect();
        match tx.into() {
            QueueTx::Sqlite(tx) => {
                for r in &rows {
                    bind_row!(sqlx::query(schema::SQLITE_INSERT), r)
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?;
                }
            }
            QueueTx::Postgres(tx) => {
                for r in &rows {
                    bind_row!(sqlx::query(schema::PG_INSERT), r)
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?;
                }
            }
        }
        Ok(ids)
    }

    fn backend_name(&self) -> &'static str {
        self.capabilities().backend
    }
}

fn db(e: sqlx::Error) -> MessagingError {
    MessagingError::backend("sql-queue", e)
}

fn prepare(messages: Vec<OutgoingMessage>) -> Result<Vec<NewRow>, MessagingError> {
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        check_name("topic", &m.topic)?;
        let (msg, delay) = m.into_message();
        let published_ms = to_ms(msg.timestamp);
        let delay_ms = delay.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        rows.push(NewRow {
            headers: serde_json::to_string(&msg.headers)
                .map_err(|e| MessagingError::Invalid(e.to_string()))?,
            id: msg.id,
            topic: msg.topic,
            key: msg.key,
            payload: msg.payload.to_vec(),
            published_ms,
            visible_ms: published_ms.saturating_add(delay_ms),
        });
    }
    Ok(rows)
}

fn to_ms(t: std::time::SystemTime) -> i64 {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Backend for SqlQueue {
    fn capabilities(&self) -> Capabilities {
        match self.store {
            Store::Sqlite(_) => SQLITE_CAPS,
            Store::Postgres(_) => PG_CAPS,
        }
    }
}

impl Publisher for SqlQueue {
    fn publish(
        &self,
        messages: Vec<OutgoingMessage>,
    ) -> BoxFuture<'_, Result<Vec<MessageId>, MessagingError>> {
        Box::pin(async move {
            let ids = match &self.store {
                Store::Sqlite(pool) => {
                    let mut tx = pool.begin().await.map_err(db)?;
                    let ids = self.publish_in_tx(&mut tx, messages).await?;
                    tx.commit().await.map_err(db)?;
                    ids
                }
                Store::Postgres(pool) => {
                    let mut tx = pool.begin().await.map_err(db)?;
                    let ids = self.publish_in_tx(&mut tx, messages).await?;
                    tx.commit().await.map_err(db)?;
                    ids
                }
            };
            self.published.notify_waiters();
            Ok(ids)
        })
    }
}

impl Subscriber for SqlQueue {
    fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> BoxFuture<'_, Result<Subscription, MessagingError>> {
        let res = check_subscription(topic, group);
        let (topic, group) = (topic.to_owned(), group.to_owned());
        Box::pin(async move {
            res?;
            let registered = match &self.store {
                Store::Sqlite(p) => sqlx::query(schema::SQLITE_REGISTER)
                    .bind(&topic)
                    .bind(&group)
                    .execute(p)
                    .await
                    .map(drop),
                Store::Postgres(p) => sqlx::query(schema::PG_REGISTER)
                    .bind(&topic)
                    .bind(&group)
                    .execute(p)
                    .await
                    .map(drop),
            };
            registered.map_err(|e| MessagingError::backend(self.backend_name(), e))?;
            Ok(claim::subscription(self.clone(), topic, group, options))
        })
    }
}
