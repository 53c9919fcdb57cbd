//! A circuit breaker: stop calling a service that keeps failing, give it time to recover,
//! then let a few probe calls find out whether it has.
//!
//! [`CircuitBreaker`] counts the outcome of every call (judged by a
//! [`Classify`](crate::classify::Classify) implementation, [`ResultClassifier`](crate::classify::ResultClassifier)
//! by default) in a sliding window — the last N calls, or the calls of the last T seconds.
//! It **opens** when the failure rate, the slow-call rate or a run of consecutive failures
//! reaches its threshold (rates only once the window holds `minimum_calls`). Calls still
//! running past `slow_call_duration` count as slow before they finish, so a service that
//! stopped answering opens the breaker without waiting for timeouts.
//!
//! While **open**, calls fail at once with [`CircuitOpen`](crate::error::CircuitOpen)
//! (HTTP 503, `Retry-After` = the rest of the open period). Each re-open without a
//! successful close in between stays open longer (`open_duration` ×
//! `open_backoff_multiplier`ⁿ, at most `max_open_duration`). Then the breaker is
//! **half-open**: exactly `half_open_probes` calls may pass at a time; when that many
//! succeed it closes, one failure re-opens it.
//!
//! The closed-state path takes no lock and allocates nothing: an atomic state word, atomic
//! window counters, and a lock only when a failure must be judged or the state changes.
//!
//! ```
//! use platform_core::error::CircuitOpen;
//! use platform_core::resilience::circuit_breaker::{CircuitBreakerLayer, CircuitState};
//! use std::time::Duration;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let layer = CircuitBreakerLayer::builder()
//!     .count_window(10)
//!     .minimum_calls(4)
//!     .failure_rate_threshold(0.5)
//!     .open_duration(Duration::from_secs(5))
//!     .build()
//!     .expect("valid settings");
//! let svc = layer.layer(service_fn(|fail: bool| async move {
//!     if fail { Err("backend down") } else { Ok("ok") }
//! }));
//!
//! for _ in 0..4 {
//!     let _ = svc.clone().oneshot(true).await;
//! }
//! assert_eq!(layer.handle().state(), CircuitState::Open);
//!
//! // Rejected without reaching the service.
//! let err = svc.oneshot(false).await.unwrap_err();
//! assert!(err.downcast_ref::<CircuitOpen>().is_some());
//! # }
//! ```
//!
//! See also [`KeyedCircuitBreakerLayer`] (one breaker per endpoint or host),
//! [`CircuitBreakerHandle`] (force open / closed, reset), shadow mode
//! ([`Mode::Shadow`](crate::resilience::Mode)) and `docs/resilience/circuit-breaker.md`.

mod breaker;
mod builder;
mod config;
mod event;
pub mod future;
mod handle;
mod inflight;
mod judge;
mod keyed;
mod layer;
mod service;
mod state;
mod window;

pub use builder::CircuitBreakerBuilder;
pub use config::{CircuitBreakerConfig, WindowConfig};
pub use event::{CircuitBreakerEvent, CircuitState, TransitionReason};
pub use handle::CircuitBreakerHandle;
pub use keyed::{KeyedCircuitBreaker, KeyedCircuitBreakerLayer};
pub use layer::CircuitBreakerLayer;
pub use service::CircuitBreaker;

#[cfg(test)]
mod tests;

/// The guide's examples (`docs/resilience/circuit-breaker.md`), compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/resilience/circuit-breaker.md")]
pub struct GuideDoctests;
