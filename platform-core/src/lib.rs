//! Foundations of the Platform SDK.
//!
//! `platform-core` holds what every other crate of the SDK builds on:
//!
//! * [`error`] — the [`BoxError`] convention, the small local-rejection
//!   types (`CircuitOpen`, `RateLimited`, `Overloaded`, `Elapsed`, `BudgetExhausted`) and
//!   their one mapping to HTTP;
//! * [`classify`] — the outcome classifier every layer shares (success / failure / local
//!   rejection);
//! * [`resilience`] (feature `resilience`, on by default) — tower layers: timeout and
//!   deadline, circuit breaker, rate limit (local and Redis), retry with budgets, bulkhead,
//!   load shedding and adaptive concurrency;
//! * [`config`] (feature `config`) — layered typed configuration, `ConfigHandle` with
//!   validation, atomic swap and watches, file and Redis sources;
//! * [`registry`] (feature `registry`) — service instances, lease guards and versioned
//!   watches over in-memory and Redis backends;
//! * [`store`] (feature `store`) — sqlx pools from a URL (SQLite embedded, PostgreSQL),
//!   per-module migrations, a health check;
//! * [`messaging`] (feature `messaging`) — publishers, subscribers with consumer groups,
//!   deliveries with ack/nack/dead-letter, handler layers, the in-memory backend and (with
//!   `store`) the SQL queue;
//! * [`cache`] (feature `cache`) — a typed cache with single-flight `get_or_load`, negative
//!   caching, TTL jitter and stale-while-revalidate over moka, Redis, or both (two-level,
//!   invalidated over pub/sub), and a distributed stampede lock;
//! * [`control`] (feature `control`) — the registry and config service (an axum `Router`
//!   with JSON APIs and server-sent-event watches); with `http-client`, its clients
//!   `HttpRegistry` and `HttpConfigSource`;
//! * [`tx`] (feature `tx`) — transactional outbox with an ordered relay, inbox
//!   (idempotent consumer), sagas with a persisted step log and crash-resuming
//!   coordinators;
//! * `test_util` (feature `test-util`) — helpers for tests against real PostgreSQL and Redis,
//!   and `LogCapture` for asserting on log output.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use platform_core::resilience::TimeoutLayer;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(1)))
//!     .service(service_fn(|x: u32| async move { Ok::<_, std::convert::Infallible>(x + 1) }));
//! assert_eq!(svc.oneshot(41).await.unwrap(), 42);
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod classify;
pub mod error;

#[cfg(feature = "cache")]
pub mod cache;

#[cfg(feature = "config")]
pub mod config;

#[cfg(feature = "resilience")]
pub mod resilience;

#[cfg(feature = "messaging")]
pub mod messaging;

#[cfg(feature = "store")]
pub mod store;

#[cfg(feature = "registry")]
pub mod registry;

#[cfg(any(feature = "registry", all(feature = "config", feature = "http-client")))]
mod names;
#[cfg(feature = "redis")]
mod redis_conn;
#[cfg(any(
    all(feature = "config", any(feature = "redis", feature = "http-client")),
    all(feature = "registry", feature = "http-client")
))]
mod task_stream;

#[cfg(any(feature = "control", feature = "http-client"))]
pub mod control;

#[cfg(feature = "tx")]
pub mod tx;

#[cfg(feature = "test-util")]
pub mod test_util;

pub use classify::{Classify, Outcome};
pub use error::BoxError;

/// The workspace README's Rust examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The storage guide's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "store"))]
#[doc = include_str!("../../docs/storage.md")]
pub struct StorageGuideDoctests;

/// The messaging guide's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "messaging", feature = "store", feature = "resilience"))]
#[doc = include_str!("../../docs/messaging.md")]
pub struct MessagingGuideDoctests;

/// The transactions guide's examples, compiled and run as doctests.
#[cfg(all(doctest, feature = "tx"))]
#[doc = include_str!("../../docs/transactions.md")]
pub struct TransactionsGuideDoctests;
