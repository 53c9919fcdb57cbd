//! Rate limiting: GCRA buckets (via `governor`), global or keyed, local or shared through
//! Redis.
//!
//! See `docs/resilience/rate-limit.md` for the guide. In short:
//!
//! * **Global**: [`RateLimitLayer::from_config`] — one bucket shared by every request and
//!   every clone of the layer. The decision is taken in `poll_ready`; the admitted path is
//!   an atomic compare-and-swap and allocates nothing. That path is inlined into the
//!   caller; the keyed, distributed and rejection paths are kept out of line (`#[cold]`)
//!   so they do not weigh on it (about 16 ns per `ready` + `call` + await against 10 ns
//!   for governor's bare `check()`, see `benches/benches/rate_limit.rs`).
//! * **Keyed**: [`RateLimitLayer::keyed`] with any
//!   [`KeyExtractor`](crate::resilience::key::KeyExtractor) (header, client address,
//!   route, closure): one bucket per key, per-key overrides, at most `max_keys` keys, and
//!   keys forgotten once their bucket has refilled — inside calls, no task to run.
//! * **Distributed**: set [`RateLimitConfig::redis`]: every instance shares one quota
//!   through an atomic Lua script using Redis' clock; when Redis is unreachable or slow,
//!   the configured [`OnRedisFailure`] applies (fail-open, fail-closed, or a local limit at
//!   quota / instances), with [`RateLimitEvent::RedisDegraded`] / `RedisRecovered` events.
//! * **Shadow mode** ([`Mode::Shadow`](crate::resilience::Mode)): decide and report
//!   ([`RateLimitEvent::ShadowRejected`]), let everything through.
//! * **Live reconfiguration** ([`RateLimitLayer::watch_config`]): buckets keep their
//!   state. Each bucket's theoretical arrival time is kept as is, so a client's "debt"
//!   carries over: a larger burst applies at once, a smaller one may reject a client that
//!   is deeper in debt than the new burst allows until it has paid that off.
//!
//! Rejections fail with [`RateLimited`](crate::error::RateLimited), which the HTTP mapping
//! turns into `429 Too Many Requests` with `Retry-After`.
//!
//! ```
//! use std::time::Duration;
//! use platform_core::error::RateLimited;
//! use platform_core::resilience::rate_limit::{RateLimitConfig, RateLimitLayer};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let cfg = RateLimitConfig::builder().rate(10, Duration::from_secs(1)).burst(2).build().unwrap();
//! let layer = RateLimitLayer::from_config(cfg).unwrap();
//! let mut svc = ServiceBuilder::new()
//!     .layer(layer)
//!     .service(service_fn(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) }));
//! assert_eq!(svc.ready().await.unwrap().call(1).await.unwrap(), 1);
//! assert_eq!(svc.ready().await.unwrap().call(2).await.unwrap(), 2);
//! // The burst of 2 is spent: the next call is refused with a Retry-After.
//! let err = svc.ready().await.unwrap().call(3).await.unwrap_err();
//! let limited = err.downcast_ref::<RateLimited>().unwrap();
//! assert!(limited.retry_after() <= Duration::from_millis(100));
//! # }
//! ```
//!
//! A keyed limiter by header, with a premium tenant:
//!
//! ```
//! use std::time::Duration;
//! use platform_core::resilience::key::HeaderKey;
//! use platform_core::resilience::rate_limit::{QuotaConfig, RateLimitConfig, RateLimitLayer};
//!
//! let cfg = RateLimitConfig::builder()
//!     .rate(10, Duration::from_secs(1))
//!     .override_key("premium", QuotaConfig::new(1_000, Duration::from_secs(1)))
//!     .max_keys(50_000)
//!     .build()
//!     .unwrap();
//! let layer = RateLimitLayer::keyed(cfg, HeaderKey::new(http::HeaderName::from_static("x-tenant")))
//!     .unwrap();
//! # let _: &platform_core::resilience::rate_limit::RateLimitLayer<HeaderKey, std::sync::Arc<str>> = &layer;
//! ```

mod clock;
mod config;
mod event;
pub mod future;
mod layer;
mod limit_key;
mod limiter;
#[cfg(feature = "redis")]
mod redis;
mod service;
mod store;

pub use clock::{ManualClock, RateLimitClock};
pub use config::{
    OnRedisFailure, QuotaConfig, RateLimitConfig, RateLimitConfigBuilder, RedisConfig,
};
pub use event::RateLimitEvent;
pub use layer::RateLimitLayer;
pub use limit_key::{Global, RateLimitKey};
pub use service::RateLimit;

#[cfg(test)]
mod tests;
