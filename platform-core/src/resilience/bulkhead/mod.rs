//! Bulkhead: a concurrency limit shared by every clone, with an optional bounded queue
//! and a maximum wait, that rejects with [`Overloaded`](crate::error::Overloaded) (→ 503)
//! instead of queueing without bound.
//!
//! A slot is reserved in `poll_ready`: a caller that finds no free slot waits there — that
//! wait *is* the queue — if fewer than `max_waiting` callers are already waiting, and for
//! at most `max_wait` (counted from its first `poll_ready`). A caller that finds the queue
//! full is rejected with reason `"bulkhead full"`; one that waited too long with
//! `"bulkhead wait timed out"`. Rejections come back from `call` as an error future, so
//! `poll_ready` never fails on their account. A clone of the service holds no slot.
//!
//! [`BulkheadLayer::from_config`] returns a call's slot when its response future
//! completes. For HTTP, [`BulkheadLayer::http`] holds it until the response body has
//! finished streaming (or is dropped): a slow download keeps its slot, so the limit
//! bounds the work really in progress. The response body is then a
//! [`PermitBody`](future::PermitBody).
//!
//! [`BulkheadLayer::reconfigure`] and [`BulkheadLayer::watch_config`] change the limits
//! live: raising the limit frees slots at once; lowering it retires slots as in-flight
//! calls return, which are never cut off.
//!
//! ```
//! use platform_core::error::Overloaded;
//! use platform_core::resilience::{BulkheadConfig, BulkheadLayer};
//! use tower::{Service, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let layer = BulkheadLayer::from_config(BulkheadConfig::new(1)).unwrap();
//! let inner = service_fn(|x: u32| async move { Ok::<_, std::convert::Infallible>(x) });
//! let mut first = tower::Layer::layer(&layer, inner);
//! let mut second = first.clone();
//!
//! // `first` holds the only slot once it is ready...
//! first.ready().await.unwrap();
//! // ...so `second` is rejected (no queue configured).
//! let err = second.ready().await.unwrap().call(2).await.unwrap_err();
//! assert_eq!(err.downcast_ref::<Overloaded>().unwrap().reason(), "bulkhead full");
//! assert_eq!(first.call(1).await.unwrap(), 1);
//! # }
//! ```

mod config;
pub mod future;
mod layer;
mod permit;
mod service;

pub use config::BulkheadConfig;
pub use layer::{BulkheadEvent, BulkheadLayer};
pub use service::Bulkhead;

/// [`Bulkhead`] for HTTP services: the slot is held until the response body ends.
pub type HttpBulkhead<S> = Bulkhead<S, future::OnBodyEnd>;

#[cfg(test)]
mod tests;

/// The guide `docs/resilience/bulkhead.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/resilience/bulkhead.md")]
pub struct GuideDoctests;
