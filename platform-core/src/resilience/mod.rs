//! Tower resilience layers.
//!
//! Every layer has the same shape: `FooLayer` (cheap to clone; clones share one state, so a
//! limit holds under clone-per-request routers such as axum's), the `Foo` service, a
//! `future::ResponseFuture`, and a serde `FooConfig` with defaults and validation. Every
//! state change and rejection is a `tracing` event with a reason and goes to the layer's
//! [`Listeners`]. Layers reconfigure live from a `tokio::sync::watch` of their config
//! without losing state.
//!
//! # Ordering
//!
//! `tower::ServiceBuilder` applies layers top to bottom: the first layer added is the
//! outermost and sees the request first. See `docs/resilience.md` for the recommended
//! order.

/// Generates the `get_ref`, `get_mut` and `into_inner` accessors every wrapper service
/// offers, for a struct whose inner service is its field `inner`. The optional second
/// argument replaces the doc line of `into_inner` (e.g. to say what it releases).
macro_rules! inner_accessors {
    ($S:ty) => {
        $crate::resilience::inner_accessors!($S, "Unwraps the inner service.");
    };
    ($S:ty, $into_doc:literal) => {
        /// The inner service.
        pub fn get_ref(&self) -> &$S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut $S {
            &mut self.inner
        }

        #[doc = $into_doc]
        pub fn into_inner(self) -> $S {
            self.inner
        }
    };
}
pub(crate) use inner_accessors;

pub mod adaptive;
pub mod bulkhead;
pub mod circuit_breaker;
pub mod key;
pub mod rate_limit;
pub mod retry;
pub mod shed;
pub mod timeout;

mod listener;
mod mode;
mod reconfigure;

pub use adaptive::{AdaptiveConcurrency, AdaptiveConcurrencyConfig, AdaptiveConcurrencyLayer};
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadEvent, BulkheadLayer, HttpBulkhead};
pub use circuit_breaker::{
    CircuitBreaker, CircuitBreakerConfig, CircuitBreakerEvent, CircuitBreakerHandle,
    CircuitBreakerLayer, CircuitState, KeyedCircuitBreakerLayer,
};
pub use listener::Listeners;
pub use mode::Mode;
pub use rate_limit::{RateLimit, RateLimitConfig, RateLimitLayer};
pub use retry::{HttpRetry, HttpRetryLayer, Retry, RetryConfig, RetryEvent, RetryLayer};
pub use shed::{LoadShed, LoadShedConfig, LoadShedLayer};
pub use timeout::{Deadline, Timeout, TimeoutConfig, TimeoutLayer};

/// A configuration was rejected by validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {layer} configuration: `{field}` {problem}")]
pub struct ConfigError {
    layer: &'static str,
    field: &'static str,
    problem: String,
}

impl ConfigError {
    /// A validation error for `field` of `layer`'s config.
    pub fn new(layer: &'static str, field: &'static str, problem: impl Into<String>) -> Self {
        Self { layer, field, problem: problem.into() }
    }

    /// The layer whose config was rejected (e.g. `circuit_breaker`).
    pub fn layer(&self) -> &'static str {
        self.layer
    }

    /// The config field that was wrong.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// What was wrong with it and what is allowed.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}
