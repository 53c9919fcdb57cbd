//! Route filters: tower layers applied to one route's requests and responses.
//!
//! * [`HeaderFilterLayer`] — set, add and remove request and response headers;
//! * [`PathRewriteLayer`] — strip a prefix, or rewrite the path from the route's
//!   template captures;
//! * [`BodyLimitLayer`] — refuse bodies over a size (413), by `Content-Length` up front
//!   and by counting streamed bytes;
//! * [`RateKey`] — what a route's rate limit (platform-core's `RateLimitLayer`) counts by.
//!
//! With feature `auth`, platform-auth's `AuthenticateLayer` runs as a route filter
//! ([`RouteBuilder::authenticate`](crate::route::RouteBuilder::authenticate)).
//!
//! Timeouts, retries, circuit breakers and rate limits are platform-core's layers, set
//! per route with [`RouteBuilder`](crate::route::RouteBuilder); CORS is tower-http's
//! `CorsLayer` (feature `cors`).

#[cfg(feature = "auth")]
mod auth;
mod headers;
mod limit;
mod path;
mod rate_key;

#[cfg(feature = "auth")]
pub(crate) use auth::authenticate;
pub use headers::{HeaderFilter, HeaderFilterLayer, HeaderRules};
pub use limit::{BodyLimit, BodyLimitLayer, BodyTooLarge};
pub use path::{PathRewrite, PathRewriteLayer};
pub use rate_key::RateKey;

/// Response futures of the filters.
pub mod future {
    pub use super::headers::ResponseFuture;
}
