//! Error conventions shared by every layer of the SDK.
//!
//! Middleware errors are a [`BoxError`]. When a layer rejects a call locally — without
//! the inner service ever seeing it — the boxed error is one of the small leaf types
//! in this module, which callers can downcast:
//!
//! | leaf type | meaning | HTTP |
//! |---|---|---|
//! | [`CircuitOpen`] | a circuit breaker is open (or its half-open probes are taken) | 503 + `Retry-After` |
//! | [`RateLimited`] | a rate limit is exhausted | 429 + `Retry-After` |
//! | [`Overloaded`] | a bulkhead, load shedder or concurrency limit refused the call | 503 |
//! | [`Elapsed`] | a timeout or deadline expired | 504 |
//! | [`BudgetExhausted`] | a retry budget refused another attempt | 503 |
//!
//! [`Rejection::find`] walks an error's `source()` chain and recognises all of them, so a
//! rejection wrapped by another layer is still mapped correctly. The HTTP mapping lives in
//! one place, [`Rejection::to_http_response`] (and, with the `axum` feature,
//! `IntoResponse` plus [`handle_error`]).
//!
//! ```
//! use platform_core::error::{BoxError, Rejection, RateLimited};
//! use std::time::Duration;
//!
//! let err: BoxError = Box::new(RateLimited::new(Duration::from_secs(2)));
//! let rejection = Rejection::find(&*err).expect("a local rejection");
//! assert_eq!(rejection.status(), http::StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(rejection.retry_after(), Some(Duration::from_secs(2)));
//! ```

mod http_mapping;
mod leaf;

#[cfg(feature = "axum")]
mod axum_mapping;

#[cfg(feature = "axum")]
pub use axum_mapping::handle_error;
pub use http_mapping::{ErrorBody, error_response};
pub use leaf::{BudgetExhausted, CircuitOpen, Elapsed, Overloaded, RateLimited};

/// The error type of every middleware in the SDK (the same alias tower uses).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A local rejection recognised in an error chain, borrowed from the error.
///
/// Obtain one with [`Rejection::find`]; it knows the HTTP status and `Retry-After`
/// for the rejection.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Rejection<'a> {
    /// A circuit breaker refused the call.
    CircuitOpen(&'a CircuitOpen),
    /// A rate limiter refused the call.
    RateLimited(&'a RateLimited),
    /// A concurrency or load limit refused the call.
    Overloaded(&'a Overloaded),
    /// A timeout or deadline expired.
    Elapsed(&'a Elapsed),
    /// A retry budget refused another attempt.
    BudgetExhausted(&'a BudgetExhausted),
}

impl<'a> Rejection<'a> {
    /// Walks `err` and its `source()` chain and returns the first local rejection found.
    pub fn find(err: &'a (dyn std::error::Error + 'static)) -> Option<Self> {
        let mut current = Some(err);
        while let Some(e) = current {
            if let Some(r) = Self::downcast(e) {
                return Some(r);
            }
            current = e.source();
        }
        None
    }

    fn downcast(e: &'a (dyn std::error::Error + 'static)) -> Option<Self> {
        if let Some(x) = e.downcast_ref::<CircuitOpen>() {
            return Some(Self::CircuitOpen(x));
        }
        if let Some(x) = e.downcast_ref::<RateLimited>() {
            return Some(Self::RateLimited(x));
        }
        if let Some(x) = e.downcast_ref::<Overloaded>() {
            return Some(Self::Overloaded(x));
        }
        if let Some(x) = e.downcast_ref::<Elapsed>() {
            return Some(Self::Elapsed(x));
        }
        if let Some(x) = e.downcast_ref::<BudgetExhausted>() {
            return Some(Self::BudgetExhausted(x));
        }
        None
    }

    /// The HTTP status this rejection maps to.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::RateLimited(_) => http::StatusCode::TOO_MANY_REQUESTS,
            Self::Elapsed(_) => http::StatusCode::GATEWAY_TIMEOUT,
            Self::CircuitOpen(_) | Self::Overloaded(_) | Self::BudgetExhausted(_) => {
                http::StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    /// How long the caller should wait before trying again, when the rejection knows.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::RateLimited(r) => Some(r.retry_after()),
            Self::CircuitOpen(c) => c.retry_after(),
            Self::Overloaded(_) | Self::Elapsed(_) | Self::BudgetExhausted(_) => None,
        }
    }

    /// A stable machine-readable code (`circuit_open`, `rate_limited`, `overloaded`,
    /// `timeout`, `retry_budget_exhausted`), used as the `error` field of JSON bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CircuitOpen(_) => "circuit_open",
            Self::RateLimited(_) => "rate_limited",
            Self::Overloaded(_) => "overloaded",
            Self::Elapsed(_) => "timeout",
            Self::BudgetExhausted(_) => "retry_budget_exhausted",
        }
    }

    /// The rejection as a `dyn Error`, for its message.
    pub fn as_error(&self) -> &'a (dyn std::error::Error + Send + Sync + 'static) {
        match *self {
            Self::CircuitOpen(e) => e,
            Self::RateLimited(e) => e,
            Self::Overloaded(e) => e,
            Self::Elapsed(e) => e,
            Self::BudgetExhausted(e) => e,
        }
    }

    /// Builds the HTTP response for this rejection: its status, a `Retry-After` header
    /// (whole seconds, rounded up) when known, and a JSON [`ErrorBody`].
    pub fn to_http_response(&self) -> http::Response<http_body_util::Full<bytes::Bytes>> {
        http_mapping::rejection_response(self)
    }
}

/// Returns `true` when `err` (or anything in its `source()` chain) is a local rejection.
pub fn is_rejection(err: &(dyn std::error::Error + 'static)) -> bool {
    Rejection::find(err).is_some()
}

#[cfg(test)]
mod tests;
