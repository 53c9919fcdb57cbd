//! W3C trace-context propagation across HTTP hops.
//!
//! * [`ServerTraceLayer`] reads `traceparent`, `tracestate` and `baggage` from incoming
//!   requests and opens an `http.request` span whose fields `trace_id`, `span_id` and
//!   `parent_id` appear on every log line written inside it (JSON: in the `spans` list;
//!   pretty: in the span context). It can echo the trace id in a response header.
//! * [`ClientTraceLayer`] opens an `http.client` span for each outbound request and injects
//!   the headers, so the next hop continues the trace (the gateway uses it towards
//!   upstreams).
//!
//! Without feature `otlp` the layers generate and parse ids themselves; with it and the
//! OpenTelemetry layer installed by [`init`](crate::init), the ids are those of the exported
//! spans and the remote parent is honoured.
//!
//! ```
//! use http::{Request, Response};
//! use platform_observe::trace::{ServerTraceLayer, TraceContext};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(ServerTraceLayer::new())
//!     .service(service_fn(|_req: Request<()>| async {
//!         let ctx = TraceContext::current().expect("set while the handler runs");
//!         Ok::<_, std::convert::Infallible>(Response::new(ctx.trace_id.to_string()))
//!     }));
//! let req = Request::get("/")
//!     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
//!     .body(())
//!     .unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.body(), "4bf92f3577b34da6a3ce929d0e0e4736");
//! # }
//! ```

mod client;
mod config;
mod context;
pub mod future;
mod server;

#[cfg(feature = "otlp")]
mod otel;

pub use client::{ClientTrace, ClientTraceLayer};
pub use config::{TraceConfig, TraceConfigError};
pub use context::{SpanId, TraceContext, TraceId, TraceParent};
pub use server::{ServerTrace, ServerTraceLayer};

#[cfg(test)]
mod tests;
