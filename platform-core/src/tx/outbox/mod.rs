//! The transactional outbox: [`Outbox::enqueue`] inside the caller's transaction, and a
//! [`Relay`] that publishes the committed rows.

pub(crate) mod relay;
pub(crate) mod schema;

use std::sync::Arc;

use tokio::sync::Notify;

pub use relay::{Relay, RelayConfig};

use super::TxError;
use super::clock::ms_of;
use crate::messaging::{MessageId, OutgoingMessage, Publisher, QueueTx};
use crate::store::Store;

/// The outbox table of a [`Store`]. Clones share one outbox.
///
/// [`enqueue`](Self::enqueue) writes messages into the caller's own transaction, so they
/// exist exactly when the business writes beside them commit. A [`Relay`] (from
/// [`relay`](Self::relay)) publishes committed rows to any [`Publisher`], at least once
/// and in order per key; see the [module docs](super) for the guarantees.
#[derive(Debug, Clone)]
pub struct Outbox {
    store: Store,
    /// Wakes this process's relays (see [`wake`](Self::wake)).
    wake: Arc<Notify>,
}

/// One enqueued row, ready to insert.
struct Row {
    id: MessageId,
    topic: String,
    key: Option<String>,
    headers: String,
    payload: Vec<u8>,
    delay_ms: Option<i64>,
}

impl Outbox {
    /// The outbox of `store`; applies its migrations (module `tx.outbox`).
    pub async fn new(store: Store) -> Result<Self, TxError> {
        store.migrate(&schema::MIGRATIONS).await?;
        Ok(Self { store, wake: Arc::new(Notify::new()) })
    }

    /// The store the outbox lives in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Writes `messages` into the caller's open transaction (`&mut sqlx::Transaction`
    /// of either backend, or `&mut` [`StoreTx`](super::StoreTx)) and returns their ids.
    /// They are published only if the caller commits; ids are fixed here, so a message
    /// the relay publishes twice carries the same id both times (an [`Inbox`](super::Inbox)
    /// downstream drops the duplicate).
    ///
    /// On PostgreSQL the transaction also notifies the relays' `LISTEN` channel, which
    /// PostgreSQL delivers at commit. On SQLite relays poll; call [`wake`](Self::wake)
    /// after committing to wake this process's relays at once.
    pub async fn enqueue<'a, 'c>(
        &self,
        tx: impl Into<QueueTx<'a, 'c>>,
        messages: Vec<OutgoingMessage>,
    ) -> Result<Vec<MessageId>, TxError>
    where
        'c: 'a,
    {
        let rows = prepare(messages)?;
        let ids = rows.iter().map(|r| r.id.clone()).collect();
        let now = super::Clock::system().now_ms();
        macro_rules! insert_all {
            ($conn:expr) => {
                for r in &rows {
                    sqlx::query(schema::INSERT)
                        .bind(r.id.as_str())
                        .bind(r.topic.as_str())
                        .bind(r.key.as_deref())
                        .bind(r.headers.as_str())
                        .bind(r.payload.as_slice())
                        .bind(r.delay_ms)
                        .bind(now)
                        .execute(&mut **$conn)
                        .await?;
                }
            };
        }
        match tx.into() {
            QueueTx::Sqlite(tx) => insert_all!(tx),
            QueueTx::Postgres(tx) => {
                insert_all!(tx);
                if !rows.is_empty() {
                    sqlx::query(schema::NOTIFY).execute(&mut **tx).await?;
                }
            }
        }
        Ok(ids)
    }

    /// Wakes this process's relays now instead of at their next poll. Useful on SQLite
    /// after committing a transaction that enqueued; PostgreSQL relays are woken by
    /// `NOTIFY` from any process.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// How many messages are waiting (not yet confirmed published).
    pub async fn pending(&self) -> Result<u64, TxError> {
        let n: i64 =
            on_pool!(&self.store, |p| sqlx::query_scalar(schema::PENDING).fetch_one(p).await?);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// A relay publishing this outbox's messages to `publisher`, with default settings.
    pub fn relay(&self, publisher: Arc<dyn Publisher>) -> Relay {
        Relay::new(self.clone(), publisher, RelayConfig::default())
    }
}

use super::store_tx::on_pool;

fn prepare(messages: Vec<OutgoingMessage>) -> Result<Vec<Row>, TxError> {
    messages
        .into_iter()
        .map(|m| {
            if m.topic.is_empty() || m.topic.len() > 200 || m.topic.chars().any(char::is_control) {
                return Err(TxError::Invalid(format!(
                    "topic name `{}` must be 1 to 200 printable characters",
                    m.topic
                )));
            }
            Ok(Row {
                id: m.id.unwrap_or_else(MessageId::generate),
                headers: serde_json::to_string(&m.headers)?,
                delay_ms: m.delay.map(ms_of),
                topic: m.topic,
                key: m.key,
                payload: m.payload.to_vec(),
            })
        })
        .collect()
}
