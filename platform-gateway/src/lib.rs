//! The Platform SDK API gateway: routing, a reverse proxy that is correct by default,
//! and load balancing, on hyper 1 and tower.
//!
//! * [`route`] — predicates (path exact / prefix / template, host with wildcards,
//!   method, header, query, cookie), priorities, and per-route filters;
//! * [`filter`] — header rules, path rewrite, body limit and rate-limit keys as tower
//!   layers (timeouts, retries, breakers and rate limits are platform-core's layers);
//! * [`proxy`] — the correctness applied to every request: header limits, `Host`,
//!   framing, path normalization, hop-by-hop headers, forwarding headers;
//! * [`upstream`] — endpoint groups from static lists or the platform-core registry,
//!   with outlier ejection and the panic threshold, and the [`Backend`] trait routes
//!   send to (the extension point for traffic splits);
//! * [`balance`] — PeakEwma p2c (default), round robin, weighted, consistent hashing
//!   with bounded load;
//! * [`Gateway`] — all of it as one tower service; [`Server`] serves it (HTTP/1.1 and
//!   h2c, header-read timeout, upgrades, WebSockets over HTTP/2) and drains it on
//!   [`Shutdown`]; gRPC calls keep their trailers and deadlines and get the gateway's
//!   own errors as gRPC statuses;
//! * [`view`] — what operators see: routes, upstreams with endpoints and ejections, and
//!   explanations of how a request would be routed;
//! * `config` (feature `config`) — the declarative TOML configuration;
//! * `reload` (feature `reload`) — hot reload of that configuration from its file or a
//!   remote source: checked first, swapped atomically, the last good one kept on error;
//! * `admin` (feature `admin`) — the admin listener, an axum `Router`.
//! * `canary` (feature `canary`) — canary rollouts: a [`Backend`] splitting a route
//!   between versions with sticky cohorts, progressive steps judged on the gateway's own
//!   per-version measurements, automatic rollback, durable shared state and an admin
//!   API.
//!
//! The guide is `docs/gateway.md`.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use platform_gateway::{Gateway, Route, Server, ServerConfig, Upstream};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = Upstream::builder("users")
//!     .endpoint("127.0.0.1:9001")
//!     .endpoint("127.0.0.1:9002")
//!     .build()
//!     .await?;
//! let gateway = Gateway::builder()
//!     .upstream(users)
//!     .route(
//!         Route::builder("users")
//!             .path_prefix("/api/users")
//!             .strip_prefix("/api")
//!             .timeout(Duration::from_secs(5))
//!             .upstream("users")
//!             .build()?,
//!     )
//!     .build()?;
//! assert_eq!(gateway.routes().ids().collect::<Vec<_>>(), ["users"]);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = Server::new(gateway, ServerConfig::default());
//! tokio::spawn(server.serve(listener));
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! | feature | adds |
//! |---|---|
//! | `config` (default) | `config::GatewayConfig`: routes, upstreams and settings from TOML |
//! | `cors` (default) | the per-route CORS filter (tower-http's `CorsLayer`) |
//! | `reload` | `reload::LiveConfig`: hot reload from the file or a remote source |
//! | `admin` | `admin::Admin`: the admin listener (metrics, health, routes, upstreams, config, explain) |
//! | `tls` | rustls (ring provider): HTTPS on the listener (`ServerTls`, `[tls]` in the config) and `https://` upstreams (`[upstreams.NAME.tls]`) |
//! | `auth` | `RouteBuilder::authenticate`: platform-auth's `AuthenticateLayer` on a route; canary cohorts keyed by its `Principal` |
//! | `canary` (default) | `canary`: canary rollouts with the in-memory state store |
//! | `canary-sql` | `canary::SqlRolloutStore`: rollout state in SQLite or PostgreSQL |
//! | `canary-admin` | `canary::admin_router`: the `/admin/canary` axum router |
//! | `full` | all of the above |
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "admin")]
pub mod admin;
pub mod balance;
pub mod body;
#[cfg(feature = "canary")]
pub mod canary;
#[cfg(feature = "config")]
pub mod config;
pub mod error;
pub mod filter;
mod gateway;
pub mod proxy;
#[cfg(feature = "reload")]
pub mod reload;
pub mod route;
mod server;
mod timer;
pub mod upstream;
pub mod view;
mod worker;

/// A boxed future at a type-erasure boundary (route stacks, the gateway service).
pub(crate) type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// The gateway guide (`docs/gateway.md`), whose Rust examples run as doctests.
#[cfg(all(doctest, feature = "reload"))]
#[doc = include_str!("../../docs/gateway.md")]
pub struct GatewayGuideDoctests;

/// The canary guide (`docs/canary.md`), whose Rust examples run as doctests.
#[cfg(all(doctest, feature = "canary-sql", feature = "config"))]
#[doc = include_str!("../../docs/canary.md")]
pub struct CanaryGuideDoctests;

pub use body::Body;
pub use error::{GatewayError, ProxyError};
pub use gateway::{Gateway, GatewayBuilder};
pub use route::{Route, RouteBuilder};
pub use server::{
    AcceptSpread, ConnectionInfo, Drained, Server, ServerConfig, Shutdown, WorkerListeners,
    available_cores, os_signal,
};
#[cfg(feature = "tls")]
pub use server::{ServerTls, TlsConfig, TlsError};
pub use upstream::{Backend, Upstream, UpstreamConfig};
