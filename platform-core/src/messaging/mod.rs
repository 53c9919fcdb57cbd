//! Messaging: publishers, consumer groups, deliveries with ack / nack-with-delay /
//! dead-letter, handler layers, and backends that declare what they guarantee.
//!
//! * [`Message`] / [`OutgoingMessage`] — id, topic, key, headers, payload, timestamp,
//!   attempt count.
//! * [`Publisher`] (batched `publish`) and [`Subscriber`] (`subscribe(topic, group)` → a
//!   [`Subscription`] stream of [`Delivery`]). Every backend is at-least-once: an
//!   unsettled delivery is redelivered after the visibility timeout.
//! * [`Capabilities`] per backend and [`Requirements`] per application, checked at
//!   start-up with [`Requirements::check`] → a [`CapabilityMismatch`] naming what is
//!   missing.
//! * Handlers are `tower::Service<Message, Response = ()>`; [`Consumer`] drives one over
//!   a subscription. [`layer`] has per-key ordering, dead-lettering after N attempts and
//!   dedup; retry, timeout and concurrency come from [`crate::resilience`].
//! * Backends: [`MemoryBroker`] (embedded default); with feature `store`, the SQL
//!   queue (`SqlQueue`) on SQLite or PostgreSQL; with feature `redis`, Redis Streams
//!   (`RedisStreams`); with feature `amqp`, RabbitMQ (`RabbitMq`). All pass the shared
//!   conformance suite (`conformance`, feature `test-util`).
//!
//! The guide `docs/messaging.md` states each backend's ordering and duplication
//! guarantees exactly.

mod backend;
mod capability;
mod consumer;
mod delivery;
mod error;
pub mod layer;
mod memory;
mod message;

#[cfg(feature = "store")]
mod sql;

#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "amqp")]
mod amqp;

#[cfg(feature = "test-util")]
pub mod conformance;

#[cfg(test)]
mod tests;

#[cfg(feature = "amqp")]
pub use self::amqp::{RabbitMq, RabbitMqConfig};
#[cfg(feature = "redis")]
pub use self::redis::{RedisStreams, RedisStreamsConfig};
pub use backend::{Backend, Publisher, SubscribeOptions, Subscriber, Subscription};
pub use capability::{Capabilities, CapabilityMismatch, Ordering, Persistence, Requirements};
pub use consumer::{Consumer, ConsumerConfig};
pub use delivery::{Delivery, Settle, Settlement};
pub use error::MessagingError;
pub use layer::{DeadLetterLayer, DedupLayer, KeyedOrderingLayer, PoisonMessage};
pub use memory::{MemoryBroker, MemoryConfig};
pub use message::{
    DEAD_LETTER_ATTEMPTS, DEAD_LETTER_GROUP, DEAD_LETTER_REASON, Headers, Message, MessageId,
    OutgoingMessage, dead_letter_topic,
};
#[cfg(feature = "store")]
pub use sql::{QueueTx, SqlQueue, SqlQueueConfig};
