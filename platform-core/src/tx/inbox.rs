//! The inbox: an idempotent consumer that records processed message ids in the same
//! transaction as the handler's effects.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tower_service::Service;

use super::clock::ms_of;
use super::store_tx::{on_pool, on_tx};
use super::{Clock, StoreTx, TxError};
use crate::BoxError;
use crate::messaging::{Message, MessageId};
use crate::store::{Migration, Migrations, Store};

const MIGRATIONS: Migrations = Migrations::new(
    "tx.inbox",
    &[Migration {
        version: 1,
        description: "inbox table",
        sqlite: "CREATE TABLE platform_inbox (
                consumer TEXT NOT NULL, message_id TEXT NOT NULL,
                processed_ms INTEGER NOT NULL, PRIMARY KEY (consumer, message_id));
            CREATE INDEX platform_inbox_age ON platform_inbox (processed_ms);",
        postgres: "CREATE TABLE platform_inbox (
                consumer TEXT NOT NULL, message_id TEXT NOT NULL,
                processed_ms BIGINT NOT NULL, PRIMARY KEY (consumer, message_id));
            CREATE INDEX platform_inbox_age ON platform_inbox (processed_ms);",
    }],
);

/// Parameters: consumer, message id, now_ms.
const MARK: &str = "INSERT INTO platform_inbox (consumer, message_id, processed_ms)
    VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
const SEEN: &str = "SELECT count(*) FROM platform_inbox WHERE consumer = $1 AND message_id = $2";
const PURGE: &str = "DELETE FROM platform_inbox WHERE consumer = $1 AND processed_ms < $2";

/// What [`Inbox::handle`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// The handler ran and its transaction committed with the message's id.
    Processed,
    /// The id was already recorded: the handler was not called.
    Duplicate,
}

/// A message handler whose database writes commit together with the inbox record.
///
/// Write closures with [`handler_fn`].
pub trait InboxHandler: Send + Sync + 'static {
    /// Handles `msg`, writing through `tx`. An error rolls everything back (the message
    /// is not recorded, so a redelivery runs the handler again).
    fn handle<'a>(
        &'a self,
        tx: &'a mut StoreTx,
        msg: &'a Message,
    ) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// An [`InboxHandler`] from a closure returning a boxed future (see [`handler_fn`]).
#[derive(Clone, Copy)]
pub struct HandlerFn<F>(F);

impl<F> fmt::Debug for HandlerFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandlerFn")
    }
}

/// Wraps `f(tx, msg) -> Box::pin(async move { … })` as an [`InboxHandler`].
pub fn handler_fn<F>(f: F) -> HandlerFn<F>
where
    F: for<'a> Fn(&'a mut StoreTx, &'a Message) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync
        + 'static,
{
    HandlerFn(f)
}

impl<F> InboxHandler for HandlerFn<F>
where
    F: for<'a> Fn(&'a mut StoreTx, &'a Message) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync
        + 'static,
{
    fn handle<'a>(
        &'a self,
        tx: &'a mut StoreTx,
        msg: &'a Message,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        (self.0)(tx, msg)
    }
}

/// Processed-message records of one consumer (a name shared by every replica of it).
/// Clones share the inbox.
#[derive(Debug, Clone)]
pub struct Inbox {
    store: Store,
    consumer: Arc<str>,
}

impl Inbox {
    /// The inbox of `consumer` on `store`; applies its migrations (module `tx.inbox`).
    pub async fn new(store: Store, consumer: impl Into<String>) -> Result<Self, TxError> {
        let consumer = consumer.into();
        if consumer.is_empty() {
            return Err(TxError::Invalid("inbox consumer name must not be empty".into()));
        }
        store.migrate(&MIGRATIONS).await?;
        Ok(Self { store, consumer: consumer.into() })
    }

    /// The consumer name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Runs `handler` for `msg` in one transaction that also records `msg.id`; when the
    /// id is already recorded, commits nothing and returns [`Handled::Duplicate`].
    ///
    /// The record is written first: a concurrent delivery of the same message waits on
    /// it (PostgreSQL: the primary key; SQLite: the write lock) and, once this one
    /// commits, finds it and is skipped; if this one rolls back, the other runs.
    pub async fn handle<H: InboxHandler + ?Sized>(
        &self,
        msg: &Message,
        handler: &H,
    ) -> Result<Handled, BoxError> {
        let mut tx = StoreTx::begin(&self.store).await?;
        let now = Clock::system().now_ms();
        let marked = on_tx!(&mut tx, |c| sqlx::query(MARK)
            .bind(&*self.consumer)
            .bind(msg.id.as_str())
            .bind(now)
            .execute(c)
            .await?
            .rows_affected());
        if marked == 0 {
            tx.rollback().await?;
            tracing::debug!(target: "platform::tx::inbox", id = %msg.id, consumer = %self.consumer, "duplicate skipped");
            return Ok(Handled::Duplicate);
        }
        match handler.handle(&mut tx, msg).await {
            Ok(()) => {
                tx.commit().await?;
                Ok(Handled::Processed)
            }
            Err(e) => {
                // Dropping would roll back too; an explicit rollback returns the
                // connection clean at once.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Whether `id` was processed by this consumer.
    pub async fn is_processed(&self, id: &MessageId) -> Result<bool, TxError> {
        let n: i64 = on_pool!(&self.store, |p| sqlx::query_scalar(SEEN)
            .bind(&*self.consumer)
            .bind(id.as_str())
            .fetch_one(p)
            .await?);
        Ok(n > 0)
    }

    /// Forgets ids processed more than `age` ago; returns how many. Keep `age` well
    /// above the longest time a duplicate can still arrive (the publisher's retry
    /// horizon plus the broker's redelivery horizon).
    pub async fn purge_older_than(&self, age: Duration) -> Result<u64, TxError> {
        let cutoff = Clock::system().now_ms().saturating_sub(ms_of(age));
        Ok(on_pool!(&self.store, |p| sqlx::query(PURGE)
            .bind(&*self.consumer)
            .bind(cutoff)
            .execute(p)
            .await?
            .rows_affected()))
    }

    /// A `tower::Service<Message>` running `handler` through this inbox, ready for a
    /// [`Consumer`](crate::messaging::Consumer): `Ok` for processed and duplicate
    /// messages (both are acked), the handler's error otherwise (nacked).
    pub fn service<H: InboxHandler>(&self, handler: H) -> InboxService<H> {
        InboxService { inbox: self.clone(), handler: Arc::new(handler) }
    }
}

/// The service built by [`Inbox::service`]. Clones share the inbox and the handler.
#[derive(Debug)]
pub struct InboxService<H> {
    inbox: Inbox,
    handler: Arc<H>,
}

impl<H> Clone for InboxService<H> {
    fn clone(&self) -> Self {
        Self { inbox: self.inbox.clone(), handler: self.handler.clone() }
    }
}

impl<H> InboxService<H> {
    /// The inbox.
    pub fn inbox(&self) -> &Inbox {
        &self.inbox
    }
    /// The handler.
    pub fn get_ref(&self) -> &H {
        &self.handler
    }
}

impl<H: InboxHandler> Service<Message> for InboxService<H> {
    type Response = ();
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<(), BoxError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, msg: Message) -> Self::Future {
        let (inbox, handler) = (self.inbox.clone(), self.handler.clone());
        Box::pin(async move { inbox.handle(&msg, &*handler).await.map(drop) })
    }
}
