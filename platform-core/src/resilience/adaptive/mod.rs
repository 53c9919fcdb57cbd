//! Adaptive concurrency: a concurrency limit learned from latency, applied as
//! `poll_ready` backpressure.
//!
//! [`AdaptiveConcurrency`] measures the round-trip time (RTT) of calls and moves a
//! concurrency limit the way Netflix's `concurrency-limits` Gradient2 algorithm does:
//! the ratio of a long-term RTT average to the short-term (per-window) RTT is the
//! *gradient*; while the short-term RTT stays within `tolerance` of the long-term one the
//! limit grows by a queue allowance of √limit, and when queueing inflates the RTT the
//! limit shrinks in proportion. On top of that:
//!
//! * **slow start** doubles the limit every good window until the RTT first rises;
//! * **min-RTT probing** (as in Envoy's adaptive concurrency filter) periodically drops
//!   the limit to `min_limit` for one window to re-measure the no-load RTT, so a long-term
//!   average that drifted up under sustained load is re-anchored; the interval is
//!   jittered so a fleet does not probe in sync;
//! * only calls the shared [`Classify`](crate::classify::Classify) classifier calls
//!   successes (and failures slower than the long-term RTT, such as timeouts) feed the
//!   RTT; local rejections, fast failures and dropped calls do not.
//!
//! At the limit, `poll_ready` returns `Pending` until a permit is released. That is what
//! lets `tower::balance` route around a saturated endpoint; for a server, put a
//! `Bulkhead` (bounded queue, max wait) or a `Timeout` outside it so callers are not
//! queued without bound. In shadow mode the limit is computed and reported
//! ([`AdaptiveEvent::ShadowOverLimit`]) but `poll_ready` never waits. The algorithm and
//! its sources are described in `docs/resilience/adaptive-concurrency.md`.
//!
//! ```
//! use platform_core::resilience::{AdaptiveConcurrencyConfig, AdaptiveConcurrencyLayer};
//! use tower::{Service, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let layer = AdaptiveConcurrencyLayer::from_config(
//!     AdaptiveConcurrencyConfig::default().with_limits(1, 1, 100),
//! ).unwrap();
//! let mut a = tower_layer::Layer::layer(&layer, service_fn(|x: u32| async move {
//!     Ok::<_, std::convert::Infallible>(x * 2)
//! }));
//! let mut b = a.clone(); // clones share the limit
//!
//! // `a` reserves the only permit; `b` is not ready until `a`'s call completes.
//! let call = a.ready().await.unwrap().call(21);
//! let b_ready = std::future::poll_fn(|cx| std::task::Poll::Ready(b.poll_ready(cx).is_ready()));
//! assert!(!b_ready.await);
//! assert_eq!(call.await.unwrap(), 42);
//! assert_eq!(b.ready().await.unwrap().call(1).await.unwrap(), 2);
//! # }
//! ```

mod config;
pub mod future;
mod layer;
mod limiter;
mod permit;
mod service;
mod state;

pub use config::AdaptiveConcurrencyConfig;
pub use layer::{AdaptiveConcurrencyLayer, AdaptiveEvent};
pub use limiter::LimitReason;
pub use service::AdaptiveConcurrency;

#[cfg(test)]
mod tests;
