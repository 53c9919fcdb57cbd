//! Distributed transactions: the transactional outbox and its relay, the inbox
//! (idempotent consumer) and sagas with a persisted step log. Everything runs on SQLite
//! and PostgreSQL ([`Store`](crate::store::Store)); each part applies its own migrations.
//!
//! # Outbox
//!
//! [`Outbox::enqueue`] writes messages into the caller's own transaction: they exist
//! exactly when the business rows beside them commit. A [`Relay`] publishes committed
//! messages to any [`Publisher`](crate::messaging::Publisher):
//!
//! * **at least once** — a row is deleted only after `publish` returned `Ok`; a relay
//!   that crashes between the two leaves the row to be published again after its lease;
//! * **in order per key** — only the oldest unsent message of a key can be claimed, so a
//!   key's next message is not published before the previous one was confirmed, even
//!   with several relays; messages without a key have no order;
//! * **several relays** — PostgreSQL claims with `FOR UPDATE SKIP LOCKED`, SQLite with one
//!   atomic `UPDATE … RETURNING` (one writer at a time); a claim is a lease, and the
//!   publish is cut off at 80% of it;
//! * **woken by `LISTEN/NOTIFY`** on PostgreSQL (the enqueue notifies at commit), polling
//!   every `poll_interval` as the fallback; on SQLite by polling or [`Outbox::wake`].
//!
//! # Inbox
//!
//! [`Inbox::handle`] records a message's id in the same transaction as the handler's
//! writes; a message whose id is already recorded is skipped. [`Inbox::service`] makes it
//! a handler for a [`Consumer`](crate::messaging::Consumer). Outbox ids are fixed at
//! enqueue, so the relay's duplicates are dropped here.
//!
//! # Sagas
//!
//! See [`saga`]: steps with compensations, retries, timeouts and idempotency keys; a
//! step log that lets any coordinator resume a saga after a crash; leases that keep two
//! coordinators from running one step at the same time.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use platform_core::messaging::{MemoryBroker, OutgoingMessage, SubscribeOptions, Subscriber};
//! use platform_core::store::Store;
//! use platform_core::tx::Outbox;
//! use futures_util::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Store::connect("sqlite::memory:").await?;
//! let outbox = Outbox::new(store.clone()).await?;
//! let pool = store.as_sqlite().expect("sqlite");
//! sqlx::query("CREATE TABLE orders (id TEXT PRIMARY KEY)").execute(pool).await?;
//!
//! // The order row and its event commit together.
//! let mut tx = pool.begin().await?;
//! sqlx::query("INSERT INTO orders (id) VALUES ('o-1')").execute(&mut *tx).await?;
//! outbox.enqueue(&mut tx, vec![OutgoingMessage::new("orders", "created o-1").key("o-1")]).await?;
//! tx.commit().await?;
//!
//! let broker = MemoryBroker::default();
//! let mut sub = broker.subscribe("orders", "billing", SubscribeOptions::default()).await?;
//! let relay = outbox.relay(Arc::new(broker.clone()));
//! assert_eq!(relay.relay_once().await?, 1);
//! assert_eq!(outbox.pending().await?, 0);
//! let delivery = sub.next().await.expect("open")?;
//! assert_eq!(&delivery.message().payload[..], b"created o-1");
//! # Ok(()) }
//! ```

mod clock;
mod error;
mod inbox;
mod outbox;
pub mod saga;
mod store_tx;

#[cfg(test)]
mod tests;

pub use clock::Clock;
pub use error::TxError;
pub use inbox::{Handled, HandlerFn, Inbox, InboxHandler, InboxService, handler_fn};
pub use outbox::{Outbox, Relay, RelayConfig};
pub use saga::{
    Coordinator, CoordinatorConfig, RetryPolicy, Saga, SagaId, SagaState, SagaStatus, Step,
    StepContext,
};
pub use store_tx::StoreTx;
