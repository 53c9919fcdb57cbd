//! Handler layers: per-key ordering, dead-lettering after N attempts, deduplication.
//!
//! Handlers are `tower::Service<Message, Response = ()>`. The [`Consumer`](super::Consumer)
//! acks on `Ok(())`, dead-letters on a [`PoisonMessage`] error anywhere in the error's
//! source chain, and nacks on any other error. Retry, timeout and concurrency limits come
//! from [`crate::resilience`] and stack with these (`ServiceBuilder` runs top to bottom):
//!
//! ```text
//! DeadLetterLayer      outermost: sees the final outcome of every attempt
//!   DedupLayer         skips messages already processed
//!     KeyedOrderingLayer   one message per key at a time, keys in parallel
//!       TimeoutLayer / RetryLayer   retries hold the key's turn, so order survives retries
//!         handler
//! ```
//!
//! Each layer's response future is boxed: a delivery already allocates (the message, its
//! settlement handle), so one more box per message is proportionate and keeps the types
//! nameable.

mod dead_letter;
mod dedup;
mod keyed;

pub use dead_letter::{DeadLetter, DeadLetterLayer, PoisonMessage};
pub use dedup::{Dedup, DedupLayer, DuplicateInFlight};
pub use keyed::{KeyedOrdering, KeyedOrderingLayer};

/// The response future of the messaging layers.
pub type ResponseFuture = futures_util::future::BoxFuture<'static, Result<(), crate::BoxError>>;
