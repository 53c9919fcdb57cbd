//! Per-call timeout that also publishes a [`Deadline`] to inner layers.
//!
//! [`Timeout`] fails a call with [`Elapsed`](crate::error::Elapsed) (→ 504) when the inner
//! service has not answered in time. While the inner service's `call` and its future run,
//! [`Deadline::current`] returns the effective deadline — the earlier of this timeout and
//! any enclosing one — so inner layers (retry, clients that propagate `grpc-timeout`) never
//! plan work past it.
//!
//! ```
//! use std::time::Duration;
//! use platform_core::resilience::{Deadline, TimeoutLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(Duration::from_millis(200)))
//!     .service(service_fn(|_: ()| async {
//!         // Inner code can see how much time is left.
//!         let left = Deadline::current().expect("set by the timeout layer").remaining();
//!         Ok::<_, std::convert::Infallible>(left <= Duration::from_millis(200))
//!     }));
//! assert!(svc.oneshot(()).await.unwrap());
//! # }
//! ```

mod config;
mod deadline;
pub mod future;
mod layer;
mod service;

pub use config::TimeoutConfig;
pub use deadline::Deadline;
pub use layer::{TimeoutEvent, TimeoutLayer};
pub use service::Timeout;

#[cfg(test)]
mod tests;
