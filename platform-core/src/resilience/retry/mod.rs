//! Retries of failed calls: classifier-driven, jittered exponential backoff, a retry
//! budget shared by every clone, the caller's deadline, `Retry-After`, and for HTTP,
//! idempotent methods only and a bounded body replay buffer.
//!
//! # What is retried
//!
//! Each attempt's outcome comes from the layer's [`Classify`](crate::classify::Classify)
//! implementation. Only [`Outcome::Failure`](crate::classify::Outcome::Failure) is retried;
//! local rejections ([`Outcome::Rejected`](crate::classify::Outcome::Rejected): an open
//! breaker, a rate limit, a full bulkhead further in) are returned at once, so a retry
//! never hammers a layer that is shedding load. A failure is retried when all of these
//! hold, checked in this order — each refusal is a [`RetryEvent`]:
//!
//! 1. fewer than `max_attempts` attempts were made;
//! 2. the request can be produced again (HTTP: the method is allowed and the body fit in
//!    the replay buffer);
//! 3. a `Retry-After` on the failed response is at most `max_retry_after`;
//! 4. the backoff (at least the `Retry-After`) ends before the caller's
//!    [`Deadline`](crate::resilience::Deadline), as set by an outer
//!    [`TimeoutLayer`](crate::resilience::TimeoutLayer);
//! 5. the retry budget allows one more retry.
//!
//! When the layer stops, the last attempt's result is returned unchanged — except when the
//! budget refused a retry of an *error*: that error comes back wrapped in
//! [`BudgetExhausted`](crate::error::BudgetExhausted) (its `source()`), which maps to 503.
//! A failed *response* (e.g. a 503) is returned as it is.
//!
//! # The retry budget
//!
//! Retries in the last `budget.window` may not exceed `budget.ratio` × requests plus
//! `budget.min_retries_per_sec` × window seconds. A request counts once its **first
//! attempt reached the service** (outcome success or failure); locally rejected calls count
//! neither as requests nor as retries, so a storm of rejections cannot earn retries for
//! later. Clones of a layer share one budget; reconfiguration keeps its counts.
//!
//! # HTTP
//!
//! [`RetryLayer::http`] builds an [`HttpRetryLayer`] for `http::Request<B>`: the inner
//! service receives `http::Request<ReplayBody<B>>`. The body streams to the first attempt
//! while up to `max_replay_bytes` of it are recorded; a request whose body is larger is
//! not retried, its original failure is returned, and a [`RetryEvent::BodyTooLarge`] says
//! "not retried: body of N bytes exceeded replay buffer of M bytes". Only the methods in
//! `retry_methods` (the idempotent ones by default) are retried; [`RetryLayer::retry_if`]
//! widens that with a predicate. For other requests, use [`RetryLayer::from_config`] —
//! each attempt gets a clone of the request.
//!
//! # Ordering
//!
//! Put [`TimeoutLayer`](crate::resilience::TimeoutLayer) *outside* retry (earlier in
//! `ServiceBuilder`) so the timeout bounds all attempts together and retry can see the
//! deadline; put a circuit breaker or rate limiter *inside* so their rejections are
//! recognised and not retried.
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use platform_core::BoxError;
//! use platform_core::resilience::{RetryConfig, RetryLayer, TimeoutLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let calls = Arc::new(AtomicU32::new(0));
//! let counter = calls.clone();
//! let flaky = service_fn(move |x: u32| {
//!     let n = counter.fetch_add(1, Ordering::SeqCst);
//!     async move { if n < 2 { Err::<u32, BoxError>("connection reset".into()) } else { Ok(x) } }
//! });
//! let cfg = RetryConfig::builder()
//!     .max_attempts(3)
//!     .backoff(Duration::from_millis(10), Duration::from_millis(100), 2.0);
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_secs(2)))
//!     .layer(RetryLayer::from_config(cfg).unwrap())
//!     .service(flaky);
//! assert_eq!(svc.oneshot(7).await.unwrap(), 7);
//! assert_eq!(calls.load(Ordering::SeqCst), 3);
//! # }
//! ```

mod body;
mod budget;
mod config;
mod event;
pub mod future;
mod layer;
mod replay;
mod service;

pub use body::ReplayBody;
pub use config::{BackoffConfig, BudgetConfig, RetryConfig};
pub use event::{RetryEvent, RetryReason};
pub use layer::RetryLayer;
pub use replay::{Attempts, BufferBody, CloneRequest, Replay, RetryAfter};
pub use service::Retry;

/// [`RetryLayer`] for `http::Request<B>` (built by [`RetryLayer::http`]).
pub type HttpRetryLayer<C = crate::classify::HttpClassifier> = RetryLayer<C, BufferBody>;

/// [`Retry`] for `http::Request<B>`: bounded body replay, idempotent methods, `Retry-After`.
pub type HttpRetry<S, C = crate::classify::HttpClassifier> = Retry<S, C, BufferBody>;

#[cfg(test)]
mod tests;

/// The guide `docs/resilience/retry.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/resilience/retry.md")]
pub struct GuideDoctests;
