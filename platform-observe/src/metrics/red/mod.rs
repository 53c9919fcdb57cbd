//! The RED metrics layer: **R**ate, **E**rrors and **D**uration of HTTP requests.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `http_server_requests_total` | counter | `route`, `method`, `status` (`2xx`, `4xx`, …, `error`) |
//! | `http_server_request_duration_seconds` | histogram | `route`, `method`, `status` |
//! | `http_server_requests_in_flight` | gauge | `route`, `method` |
//!
//! `route` is the route *template* (axum's `MatchedPath` with feature `axum`, a [`Route`]
//! extension, or your [`RouteLabel`]), never the raw path; requests no route matched are
//! labelled `unmatched`. `method` is the standard method name or `_OTHER`. The number of
//! route × method series is capped (default 1000): further routes land in
//! `route="__overflow__"`; series idle for 10 minutes are evicted (see
//! [`FamilyLimits`](crate::metrics::FamilyLimits)).
//!
//! In axum, add the layer with `Router::layer` (it wraps each route, so `MatchedPath` is
//! known) and put it outermost among your middleware so it sees local rejections too.
//!
//! ```
//! use http::{Request, Response};
//! use platform_observe::metrics::{MetricsLayer, MetricsRegistry, Route};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let registry = MetricsRegistry::new();
//! let svc = ServiceBuilder::new()
//!     .layer(MetricsLayer::new(&registry).unwrap())
//!     .service(service_fn(|_req: Request<()>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(()))
//!     }));
//! let mut req = Request::get("/users/42").body(()).unwrap();
//! req.extensions_mut().insert(Route("/users/{id}"));
//! svc.oneshot(req).await.unwrap();
//! let text = registry.encode();
//! assert!(text.contains(r#"http_server_requests_total{route="/users/{id}",method="GET",status="2xx"} 1"#));
//! # }
//! ```

mod config;
pub mod future;
mod layer;
mod route;
mod service;
mod state;

pub use config::{MetricsConfig, MetricsConfigError};
pub use layer::{MetricsLayer, MetricsLayerError};
pub use route::{DefaultRoute, Route, RouteLabel, UNMATCHED};
pub use service::Metrics;

#[cfg(test)]
mod tests;
